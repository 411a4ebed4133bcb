"""The periodic background drift scan behind the drift and thin-pool metrics.

Every ``heketipy.drift_scan_interval_s`` (``Settings.drift_scan_every_s``) it runs the drift
report (``operations.drift``), whose node inventories also tell how full each device's thin
pools are, and hands both to the runtime's metrics: ``heketipy_drift_objects{kind,problem}``,
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


def thin_pool_usage(rt: Runtime, read: drift.Inventories) -> dict[str, tuple[float, float]]:
    """Device id -> (data, metadata) use of its fullest thin pool, for every node that
    answered (an unreachable node is already a drift finding)."""
    usage: dict[str, tuple[float, float]] = {}
    for node, inventory in read:
        if isinstance(inventory, Exception):
            continue
        by_vg = inventory.thin_pool_usage()
        for device_id in rt.state.device_ids(node.id):
            if vg_name(device_id) in by_vg:
                usage[device_id] = by_vg[vg_name(device_id)]
    return usage


async def scan(rt: Runtime) -> None:
    """One scan (one inventory per node, its ``lvs`` report carrying the thin-pool fill); its
    result replaces the previous one in the metrics."""
    read = await drift.inventories(rt)
    report = drift.report_of(rt, read)
    findings = [
        (finding["kind"], finding["problem"])
        for problem in drift.PROBLEMS
        for finding in report[problem]
    ]
    rt.metrics.drift_scanned(findings, thin_pool_usage(rt, read), time.time())


async def run(rt: Runtime, interval_s: float) -> None:
    """Scan every ``interval_s`` seconds, the first one interval after the start (start-up
    and its recovery run their own commands first), until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await scan(rt)
        except Exception:  # noqa: BLE001 - the scanner must survive anything
            log.exception("background drift scan failed")
