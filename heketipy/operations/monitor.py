"""Node health monitor: periodically asks each node whether glusterd answers.

Placement leaves out nodes the monitor last saw down (as Heketi does); the set lives in
memory only, because a restart must look again anyway.
"""

from __future__ import annotations

import asyncio
import logging

from heketipy.operations.runtime import Runtime

log = logging.getLogger("heketipy.monitor")


async def check_nodes(rt: Runtime) -> set[str]:
    """One round: returns the ids of nodes whose glusterd did not answer."""
    nodes = [n for n in rt.state.nodes.values() if n.state == "online"]

    async def probe(node_id: str, host: str) -> str | None:
        try:
            await rt.executor.glusterd_check(host)
        except Exception as exc:  # noqa: BLE001 - a down node is the finding, not an error
            log.warning("node %s (%s) is down: %s", node_id, host, exc)
            return node_id
        return None

    answers = await asyncio.gather(*(probe(n.id, n.manage_host) for n in nodes))
    down = {node_id for node_id in answers if node_id}
    if down != rt.down_nodes:
        log.info("nodes seen down: %s", sorted(down) or "none")
    rt.down_nodes = down
    return down


async def run(rt: Runtime, start_s: float, refresh_s: float) -> None:
    await asyncio.sleep(start_s)
    while True:
        try:
            await check_nodes(rt)
        except Exception:  # noqa: BLE001 - the monitor must survive anything
            log.exception("node health check failed")
        await asyncio.sleep(refresh_s)
