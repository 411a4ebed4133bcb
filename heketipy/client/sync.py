"""`HeketiClient`: the blocking client (httpx.Client driving the shared flows)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx

from heketipy.client.endpoints import Call, Endpoints
from heketipy.client.flows import (
    HttpRequest,
    HttpResponse,
    PollPolicy,
    Protocol,
    RetryPolicy,
)
from heketipy.client.transport import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT_S,
    Credentials,
    build,
    connection_error,
    http_options,
    response_of,
)

T = TypeVar("T")


class HeketiClient(Endpoints):
    """Blocking Heketi client.

    `server` is the base URL; `user`/`secret` sign a fresh JWT per request. `insecure` turns
    TLS verification off, `ca_files` adds trusted certificates. `poll_interval_s` caps the
    pause between /queue polls; `retry` controls 429 retries; `on_poll(n)` is called while an
    operation is still pending (e.g. to draw a progress indicator).
    """

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self._credentials = Credentials(user, secret)
        self._proto = Protocol(retry or RetryPolicy(), PollPolicy(poll_interval_s), on_poll)
        self._http = httpx.Client(
            **http_options(
                self.server,
                insecure=insecure,
                ca_files=ca_files,
                timeout_s=timeout_s,
                transport=transport,
            )
        )

    def __enter__(self) -> HeketiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: Call[T]) -> T:
        flow = call.flow
        try:
            step = next(flow)
            while True:
                if isinstance(step, HttpRequest):
                    step = flow.send(self._send(step))
                else:
                    time.sleep(step.seconds)
                    step = flow.send(None)
        except StopIteration as done:
            result = done.value
        return call.convert(result)

    def _send(self, request: HttpRequest) -> HttpResponse:
        built = build(self._http, self._credentials, request)
        try:
            return response_of(self._http.send(built))
        except httpx.HTTPError as exc:
            raise connection_error(request.method, built.url, exc) from None
