"""The commands of one simulated storage node: LVM, XFS, mount, fstab and directories.

Each function is one command on a ``NodeState``: it either applies its effect completely or
raises ``NodeCommandError`` with the argv, exit code and a stderr worded like the real tool's,
leaving the state untouched. ``lvm_cli`` and ``host_cli`` call them for the argv RemoteExecutor
runs; ``gluster`` uses the LV, mount and directory helpers for snapshots and clones.
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Any

from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import DeviceNotAvailable
from heketipy.simulator.state import (
    EXTENT_KIB,
    PV_DATA_OFFSET_KIB,
    Disk,
    LogicalVolume,
    NodeState,
    PhysicalVolume,
    VolumeGroup,
)

LVM = "/usr/sbin/lvm"
MOUNT_OPTIONS = "rw,inode64,noatime,nouuid"
LVM_EXIT = 5
MOUNT_EXIT = 32


def fail(node: NodeState, argv: list[str], exit_code: int, stderr: str) -> NodeCommandError:
    return NodeCommandError(node.host, argv, exit_code, stderr)


def lvm_fail(node: NodeState, argv: list[str], stderr: str) -> NodeCommandError:
    """An LVM refusal: LVM exits 5 (ECMD_FAILED) for every one the simulator models."""
    return NodeCommandError(node.host, argv, LVM_EXIT, stderr)


def round_up(value_kib: int, extent_kib: int = EXTENT_KIB) -> int:
    return -(-value_kib // extent_kib) * extent_kib


def dm_path(vg: str, lv: str) -> str:
    """Device-mapper node of an LV; dm doubles hyphens inside each name."""
    return f"/dev/mapper/{vg.replace('-', '--')}-{lv.replace('-', '--')}"


def lv_for_device(node: NodeState, device: str) -> tuple[VolumeGroup, LogicalVolume] | None:
    for vg in node.vgs.values():
        for lv in vg.lvs.values():
            if lv.kind == "thin" and dm_path(vg.name, lv.name) == device:
                return vg, lv
    return None


def lv_mounted_at(node: NodeState, mount_point: str) -> LogicalVolume | None:
    device = node.mounts.get(mount_point)
    found = lv_for_device(node, device) if device else None
    return found[1] if found else None


def mount_point_of(node: NodeState, device: str) -> str | None:
    for mount_point, mounted in node.mounts.items():
        if mounted == device:
            return mount_point
    return None


def path_exists(node: NodeState, path: str) -> bool:
    """Whether a directory exists, looking inside mounted LV filesystems for deeper paths."""
    path = path.rstrip("/") or "/"
    best = ""
    for mount_point in node.mounts:
        if (path == mount_point or path.startswith(mount_point + "/")) and len(mount_point) > len(
            best
        ):
            best = mount_point
    if best:
        if path == best:
            return True
        lv = lv_mounted_at(node, best)
        return lv is not None and path[len(best) + 1 :] in lv.fs_dirs
    return path in node.dirs


def ensure_disk(node: NodeState, device: str, default_size_kib: int | None) -> Disk:
    disk = node.disks.get(device)
    if disk is None:
        if default_size_kib is None:
            raise DeviceNotAvailable(
                node.host, [LVM, "pvcreate", device], LVM_EXIT, f"  Device {device} not found."
            )
        disk = node.disks[device] = Disk(size_kib=default_size_kib)
    return disk


# -- devices ---------------------------------------------------------------------------------


def wipefs(node: NodeState, device: str) -> None:
    argv = ["wipefs", "--all", device]
    if device not in node.disks:
        raise fail(
            node,
            argv,
            1,
            f"wipefs: error: {device}: probing initialization failed: No such file or directory",
        )
    pv = node.pvs.get(device)
    if pv is not None and pv.vg and node.vgs.get(pv.vg) and node.vgs[pv.vg].lvs:
        raise fail(
            node,
            argv,
            1,
            f"wipefs: error: {device}: probing initialization failed: Device or resource busy",
        )
    if pv is not None:
        node.vgs.pop(pv.vg, None)
        del node.pvs[device]
    node.disks[device].signature = ""


def pvcreate(node: NodeState, device: str) -> None:
    argv = [LVM, "pvcreate", "-qq", "--metadatasize=128M", "--dataalignment=256K", device]
    disk = node.disks.get(device)
    if disk is None:
        raise DeviceNotAvailable(node.host, argv, LVM_EXIT, f"  Device {device} not found.")
    pv = node.pvs.get(device)
    if pv is not None and pv.vg:
        raise DeviceNotAvailable(
            node.host,
            argv,
            LVM_EXIT,
            f'  Can\'t initialize physical volume "{device}" of volume group "{pv.vg}" without -ff\n'
            f"  {device}: physical volume not initialized.",
        )
    if disk.signature:
        raise DeviceNotAvailable(
            node.host,
            argv,
            LVM_EXIT,
            f"  WARNING: {disk.signature} signature detected on {device} at offset 0. Wipe it? [y/n]: [n]\n"
            f"  Aborted wiping of {disk.signature}.\n  1 existing signature left on the device.",
        )
    if disk.size_kib <= PV_DATA_OFFSET_KIB + EXTENT_KIB:
        raise DeviceNotAvailable(
            node.host, argv, LVM_EXIT, f"  {device}: device is too small for the metadata area."
        )
    node.pvs[device] = PhysicalVolume(uuid=_lvm_uuid())


def vgcreate(node: NodeState, vg_name: str, device: str) -> VolumeGroup:
    argv = [LVM, "vgcreate", "-qq", "--physicalextentsize=4M", "--autobackup=n", vg_name, device]
    if vg_name in node.vgs:
        raise lvm_fail(node, argv, f"  A volume group called {vg_name} already exists.")
    pv = node.pvs.get(device)
    if pv is None:
        raise lvm_fail(node, argv, f"  Physical volume {device} not found.")
    if pv.vg:
        raise lvm_fail(
            node, argv, f'  Physical volume "{device}" is already in volume group "{pv.vg}"'
        )
    usable = node.disks[device].size_kib - PV_DATA_OFFSET_KIB
    vg = VolumeGroup(name=vg_name, pv=device, total_kib=usable // EXTENT_KIB * EXTENT_KIB)
    node.vgs[vg_name] = vg
    pv.vg = vg_name
    return vg


def _remove_unused(
    node: NodeState, argv: list[str], table: dict[str, Any], key: str, in_use: str
) -> bool:
    """What vgremove and pvremove share: absent is already done (False), in use (``in_use``
    names the user) is refused, otherwise the entry goes."""
    if key not in table:
        return False
    if in_use:
        raise lvm_fail(node, argv, in_use)
    del table[key]
    return True


def vgremove(node: NodeState, vg_name: str) -> bool:
    """Remove an empty VG; False when it does not exist."""
    vg = node.vgs.get(vg_name)
    in_use = (
        f'  Volume group "{vg_name}" still contains {len(vg.lvs)} logical volume(s)'
        if vg and vg.lvs
        else ""
    )
    argv = [LVM, "vgremove", "-qq", vg_name]
    if not _remove_unused(node, argv, node.vgs, vg_name, in_use):
        return False
    if vg and vg.pv in node.pvs:
        node.pvs[vg.pv].vg = ""
    return True


def pvremove(node: NodeState, device: str) -> bool:
    pv = node.pvs.get(device)
    in_use = (
        f"  PV {device} is used by VG {pv.vg} so please use vgreduce first." if pv and pv.vg else ""
    )
    argv = [LVM, "pvremove", "-qq", device]
    return _remove_unused(node, argv, node.pvs, device, in_use)


# -- logical volumes ---------------------------------------------------------------------------


def require_vg(node: NodeState, vg_name: str, argv: list[str]) -> VolumeGroup:
    vg = node.vgs.get(vg_name)
    if vg is None:
        raise lvm_fail(
            node,
            argv,
            f'  Volume group "{vg_name}" not found\n  Cannot process volume group {vg_name}',
        )
    return vg


def require_lv(node: NodeState, vg: VolumeGroup, lv_name: str, argv: list[str]) -> LogicalVolume:
    lv = vg.lvs.get(lv_name)
    if lv is None:
        raise lvm_fail(node, argv, f'  Failed to find logical volume "{vg.name}/{lv_name}"')
    return lv


def _require_new_lv(node: NodeState, vg: VolumeGroup, name: str, argv: list[str]) -> None:
    if name in vg.lvs:
        raise lvm_fail(
            node, argv, f'  Logical Volume "{name}" already exists in volume group "{vg.name}"'
        )


def _require_creatable(
    node: NodeState, vg: VolumeGroup, name: str, size_kib: int, argv: list[str]
) -> None:
    _require_new_lv(node, vg, name, argv)
    if size_kib <= 0:
        raise fail(node, argv, 3, "  Size must be positive.")


def _add_lv(
    vg: VolumeGroup, name: str, kind: str, size_kib: int, tags: tuple[str, ...], **more: Any
) -> LogicalVolume:
    """Enter a new LV in its VG; a tag given twice is kept once, as LVM keeps it."""
    lv = vg.lvs[name] = LogicalVolume(
        name=name, kind=kind, size_kib=size_kib, tags=list(dict.fromkeys(tags)), **more
    )
    return lv


def lvcreate_pool(
    node: NodeState,
    vg_name: str,
    pool_name: str,
    pool_kib: int,
    metadata_kib: int,
    tags: tuple[str, ...] = (),
) -> LogicalVolume:
    """``lvcreate --type thin-pool --size P --poolmetadatasize M --name pool vg``: data and
    metadata rounded up to whole extents, both charged to the VG."""
    argv = [LVM, "lvcreate", "--type", "thin-pool", "--name", pool_name, vg_name]
    vg = require_vg(node, vg_name, argv)
    _require_creatable(node, vg, pool_name, pool_kib, argv)
    pool_extents_kib = round_up(pool_kib, vg.extent_kib)
    metadata_extents_kib = round_up(max(metadata_kib, 2048), vg.extent_kib)
    needed = pool_extents_kib + metadata_extents_kib + _spare_growth(vg, metadata_extents_kib)
    if needed > vg.free_kib:
        raise lvm_fail(
            node,
            argv,
            f'  Volume group "{vg_name}" has insufficient free space '
            f"({vg.free_kib // vg.extent_kib} extents): {needed // vg.extent_kib} required.",
        )
    vg.pmspare_kib += _spare_growth(vg, metadata_extents_kib)
    return _add_lv(
        vg, pool_name, "thin-pool", pool_extents_kib, tags, metadata_kib=metadata_extents_kib
    )


def _spare_growth(vg: VolumeGroup, metadata_kib: int) -> int:
    """How much the VG's pool metadata spare grows for a pool metadata of ``metadata_kib``:
    LVM keeps it as large as the largest pool metadata (``--poolmetadataspare y``, the default)
    and needs the room for it, or the pool is not made (nor its metadata grown)."""
    return max(0, metadata_kib - vg.pmspare_kib)


def lvcreate_thin_lv(
    node: NodeState,
    vg_name: str,
    pool_name: str,
    lv_name: str,
    virtual_kib: int,
    tags: tuple[str, ...] = (),
) -> LogicalVolume:
    """``lvcreate --thin --virtualsize V --name lv vg/pool``: costs no VG space (thin LVs may
    be larger than their pool; LVM only warns about over-provisioning)."""
    argv = [LVM, "lvcreate", "--thin", "--name", lv_name, f"{vg_name}/{pool_name}"]
    vg = require_vg(node, vg_name, argv)
    pool = require_lv(node, vg, pool_name, argv)
    if pool.kind != "thin-pool":
        raise lvm_fail(node, argv, f"  Logical volume {vg_name}/{pool_name} is not a thin pool.")
    _require_creatable(node, vg, lv_name, virtual_kib, argv)
    # Real LVM rounds the virtual size up to whole extents; kept exact here because
    # bricks are sized in whole extents already (see the report's differences).
    return _add_lv(vg, lv_name, "thin", virtual_kib, tags, pool=pool_name)


def thin_snapshot(node: NodeState, vg_name: str, origin: str, lv_name: str) -> LogicalVolume:
    """A thin snapshot shares the origin's pool and costs no VG space."""
    argv = [LVM, "lvcreate", "-qq", "--snapshot", f"{vg_name}/{origin}", "--name", lv_name]
    vg = require_vg(node, vg_name, argv)
    source = vg.lvs.get(origin)
    if source is None or source.kind != "thin":
        raise lvm_fail(node, argv, f'  Failed to find logical volume "{vg_name}/{origin}"')
    _require_new_lv(node, vg, lv_name, argv)
    snapshot = LogicalVolume(
        name=lv_name,
        kind="thin",
        size_kib=source.size_kib,
        pool=source.pool,
        origin=origin,
        filesystem=source.filesystem,
        fs_size_kib=source.fs_size_kib,
        fs_dirs=dict(source.fs_dirs),
    )
    vg.lvs[lv_name] = snapshot
    return snapshot


