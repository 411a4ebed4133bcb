"""The node's mount plumbing, every piece injectable so the node service is testable without
root: pure argv builders for mount/umount, the mount table parsed from /proc/self/mountinfo,
the command runner, and the health check of a mount point (a dead FUSE daemon answers
ENOTCONN, "Transport endpoint is not connected").

Arguments are argv lists; nothing is ever passed through a shell. Paths must be absolute.
Mount options (a PV's or StorageClass's mountOptions) come from an allow-list of option names
and value characters (csi.vocabulary): only options that tune this client's own mount, never
one that writes host files, redirects the mount, names a path or smuggles a second option.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from heketipy.csi.errors import invalid
from heketipy.csi.vocabulary import mount_option_problem, mount_options

GLUSTERFS_FSTYPE = "fuse.glusterfs"
COMMAND_TIMEOUT_S = 120.0

_HOST_RE = re.compile(r"[A-Za-z0-9_.:\[\]-]+")
_VOLUME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[[Sequence[str]], Awaitable[CommandResult]]


async def run_command(argv: Sequence[str]) -> CommandResult:
    """Run ``argv`` (no shell), capture its output; killed after COMMAND_TIMEOUT_S."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return CommandResult(-9, "", f"timed out after {COMMAND_TIMEOUT_S:g}s")
    assert process.returncode is not None
    return CommandResult(process.returncode, stdout.decode(errors="replace"),
                         stderr.decode(errors="replace"))


# -- argv builders ----------------------------------------------------------------------------

def checked_path(path: str, what: str) -> str:
    if not path.startswith("/") or "\0" in path:
        raise invalid(f"{what} must be an absolute path")
    return os.path.normpath(path)


def checked_options(options: Iterable[str]) -> list[str]:
    """Mount flags from the volume capability, split on commas: each an allow-listed option
    name (a flag, or ``name=value`` with an allow-listed value), see csi.vocabulary."""
    result = mount_options(options)
    for option in result:
        problem = mount_option_problem(option)
        if problem is not None:
            raise invalid(problem)
    return result


def gluster_source(host: str, volume: str) -> str:
    """``HOST:/VOLUME``, what mount.glusterfs takes."""
    if not _HOST_RE.fullmatch(host) or host.startswith("-"):
        raise invalid(f"gluster host {host!r} is not a host name")
    if not _VOLUME_RE.fullmatch(volume):
        raise invalid(f"gluster volume name {volume!r} is not a volume name")
    return f"{host}:/{volume}"


def mount_glusterfs_argv(host: str, volume: str, target: str, *,
                         backup_hosts: Sequence[str] = (), options: Sequence[str] = ()) -> list[str]:
    source = gluster_source(host, volume)
    all_options = []
    if backup_hosts:
        for backup in backup_hosts:
            gluster_source(backup, volume)  # same host check
        # mount.glusterfs separates backup volfile servers with ':'.
        all_options.append("backup-volfile-servers=" + ":".join(backup_hosts))
    all_options += checked_options(options)
    argv = ["mount", "-t", "glusterfs"]
    if all_options:
        argv += ["-o", ",".join(all_options)]
    return [*argv, source, checked_path(target, "staging path")]


def bind_mount_argv(source: str, target: str) -> list[str]:
    return ["mount", "--bind", checked_path(source, "staging path"),
            checked_path(target, "target path")]


def remount_readonly_argv(target: str) -> list[str]:
    return ["mount", "-o", "remount,bind,ro", checked_path(target, "target path")]


def umount_argv(target: str, *, lazy: bool = False) -> list[str]:
    """``-c`` (--no-canonicalize): umount would otherwise resolve the path first, a stat that
    waits forever on a FUSE mount whose client hangs; umount(2) itself never asks the client.
    The path is normalised and absolute already, as the mount table lists it."""
    return ["umount", "-c", *(["-l"] if lazy else []), checked_path(target, "mount point")]


# -- the mount table --------------------------------------------------------------------------

@dataclass(frozen=True)
class MountEntry:
    mount_point: str
    root: str
    fstype: str
    source: str
    options: tuple[str, ...]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """The entries of /proc/<pid>/mountinfo (proc(5)), in mount order."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        separator = fields.index("-", 6)
        entries.append(MountEntry(
            mount_point=_unescape(fields[4]),
            root=_unescape(fields[3]),
            fstype=fields[separator + 1],
            source=_unescape(fields[separator + 2]),
            options=tuple(fields[5].split(",")),
        ))
    return entries


def read_mountinfo() -> str:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


class MountTable:
    def __init__(self, entries: Iterable[MountEntry]) -> None:
        self._by_point: dict[str, MountEntry] = {}
        for entry in entries:
            self._by_point[entry.mount_point] = entry  # the last mount on a point is visible

    def get(self, path: str) -> MountEntry | None:
        return self._by_point.get(os.path.normpath(path))


# -- mount point health -----------------------------------------------------------------------

class PathState(Enum):
    HEALTHY = "healthy"
    MISSING = "missing"
    STALE = "stale"  # the FUSE daemon behind it is gone
    HUNG = "hung"  # the FUSE daemon does not answer (stopped, bricks unreachable): see node.py


STALE_ERRNOS = (errno.ENOTCONN, errno.ECONNABORTED)


def path_state(path: str, stat: Callable[[str], object] = os.stat) -> PathState:
    try:
        stat(path)
    except FileNotFoundError:
        return PathState.MISSING
    except OSError as exc:
        if exc.errno in STALE_ERRNOS:
            return PathState.STALE
        raise
    return PathState.HEALTHY
