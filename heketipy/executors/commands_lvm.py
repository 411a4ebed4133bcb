"""Pure argv builders and output parsers for LVM, XFS, mounts, fstab and directories.

These are the device and brick commands of internals 2.3-2.5 and the examiner's inspection
commands, with heketipy's fixes: every brick LV and thin pool is tagged with its heketi device
and brick ids (``--addtag``) so orphans are findable; fstab is edited without a shell (a
constant awk program that takes its data from ``ARGV``, and a ``sed`` address built from a
validated, escaped path); parsers read stdout and ignore LVM/device-mapper noise on stderr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from heketipy.domain import units

# Re-exported: the executors address on-node paths through this module.
from heketipy.domain.units import GLUSTER_SNAPS_ROOT as GLUSTER_SNAPS_ROOT
from heketipy.domain.units import MOUNTS_ROOT as MOUNTS_ROOT
from heketipy.executors.base import BrickRequest, NodeLogicalVolume
from heketipy.executors.commands_common import (
    CommandOptions,
    UnsafeArgument,
    safe_device_path,
    safe_id,
    safe_lvm_name,
    safe_path,
    safe_positive_int,
    safe_tag,
)

LVM = "/usr/sbin/lvm"
UDEVADM = "/usr/bin/udevadm"
DEVICE_TAG_PREFIX = "heketi-device-"
BRICK_TAG_PREFIX = "heketi-brick-"
ARBITER_CHUNK_SIZE = "256K"

# Appends ARGV[1] to the file ARGV[2] unless an identical line is already there; ``exit`` in
# BEGIN means awk never opens its arguments as input. The program is constant: data never
# becomes code.
FSTAB_APPEND_AWK = (
    "BEGIN { line = ARGV[1]; file = ARGV[2]; "
    "while ((getline current < file) > 0) if (current == line) exit; "
    "close(file); print line >> file; exit }"
)


def lvm(options: CommandOptions, *args: str) -> list[str]:
    """``[lvm_wrapper...] /usr/sbin/lvm <args>``."""
    return [*options.lvm_wrapper, LVM, *args]


def vg_name(device_id: str) -> str:
    return units.vg_name(safe_id(device_id, "device id"))


def dm_path(vg: str, lv: str) -> str:
    """The device-mapper node of an LV (dm doubles the hyphens inside each name)."""
    return f"/dev/mapper/{vg.replace('-', '--')}-{lv.replace('-', '--')}"


def brick_tags(brick: BrickRequest) -> tuple[str, str]:
    return (
        safe_tag(DEVICE_TAG_PREFIX + brick.device_id),
        safe_tag(BRICK_TAG_PREFIX + brick.brick_id),
    )


def _check_brick(brick: BrickRequest) -> None:
    safe_id(brick.device_id, "device id")
    safe_id(brick.brick_id, "brick id")
    safe_lvm_name(brick.tp_name, "thin pool name")
    safe_lvm_name(brick.lv_name, "logical volume name")
    for value, what in (
        (brick.tp_size_kib, "thin pool size"),
        (brick.size_kib, "brick size"),
        (brick.pool_metadata_kib, "pool metadata size"),
        (brick.gid, "gid"),
    ):
        safe_positive_int(value, what)
    if not 0 < brick.size_kib <= brick.tp_size_kib:
        raise UnsafeArgument("brick size (needs 0 < size <= thin pool size)", brick.size_kib)


# -- devices -------------------------------------------------------------------------------------


def wipefs(device: str) -> list[str]:
    return ["wipefs", "--all", safe_device_path(device)]


def pvcreate(options: CommandOptions, device: str) -> list[str]:
    return lvm(
        options, "pvcreate", "-qq", "--metadatasize=128M",
        f"--dataalignment={options.pv_data_alignment}", safe_device_path(device),
    )  # fmt: skip


def vgcreate(options: CommandOptions, device_id: str, device: str) -> list[str]:
    return lvm(
        options, "vgcreate", "-qq", f"--physicalextentsize={options.vg_physicalextentsize}",
        options.autobackup, vg_name(device_id), safe_device_path(device),
    )  # fmt: skip


def pvs_json(options: CommandOptions, device: str) -> list[str]:
    return lvm(
        options, "pvs", "-o", "pv_name,pv_uuid,vg_name", "--reportformat=json",
        safe_device_path(device),
    )  # fmt: skip


def vgs_pv_json(options: CommandOptions, device_id: str) -> list[str]:
    """The PVs of a device's VG (finds a device whose path changed)."""
    return lvm(
        options, "vgs", "-o", "pv_name,pv_uuid,vg_name", "--reportformat=json",
        vg_name(device_id),
    )  # fmt: skip