def lvremove(node: NodeState, vg_name: str, lv_name: str) -> None:
    """``lvremove -f vg/lv``: a pool goes with its (unmounted) thin LVs, as ``-f`` answers
    LVM's "remove dependent volumes?" with yes; a mounted LV is refused."""
    argv = [LVM, "lvremove", "-f", f"{vg_name}/{lv_name}"]
    vg = require_vg(node, vg_name, argv)
    lv = require_lv(node, vg, lv_name, argv)
    doomed = [lv_name]
    if lv.kind == "thin-pool":
        doomed += [o.name for o in vg.lvs.values() if o.kind == "thin" and o.pool == lv_name]
    for name in doomed:
        if mount_point_of(node, dm_path(vg_name, name)):
            raise lvm_fail(
                node, argv, f"  Logical volume {vg_name}/{name} contains a filesystem in use."
            )
    for name in doomed:
        del vg.lvs[name]
    if lv.kind == "thin-pool" and not any(o.kind == "thin-pool" for o in vg.lvs.values()):
        # With the VG's last pool LVM removes the spare too: no pool is left to repair.
        vg.pmspare_kib = 0


def _extents(kib: int, vg: VolumeGroup) -> int:
    return kib // vg.extent_kib


def lvresize(
    node: NodeState, vg_name: str, lv_name: str, argv: list[str], *, size_kib: int = 0,
    metadata_kib: int = 0, grow: bool,
) -> None:
    """``lvextend``/``lvreduce --size S`` or ``--poolmetadatasize M`` (absolute sizes) as LVM
    2.03 answers: a pool's growth is charged to the VG; a thin pool never shrinks; a thin LV
    shrinks only above its filesystem (LVM 2.03.17's ``--fs checksize``, XFS cannot shrink)."""
    vg = require_vg(node, vg_name, argv)
    lv = require_lv(node, vg, lv_name, argv)
    metadata = bool(metadata_kib)
    if metadata and lv.kind != "thin-pool":
        raise lvm_fail(node, argv, f"  Logical volume {vg_name}/{lv_name} is not a thin pool.")
    current = lv.metadata_kib if metadata else lv.size_kib
    wanted = round_up(metadata_kib if metadata else size_kib, vg.extent_kib)
    old_ext, new_ext = _extents(current, vg), _extents(wanted, vg)
    if new_ext == old_ext:
        raise lvm_fail(
            node, argv, f"  New size ({new_ext} extents) matches existing size ({old_ext} extents)."
        )
    if grow and new_ext < old_ext:
        raise lvm_fail(
            node, argv,
            f"  New size given ({new_ext} extents) not larger than existing size "
            f"({old_ext} extents)",
        )
    if not grow and new_ext > old_ext:
        raise lvm_fail(
            node, argv,
            f"  New size given ({new_ext} extents) not less than existing size ({old_ext} extents)",
        )
    if not grow and lv.kind == "thin-pool":
        raise lvm_fail(node, argv, f"  Thin pool volumes {vg_name}/{lv_name} cannot be reduced "
                                   "in size yet.")
    if not grow and lv.filesystem and lv.fs_size_kib > wanted:
        raise lvm_fail(
            node, argv,
            f"  File system {lv.filesystem} found on {vg_name}/{lv_name}.\n"
            f"  File system size ({lv.fs_size_kib}.00k) is larger than the requested size "
            f"({wanted}.00k).\n  File system reduce is required and not supported "
            f"({lv.filesystem}).",
        )
    spare = _spare_growth(vg, wanted) if metadata else 0
    if lv.kind == "thin-pool" and wanted - current + spare > vg.free_kib:
        raise lvm_fail(
            node, argv,
            f"  Insufficient free space: {_extents(wanted - current + spare, vg)} extents "
            f"needed, but only {_extents(vg.free_kib, vg)} available",
        )
    if metadata:
        vg.pmspare_kib += spare  # the spare follows the largest pool metadata
        lv.metadata_kib = wanted
    else:
        lv.size_kib = wanted


