"""What both httpx-based clients share: TLS settings, the per-request token, error texts.

Every request gets a fresh JWT bound to its method and path (also every /queue poll and the
GET after a 303): `JwtAuth`, the clients' `httpx.Auth`. Transport failures become
`HeketiConnectionError` with the text Go's `url.Error` would show
(`Get "<url>": dial tcp <addr>: connect: connection refused`).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Generator, Sequence
from typing import Any

import httpx

from heketipy.client.errors import HeketiConnectionError
from heketipy.client.flows import HttpRequest, HttpResponse
from heketipy.client.token import authorization_header

DEFAULT_SERVER = "http://localhost:8080"
DEFAULT_TIMEOUT_S = 60.0


def tls_verify(insecure: bool, ca_files: Sequence[str] = ()) -> bool | ssl.SSLContext:
    """httpx `verify`: off with `insecure`, else the system trust store plus `ca_files`."""
    if insecure:
        return False
    if not ca_files:
        return True
    context = ssl.create_default_context()
    for path in ca_files:
        context.load_verify_locations(cafile=path)
    return context


class JwtAuth(httpx.Auth):
    """Signs each request (and each one a flow sends after it) with its own token."""

    def __init__(self, user: str = "", secret: str = "") -> None:
        self.user = user
        self.secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = authorization_header(
            self.user, self.secret, request.method, request.url.path
        )
        yield request


def http_options(
    server: str,
    auth: JwtAuth,
    *,
    insecure: bool,
    ca_files: Sequence[str],
    timeout_s: float,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> dict[str, Any]:
    """The httpx.Client / httpx.AsyncClient arguments both clients use (redirects are read,
    not followed: a /queue 303 names the result)."""
    return {
        "base_url": server,
        "auth": auth,
        "verify": tls_verify(insecure, ca_files),
        "timeout": timeout_s,
        "follow_redirects": False,
        "transport": transport,
    }


def build(client: httpx.Client | httpx.AsyncClient, request: HttpRequest) -> httpx.Request:
    headers = {"Content-Type": "application/json"} if request.body is not None else {}
    return client.build_request(request.method, request.path, content=request.body,
                                headers=headers)


def response_of(response: httpx.Response) -> HttpResponse:
    return HttpResponse(response.status_code, response.headers, response.content)


def _dial_address(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.host
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        if infos:
            host = str(infos[0][4][0])
    except OSError:
        pass
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def connection_error(method: str, url: httpx.URL, exc: Exception) -> HeketiConnectionError:
    verb = method.capitalize()
    if isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        reason = f"dial tcp {_dial_address(url)}: connect: connection refused"
    elif isinstance(exc, httpx.TimeoutException):
        reason = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    else:
        reason = str(exc) or exc.__class__.__name__
    return HeketiConnectionError(f'{verb} "{url}": {reason}')
