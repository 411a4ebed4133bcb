"""Block volume routes: create, list, info, delete, expand."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.common import ID, Routes, located, lookup_visible, path_id, runtime
from heketipy.api.responses import accepted, json_response
from heketipy.models import requests as wire
from heketipy.models.views import blockvolume_view
from heketipy.operations import blockvolumes as ops

routes = Routes()
register = routes.register


@routes.queued("POST", "/blockvolumes", wire.BlockVolumeCreateRequest)
async def create_blockvolume(request: web.Request, body: wire.BlockVolumeCreateRequest) -> str:
    spec = ops.BlockVolumeSpec(
        size_gib=body.size,
        name=body.name or "",
        cluster_ids=tuple(body.clusters or ()),
        hacount=body.hacount or 0,
        auth=bool(body.auth),
    )
    return await ops.create_block_volume(runtime(request), spec)


@routes("GET", "/blockvolumes")
async def list_blockvolumes(request: web.Request) -> web.Response:
    state = runtime(request).state
    return json_response(
        {"blockvolumes": sorted(b.id for b in state.blockvolumes.values() if not b.pending_op)}
    )


@routes("GET", f"/blockvolumes/{ID}")
async def get_blockvolume(request: web.Request) -> web.Response:
    state = runtime(request).state
    return json_response(
        blockvolume_view(state, lookup_visible(state.blockvolumes, path_id(request)))
    )


@routes("DELETE", f"/blockvolumes/{ID}")
async def delete_blockvolume(request: web.Request) -> web.Response:
    rt, bv = located(request, lambda state: state.blockvolumes)
    return accepted(await ops.delete_block_volume(rt, bv))


@routes.queued("POST", f"/blockvolumes/{ID}/expand", wire.BlockVolumeExpandRequest)
async def expand_blockvolume(request: web.Request, body: wire.BlockVolumeExpandRequest) -> str:
    located_bv = located(request, lambda state: state.blockvolumes)
    return await ops.expand_block_volume(*located_bv, body.new_size)
