"""Node and device routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from heketipy.api.common import ID, Routes, located, parse, runtime
from heketipy.api.responses import accepted, json_response, redirect_html
from heketipy.domain.state import State
from heketipy.models import requests as wire
from heketipy.models.views import device_view, node_view
from heketipy.operations import nodes as ops
from heketipy.operations.runtime import Runtime

E = TypeVar("E")

routes = Routes()
register = routes.register


def _state_and_tags(
    kind: str,
    table: Callable[[State], dict[str, E]],
    set_state: Callable[[Runtime, E, str], Awaitable[str]],
    set_tags: Callable[[Runtime, E, str, dict[str, str]], Awaitable[dict[str, str]]],
) -> None:
    """``POST /<kind>/{id}/state`` (queued) and ``POST /<kind>/{id}/tags`` (answered at once),
    alike for nodes and devices."""

    @routes.queued("POST", f"/{kind}/{ID}/state", wire.StateRequest)
    async def change_state(request: web.Request, body: wire.StateRequest) -> str:
        return await set_state(*located(request, table), body.state)

    @routes("POST", f"/{kind}/{ID}/tags")
    async def change_tags(request: web.Request) -> web.Response:
        body = await parse(request, wire.TagsChangeRequest)
        rt, entity = located(request, table)
        return json_response(await set_tags(rt, entity, body.change_type, dict(body.tags or {})))


@routes.queued("POST", "/nodes", wire.NodeAddRequest)
async def add_node(request: web.Request, body: wire.NodeAddRequest) -> str:
    hostnames = body.hostnames
    return await ops.add_node(
        runtime(request), body.cluster, body.zone, list(hostnames.manage),
        list(hostnames.storage), dict(body.tags or {}),
    )


@routes("GET", f"/nodes/{ID}")
async def get_node(request: web.Request) -> web.Response:
    rt, node = located(request, lambda state: state.nodes)
    return json_response(node_view(rt.state, node))


@routes("DELETE", f"/nodes/{ID}")
async def delete_node(request: web.Request) -> web.Response:
    return accepted(await ops.delete_node(*located(request, lambda state: state.nodes)))


_state_and_tags("nodes", lambda state: state.nodes, ops.set_node_state, ops.set_node_tags)


@routes.queued("POST", "/devices", wire.DeviceAddRequest)
async def add_device(request: web.Request, body: wire.DeviceAddRequest) -> str:
    tags, destroy_data = dict(body.tags or {}), bool(body.destroydata)
    return await ops.add_device(runtime(request), body.node, body.name, tags, destroy_data)


@routes("GET", f"/devices/{ID}")
async def get_device(request: web.Request) -> web.Response:
    rt, device = located(request, lambda state: state.devices)
    return json_response(device_view(rt.state, device))


@routes.queued("DELETE", f"/devices/{ID}", wire.DeviceDeleteRequest, allow_empty=True)
async def delete_device(request: web.Request, body: wire.DeviceDeleteRequest) -> str:
    force_forget = bool(body.forceforget)
    return await ops.delete_device(*located(request, lambda state: state.devices), force_forget)


_state_and_tags("devices", lambda state: state.devices, ops.set_device_state, ops.set_device_tags)


@routes("GET", f"/devices/{ID}/resync")
async def resync_device(request: web.Request) -> web.Response:
    queue_id = await ops.resync_device(*located(request, lambda state: state.devices))
    # A GET answered with a redirect status: Go adds its small HTML body.
    return redirect_html(202, f"/queue/{queue_id}", "Accepted")
