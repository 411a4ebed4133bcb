"""heketipy's drift report: ``GET /internal/state/drift`` and the explicit orphan repair
``POST /internal/state/drift/repair {"remove_orphans": true}``; a volume's replica sets as the
database holds them: ``GET /internal/state/volumes/{id}/sets``."""

from __future__ import annotations

import json

from aiohttp import web

from heketipy.api import limits
from heketipy.api.common import ID, Routes, located, runtime
from heketipy.api.responses import json_indent_response
from heketipy.domain.errors import InvalidRequest, Unprocessable
from heketipy.models.views import volume_sets_view
from heketipy.operations import drift

routes = Routes()
register = routes.register


@routes("GET", "/internal/state/drift")
async def get_drift(request: web.Request) -> web.Response:
    return json_indent_response(await drift.report(runtime(request)))


@routes("POST", "/internal/state/drift/repair")
async def repair_drift(request: web.Request) -> web.Response:
    try:
        body = json.loads(await limits.read_body(request) or b"{}")
    except ValueError as exc:
        raise Unprocessable("request unable to be parsed") from exc
    if not isinstance(body, dict) or body.get("remove_orphans") is not True:
        raise InvalidRequest('repair removes orphans only when asked: {"remove_orphans": true}')
    return json_indent_response(await drift.repair(runtime(request)))


@routes("GET", f"/internal/state/volumes/{ID}/sets")
async def get_volume_sets(request: web.Request) -> web.Response:
    rt, volume = located(request, lambda state: state.volumes)
    return json_indent_response(volume_sets_view(rt.state, volume))
