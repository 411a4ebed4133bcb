"""`AsyncHeketiClient`: the asyncio client (httpx.AsyncClient driving the shared flows).

Every API method is a coroutine function in the type checker's eyes too: `await
client.volume_create(...)` is a `Volume`.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import httpx

from heketipy.client.base import ClientBase
from heketipy.client.endpoints import Endpoints
from heketipy.client.flows import Flow, HttpRequest, HttpResponse
from heketipy.client.transport import connection_error, response_of

T = TypeVar("T")


class AsyncHeketiClient(Endpoints, ClientBase[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """asyncio Heketi client; same constructor and methods as `HeketiClient`, awaited."""

    _http_class = httpx.AsyncClient

    async def __aenter__(self) -> AsyncHeketiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, HttpRequest):
                    step = flow.send(await self._send(step))
                else:
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _send(self, request: HttpRequest) -> HttpResponse:
        built = self._request(request)
        try:
            return response_of(await self._http.send(built))
        except httpx.HTTPError as exc:
            raise connection_error(request.method, built.url, exc) from None
