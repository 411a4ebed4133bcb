"""Plain-data state of simulated storage nodes and gluster trusted pools, and its JSON file.

Everything here is dataclasses of str/int/bool/list/dict so ``dataclasses.asdict`` is the JSON
form; ``SimState.from_json`` rebuilds it. The file is replaced atomically (temp file, fsync,
rename, fsync of the directory) so a SIGKILLed server always finds a complete state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

EXTENT_KIB = 4096
# pvcreate --metadatasize=128M --dataalignment=256K: the first extent starts after the label
# (4 KiB) and 128 MiB of metadata, aligned up to 256 KiB.
PV_DATA_OFFSET_KIB = 128 * 1024 + 256

STATE_FORMAT_VERSION = 1


@dataclass
class Disk:
    size_kib: int
    # A leftover signature ("xfs", "dos") that pvcreate refuses to overwrite without wipefs.
    signature: str = ""


@dataclass
class PhysicalVolume:
    uuid: str
    vg: str = ""


@dataclass
class LogicalVolume:
    name: str
    kind: str  # "thin-pool" | "thin"
    size_kib: int  # pool: data size; thin LV: virtual size
    pool: str = ""  # thin LVs: the pool they live in
    metadata_kib: int = 0  # pools only
    origin: str = ""  # thin snapshots: the LV they were taken from
    tags: list[str] = field(default_factory=list)
    filesystem: str = ""
    # The filesystem's data size (mkfs.xfs makes it the LV's size; xfs_growfs grows it).
    fs_size_kib: int = 0
    # Directories inside the LV's filesystem (relative path -> gid); visible only while mounted.
    fs_dirs: dict[str, int] = field(default_factory=dict)


@dataclass
class VolumeGroup:
    name: str
    pv: str
    total_kib: int
    extent_kib: int = EXTENT_KIB
    lvs: dict[str, LogicalVolume] = field(default_factory=dict)
    # LVM's hidden pool metadata spare ``[lvol0_pmspare]``: made with the VG's first thin pool,
    # grown to the largest pool metadata (never shrunk), removed with the VG's last pool; 0
    # while the VG has none. It takes VG space no device is charged for, as on real LVM.
    pmspare_kib: int = 0

    @property
    def used_kib(self) -> int:
        return self.pmspare_kib + sum(
            lv.size_kib + lv.metadata_kib for lv in self.lvs.values() if lv.kind == "thin-pool"
        )

    @property
    def free_kib(self) -> int:
        return self.total_kib - self.used_kib


@dataclass
class NodeState:
    host: str
    disks: dict[str, Disk] = field(default_factory=dict)
    pvs: dict[str, PhysicalVolume] = field(default_factory=dict)
    vgs: dict[str, VolumeGroup] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)  # directories on the root filesystem
    mounts: dict[str, str] = field(default_factory=dict)  # mount point -> device
    fstab: list[str] = field(default_factory=list)
    glusterd_down: bool = False
    unreachable: bool = False
    pool: str = ""  # id of the trusted pool this node belongs to


@dataclass
class BlockVolumeState:
    name: str
    size_gib: int
    hosts: list[str]
    gbid: str
    username: str = ""
    password: str = ""


@dataclass
class GlusterVolumeState:
    name: str
    id: str
    type: str  # "none" | "replicate" | "disperse"
    replica: int = 1
    data: int = 0
    redundancy: int = 0
    arbiter: bool = False
    bricks: list[str] = field(default_factory=list)  # "host:path", in gluster order
    options: dict[str, str] = field(default_factory=dict)
    status: str = "Created"  # "Created" | "Started" | "Stopped"
    heal_pending: bool = False
    block_volumes: dict[str, BlockVolumeState] = field(default_factory=dict)

    @property
    def set_size(self) -> int:
        if self.type == "replicate":
            return self.replica
        if self.type == "disperse":
            return self.data + self.redundancy
        return 1


@dataclass
class SnapshotState:
    """A gluster snapshot of a volume (``snapshot create``), activated or not."""

    name: str
    id: str
    volume: str  # the name of the volume it was taken of
    volume_id: str = ""  # the snapshot volume's own uuid, which names its LVs and mounts
    bricks: list[str] = field(default_factory=list)  # "host:path" of its own bricks
    activated: bool = False


@dataclass
class TrustedPool:
    id: str
    # Node identities: a manage host, or a storage name whose manage host is not yet known.
    members: list[str] = field(default_factory=list)
    volumes: dict[str, GlusterVolumeState] = field(default_factory=dict)
    snapshots: dict[str, SnapshotState] = field(default_factory=dict)


@dataclass
class SimState:
    nodes: dict[str, NodeState] = field(default_factory=dict)
    pools: dict[str, TrustedPool] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # storage hostname -> manage host

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_FORMAT_VERSION, **dataclasses.asdict(self)}

    def dumps(self) -> str:
        """``json.dumps(self.to_json())``, without the deep copy: the simulator saves its
        state after every call, and ``asdict`` cost 85 ms of that at 500 volumes."""
        document = {"version": STATE_FORMAT_VERSION, **vars(self)}
        return json.dumps(document, default=_dataclass_fields)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimState:
        return cls(
            nodes={k: _node_from_json(v) for k, v in data.get("nodes", {}).items()},
            pools={k: _pool_from_json(v) for k, v in data.get("pools", {}).items()},
            aliases=dict(data.get("aliases", {})),
        )


def _dataclass_fields(value: Any) -> dict[str, Any]:
    # Every dataclass here holds exactly its fields, so vars() is what asdict() would copy.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    raise TypeError(f"{type(value).__name__} is not part of the simulator state")


def _node_from_json(data: dict[str, Any]) -> NodeState:
    vgs = {
        name: VolumeGroup(
            name=vg["name"],
            pv=vg["pv"],
            total_kib=vg["total_kib"],
            extent_kib=vg.get("extent_kib", EXTENT_KIB),
            lvs={lv_name: LogicalVolume(**lv) for lv_name, lv in vg.get("lvs", {}).items()},
            pmspare_kib=vg.get("pmspare_kib", 0),
        )
        for name, vg in data.get("vgs", {}).items()
    }
    return NodeState(
        host=data["host"],
        disks={k: Disk(**v) for k, v in data.get("disks", {}).items()},
        pvs={k: PhysicalVolume(**v) for k, v in data.get("pvs", {}).items()},
        vgs=vgs,
        dirs=list(data.get("dirs", [])),
        mounts=dict(data.get("mounts", {})),
        fstab=list(data.get("fstab", [])),
        glusterd_down=bool(data.get("glusterd_down", False)),
        unreachable=bool(data.get("unreachable", False)),
        pool=data.get("pool", ""),
    )


def _volume_from_json(data: dict[str, Any]) -> GlusterVolumeState:
    fields = {k: v for k, v in data.items() if k != "block_volumes"}
    volume = GlusterVolumeState(**fields)
    volume.block_volumes = {
        k: BlockVolumeState(**v) for k, v in data.get("block_volumes", {}).items()
    }
    return volume


def _pool_from_json(data: dict[str, Any]) -> TrustedPool:
    return TrustedPool(
        id=data["id"],
        members=list(data.get("members", [])),
        volumes={k: _volume_from_json(v) for k, v in data.get("volumes", {}).items()},
        snapshots={k: SnapshotState(**v) for k, v in data.get("snapshots", {}).items()},
    )


def load_state(path: str) -> SimState:
    """The state saved at ``path``, or an empty state when there is no file yet."""
    try:
        with open(path, encoding="utf-8") as handle:
            return SimState.from_json(json.load(handle))
    except FileNotFoundError:
        return SimState()


def atomic_write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never a mix."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp_path = tempfile.mkstemp(prefix=".simstate-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
