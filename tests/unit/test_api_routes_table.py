"""The route table of the api modules (``heketipy.api.common.Routes``): what is declared on the
handlers is what the router serves, in declaration order, and a GET brings no HEAD route."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.app import create_app
from heketipy.api.common import ID, Routes
from heketipy.config import Settings
from heketipy.models import requests as wire


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _other(request: web.Request) -> web.Response:
    return web.Response(text="other")


def _served(router: web.UrlDispatcher) -> list[tuple[str, str]]:
    return [(route.method, route.resource.canonical) for route in router.routes()]


def test_routes_are_registered_in_declaration_order_without_head() -> None:
    routes = Routes()
    routes("GET", "/things")(_ok)
    routes("POST", f"/things/{ID}/state")(_other)
    app = web.Application()
    routes.register(app.router)
    assert _served(app.router) == [("GET", "/things"), ("POST", "/things/{id}/state")]


def test_declaring_returns_the_handler_itself() -> None:
    routes = Routes()
    assert routes("GET", "/x")(_ok) is _ok


def test_queued_declares_one_route_and_keeps_the_start_function() -> None:
    routes = Routes()

    async def start(request: web.Request, body: object) -> str:
        return "queue-id"

    assert routes.queued("POST", "/things", wire.VolumeExpandRequest)(start) is start
    app = web.Application()
    routes.register(app.router)
    assert _served(app.router) == [("POST", "/things")]


def test_the_api_serves_heketis_routes_and_no_head() -> None:
    app = create_app(Settings(auth_enabled=True, admin_key="admin", user_key="user"))
    served = _served(app.router)
    assert len(served) == len(set(served)) == 49
    assert not [route for route in served if route[0] == "HEAD"]
    for expected in [
        ("POST", "/nodes/{id}/state"), ("POST", "/nodes/{id}/tags"),
        ("POST", "/devices/{id}/state"), ("POST", "/devices/{id}/tags"),
        ("DELETE", "/devices/{id}"), ("POST", "/bricks/to-evict/{id}"),
        ("POST", "/operations/pending/cleanup"), ("POST", "/internal/state/drift/repair"),
        ("GET", "/devices/{id}/resync"), ("POST", "/blockvolumes/{id}/expand"),
        ("GET", "/internal/state/volumes/{id}/sets"),
        ("GET", "/livez"), ("GET", "/readyz"),
    ]:
        assert expected in served
