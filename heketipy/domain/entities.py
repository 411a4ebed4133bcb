"""Entities of the storage topology: clusters, nodes, devices, bricks, volumes, block volumes
and pending operations.

Plain mutable dataclasses holding exactly what is persisted. Relationships are kept by id on the
child (``node.cluster_id``, ``device.node_id``, ``brick.device_id`` ...); the parent->children
indexes live in ``heketipy.domain.state.State``. Sizes carry their unit in the name.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from heketipy.domain.units import (
    brick_lv_name,
    brick_mount_dir,
    set_width,
    thin_pool_name,
)


def new_id() -> str:
    """32 lowercase hex characters, as every Heketi id."""
    return uuid.uuid4().hex


GLUSTER_MANAGED_ROOTS = ("/run/gluster/", "/var/run/gluster/")


def gluster_managed(mount_path: str) -> bool:
    """Whether glusterd owns this brick mount (a snapshot's or clone's): it mounts it again at
    volume start, so it gets no fstab line (a /run path is gone at boot)."""
    return mount_path.startswith(GLUSTER_MANAGED_ROOTS)


# glusterd's own layout for a snapshot's/clone's bricks (seen on glusterd 10.3): brick N of the
# volume (1-based, over all nodes) is mounted at /run/gluster/snaps/<volume uuid hex>/brickN from
# the LV <volume uuid hex>_<K> in the origin brick's VG and thin pool, where K counts the
# volume's earlier bricks on the SAME node (0-based): one brick per node -> always _0.
_GLUSTER_LAYOUT = re.compile(r"/(?:var/)?run/gluster/snaps/([0-9a-f]{32})/brick[1-9][0-9]*/brick")


def gluster_layout_uuid(path: str) -> str | None:
    """The volume uuid (hex) a brick path in glusterd's snapshot/clone layout is under; None
    for other paths."""
    match = _GLUSTER_LAYOUT.fullmatch(path)
    return match.group(1) if match else None


class Entity:
    kind: ClassVar[str]
    id: str

    def to_record(self) -> dict[str, Any]:
        """The persisted form: field -> value (values are JSON-able as they are)."""
        # Not dataclasses.asdict: its recursive deep copy is 5x slower on the commit path.
        return dict(vars(self))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in record.items() if k in names})


@dataclass
class Cluster(Entity):
    kind: ClassVar[str] = "cluster"
    id: str
    file: bool = False
    block: bool = False


@dataclass
class Node(Entity):
    kind: ClassVar[str] = "node"
    id: str
    cluster_id: str
    zone: int
    manage: list[str]
    storage: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "online"  # online | offline | failed

    @property
    def manage_host(self) -> str:
        return self.manage[0]

    @property
    def storage_host(self) -> str:
        return self.storage[0]


@dataclass
class Device(Entity):
    kind: ClassVar[str] = "device"
    id: str
    node_id: str
    name: str
    total_kib: int = 0
    free_kib: int = 0
    used_kib: int = 0
    extent_kib: int = 4096
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "online"
    pv_uuid: str = ""
    paths: list[str] = field(default_factory=list)


BRICK_NORMAL = 1
BRICK_ARBITER = 2


@dataclass
class Brick(Entity):
    kind: ClassVar[str] = "brick"
    id: str
    volume_id: str
    device_id: str
    node_id: str
    size_kib: int
    tp_size_kib: int
    pool_metadata_kib: int
    subtype: int = BRICK_NORMAL
    pending_op: str = ""
    set_index: int = 0
    position: int = 0
    # A clone's brick lives in the thin pool of the brick it was snapshotted from.
    tp_id: str = ""
    # Where gluster put a brick it made itself (a clone's: /run/gluster/snaps/<uuid>/brickN/brick
    # on the LV <uuid>_<N-1>), as Heketi stores them; empty for heketipy's own layout.
    served_path: str = ""
    lv: str = ""

    @property
    def tp_name(self) -> str:
        return thin_pool_name(self.tp_id or self.id)

    @property
    def lv_name(self) -> str:
        return self.lv or brick_lv_name(self.id)

    @property
    def mount_path(self) -> str:
        if self.served_path:
            return posixpath.dirname(self.served_path)
        return brick_mount_dir(self.device_id, self.id)

    @property
    def path(self) -> str:
        return self.served_path or self.mount_path + "/brick"

    @property
    def charge_kib(self) -> int:
        """What the brick takes from its device's free space."""
        return self.tp_size_kib + self.pool_metadata_kib


@dataclass
class Volume(Entity):
    kind: ClassVar[str] = "volume"
    id: str
    name: str
    cluster_id: str
    size_gib: int
    # Durability as the client sent it (Heketi echoes the request object, defaults unfilled).
    durability_echo: dict[str, Any] = field(default_factory=dict)
    # Effective durability used for placement and gluster.
    durability: str = "none"  # none | replicate | disperse
    replica: int = 1
    data: int = 0
    redundancy: int = 0
    arbiter: bool = False
    gid: int = 0
    options: list[str] = field(default_factory=list)
    block: bool = False
    snapshot_enable: bool = False
    snapshot_factor: float = 1.0
    block_free_gib: int = 0
    block_reserved_gib: int = 0
    block_restriction: str = ""
    pending_op: str = ""
    created_seq: int = 0
    # Whether the bricks' set_index/position are Gluster's real sets: true for volumes heketipy
    # made (it gives Gluster the bricks in set order); an imported volume's are a guess until
    # ``gluster volume info`` has been read (a Heketi dump does not record them).
    sets_verified: bool = True

    @property
    def set_size(self) -> int:
        """Bricks per distribute set; 0 for a negative replica (upstream places no bricks)."""
        return set_width(self)


@dataclass
class BlockVolume(Entity):
    kind: ClassVar[str] = "blockvolume"
    id: str
    name: str
    cluster_id: str
    bhv_id: str
    size_gib: int
    usable_size_gib: int = 0
    hacount: int = 0
    auth: bool = False
    hosts: list[str] = field(default_factory=list)
    iqn: str = ""
    lun: int = 0
    username: str = ""
    password: str = ""
    pending_op: str = ""


@dataclass
class PendingOperation(Entity):
    """A journaled operation: what it changes, and which node steps completed."""

    kind: ClassVar[str] = "operation"
    id: str
    type_name: str
    timestamp: int
    changes: list[dict[str, Any]] = field(default_factory=list)  # {"change","id","delta"}
    status: str = ""  # "" new | stale | failed
    phase: str = "planned"  # planned | executing | finalizing | rolling-back
    done_steps: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    parent_id: str = ""


ENTITY_TYPES: dict[str, type[Entity]] = {
    cls.kind: cls
    for cls in (Cluster, Node, Device, Brick, Volume, BlockVolume, PendingOperation)
}