def xfs_growfs(node: NodeState, mount_point: str) -> tuple[int, int]:
    """Grow the XFS mounted at ``mount_point`` to its LV; (old, new) data size in KiB."""
    lv = lv_mounted_at(node, mount_point)
    if lv is None or lv.filesystem != "xfs":
        raise fail(
            node, ["xfs_growfs", mount_point], 1,
            f"xfs_growfs: {mount_point} is not a mounted XFS filesystem",
        )
    old = lv.fs_size_kib or lv.size_kib
    lv.fs_size_kib = max(old, lv.size_kib)
    return old, lv.fs_size_kib


def lvchange_addtag(node: NodeState, vg_name: str, lv_name: str, tags: tuple[str, ...]) -> None:
    """``lvchange --addtag T... vg/lv``; a tag already there stays once."""
    argv = [LVM, "lvchange", *(w for t in tags for w in ("--addtag", t)), f"{vg_name}/{lv_name}"]
    vg = require_vg(node, vg_name, argv)
    lv = require_lv(node, vg, lv_name, argv)
    lv.tags.extend(tag for tag in tags if tag not in lv.tags)


def thin_count(node: NodeState, vg_name: str, pool_name: str) -> int:
    vg = node.vgs.get(vg_name)
    if vg is None:
        return 0
    return sum(1 for lv in vg.lvs.values() if lv.kind == "thin" and lv.pool == pool_name)


