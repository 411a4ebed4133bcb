"""Operational read endpoints: pending operations (+ cleanup), DB dump/check/backup,
the gluster state examiner and ``/metrics``.

Everything here reads the in-memory state; the only writer is the cleanup
(``operations.pending``), which hands the listed stale/failed operations back to recovery.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from heketipy.api.common import ID, Routes, path_id, runtime
from heketipy.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from heketipy.api.metrics import operation_counts, render_metrics
from heketipy.api.responses import json_indent_response, json_response
from heketipy.domain.changes import change_description
from heketipy.domain.entities import PendingOperation
from heketipy.domain.errors import ID_NOT_FOUND, NotFound
from heketipy.models import requests as wire
from heketipy.operations import pending, reports

routes = Routes()
register = routes.register


def _summary(record: PendingOperation, sub_status: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "type_name": record.type_name,
        "status": record.status,
        "sub_status": sub_status,
    }


@routes("GET", "/operations")
async def operations_info(request: web.Request) -> web.Response:
    rt = runtime(request)
    return json_response(operation_counts(rt.state, rt.in_flight_ops))


@routes("GET", "/operations/pending")
async def list_pending(request: web.Request) -> web.Response:
    rt = runtime(request)
    operations = rt.state.operations
    listing = [
        _summary(operations[oid], "in-flight" if oid in rt.in_flight_ops else "")
        for oid in sorted(operations)
    ]
    return json_response({"pendingoperations": listing})


@routes("GET", f"/operations/pending/{ID}")
async def get_pending(request: web.Request) -> web.Response:
    rt = runtime(request)
    op_id = path_id(request)
    record = rt.state.operations.get(op_id)
    if record is None:
        raise NotFound(f"{ID_NOT_FOUND}: {op_id}")
    # Heketi's detail view never reports the in-flight sub-status (recorded behaviour).
    view = _summary(record, "")
    view["changes"] = [
        {"id": change.get("id", ""), "description": change_description(change)}
        for change in record.changes
    ]
    return json_response(view)


@routes.queued("POST", "/operations/pending/cleanup", wire.CleanupRequest)
async def cleanup(request: web.Request, body: wire.CleanupRequest) -> str:
    return await pending.cleanup_operations(runtime(request), list(body.operations or []))


@routes("GET", "/db/dump")
async def db_dump(request: web.Request) -> web.Response:
    return json_indent_response(reports.db_dump(runtime(request)))


@routes("GET", "/db/check")
async def db_check(request: web.Request) -> web.Response:
    return json_indent_response(reports.db_check(runtime(request)))


@routes("GET", "/internal/state/examine/gluster")
async def examine_gluster(request: web.Request) -> web.Response:
    """Compare the database with what gluster on each online node reports."""
    return json_indent_response(await reports.examine_gluster(runtime(request)))


@routes("GET", "/backup/db")
async def backup_db(request: web.Request) -> web.Response:
    data = await runtime(request).store.backup_bytes()
    return web.Response(
        body=data,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="heketi.db"',
        },
    )


@routes("GET", "/metrics")
async def metrics(request: web.Request) -> web.Response:
    rt = runtime(request)
    # Heketi's series exactly as Heketi writes them, then heketipy's own (operations.metrics).
    text = render_metrics(rt.state, operation_counts(rt.state, rt.in_flight_ops))
    text += rt.metrics.render(rt.state, rt.throttle.waiting)
    return web.Response(body=text.encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})