def udev_symlinks(device: str) -> list[str]:
    return [UDEVADM, "info", "--query=symlink", f"--name={safe_device_path(device)}"]


def vgdisplay(options: CommandOptions, device_id: str) -> list[str]:
    return lvm(options, "vgdisplay", "-c", vg_name(device_id))


def vgremove(options: CommandOptions, device_id: str) -> list[str]:
    return lvm(options, "vgremove", "-qq", vg_name(device_id))


def pvremove(options: CommandOptions, device: str) -> list[str]:
    return lvm(options, "pvremove", "-qq", safe_device_path(device))


# -- bricks --------------------------------------------------------------------------------------


# xfsprogs 5.19+ refuses filesystems under 300 MiB. Thin LVs are provisioned lazily, so a
# small brick (an arbiter is often 16 MiB) gets a 300 MiB virtual size in its own, correctly
# sized pool: the pool still bounds what it can use, and mkfs.xfs accepts it.
MIN_XFS_KIB = 300 * units.KIB_PER_MIB


def thin_lv_virtual_kib(brick: BrickRequest) -> int:
    return max(brick.size_kib, MIN_XFS_KIB)


def thin_lv_create(options: CommandOptions, brick: BrickRequest, *, with_pool: bool) -> list[str]:
    """The brick's thin LV, tagged with its device and brick; ``with_pool`` creates its thin
    pool in the same ``lvcreate`` (``--size`` sizes the pool, ``--virtualsize`` the LV, as
    upstream does; the pool gets the tags too). Arbiter pools always use 256K chunks
    (upstream does too)."""
    _check_brick(brick)
    device_tag, brick_tag = brick_tags(brick)
    pool_words: list[str] = []
    if with_pool:
        chunk = ARBITER_CHUNK_SIZE if brick.arbiter else options.lv_chunksize
        pool_words = [
            "--poolmetadatasize", f"{brick.pool_metadata_kib}K", "--chunksize", chunk,
            "--size", f"{brick.tp_size_kib}K",
        ]  # fmt: skip
    return lvm(
        options, "lvcreate", "-qq", options.autobackup, *pool_words, "--thin",
        "--virtualsize", f"{thin_lv_virtual_kib(brick)}K", "--addtag", device_tag, "--addtag", brick_tag,
        "--name", brick.lv_name, f"{vg_name(brick.device_id)}/{brick.tp_name}",
    )  # fmt: skip


# -- expansion in place: grow a brick's pool, thin LV and XFS ------------------------------------


def _brick_lv(brick: BrickRequest, lv: str) -> str:
    return f"{vg_name(brick.device_id)}/{safe_lvm_name(lv, 'logical volume name')}"


