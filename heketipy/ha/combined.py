"""Leadership by several mechanisms at once: active only while holding every one of them.

``AllOf([lease, database_lock])`` acquires them in order (the Lease first: it says who may
try; then the database lock: the fence the storage itself enforces). A mechanism already
acquired keeps being renewed (its ``hold`` runs) while the next one is awaited; if it is lost
meanwhile, everything acquired is released and acquisition starts over. ``hold`` returns as
soon as any one of them is lost; ``release`` gives them up in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from heketipy.ha.leadership import Leadership

log = logging.getLogger("heketipy.ha")


async def _stop(tasks: Sequence[asyncio.Future[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class AllOf:
    """The ``Leadership`` of holding every one of ``mechanisms`` (see the module)."""

    def __init__(self, mechanisms: Sequence[Leadership]) -> None:
        if not mechanisms:
            raise ValueError("leadership needs at least one mechanism")
        self.mechanisms = list(mechanisms)
        self.identity = self.mechanisms[0].identity
        self._holds: list[asyncio.Task[None]] = []

    async def acquire(self) -> None:
        while True:
            holds: list[asyncio.Task[None]] = []
            acquiring: asyncio.Future[None] | None = None
            try:
                for mechanism in self.mechanisms:
                    acquiring = asyncio.ensure_future(mechanism.acquire())
                    await asyncio.wait([acquiring, *holds], return_when=asyncio.FIRST_COMPLETED)
                    if any(hold.done() for hold in holds):
                        break  # one acquired earlier was lost while waiting for this one
                    acquiring.result()
                    acquiring = None
                    holds.append(asyncio.create_task(mechanism.hold(), name="leadership-hold"))
                else:
                    self._holds = holds
                    return
            except BaseException:
                await _stop([*holds, *([acquiring] if acquiring else [])])
                await self.release()
                raise
            log.warning("leadership lost while acquiring the next mechanism: starting over")
            await _stop([*holds, *([acquiring] if acquiring else [])])
            await self.release()

    async def hold(self) -> None:
        holds, self._holds = self._holds, []
        if not holds:
            return
        try:
            done, _pending = await asyncio.wait(holds, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("leadership check failed", exc_info=task.exception())
        finally:
            await _stop(holds)

    async def release(self) -> None:
        for mechanism in reversed(self.mechanisms):
            try:
                await mechanism.release()
            except Exception:  # noqa: BLE001 - the others must still be released
                log.exception("releasing leadership (%s) failed", type(mechanism).__name__)
