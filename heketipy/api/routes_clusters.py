"""Cluster routes: create, list, info, delete, flags (all synchronous, never throttled)."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.common import ID, Routes, located, parse, runtime
from heketipy.api.responses import empty, json_response
from heketipy.models import requests as wire
from heketipy.models.views import cluster_view
from heketipy.operations import clusters as ops

routes = Routes()
register = routes.register


@routes("POST", "/clusters")
async def create_cluster(request: web.Request) -> web.Response:
    body = await parse(request, wire.ClusterCreateRequest)
    rt = runtime(request)
    cluster = await ops.create_cluster(rt, file=bool(body.file), block=bool(body.block))
    return json_response(cluster_view(rt.state, cluster.id), status=201)


@routes("GET", "/clusters")
async def list_clusters(request: web.Request) -> web.Response:
    return json_response({"clusters": sorted(runtime(request).state.clusters)})


@routes("GET", f"/clusters/{ID}")
async def get_cluster(request: web.Request) -> web.Response:
    rt, cluster = located(request, lambda state: state.clusters)
    return json_response(cluster_view(rt.state, cluster.id))


@routes("DELETE", f"/clusters/{ID}")
async def delete_cluster(request: web.Request) -> web.Response:
    await ops.delete_cluster(*located(request, lambda state: state.clusters))
    return empty(200)


@routes("POST", f"/clusters/{ID}/flags")
async def set_flags(request: web.Request) -> web.Response:
    body = await parse(request, wire.ClusterFlagsRequest)
    rt, cluster = located(request, lambda state: state.clusters)
    await ops.set_cluster_flags(rt, cluster, file=bool(body.file), block=bool(body.block))
    # Heketi answers the flags update with a JSON content type and no body.
    return web.Response(status=200, headers={"Content-Type": "application/json; charset=UTF-8"})
