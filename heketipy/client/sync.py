"""`HeketiClient`: the blocking client (httpx.Client driving the shared flows)."""

from __future__ import annotations

import time
from typing import TypeVar

import httpx

from heketipy.client.base import ClientBase
from heketipy.client.endpoints import Endpoints
from heketipy.client.flows import Flow, HttpRequest, HttpResponse
from heketipy.client.transport import connection_error, response_of

T = TypeVar("T")


class HeketiClient(Endpoints, ClientBase[httpx.Client, httpx.BaseTransport]):
    """Blocking Heketi client; every API method returns the type its flow names.

    Constructor arguments: see `heketipy.client.base.ClientBase`.
    """

    _http_class = httpx.Client

    def __enter__(self) -> HeketiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, HttpRequest):
                    step = flow.send(self._send(step))
                else:
                    time.sleep(step.seconds)
                    step = flow.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _send(self, request: HttpRequest) -> HttpResponse:
        built = self._request(request)
        try:
            return response_of(self._http.send(built))
        except httpx.HTTPError as exc:
            raise connection_error(request.method, built.url, exc) from None
