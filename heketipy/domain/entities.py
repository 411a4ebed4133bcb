"""Entities of the storage topology: clusters, nodes, devices, bricks, volumes, block volumes
and pending operations.

Plain mutable dataclasses holding exactly what is persisted. Relationships are kept by id on the
child (``node.cluster_id``, ``device.node_id``, ``brick.device_id`` ...); the parent->children
indexes live in ``heketipy.domain.state.State``. Sizes carry their unit in the name.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar


def new_id() -> str:
    """32 lowercase hex characters, as every Heketi id."""
    return uuid.uuid4().hex


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

    @property
    def tp_name(self) -> str:
        return f"tp_{self.tp_id or self.id}"

    @property
    def lv_name(self) -> str:
        return f"brick_{self.id}"

    @property
    def mount_path(self) -> str:
        return f"/var/lib/heketi/mounts/vg_{self.device_id}/brick_{self.id}"

    @property
    def path(self) -> str:
        return self.mount_path + "/brick"

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

    @property
    def set_size(self) -> int:
        if self.durability == "replicate":
            return self.replica
        if self.durability == "disperse":
            return self.data + self.redundancy
        return 1


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
