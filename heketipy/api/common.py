"""Small helpers shared by the route modules: body parsing and id lookups."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from heketipy.api import limits
from heketipy.api.app import RUNTIME, SERVER, ServerState
from heketipy.domain.errors import ID_NOT_FOUND, InvalidRequest, NotFound, Unprocessable
from heketipy.models import requests as wire
from heketipy.models import validation
from heketipy.operations.runtime import Runtime

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PARSE_ERROR = "request unable to be parsed"


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


def lookup_visible(table: dict[str, T], entity_id: str) -> T:
    """Like ``lookup``, but an entity with a pending create/delete/clone is "not found" too
    (Heketi hides pending volumes and block volumes from GETs)."""
    entity = lookup(table, entity_id)
    if getattr(entity, "pending_op", ""):
        raise NotFound(ID_NOT_FOUND)
    return entity
