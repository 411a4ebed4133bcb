"""Operational read endpoints: pending operations (+ cleanup), DB dump/check/backup,
the gluster state examiner and ``/metrics``.

Everything here reads the in-memory state; the only writer is the cleanup, which hands the
listed stale/failed operations back to the runtime's recovery.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from aiohttp import web

from heketipy.api.common import parse, path_id, runtime
from heketipy.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from heketipy.api.metrics import operation_counts, render_metrics
from heketipy.api.responses import accepted, json_indent_response, json_response
from heketipy.domain.changes import change_description
from heketipy.domain.consistency import check
from heketipy.domain.entities import PendingOperation
from heketipy.domain.errors import ID_NOT_FOUND, NotFound
from heketipy.heketidump.export import dump, examine
from heketipy.models import requests as wire

log = logging.getLogger("heketipy.api.ops")

ID = "{id:[A-Fa-f0-9]+}"
CLEANABLE = ("stale", "failed")

# One cleanup at a time per runtime: two concurrent recoveries would undo the same steps twice.
_CLEANUP_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def _summary(record: PendingOperation, sub_status: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "type_name": record.type_name,
        "status": record.status,
        "sub_status": sub_status,
    }


async def operations_info(request: web.Request) -> web.Response:
    rt = runtime(request)
    return json_response(operation_counts(rt.state, rt.in_flight_ops))


async def list_pending(request: web.Request) -> web.Response:
    rt = runtime(request)
    operations = rt.state.operations
    listing = [
        _summary(operations[oid], "in-flight" if oid in rt.in_flight_ops else "")
        for oid in sorted(operations)
    ]
    return json_response({"pendingoperations": listing})


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


def cleanup_candidates(state: Any, in_flight: set[str], requested: list[str]) -> list[str]:
    """Ids of the listed (all when none are listed) operations a cleanup may retry."""
    wanted = set(requested) if requested else set(state.operations)
    return sorted(
        oid
        for oid in wanted
        if (record := state.operations.get(oid)) is not None
        and record.status in CLEANABLE
        and not record.parent_id
        and oid not in in_flight
    )


async def cleanup(request: web.Request) -> web.Response:
    body = await parse(request, wire.CleanupRequest)
    rt = runtime(request)
    requested = list(body.operations or [])

    async def work() -> str | None:
        lock = _CLEANUP_LOCKS.setdefault(rt, asyncio.Lock())
        async with lock:
            candidates = cleanup_candidates(rt.state, rt.in_flight_ops, requested)
            if not candidates:
                return None
            try:
                recovered = await rt.recover(only=set(candidates))
            except Exception:  # noqa: BLE001 - Heketi does not report per-op cleanup results
                log.exception("cleanup of %s failed", candidates)
                return None
            log.info("cleanup of %s: %s operation(s) recovered", candidates, recovered)
        return None

    return accepted(rt.submit_plain(work, "cleanup-operations"))


async def db_dump(request: web.Request) -> web.Response:
    return json_indent_response(dump(runtime(request).state))


async def db_check(request: web.Request) -> web.Response:
    return json_indent_response(check(runtime(request).state))


async def examine_gluster(request: web.Request) -> web.Response:
    """Compare the database with what gluster on each online node reports."""
    rt = runtime(request)
    nodes = [n for n in rt.state.nodes.values() if n.state == "online"]

    async def names_on(node_id: str, host: str) -> tuple[str, list[str] | None]:
        try:
            return node_id, [v.name for v in await rt.executor.volumes_info(host)]
        except Exception:  # noqa: BLE001 - an unreachable node is reported as such
            return node_id, None

    answers = await asyncio.gather(*(names_on(n.id, n.manage_host) for n in nodes))
    gluster_volumes = {node_id: names for node_id, names in answers if names is not None}
    return json_indent_response(examine(rt.state, len(rt.in_flight_ops), gluster_volumes))


async def backup_db(request: web.Request) -> web.Response:
    data = await runtime(request).store.backup_bytes()
    return web.Response(
        body=data,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="heketi.db"',
        },
    )


async def metrics(request: web.Request) -> web.Response:
    rt = runtime(request)
    text = render_metrics(rt.state, operation_counts(rt.state, rt.in_flight_ops))
    return web.Response(body=text.encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})


def register(router: web.UrlDispatcher) -> None:
    router.add_route("GET", "/operations", operations_info)
    router.add_route("GET", "/operations/pending", list_pending)
    router.add_route("POST", "/operations/pending/cleanup", cleanup)
    router.add_route("GET", f"/operations/pending/{ID}", get_pending)
    router.add_route("GET", "/db/dump", db_dump)
    router.add_route("GET", "/db/check", db_check)
    router.add_route("GET", "/internal/state/examine/gluster", examine_gluster)
    router.add_route("GET", "/backup/db", backup_db)
    router.add_route("GET", "/metrics", metrics)
