"""The non-LVM, non-gluster commands of a simulated node: argv in, exit code and output out.

wipefs, blkid, udevadm, mkfs.xfs, mount, umount, mountpoint, mkdir, ``install -d``, rmdir, chown,
chmod, cat,
lsof, systemctl, ``stat -c FORMAT`` (``%g`` and ``%n``: a rebuild reads brick directory gids), and the two fstab editors heketipy runs: ``awk`` with exactly the program
``commands_lvm.FSTAB_APPEND_AWK`` and ``sed -i.save -e '\\%...%d'`` with the address
``commands_lvm.fstab_remove`` builds (any other awk program or sed script is refused, not
guessed at). Exit codes and messages are util-linux's, coreutils' and xfsprogs' own.
``xfs_growfs -d MOUNTPOINT`` grows a mounted brick's XFS to its (extended) thin LV.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from functools import partial

from heketipy.domain.errors import NodeCommandError
from heketipy.executors.commands_lvm import FSTAB_APPEND_AWK
from heketipy.simulator import gluster
from heketipy.simulator import node as lvm
from heketipy.simulator.state import LogicalVolume, NodeState, SimState

Result = tuple[int, str, str]
MOUNT_FAILURE = 32
ROOT_MOUNT = "/dev/vda1 / xfs rw,relatime,attr2,inode64,noquota 0 0"
BRICK_MOUNT_OPTIONS = "rw,noatime,nouuid,attr2,inode64,logbufs=8,logbsize=32k,noquota"
# The one sed address shape fstab_remove builds: \%[[:space:]]<path, dots as [.]>[[:space:]]%d
_STAT_FIELD = re.compile(r"%[gn]")  # the stat format directives the simulated nodes answer
_SED_ADDRESS = re.compile(r"\\%\[\[:space:\]\]((?:[A-Za-z0-9_:/+@-]|\[\.\])+)\[\[:space:\]\]%d")


class HostCommands:
    """One node's commands; ``fstab`` is the path the node's fstab lives at."""

    def __init__(self, state: SimState, node: NodeState, fstab: str) -> None:
        self.state = state
        self.node = node
        self.fstab = fstab

    # -- directories inside mounted filesystems -------------------------------------------------

    def _inside_mount(self, path: str) -> tuple[str, LogicalVolume | None, str] | None:
        """``(mount point, LV, relative path)`` when ``path`` lies under a mount."""
        best = ""
        for mount_point in self.node.mounts:
            if path.startswith(mount_point + "/") and len(mount_point) > len(best):
                best = mount_point
        if not best:
            return None
        return best, lvm.lv_mounted_at(self.node, best), path[len(best) + 1 :]

    def _exists(self, path: str) -> bool:
        return path == "/" or lvm.path_exists(self.node, path)

    def _is_parent(self, path: str) -> bool:
        inside = self._inside_mount(path)
        if inside is not None:
            _, lv, relative = inside
            return lv is not None and any(d.startswith(relative + "/") for d in lv.fs_dirs)
        return any(d.startswith(path + "/") for d in self.node.dirs) or any(
            m.startswith(path + "/") or m == path for m in self.node.mounts
        )

    # -- commands -----------------------------------------------------------------------------

    def mkdir(self, words: Sequence[str]) -> Result:
        parents = "-p" in words
        paths = [w for w in words[1:] if not w.startswith("-")]
        for path in paths:
            path = path.rstrip("/") or "/"
            if self._exists(path):
                if parents:
                    continue
                return 1, "", f"mkdir: cannot create directory '{path}': File exists\n"
            parent = posixpath.dirname(path)
            if not parents and not self._exists(parent):
                return 1, "", f"mkdir: cannot create directory '{path}': No such file or directory\n"
            inside = self._inside_mount(path)
            if inside is None:
                lvm.mkdir_p(self.node, path)
                continue
            _, lv, relative = inside
            if lv is None:
                return 1, "", f"mkdir: cannot create directory '{path}': Permission denied\n"
            parts = relative.split("/")
            for depth in range(1, len(parts) + 1):
                lv.fs_dirs.setdefault("/".join(parts[:depth]), 0)
        return 0, "", ""

    def rmdir(self, words: Sequence[str]) -> Result:
        (path,) = [w for w in words[1:] if not w.startswith("-")]
        path = path.rstrip("/") or "/"
        if not self._exists(path):
            return 1, "", f"rmdir: failed to remove '{path}': No such file or directory\n"
        if path in self.node.mounts:
            return 1, "", f"rmdir: failed to remove '{path}': Device or resource busy\n"
        if self._is_parent(path):
            return 1, "", f"rmdir: failed to remove '{path}': Directory not empty\n"
        inside = self._inside_mount(path)
        if inside is not None and inside[1] is not None:
            del inside[1].fs_dirs[inside[2]]
        else:
            self.node.dirs.remove(path)
        return 0, "", ""

    def chown(self, words: Sequence[str]) -> Result:
        owner, path = [w for w in words[1:] if not w.startswith("-")]
        if not self._exists(path):
            return 1, "", f"chown: cannot access '{path}': No such file or directory\n"
        _, _, group = owner.partition(":")
        inside = self._inside_mount(path)
        if group and inside is not None and inside[1] is not None and inside[2]:
            if not group.isdigit():
                return 1, "", f"chown: invalid group: '{owner}'\n"
            inside[1].fs_dirs[inside[2]] = int(group)
        return 0, "", ""

    def install(self, words: Sequence[str]) -> Result:
        """``install -d [-g GID] [-m MODE] DIR``: mkdir -p, then the group as ``chown :GID``."""
        args = list(words[1:])
        if "-d" not in args:
            return 1, "", "install: the simulator runs only 'install -d'\n"
        args.remove("-d")
        group = mode = ""
        while len(args) > 1 and args[0] in ("-g", "-m"):
            flag, value, args = args[0], args[1], args[2:]
            group, mode = (value, mode) if flag == "-g" else (group, value)
        if len(args) != 1 or (mode and not mode.isdigit()):
            return 1, "", f"install: invalid arguments: {' '.join(words[1:])}\n"
        if group and not group.isdigit():
            return 1, "", f"install: invalid group '{group}'\n"
        code, out, err = self.mkdir(["mkdir", "-p", args[0]])
        if code or not group:
            return code, out, err.replace("mkdir:", "install:")
        return self.chown(["chown", f":{group}", args[0]])

    def chmod(self, words: Sequence[str]) -> Result:
        path = words[-1]
        if not self._exists(path):
            return 1, "", f"chmod: cannot access '{path}': No such file or directory\n"
        return 0, "", ""

    def _gid(self, path: str) -> int:
        """The group of an existing path: a brick directory's is what ``chown`` set in its
        filesystem; everything else is root's."""
        inside = self._inside_mount(path)
        if inside is not None and inside[1] is not None and inside[2]:
            return inside[1].fs_dirs.get(inside[2], 0)
        return 0

    def stat(self, words: Sequence[str]) -> Result:
        """``stat -c FORMAT [--] PATH...``: like coreutils, a missing path is reported on
        stderr, the others are still printed, and the exit code is 1."""
        rest = list(words[1:])
        if len(rest) < 2 or rest[0] != "-c":
            return 1, "", "stat: the simulated node runs only 'stat -c FORMAT'\n"
        form, paths = rest[1], rest[2:]
        if paths[:1] == ["--"]:
            paths = paths[1:]
        if not paths:
            return 1, "", "stat: missing operand\nTry 'stat --help' for more information.\n"
        if _STAT_FIELD.sub("", form).count("%"):
            return 1, "", f"stat: the simulated node formats only %g and %n, not {form!r}\n"
        out: list[str] = []
        err: list[str] = []
        for path in paths:
            normal = path.rstrip("/") or "/"
            if not self._exists(normal):
                err.append(f"stat: cannot statx '{path}': No such file or directory\n")
                continue
            fields = {"%g": str(self._gid(normal)), "%n": path}
            out.append(_STAT_FIELD.sub(partial(_stat_field, fields), form))
        return (1 if err else 0), "".join(line + "\n" for line in out), "".join(err)

    def wipefs(self, words: Sequence[str]) -> Result:
        lvm.wipefs(self.node, words[-1])
        return 0, "", ""

    def blkid(self, words: Sequence[str]) -> Result:
        device = words[-1]
        found = lvm.lv_for_device(self.node, device)
        if found is not None:
            kind = found[1].filesystem
        elif device in self.node.disks:
            kind = "LVM2_member" if device in self.node.pvs else self.node.disks[device].signature
        else:
            return 2, "", f"blkid: error: {device}: No such file or directory\n"
        return (0, f"{kind}\n", "") if kind else (2, "", "")

    def udevadm(self, words: Sequence[str]) -> Result:
        names = [w.partition("=")[2] for w in words if w.startswith("--name=")]
        device = names[0] if names else ""
        if device not in self.node.disks and lvm.lv_for_device(self.node, device) is None:
            return 4, "", f"Unknown device \"{device}\": No such device\n"
        pv = self.node.pvs.get(device)
        return 0, (f"disk/by-id/lvm-pv-uuid-{pv.uuid}\n" if pv else "\n"), ""

    def mkfs_xfs(self, words: Sequence[str]) -> Result:
        lvm.mkfs_xfs(self.node, words[-1], force="-f" in words)
        return 0, "", ""

    def xfs_growfs(self, words: Sequence[str]) -> Result:
        """``xfs_growfs -d MOUNTPOINT``: the data section grows to the LV (xfsprogs' report on
        stdout, in 4 KiB blocks); exit 1 when nothing XFS is mounted there."""
        operands = [w for w in words[1:] if not w.startswith("-")]
        if len(operands) != 1:
            return 1, "", "Usage: xfs_growfs [options] mountpoint\n"
        mount_point = operands[0].rstrip("/")
        old, new = lvm.xfs_growfs(self.node, mount_point)
        device = self.node.mounts[mount_point]
        report = (
            f"meta-data={device:<22} isize=512    agcount=4, agsize={old // 16} blks\n"
            f"data     ={'':<22} bsize=4096   blocks={old // 4}, imaxpct=25\n"
        )
        if new == old:
            return 0, report + "data size unchanged, skipping\n", ""
        return 0, report + f"data blocks changed from {old // 4} to {new // 4}\n", ""

    def mount(self, words: Sequence[str]) -> Result:
        device, mount_point = [w for w in words[2:] if not w.startswith("-")][-2:]
        lvm.mount(self.node, device, mount_point)
        return 0, "", ""

    def umount(self, words: Sequence[str]) -> Result:
        mount_point = words[-1].rstrip("/")
        if mount_point not in self.node.mounts:
            if self._exists(mount_point):
                return MOUNT_FAILURE, "", f"umount: {mount_point}: not mounted.\n"
            return MOUNT_FAILURE, "", f"umount: {mount_point}: no mount point specified.\n"
        lvm.umount(self.node, mount_point, busy=self._busy(mount_point))
        return 0, "", ""

    def _busy(self, mount_point: str) -> bool:
        """glusterfsd keeps a started volume's brick open, so its mount is busy."""
        pool = self.state.pools.get(self.node.pool)
        for volume in pool.volumes.values() if pool else ():
            if volume.status != "Started":
                continue
            for brick in volume.bricks:
                host, _, path = brick.partition(":")
                if gluster.identity(self.state, host) == self.node.host and path.startswith(
                    mount_point + "/"
                ):
                    return True
        return False

    def mountpoint(self, words: Sequence[str]) -> Result:
        path = words[-1].rstrip("/") or "/"
        quiet = "-q" in words
        if path == "/" or path in self.node.mounts:
            return 0, "" if quiet else f"{path} is a mountpoint\n", ""
        if not self._exists(path):
            return 1, "", f"mountpoint: {path}: No such file or directory\n"
        return MOUNT_FAILURE, "" if quiet else f"{path} is not a mountpoint\n", ""

    def cat(self, words: Sequence[str]) -> Result:
        out = []
        for path in words[1:]:
            if path == "/proc/self/mounts":
                out.append(ROOT_MOUNT)
                out += [f"{d} {m} xfs {BRICK_MOUNT_OPTIONS} 0 0" for m, d in self.node.mounts.items()]
            elif path == self.fstab:
                out += self.node.fstab
            else:
                return 1, "", f"cat: {path}: No such file or directory\n"
        return 0, "".join(line + "\n" for line in out), ""

    def awk(self, words: Sequence[str]) -> Result:
        if len(words) != 4 or words[1] != FSTAB_APPEND_AWK:
            return 2, "", "awk: the simulated node runs only heketipy's fstab append program\n"
        line, path = words[2], words[3]
        if path != self.fstab:
            return 2, "", f"awk: cannot open \"{path}\" (the simulated fstab is {self.fstab})\n"
        lvm.fstab_add(self.node, line)
        return 0, "", ""

    def sed(self, words: Sequence[str]) -> Result:
        match = _SED_ADDRESS.fullmatch(words[3]) if len(words) == 5 else None
        if words[1:3] != ["-i.save", "-e"] or match is None:
            return 1, "", "sed: the simulated node runs only heketipy's fstab line removal\n"
        path = words[4]
        if path != self.fstab:
            return 2, "", f"sed: can't read {path}: No such file or directory\n"
        mount_point = match.group(1).replace("[.]", ".")
        pattern = re.compile(r"\s" + re.escape(mount_point) + r"\s")
        self.node.fstab = [line for line in self.node.fstab if not pattern.search(line)]
        return 0, "", ""

    def lsof(self, words: Sequence[str]) -> Result:
        return 1, "", ""  # nothing holds a simulated mount open but glusterfsd (not modelled)

    def systemctl(self, words: Sequence[str]) -> Result:
        if list(words[1:]) != ["status", "glusterd"]:
            return 1, "", "systemctl: the simulated node knows only 'status glusterd'\n"
        header = "● glusterd.service - GlusterFS, a clustered file-system server\n"
        if self.node.glusterd_down:
            return 3, header + "     Active: inactive (dead)\n", ""
        return 0, header + "     Active: active (running)\n", ""


