"""What `HeketiClient` and `AsyncHeketiClient` share: the constructor, the policies, the
httpx client with its token signer, and turning a flow's request into an httpx request.

Each client adds only how it drives a flow (`_drive`: send and sleep, blocking or awaited)
and how it is closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from heketipy.client.flows import HttpRequest, PollPolicy, Protocol, RetryPolicy
from heketipy.client.transport import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT_S,
    JwtAuth,
    build,
    http_options,
)

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)
Transport = TypeVar("Transport", httpx.BaseTransport, httpx.AsyncBaseTransport)


class ClientBase(Generic[HttpClient, Transport]):
    """A Heketi client's state.

    `server` is the base URL; `user`/`secret` sign a fresh JWT per request. `insecure` turns
    TLS verification off, `ca_files` adds trusted certificates. `poll_interval_s` caps the
    pause between /queue polls; `retry` controls 429 retries; `on_poll(n)` is called while an
    operation is still pending (e.g. to draw a progress indicator). `transport` replaces
    httpx's network transport (tests).
    """

    _http_class: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        user: str = "",
        secret: str = "",
        *,
        insecure: bool = False,
        ca_files: Sequence[str] = (),
        timeout_s: float = DEFAULT_TIMEOUT_S,
        poll_interval_s: float = 0.4,
        retry: RetryPolicy | None = None,
        on_poll: Callable[[int], None] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self._proto = Protocol(retry or RetryPolicy(), PollPolicy(poll_interval_s), on_poll)
        options = http_options(
            self.server,
            JwtAuth(user, secret),
            insecure=insecure,
            ca_files=ca_files,
            timeout_s=timeout_s,
            transport=transport,
        )
        self._http: HttpClient = self._http_class(**options)

    def _request(self, request: HttpRequest) -> httpx.Request:
        return build(self._http, request)
