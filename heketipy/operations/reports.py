"""Read-only reports over the database and the nodes: the database dump and consistency
check (``GET /db/dump``, ``GET /db/check``) and the comparison with what gluster on each node
reports (``GET /internal/state/examine/gluster``)."""

from __future__ import annotations

import asyncio
from typing import Any

from heketipy.domain.consistency import check
from heketipy.heketidump.export import dump, examine
from heketipy.operations.runtime import Runtime


def db_dump(rt: Runtime) -> dict[str, Any]:
    return dump(rt.state)


def db_check(rt: Runtime) -> dict[str, Any]:
    return check(rt.state)


async def examine_gluster(rt: Runtime) -> dict[str, Any]:
    """Compare the database with the volume names gluster on each online node reports; a node
    that does not answer is reported as such, not as an error."""
    nodes = [n for n in rt.state.nodes.values() if n.state == "online"]

    async def names_on(node_id: str, host: str) -> tuple[str, list[str] | None]:
        try:
            return node_id, [v.name for v in await rt.executor.volumes_info(host)]
        except Exception:  # noqa: BLE001 - an unreachable node is reported as such
            return node_id, None

    answers = await asyncio.gather(*(names_on(n.id, n.manage_host) for n in nodes))
    gluster_volumes = {node_id: names for node_id, names in answers if names is not None}
    return examine(rt.state, len(rt.in_flight_ops), gluster_volumes)