# -- filesystems -----------------------------------------------------------------------------


def mkfs_xfs(node: NodeState, device: str, force: bool = False) -> None:
    """``mkfs.xfs [-f] device``: without ``-f`` an existing filesystem is refused."""
    argv = ["mkfs.xfs", device]
    found = lv_for_device(node, device)
    if found is None:
        raise fail(node, argv, 1, f"{device}: No such file or directory")
    if mount_point_of(node, device):
        raise fail(node, argv, 1, f"mkfs.xfs: {device} contains a mounted filesystem")
    if found[1].filesystem and not force:
        raise fail(
            node,
            argv,
            1,
            f"mkfs.xfs: {device} appears to contain an existing filesystem "
            f"({found[1].filesystem}).\nmkfs.xfs: Use the -f option to force overwrite.",
        )
    found[1].filesystem = "xfs"
    found[1].fs_size_kib = found[1].size_kib
    found[1].fs_dirs = {}


def mount(node: NodeState, device: str, mount_point: str) -> None:
    argv = ["mount", "-o", MOUNT_OPTIONS, device, mount_point]
    found = lv_for_device(node, device)
    if found is None:
        raise fail(
            node, argv, MOUNT_EXIT, f"mount: {mount_point}: special device {device} does not exist."
        )
    if mount_point not in node.dirs:
        raise fail(node, argv, MOUNT_EXIT, f"mount: {mount_point}: mount point does not exist.")
    if mount_point in node.mounts:
        raise fail(
            node,
            argv,
            MOUNT_EXIT,
            f"mount: {mount_point}: {node.mounts[mount_point]} already mounted on {mount_point}.",
        )
    if not found[1].filesystem:
        raise fail(
            node,
            argv,
            MOUNT_EXIT,
            f"mount: {mount_point}: wrong fs type, bad option, bad superblock on {device}, "
            "missing codepage or helper program, or other error.",
        )
    node.mounts[mount_point] = device