def brick_lv_sizes(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """Sizes (KiB) of the brick's thin pool (data and metadata) and thin LV, as a JSON report;
    what an expansion reads before it extends, so a replayed step extends nothing twice."""
    _check_brick(brick)
    return json_report(
        options, "lvs", "lv_name,lv_size,lv_metadata_size",
        _brick_lv(brick, brick.tp_name), _brick_lv(brick, brick.lv_name), kib=True,
    )  # fmt: skip


def _lv_resize(
    options: CommandOptions, brick: BrickRequest, verb: str, lv: str, size_option: str, kib: int
) -> list[str]:
    """``lvm <verb> -qq [-f] --autobackup=.. <size_option> <kib>K vg/lv`` (an absolute size)."""
    _check_brick(brick)
    force = ["-f"] if verb == "lvreduce" else []  # answers LVM's "really reduce?" prompt
    return lvm(
        options, verb, "-qq", *force, options.autobackup, size_option, f"{kib}K",
        _brick_lv(brick, lv),
    )  # fmt: skip


def thin_pool_extend(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """The pool's data to ``tp_size_kib`` (an absolute size: LVM refuses to shrink with it)."""
    return _lv_resize(options, brick, "lvextend", brick.tp_name, "--size", brick.tp_size_kib)


def pool_metadata_extend(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """The pool's metadata to ``pool_metadata_kib``."""
    return _lv_resize(
        options, brick, "lvextend", brick.tp_name, "--poolmetadatasize", brick.pool_metadata_kib
    )


def thin_lv_extend(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """The thin LV's virtual size to the brick's (at least mkfs.xfs's minimum)."""
    return _lv_resize(
        options, brick, "lvextend", brick.lv_name, "--size", thin_lv_virtual_kib(brick)
    )


def thin_lv_reduce(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """Undo ``thin_lv_extend`` while the filesystem has not grown (XFS cannot shrink; LVM
    2.03.17+ refuses to cut a filesystem by itself)."""
    return _lv_resize(
        options, brick, "lvreduce", brick.lv_name, "--size", thin_lv_virtual_kib(brick)
    )


def xfs_growfs(mount_point: str) -> list[str]:
    """Grow the mounted XFS's data section to its device (exit 0 when it already fills it)."""
    return ["xfs_growfs", "-d", safe_path(mount_point, "mount point")]


def lv_addtag(options: CommandOptions, brick: BrickRequest) -> list[str]:
    """Tag an LV heketipy did not create itself (a clone's snapshot) as the brick's."""
    device_tag, brick_tag = brick_tags(brick)
    return lvm(
        options, "lvchange", "--addtag", device_tag, "--addtag", brick_tag,
        f"{vg_name(brick.device_id)}/{safe_lvm_name(brick.lv_name, 'logical volume name')}",
    )  # fmt: skip


def brick_device(brick: BrickRequest) -> str:
    return dm_path(vg_name(brick.device_id), safe_lvm_name(brick.lv_name, "logical volume name"))


def mkfs_xfs(options: CommandOptions, device: str, arbiter: bool = False) -> list[str]:
    device = safe_device_path(device)
    if arbiter:
        return ["mkfs.xfs", "-i", "maxpct=100", "-n", "size=8192", device]
    stripe = ["-d", f"su={options.xfs_su},sw={options.xfs_sw}"]
    if not (options.xfs_su and options.xfs_sw):
        stripe = []
    return ["mkfs.xfs", "-i", "size=512", *stripe, "-n", "size=8192", device]


# blkid's exit code when it found no signature at all (no filesystem, no PV) on the device.
BLKID_NOTHING_FOUND = 2
PV_SIGNATURE = "LVM2_member"  # blkid's TYPE of an LVM physical volume


def filesystem_type(device: str) -> list[str]:
    """Prints the signature type (``xfs``, ``LVM2_member``); exit 2 when there is none."""
    return ["blkid", "-p", "-s", "TYPE", "-o", "value", safe_device_path(device)]


def mkdir_p(path: str) -> list[str]:
    return ["mkdir", "-p", safe_path(path)]


def rmdir(path: str) -> list[str]:
    return ["rmdir", safe_path(path)]


def fstab_line(options: CommandOptions, device: str, mount_point: str) -> str:
    return (
        f"{safe_device_path(device)} {safe_path(mount_point, 'mount point')} xfs "
        f"{options.mountopts} 1 2"
    )


def fstab_add(options: CommandOptions, device: str, mount_point: str) -> list[str]:
    """Append the brick's fstab line once (idempotent), with no shell and no interpolation."""
    return ["awk", FSTAB_APPEND_AWK, fstab_line(options, device, mount_point), options.fstab]


def _sed_escape(path: str) -> str:
    # Validated paths hold only [A-Za-z0-9_.:/+@-]; '.' is the one BRE metacharacter there.
    return path.replace(".", "[.]")


def fstab_remove(options: CommandOptions, mount_point: str) -> list[str]:
    """Delete the lines mounting ``mount_point`` exactly (upstream matched ``brick_<id>``
    anywhere on a line). ``-i.save`` keeps the previous fstab, as upstream does."""
    mount_point = safe_path(mount_point, "mount point")
    address = rf"\%[[:space:]]{_sed_escape(mount_point)}[[:space:]]%d"
    return ["sed", "-i.save", "-e", address, options.fstab]


def mount(options: CommandOptions, device: str, mount_point: str) -> list[str]:
    return [
        "mount", "-o", options.mountopts, safe_device_path(device),
        safe_path(mount_point, "mount point"),
    ]  # fmt: skip


def umount(mount_point: str) -> list[str]:
    return ["umount", safe_path(mount_point, "mount point")]


def is_mountpoint(mount_point: str) -> list[str]:
    """Exit 0 when something is mounted at ``mount_point``."""
    return ["mountpoint", "-q", safe_path(mount_point, "mount point")]


def lsof(mount_point: str) -> list[str]:
    return ["lsof", safe_path(mount_point, "mount point")]


def brick_dir_create(path: str, gid: int) -> list[str]:
    """The brick directory inside its mounted filesystem: for a gid, ``install -d`` creates it
    group-owned by that gid with setgid mode 2775 in one command (``mkdir``, ``chown :gid``
    and ``chmod 2775`` in one); else plain ``mkdir -p``."""
    path = safe_path(path)
    if not safe_positive_int(gid, "gid"):
        return ["mkdir", "-p", path]
    return ["install", "-d", "-g", str(gid), "-m", "2775", path]


def stat_groups(paths: Sequence[str]) -> list[str]:
    """``stat`` printing ``<gid> <path>`` per brick directory (a rebuild reads volume gids)."""
    if not paths:
        raise UnsafeArgument("path list", paths)
    return ["stat", "-c", "%g %n", "--", *(safe_path(p) for p in paths)]


def parse_stat_groups(stdout: str) -> dict[str, int]:
    """``stat_groups`` output: path -> gid."""
    groups: dict[str, int] = {}
    for line in stdout.splitlines():
        gid, _, path = line.partition(" ")
        if not gid.isdigit() or not path:
            raise ParseError(f"stat: unexpected line {line!r}")
        groups[path] = int(gid)
    return groups


def lvremove(options: CommandOptions, device_id: str, lv: str) -> list[str]:
    return lvm(
        options, "lvremove", options.autobackup, "-f",
        f"{vg_name(device_id)}/{safe_lvm_name(lv, 'logical volume name')}",
    )  # fmt: skip


def lv_names(options: CommandOptions, device_id: str) -> list[str]:
    """The LV names of a device's VG (fails, exit 5, when the VG is not there)."""
    return json_report(options, "lvs", "lv_name", vg_name(device_id))


def vg_names(options: CommandOptions) -> list[str]:
    """Every VG of the node: succeeds with an empty report when there is none, so it tells
    "this VG is not there" apart from other failures of a command naming the VG."""
    return json_report(options, "vgs", "vg_name")


def thin_count(options: CommandOptions, device_id: str, tp_name: str) -> list[str]:
    return lvm(
        options, "lvs", "--noheadings", "--options=thin_count",
        f"{vg_name(device_id)}/{safe_lvm_name(tp_name, 'thin pool name')}",
    )  # fmt: skip


# -- inspection ----------------------------------------------------------------------------------


def json_report(
    options: CommandOptions, command: str, fields: str, *targets: str, kib: bool = False,
    hidden: bool = False,
) -> list[str]:
    """An LVM report (``lvs``/``vgs``) of ``fields`` as JSON; ``kib``: sizes as plain KiB;
    ``hidden``: LVM's hidden LVs too (``lvs -a``)."""
    units = ["--units", "k", "--nosuffix"] if kib else []
    every = ["-a"] if hidden else []
    return lvm(options, command, *every, "--reportformat=json", *units, "-o", fields, *targets)


def lvs_inventory(options: CommandOptions) -> list[str]:
    """Every LV, LVM's hidden ones too (``-a``: a pool's ``[_tdata]``/``[_tmeta]`` and the VG's
    ``[lvol0_pmspare]``, whose extents VG free lacks), with how full each thin pool is
    (``data_percent``/``metadata_percent``): one report for the drift scan and its metrics."""
    return json_report(
        options, "lvs",
        "vg_name,lv_name,lv_size,pool_lv,lv_tags,segtype,data_percent,metadata_percent",
        kib=True, hidden=True,
    )


def vgs_inventory(options: CommandOptions) -> list[str]:
    return json_report(options, "vgs", "vg_name,vg_free,vg_size,vg_extent_size", kib=True)


def read_mounts() -> list[str]:
    return ["cat", "/proc/self/mounts"]


def read_fstab(options: CommandOptions) -> list[str]:
    return ["cat", options.fstab]


def glusterd_status() -> list[str]:
    return ["systemctl", "status", "glusterd"]


# -- parsers -------------------------------------------------------------------------------------


class ParseError(ValueError):
    """A command's output did not have the expected shape."""


@dataclass(frozen=True)
class VgDisplay:
    name: str
    extent_kib: int
    total_extents: int
    allocated_extents: int
    free_extents: int

    @property
    def total_kib(self) -> int:
        return self.total_extents * self.extent_kib

    @property
    def used_kib(self) -> int:
        return self.allocated_extents * self.extent_kib

    @property
    def free_kib(self) -> int:
        return self.free_extents * self.extent_kib


def parse_vgdisplay_c(stdout: str, vg: str | None = None) -> VgDisplay:
    """``vgdisplay -c``: colon fields, 12 = PE size KiB, 13 total, 14 allocated, 15 free PEs.

    Lines that are not a VG record (warnings some LVM builds print on stdout) are skipped.
    """
    for line in stdout.splitlines():
        fields = line.strip().split(":")
        if len(fields) < 17 or (vg is not None and fields[0] != vg):
            continue
        try:
            return VgDisplay(
                name=fields[0],
                extent_kib=int(fields[12]),
                total_extents=int(fields[13]),
                allocated_extents=int(fields[14]),
                free_extents=int(fields[15]),
            )
        except ValueError:
            continue
    raise ParseError(f"no vgdisplay -c record{' for ' + vg if vg else ''} in: {stdout!r}")


def parse_lvm_report(stdout: str) -> list[dict[str, Any]]:
    """The rows of an ``--reportformat=json`` report (``pv``, ``vg`` or ``lv``), skipping any
    text before the JSON object."""
    start = stdout.find("{")
    if start < 0:
        raise ParseError(f"no JSON report in: {stdout!r}")
    try:
        document, _ = json.JSONDecoder().raw_decode(stdout[start:])
        rows: list[dict[str, Any]] = []
        for report in document["report"]:
            for value in report.values():
                if isinstance(value, list):
                    rows.extend(row for row in value if isinstance(row, dict))
        return rows
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ParseError(f"bad LVM JSON report: {error}") from error


@dataclass(frozen=True)
class LvSize:
    """An LV's size and, for a thin pool, its metadata size (KiB)."""

    size_kib: int
    metadata_kib: int = 0


def parse_lv_sizes(stdout: str) -> dict[str, LvSize]:
    """``brick_lv_sizes``: LV name -> sizes (a thin LV reports no metadata size)."""
    return {
        str(row.get("lv_name", "")): LvSize(
            _kib(row.get("lv_size", 0)), _kib(row.get("lv_metadata_size", 0))
        )
        for row in parse_lvm_report(stdout)
    }


def parse_thin_count(stdout: str) -> int:
    """``lvs --noheadings --options=thin_count``: one number (blank means 0)."""
    for line in stdout.splitlines():
        word = line.strip()
        if word.isdigit():
            return int(word)
    return 0


def parse_udev_symlinks(stdout: str, device: str) -> tuple[str, ...]:
    """``udevadm info --query=symlink``: space-separated names relative to ``/dev``; the
    ``lvm-pv-uuid-*`` links are dropped and ``device`` itself always comes first."""
    paths = [device]
    for word in stdout.split():
        if "lvm-pv-uuid-" in word:
            continue
        path = word if word.startswith("/") else f"/dev/{word}"
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def _kib(value: object) -> int:
    try:
        return int(float(str(value).strip() or 0))
    except ValueError as error:
        raise ParseError(f"bad size {value!r}") from error


def _ratio(value: object) -> float:
    """An LVM percentage (blank or absent: 0) as 0..1."""
    try:
        return min(1.0, max(0.0, float(str(value or "").strip() or 0) / 100))
    except ValueError as error:
        raise ParseError(f"bad percentage {value!r}") from error


def parse_lvs_inventory(stdout: str) -> tuple[NodeLogicalVolume, ...]:
    """``lvs_inventory``'s report; a bracketed name (``[lvol0_pmspare]``) is a hidden LV.
    ``segtype`` is a segment field, so LVM prints an LV extended into several segments (the
    spare, a grown pool's ``_tdata``/``_tmeta``) once per segment, each row with the whole
    LV's size: the first row stands for the LV."""
    volumes = []
    seen: set[tuple[str, str]] = set()
    for row in parse_lvm_report(stdout):
        tags = tuple(tag for tag in str(row.get("lv_tags", "")).split(",") if tag)
        name = str(row.get("lv_name", ""))
        key = (str(row.get("vg_name", "")), name)
        if key in seen:
            continue
        seen.add(key)
        hidden = name.startswith("[") and name.endswith("]")
        volumes.append(
            NodeLogicalVolume(
                vg=str(row.get("vg_name", "")),
                name=name[1:-1] if hidden else name,
                kind=str(row.get("segtype", "")),
                size_kib=_kib(row.get("lv_size", 0)),
                pool=str(row.get("pool_lv", "")),
                tags=tags,
                hidden=hidden,
                data_used=_ratio(row.get("data_percent")),
                metadata_used=_ratio(row.get("metadata_percent")),
            )
        )
    return tuple(volumes)


def parse_vgs_free(stdout: str) -> dict[str, int]:
    return {str(row["vg_name"]): _kib(row.get("vg_free", 0)) for row in parse_lvm_report(stdout)}


def _unescape_mount_field(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text: str) -> list[tuple[str, str]]:
    """``/proc/self/mounts`` (or ``mount`` output): ``(source, target)`` pairs."""
    pairs = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "on":  # `mount` output: "src on target type ..."
            pairs.append((fields[0], fields[2]))
        elif len(fields) >= 2:
            pairs.append((_unescape_mount_field(fields[0]), _unescape_mount_field(fields[1])))
    return pairs


def fstab_entries_under(text: str, root: str = MOUNTS_ROOT) -> tuple[str, ...]:
    lines = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and fields[1].startswith(root + "/"):
            lines.append(line.strip())
    return tuple(lines)