def _stat_field(fields: dict[str, str], match: re.Match[str]) -> str:
    return fields[match.group()]


HANDLERS: dict[str, Callable[[HostCommands, Sequence[str]], Result]] = {
    "mkdir": HostCommands.mkdir,
    "rmdir": HostCommands.rmdir,
    "chown": HostCommands.chown,
    "chmod": HostCommands.chmod,
    "install": HostCommands.install,
    "wipefs": HostCommands.wipefs,
    "blkid": HostCommands.blkid,
    "udevadm": HostCommands.udevadm,
    "mkfs.xfs": HostCommands.mkfs_xfs,
    "xfs_growfs": HostCommands.xfs_growfs,
    "mount": HostCommands.mount,
    "umount": HostCommands.umount,
    "mountpoint": HostCommands.mountpoint,
    "cat": HostCommands.cat,
    "awk": HostCommands.awk,
    "sed": HostCommands.sed,
    "lsof": HostCommands.lsof,
    "systemctl": HostCommands.systemctl,
    "stat": HostCommands.stat,
}
READ_ONLY = frozenset({"blkid", "udevadm", "mountpoint", "cat", "lsof", "systemctl", "stat"})


def run(state: SimState, node: NodeState, words: Sequence[str], fstab: str) -> Result:
    """Run ``words`` (``words[0]`` is the program's base name) on ``node``."""
    handler = HANDLERS.get(words[0])
    if handler is None:
        return 127, "", f"bash: {words[0]}: command not found\n"
    try:
        return handler(HostCommands(state, node, fstab), words)
    except NodeCommandError as error:
        stderr = error.stderr if error.stderr.endswith("\n") else error.stderr + "\n"
        return (error.exit_code if error.exit_code is not None else 1), "", stderr
    except ValueError:  # wrong number of operands
        return 1, "", f"{words[0]}: missing operand\nTry '{words[0]} --help' for more information.\n"
