"""Cluster routes: create, list, info, delete, flags (all synchronous, never throttled)."""

from __future__ import annotations

from aiohttp import web

from heketipy.api.common import lookup, parse, path_id, runtime
from heketipy.api.responses import empty, json_response
from heketipy.models import requests as wire
from heketipy.models.views import cluster_view
from heketipy.operations import clusters as ops

ID = "{id:[A-Fa-f0-9]+}"


async def create_cluster(request: web.Request) -> web.Response:
    body = await parse(request, wire.ClusterCreateRequest)
    rt = runtime(request)
    cluster = await ops.create_cluster(rt, file=bool(body.file), block=bool(body.block))
    return json_response(cluster_view(rt.state, cluster.id), status=201)


async def list_clusters(request: web.Request) -> web.Response:
    rt = runtime(request)
    return json_response({"clusters": sorted(rt.state.clusters)})


async def get_cluster(request: web.Request) -> web.Response:
    rt = runtime(request)
    cluster = lookup(rt.state.clusters, path_id(request))
    return json_response(cluster_view(rt.state, cluster.id))


async def delete_cluster(request: web.Request) -> web.Response:
    rt = runtime(request)
    cluster = lookup(rt.state.clusters, path_id(request))
    await ops.delete_cluster(rt, cluster)
    return empty(200)


async def set_flags(request: web.Request) -> web.Response:
    body = await parse(request, wire.ClusterFlagsRequest)
    rt = runtime(request)
    cluster = lookup(rt.state.clusters, path_id(request))
    await ops.set_cluster_flags(rt, cluster, file=bool(body.file), block=bool(body.block))
    # Heketi answers the flags update with a JSON content type and no body.
    return web.Response(status=200, headers={"Content-Type": "application/json; charset=UTF-8"})


def register(router: web.UrlDispatcher) -> None:
    router.add_route("POST", "/clusters", create_cluster)
    router.add_route("GET", "/clusters", list_clusters)
    router.add_route("GET", f"/clusters/{ID}", get_cluster)
    router.add_route("DELETE", f"/clusters/{ID}", delete_cluster)
    router.add_route("POST", f"/clusters/{ID}/flags", set_flags)
