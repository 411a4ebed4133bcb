"""Leadership by the database lock: whoever holds the POSIX lock on ``<db>.lock`` is active.

Works wherever the database lives; on a Gluster mount GlusterFS enforces the lock across
every client, which makes it the second fence behind a Kubernetes Lease. ``acquire`` tries the
non-blocking lock every ``retry_period_s``. ``hold`` checks every ``retry_period_s`` that the
lock is still ours (re-asserting a POSIX lock we hold is a no-op; one lost and taken by another
process is refused), that ``<db>.lock`` is still the file we locked, and that the mount answers
at all; when no check succeeded for ``renew_deadline_s`` (a hung mount), or one proves the lock
lost, it returns and the server fences itself.

POSIX locks belong to the process: the store's own descriptor of the same lock file shares
this lock, and closing either drops it, which only happens when the server shuts down.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import time

from heketipy.ha.leadership import LeaseTiming
from heketipy.store.sqlite import DatabaseLocked, lock_database, lock_file_is

log = logging.getLogger("heketipy.ha")


class LockLost(Exception):
    """The lock is provably no longer ours (taken by another process, or its file replaced)."""


class DatabaseLockLeadership:
    """The ``Leadership`` of the process holding ``<db_path>.lock``."""

    def __init__(self, db_path: str, timing: LeaseTiming, identity: str) -> None:
        self.db_path = db_path
        self.lock_path = db_path + ".lock"
        self.timing = timing
        self.identity = identity
        self._fd: int | None = None

    async def acquire(self) -> None:
        announced = False
        while True:
            try:
                self._fd = await asyncio.to_thread(lock_database, self.db_path)
            except DatabaseLocked:
                if not announced:
                    log.info(
                        "standby: database %s is held by another server; trying its lock "
                        "every %ss", self.db_path, self.timing.retry_period_s,
                    )
                    announced = True
                await asyncio.sleep(self.timing.retry_period_s)
                continue
            log.info("%s holds the database lock %s", self.identity, self.lock_path)
            return

    def _check_sync(self, fd: int) -> None:
        """LockLost if the lock is provably lost; OSError when the mount does not answer."""
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockLost(f"another process holds {self.lock_path}") from exc
        except OSError as exc:
            # GlusterFS marks a descriptor whose locks it dropped (after a reconnect) bad.
            if exc.errno in (errno.EBADF, errno.EBADFD):
                raise LockLost(f"the lock on {self.lock_path} is gone: {exc}") from exc
            raise
        if not lock_file_is(self.lock_path, fd):
            raise LockLost(f"{self.lock_path} was removed or replaced")

    async def hold(self) -> None:
        fd = self._fd
        if fd is None:
            return
        timing = self.timing
        last_ok = time.monotonic()
        while True:
            left = last_ok + timing.renew_deadline_s - time.monotonic()
            if left <= 0:
                log.error(
                    "database lock %s not confirmed for %ss: giving leadership up",
                    self.lock_path, timing.renew_deadline_s,
                )
                return
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that lands as the check completes (CPython gh-86296), and a cancelled hold()
                # must stop.
                async with asyncio.timeout(left):
                    await asyncio.to_thread(self._check_sync, fd)
            except LockLost as exc:
                log.error("database lock lost: %s", exc)
                return
            except (OSError, TimeoutError) as exc:
                log.warning("database lock %s not confirmed: %s", self.lock_path, exc or "timeout")
            else:
                last_ok = time.monotonic()
            await asyncio.sleep(timing.retry_period_s)

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            await asyncio.to_thread(os.close, fd)
            log.info("%s released the database lock %s", self.identity, self.lock_path)
