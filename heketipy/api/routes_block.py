"""Block volume routes: create, list, info, delete, expand."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.common import (
    lookup,
    lookup_visible,
    parse,
    path_id,
    runtime,
)
from heketipy.api.responses import accepted, json_response
from heketipy.models import requests as wire
from heketipy.models.views import blockvolume_view
from heketipy.operations import blockvolumes as ops

ID = "{id:[A-Fa-f0-9]+}"


async def create_blockvolume(request: web.Request) -> web.Response:
    body = await parse(request, wire.BlockVolumeCreateRequest)
    spec = ops.BlockVolumeSpec(
        size_gib=body.size,
        name=body.name or "",
        cluster_ids=tuple(body.clusters or ()),
        hacount=body.hacount or 0,
        auth=bool(body.auth),
    )
    return accepted(await ops.create_block_volume(runtime(request), spec))


async def list_blockvolumes(request: web.Request) -> web.Response:
    state = runtime(request).state
    return json_response(
        {"blockvolumes": sorted(b.id for b in state.blockvolumes.values() if not b.pending_op)}
    )


async def get_blockvolume(request: web.Request) -> web.Response:
    state = runtime(request).state
    bv = lookup_visible(state.blockvolumes, path_id(request))
    return json_response(blockvolume_view(state, bv))


async def delete_blockvolume(request: web.Request) -> web.Response:
    rt = runtime(request)
    bv = lookup(rt.state.blockvolumes, path_id(request))
    return accepted(await ops.delete_block_volume(rt, bv))


async def expand_blockvolume(request: web.Request) -> web.Response:
    body = await parse(request, wire.BlockVolumeExpandRequest)
    rt = runtime(request)
    bv = lookup(rt.state.blockvolumes, path_id(request))
    return accepted(await ops.expand_block_volume(rt, bv, body.new_size))


def register(router: web.UrlDispatcher) -> None:
    router.add_route("POST", "/blockvolumes", create_blockvolume)
    router.add_route("GET", "/blockvolumes", list_blockvolumes)
    router.add_route("GET", f"/blockvolumes/{ID}", get_blockvolume)
    router.add_route("DELETE", f"/blockvolumes/{ID}", delete_blockvolume)
    router.add_route("POST", f"/blockvolumes/{ID}/expand", expand_blockvolume)