def umount(node: NodeState, mount_point: str, busy: bool = False) -> bool:
    """Unmount; False when nothing was mounted there (Heketi treats that as done)."""
    if mount_point not in node.mounts:
        return False
    if busy:
        raise fail(
            node, ["umount", mount_point], MOUNT_EXIT, f"umount: {mount_point}: target is busy."
        )
    del node.mounts[mount_point]
    return True


def fstab_add(node: NodeState, line: str) -> None:
    if line not in node.fstab:
        node.fstab.append(line)


def fstab_line(device: str, mount_point: str) -> str:
    return f"{device} {mount_point} xfs {MOUNT_OPTIONS} 1 2"


def mkdir_p(node: NodeState, path: str) -> None:
    """``mkdir -p`` on the root filesystem (mount points live there)."""
    path = path.rstrip("/")
    while path and path != "/":
        if path not in node.dirs:
            node.dirs.append(path)
        path = posixpath.dirname(path)


def mkdir_in_mount(node: NodeState, path: str, gid: int = 0) -> None:
    """``mkdir <mnt>/<name>`` inside a mounted LV filesystem (a brick directory)."""
    argv = ["mkdir", path]
    parent = posixpath.dirname(path)
    lv = lv_mounted_at(node, parent)
    if lv is None:
        raise fail(
            node, argv, 1, f"mkdir: cannot create directory '{path}': No such file or directory"
        )
    name = posixpath.basename(path)
    if name in lv.fs_dirs:
        raise fail(node, argv, 1, f"mkdir: cannot create directory '{path}': File exists")
    lv.fs_dirs[name] = gid


def rmdir(node: NodeState, path: str) -> None:
    """``rmdir`` of a root-filesystem directory; errors are ignored as Heketi ignores them."""
    path = path.rstrip("/")
    if path in node.mounts:
        return
    if any(other.startswith(path + "/") for other in node.dirs):
        return
    if path in node.dirs:
        node.dirs.remove(path)


def _lvm_uuid() -> str:
    raw = uuid.uuid4().hex[:32]
    # LVM writes UUIDs as 32 characters grouped 6-4-4-4-4-4-6.
    groups = (6, 4, 4, 4, 4, 4, 6)
    parts, start = [], 0
    for size in groups:
        parts.append(raw[start : start + size])
        start += size
    return "-".join(parts)
