"""Node and device routes."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.common import lookup, parse, path_id, runtime
from heketipy.api.responses import accepted, json_response, redirect_html
from heketipy.models import requests as wire
from heketipy.models.views import device_view, node_view
from heketipy.operations import nodes as ops

ID = "{id:[A-Fa-f0-9]+}"


async def add_node(request: web.Request) -> web.Response:
    body = await parse(request, wire.NodeAddRequest)
    rt = runtime(request)
    queue_id = await ops.add_node(
        rt, body.cluster, body.zone, list(body.hostnames.manage), list(body.hostnames.storage),
        dict(body.tags or {}),
    )
    return accepted(queue_id)


async def get_node(request: web.Request) -> web.Response:
    rt = runtime(request)
    node = lookup(rt.state.nodes, path_id(request))
    return json_response(node_view(rt.state, node))


async def delete_node(request: web.Request) -> web.Response:
    rt = runtime(request)
    node = lookup(rt.state.nodes, path_id(request))
    return accepted(await ops.delete_node(rt, node))


async def node_state(request: web.Request) -> web.Response:
    body = await parse(request, wire.StateRequest)
    rt = runtime(request)
    node = lookup(rt.state.nodes, path_id(request))
    return accepted(await ops.set_node_state(rt, node, body.state))


async def node_tags(request: web.Request) -> web.Response:
    body = await parse(request, wire.TagsChangeRequest)
    rt = runtime(request)
    node = lookup(rt.state.nodes, path_id(request))
    return json_response(
        await ops.set_node_tags(rt, node, body.change_type, dict(body.tags or {}))
    )


async def add_device(request: web.Request) -> web.Response:
    body = await parse(request, wire.DeviceAddRequest)
    rt = runtime(request)
    queue_id = await ops.add_device(
        rt, body.node, body.name, dict(body.tags or {}), bool(body.destroydata)
    )
    return accepted(queue_id)


async def get_device(request: web.Request) -> web.Response:
    rt = runtime(request)
    device = lookup(rt.state.devices, path_id(request))
    return json_response(device_view(rt.state, device))


async def delete_device(request: web.Request) -> web.Response:
    body = await parse(request, wire.DeviceDeleteRequest, allow_empty=True)
    force_forget = bool(body.forceforget)
    rt = runtime(request)
    device = lookup(rt.state.devices, path_id(request))
    return accepted(await ops.delete_device(rt, device, force_forget))


async def device_state(request: web.Request) -> web.Response:
    body = await parse(request, wire.StateRequest)
    rt = runtime(request)
    device = lookup(rt.state.devices, path_id(request))
    return accepted(await ops.set_device_state(rt, device, body.state))


async def device_tags(request: web.Request) -> web.Response:
    body = await parse(request, wire.TagsChangeRequest)
    rt = runtime(request)
    device = lookup(rt.state.devices, path_id(request))
    return json_response(
        await ops.set_device_tags(rt, device, body.change_type, dict(body.tags or {}))
    )


async def resync_device(request: web.Request) -> web.Response:
    rt = runtime(request)
    device = lookup(rt.state.devices, path_id(request))
    queue_id = await ops.resync_device(rt, device)
    # A GET answered with a redirect status: Go adds its small HTML body.
    return redirect_html(202, f"/queue/{queue_id}", "Accepted")


def register(router: web.UrlDispatcher) -> None:
    router.add_route("POST", "/nodes", add_node)
    router.add_route("GET", f"/nodes/{ID}", get_node)
    router.add_route("DELETE", f"/nodes/{ID}", delete_node)
    router.add_route("POST", f"/nodes/{ID}/state", node_state)
    router.add_route("POST", f"/nodes/{ID}/tags", node_tags)
    router.add_route("POST", "/devices", add_device)
    router.add_route("GET", f"/devices/{ID}", get_device)
    router.add_route("DELETE", f"/devices/{ID}", delete_device)
    router.add_route("POST", f"/devices/{ID}/state", device_state)
    router.add_route("POST", f"/devices/{ID}/tags", device_tags)
    router.add_route("GET", f"/devices/{ID}/resync", resync_device)
