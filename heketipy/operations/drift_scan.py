"""The periodic background drift scan behind the drift and thin-pool metrics.

Every ``heketipy.drift_scan_interval_s`` (``Settings.drift_scan_every_s``) it runs the drift
report (``operations.drift``) and reads how full each device's thin pools are, and hands both
to the runtime's metrics: ``heketipy_drift_objects{kind,problem}``,
``heketipy_drift_last_scan_timestamp_seconds`` and the ``heketipy_device_thinpool_*`` ratios.
It only reads: repairing drift stays an explicit request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from heketipy.domain.units import vg_name
from heketipy.operations import drift
from heketipy.operations.runtime import Runtime

log = logging.getLogger("heketipy.drift")


async def thin_pool_usage(rt: Runtime) -> dict[str, tuple[float, float]]:
    """Device id -> (data, metadata) use of its fullest thin pool, for every node that
    answers (an unreachable node is already a drift finding)."""
    state = rt.state
    nodes = [n for n in state.nodes.values() if n.state != "failed"]

    async def of_node(node_id: str, host: str) -> dict[str, tuple[float, float]]:
        try:
            by_vg = await rt.executor.thin_pool_usage(host)
        except Exception as exc:  # noqa: BLE001 - one node's silence must not stop the scan
            log.info("thin-pool use of node %s not read: %s", node_id, exc)
            return {}
        return {
            device_id: by_vg[vg_name(device_id)]
            for device_id in state.device_ids(node_id)
            if vg_name(device_id) in by_vg
        }

    usage: dict[str, tuple[float, float]] = {}
    for found in await asyncio.gather(*(of_node(n.id, n.manage_host) for n in nodes)):
        usage.update(found)
    return usage


async def scan(rt: Runtime) -> None:
    """One scan; its result replaces the previous one in the metrics."""
    report = await drift.report(rt)
    findings = [
        (finding["kind"], finding["problem"])
        for problem in drift.PROBLEMS
        for finding in report[problem]
    ]
    rt.metrics.drift_scanned(findings, await thin_pool_usage(rt), time.time())


async def run(rt: Runtime, interval_s: float) -> None:
    """Scan every ``interval_s`` seconds, the first one interval after the start (start-up
    and its recovery run their own commands first), until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await scan(rt)
        except Exception:  # noqa: BLE001 - the scanner must survive anything
            log.exception("background drift scan failed")
