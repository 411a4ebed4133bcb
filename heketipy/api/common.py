"""Small helpers shared by the route modules: the route table, body parsing and id lookups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from heketipy.api import limits
from heketipy.api.app import RUNTIME, SERVER, Handler, ServerState
from heketipy.api.responses import accepted
from heketipy.domain.errors import ID_NOT_FOUND, InvalidRequest, NotFound, Unprocessable
from heketipy.domain.state import State
from heketipy.models import requests as wire
from heketipy.models import validation
from heketipy.operations.runtime import Runtime

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PARSE_ERROR = "request unable to be parsed"

ID = "{id:[A-Fa-f0-9]+}"

H = TypeVar("H", bound=Handler)
Starter = Callable[[web.Request, T], Awaitable[str]]


class Routes:
    """The routes one module serves, each declared on its handler with ``@routes(method, path)``.

    ``register`` adds them in declaration order with ``router.add_route``: a GET gets no
    implicit HEAD route (aiohttp's ``RouteTableDef`` would add one; Heketi answers 405).
    """

    def __init__(self) -> None:
        self._table: list[tuple[str, str, Handler]] = []

    def __call__(self, method: str, path: str) -> Callable[[H], H]:
        def declare(handler: H) -> H:
            self._table.append((method, path, handler))
            return handler

        return declare

    def queued(
        self, method: str, path: str, model: type[wire.RequestT], *, allow_empty: bool = False
    ) -> Callable[[Starter[wire.RequestT]], Starter[wire.RequestT]]:
        """Declare a route that parses its body as ``model``, starts the operation the
        decorated ``start(request, body)`` returns the queue id of, and answers 202."""

        def declare(start: Starter[wire.RequestT]) -> Starter[wire.RequestT]:
            async def handler(request: web.Request) -> web.Response:
                body = await parse(request, model, allow_empty=allow_empty)
                return accepted(await start(request, body))

            self(method, path)(handler)
            return start

        return declare

    def register(self, router: web.UrlDispatcher) -> None:
        for method, path, handler in self._table:
            router.add_route(method, path, handler)


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def server_state(request: web.Request) -> ServerState:
    return request.app[SERVER]


async def parse(
    request: web.Request,
    model: type[wire.RequestT],
    *,
    validate: bool = True,
    allow_empty: bool = False,
) -> wire.RequestT:
    """Decode the body like Go's encoding/json, then validate with Heketi's texts and the
    configured list limits. The body is read under the route's cap (``api.limits``)."""
    raw = await limits.read_body(request)
    list_limits = limits.http_limits(request.app)

    def decode(data: bytes) -> wire.RequestT:
        try:
            value = wire.parse_body(model, data, allow_empty=allow_empty)
        except wire.ParseError as exc:
            raise Unprocessable(PARSE_ERROR) from exc
        if validate:
            try:
                validation.validate(value)
            except validation.ValidationError as exc:
                raise InvalidRequest(exc.text) from exc
            limits.check_lists(value, list_limits)
        return value

    return await limits.decode(raw, decode)


def path_id(request: web.Request) -> str:
    return request.match_info["id"]


def lookup(table: dict[str, T], entity_id: str) -> T:
    try:
        return table[entity_id]
    except KeyError:
        raise NotFound(ID_NOT_FOUND) from None


def located(request: web.Request, table: Callable[[State], dict[str, T]]) -> tuple[Runtime, T]:
    """The runtime and the entity named by the path's ``{id}`` in ``table(state)`` (404 if none)."""
    rt = runtime(request)
    return rt, lookup(table(rt.state), path_id(request))


def lookup_visible(table: dict[str, T], entity_id: str) -> T:
    """Like ``lookup``, but an entity with a pending create/delete/clone is "not found" too
    (Heketi hides pending volumes and block volumes from GETs)."""
    entity = lookup(table, entity_id)
    if getattr(entity, "pending_op", ""):
        raise NotFound(ID_NOT_FOUND)
    return entity
