"""Volume routes: create, list, info, delete, expand, clone, block restriction; brick evict."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from heketipy.api.common import ID, Routes, located, lookup_visible, parse, path_id, runtime
from heketipy.api.responses import JSON_TYPE, accepted, json_response
from heketipy.domain.entities import Volume
from heketipy.domain.errors import InvalidRequest
from heketipy.domain.state import State
from heketipy.gocompat import json_encode
from heketipy.models import requests as wire
from heketipy.models import validation
from heketipy.models.views import volume_view
from heketipy.operations import bricks as bricks_ops
from heketipy.operations import expansion
from heketipy.operations import volumes as ops

routes = Routes()
register = routes.register


def _spec(body: Any) -> ops.VolumeSpec:
    durability = body.durability
    dtype = durability.type or "none"
    replica = durability.replicate.replica or 0
    if dtype == "replicate" and replica == 0:
        replica = 2
    data = durability.disperse.data or 0
    redundancy = durability.disperse.redundancy or 0
    return ops.VolumeSpec(
        size_gib=body.size,
        name=body.name or "",
        cluster_ids=list(body.clusters or []),
        durability_echo=wire.durability_echo(body.durability),
        durability=dtype,
        replica=replica if dtype == "replicate" else 1,
        data=data if dtype == "disperse" else 0,
        redundancy=redundancy if dtype == "disperse" else 0,
        gid=body.gid or 0,
        request_options=list(body.glustervolumeoptions or []),
        block=bool(body.block),
        snapshot_enable=bool(body.snapshot.enable),
        snapshot_factor=wire.snapshot_echo(body.snapshot)["factor"],
    )


@routes("POST", "/volumes")
async def create_volume(request: web.Request) -> web.Response:
    body = await parse(request, wire.VolumeCreateRequest)
    try:
        validation.check_volume_request(body)
    except validation.RequestRejected as exc:
        raise InvalidRequest(exc.text) from exc
    return accepted(await ops.create_volume(runtime(request), _spec(body)))


@routes("GET", "/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    """Encoded once per change of the visible list, not per request (10,000 volumes).

    ``?volume_name=NAME`` (a heketipy extension no Heketi client sends) answers only the ids
    of the volumes with that name, from the name index, pending ones included: heketipy-csi
    finds the volume it created for a CSI name this way, also while that create is running.
    Other query parameters are ignored as Heketi ignores them (``?name=x`` lists everything).
    """
    state = runtime(request).state
    if "volume_name" in request.query:
        return json_response({"volumes": state.volume_ids_named(request.query["volume_name"])})
    cached = state.cache.get("GET /volumes")
    if cached is None or cached[0] != state.visible_version:
        body = json_encode.dumps_string_list("volumes", state.visible_volumes)
        cached = state.cache["GET /volumes"] = (state.visible_version, body)
    return web.Response(body=cached[1], headers={"Content-Type": JSON_TYPE})


@routes("GET", f"/volumes/{ID}")
async def get_volume(request: web.Request) -> web.Response:
    state = runtime(request).state
    return json_response(volume_view(state, lookup_visible(state.volumes, path_id(request))))


@routes("DELETE", f"/volumes/{ID}")
async def delete_volume(request: web.Request) -> web.Response:
    return accepted(await ops.delete_volume(*located(request, _volumes)))


@routes.queued("POST", f"/volumes/{ID}/expand", wire.VolumeExpandRequest)
async def expand_volume(request: web.Request, body: wire.VolumeExpandRequest) -> str:
    return await expansion.expand(*located(request, _volumes), body.expand_size)


@routes.queued("POST", f"/volumes/{ID}/clone", wire.VolumeCloneRequest)
async def clone_volume(request: web.Request, body: wire.VolumeCloneRequest) -> str:
    return await ops.clone_volume(*located(request, _volumes), body.name or "")


@routes.queued("POST", f"/volumes/{ID}/block-restriction", wire.BlockRestrictionRequest)
async def block_restriction(request: web.Request, body: wire.BlockRestrictionRequest) -> str:
    return await ops.set_block_restriction(*located(request, _volumes), body.restriction or "")


@routes.queued("POST", f"/bricks/to-evict/{ID}", wire.BrickEvictRequest, allow_empty=True)
async def evict_brick(request: web.Request, body: wire.BrickEvictRequest) -> str:
    return await bricks_ops.evict_brick(*located(request, lambda state: state.bricks))


def _volumes(state: State) -> dict[str, Volume]:
    return state.volumes
