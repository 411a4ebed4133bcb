"""The cleanup of pending operations (``POST /operations/pending/cleanup``): the listed stale
or failed journal records go back to the runtime's recovery, which finishes or undoes each."""

from __future__ import annotations

import asyncio
import logging
import weakref

from heketipy.domain.state import State
from heketipy.operations.runtime import Runtime, Unjournaled

log = logging.getLogger("heketipy.operations.pending")

CLEANABLE = ("stale", "failed")

# One cleanup at a time per runtime: two concurrent recoveries would undo the same steps twice.
_CLEANUP_LOCKS: weakref.WeakKeyDictionary[Runtime, asyncio.Lock] = weakref.WeakKeyDictionary()


def cleanup_candidates(state: State, in_flight: set[str], requested: list[str]) -> list[str]:
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


async def retry_operations(rt: Runtime, requested: list[str]) -> None:
    """Recover the listed (all when none are listed) stale or failed operations now, one
    cleanup at a time. As in Heketi no per-operation outcome is reported: failures are logged
    (an operation whose recovery failed again stays, ``failed``)."""
    lock = _CLEANUP_LOCKS.setdefault(rt, asyncio.Lock())
    async with lock:
        candidates = cleanup_candidates(rt.state, rt.in_flight_ops, requested)
        if not candidates:
            return
        try:
            recovered = await rt.recover(only=set(candidates))
        except Exception:  # noqa: BLE001 - Heketi does not report per-op cleanup results
            log.exception("cleanup of %s failed", candidates)
            return
        log.info("cleanup of %s: %s operation(s) recovered", candidates, recovered)


async def cleanup_operations(rt: Runtime, requested: list[str]) -> str:
    """Recover the requested operations in the background (``retry_operations``)."""

    async def work() -> str | None:
        await retry_operations(rt, requested)
        return None

    return await rt.start(Unjournaled("cleanup-operations", work))
