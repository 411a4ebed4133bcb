"""Leadership by the database lock (heketipy.ha.dblock): a standby waits while another process
holds the lock, takes it when that process releases it or dies, and ``hold`` returns when the
lock is provably lost, its file replaced, or not confirmed within the renew deadline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heketipy.ha.dblock import DatabaseLockLeadership
from heketipy.ha.leadership import LeaseTiming
from heketipy.store.sqlite import DatabaseLocked, lock_database

FAST = LeaseTiming(lease_duration_s=1.5, renew_deadline_s=1.0, retry_period_s=0.05)

_HOLDER = """
import sys, time
from heketipy.store.sqlite import lock_database
lock_database(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()  # holds the lock until its stdin closes (or it is killed)
"""


class Holder:
    """Another process holding the database lock."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == b"locked\n"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def holder_of(tmp_path: Path) -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.kill()


def _lock_in_another_process(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from heketipy.store.sqlite import lock_database; "
         "lock_database(sys.argv[1]); print('ok')", str(db)], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


@pytest.mark.parametrize("holder_ends", ["releases", "dies"])
async def test_a_standby_waits_for_the_holder_then_takes_the_lock(
    tmp_path: Path, holder_of: list[Holder], holder_ends: str
) -> None:
    db = tmp_path / "heketi.db"
    holder = Holder(db)
    holder_of.append(holder)
    leadership = DatabaseLockLeadership(str(db), FAST, "standby")
    acquiring = asyncio.ensure_future(leadership.acquire())
    await asyncio.sleep(0.3)
    assert not acquiring.done()  # several polls were refused
    if holder_ends == "releases":
        holder.release()
    else:
        holder.kill()
    await asyncio.wait_for(acquiring, 10)
    # Now ours: another process is refused.
    assert "DatabaseLocked" in _lock_in_another_process(db).stderr
    await leadership.release()


async def test_hold_keeps_running_while_the_lock_is_ours(tmp_path: Path) -> None:
    leadership = DatabaseLockLeadership(str(tmp_path / "heketi.db"), FAST, "active")
    await leadership.acquire()
    holding = asyncio.ensure_future(leadership.hold())
    await asyncio.sleep(1.5)  # longer than the renew deadline: the checks kept succeeding
    assert not holding.done()
    holding.cancel()
    await leadership.release()


async def test_hold_returns_when_another_process_took_the_lock(
    tmp_path: Path, holder_of: list[Holder]
) -> None:
    db = tmp_path / "heketi.db"
    leadership = DatabaseLockLeadership(str(db), FAST, "active")
    await leadership.acquire()
    # Closing any descriptor of the lock file drops this process's POSIX lock (as a Gluster
    # client losing its connection loses its locks); another process then takes it.
    os.close(os.open(str(db) + ".lock", os.O_RDWR))
    holder_of.append(Holder(db))
    await asyncio.wait_for(leadership.hold(), 10)
    await leadership.release()


async def test_hold_returns_when_the_lock_file_is_replaced(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    leadership = DatabaseLockLeadership(str(db), FAST, "active")
    await leadership.acquire()
    os.unlink(str(db) + ".lock")
    await asyncio.wait_for(leadership.hold(), 10)
    await leadership.release()


async def test_hold_returns_when_the_mount_stops_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leadership = DatabaseLockLeadership(str(tmp_path / "heketi.db"), FAST, "active")
    await leadership.acquire()
    hung = threading.Event()

    def hangs(fd: int) -> None:  # a check stuck in the kernel on a dead FUSE mount
        hung.wait(30)

    monkeypatch.setattr(leadership, "_check_sync", hangs)
    started = time.monotonic()
    await asyncio.wait_for(leadership.hold(), 10)
    hung.set()
    # It gave up at the renew deadline, not when the stuck check came back.
    assert time.monotonic() - started < 30
    await leadership.release()


async def test_release_lets_another_process_lock_at_once(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    leadership = DatabaseLockLeadership(str(db), FAST, "active")
    await leadership.acquire()
    await leadership.release()
    await leadership.release()  # safe when not holding
    result = _lock_in_another_process(db)
    assert result.stdout == "ok\n", result.stderr


def test_lock_database_refuses_a_second_process_and_a_directory(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    holder = Holder(db)
    try:
        with pytest.raises(DatabaseLocked, match="in use by another heketipy server"):
            lock_database(str(db))
    finally:
        holder.kill()
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(Exception, match="is a directory, not a file"):
        lock_database(str(tmp_path / "dir.db"))
