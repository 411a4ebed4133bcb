"""Reaping the zombies of exited glusterfs clients when heketipy-csi is PID 1.

``mount -t glusterfs`` starts the FUSE client, which daemonizes: it forks, the parent exits and
the child calls setsid(). The orphan is re-parented to PID 1 of its PID namespace, and when it
exits (at unmount) only PID 1 can reap it. deploy/csi/csi-node.yaml shares the pod's process
namespace so that the pause process is PID 1; this covers the driver run as PID 1 anyway
(other manifests, a plain ``docker run``).

Reaping must not take the exit status of the driver's own mount/umount commands: asyncio's
child watcher waits for each of them by pid, and a ``waitpid(-1)`` would race it (the command
would then report 255 and its mount count as failed). The driver's own commands run in its
session, the daemonized clients in sessions of their own: only zombie children of another
session are reaped, each by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass

log = logging.getLogger("heketipy.csi.reaper")
REAP_INTERVAL_S = 10.0


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    state: str
    ppid: int
    session: int


def parse_stat(text: str) -> ProcessStat:
    """The fields of /proc/<pid>/stat (proc(5)) that matter here. The command name is in
    parentheses and may itself hold spaces and parentheses: the fields follow its last ')'."""
    pid, _, rest = text.partition(" (")
    fields = rest.rpartition(")")[2].split()
    return ProcessStat(pid=int(pid), state=fields[0], ppid=int(fields[1]), session=int(fields[3]))


def needs_reaper(mode: str, pid: int) -> bool:
    """Only the node plugin mounts, and only PID 1 inherits the clients' orphans."""
    return mode in ("node", "all") and pid == 1


def orphan_zombies(proc: str = "/proc", parent: int | None = None,
                   session: int | None = None) -> list[int]:
    """Zombie children of ``parent`` (this process) outside its ``session``."""
    parent = os.getpid() if parent is None else parent
    session = os.getsid(0) if session is None else session
    found = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), encoding="utf-8",
                      errors="replace") as handle:
                stat = parse_stat(handle.read())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not a process
        if stat.state == "Z" and stat.ppid == parent and stat.session != session:
            found.append(stat.pid)
    return sorted(found)


def reap_orphans(proc: str = "/proc") -> list[int]:
    """Reap the zombie orphans; the pids reaped."""
    reaped = []
    for pid in orphan_zombies(proc):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
    return reaped


async def reap_periodically(interval_s: float = REAP_INTERVAL_S) -> None:
    """reap_orphans every ``interval_s`` until cancelled (a zombie only holds a pid meanwhile)."""
    log.info("running as PID 1: reaping the orphaned glusterfs clients every %gs", interval_s)
    while True:
        try:
            reaped = reap_orphans()
        except OSError as exc:
            log.warning("reaping orphans failed: %s", exc)
        else:
            if reaped:
                log.debug("reaped orphans %s", reaped)
        await asyncio.sleep(interval_s)
