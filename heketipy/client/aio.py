"""`AsyncHeketiClient`: the asyncio client (httpx.AsyncClient driving the shared flows).

Every API method returns an awaitable of the type its signature names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import httpx

from heketipy.client.endpoints import Call, Endpoints
from heketipy.client.flows import HttpRequest, HttpResponse, PollPolicy, Protocol, RetryPolicy
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


class AsyncHeketiClient(Endpoints):
    """asyncio Heketi client; same constructor and methods as `HeketiClient`, awaited."""

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self._credentials = Credentials(user, secret)
        self._proto = Protocol(retry or RetryPolicy(), PollPolicy(poll_interval_s), on_poll)
        self._http = httpx.AsyncClient(
            **http_options(
                self.server,
                insecure=insecure,
                ca_files=ca_files,
                timeout_s=timeout_s,
                transport=transport,
            )
        )

    async def __aenter__(self) -> AsyncHeketiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _run(self, call: Call[T]) -> Coroutine[Any, Any, T]:
        return self._drive(call)

    async def _drive(self, call: Call[T]) -> T:
        flow = call.flow
        try:
            step = next(flow)
            while True:
                if isinstance(step, HttpRequest):
                    step = flow.send(await self._send(step))
                else:
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
        except StopIteration as done:
            result = done.value
        return call.convert(result)

    async def _send(self, request: HttpRequest) -> HttpResponse:
        built = build(self._http, self._credentials, request)
        try:
            return response_of(await self._http.send(built))
        except httpx.HTTPError as exc:
            raise connection_error(request.method, built.url, exc) from None
