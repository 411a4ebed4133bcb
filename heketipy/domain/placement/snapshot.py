"""The snapshot placement works on and the plans it returns.

Owns the views the caller builds (DeviceView, NodeView), what the volume asks for
(VolumeShape, PlacementPolicy), and the results (BrickPlan, Allocation, with the FilterStep
and Attempt records that explanations are made of), plus the
`_count` wording helper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from heketipy.domain.units import KIB_PER_GIB

Durability = Literal["none", "replicate", "disperse"]
VolumeKind = Literal["file", "block"]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class DeviceView:
    """A device as placement sees it; `tags` are already merged (node tags, device wins)."""

    id: str
    node_id: str
    free_kib: int
    tags: Mapping[str, str] = field(default_factory=dict)
    online: bool = True
    extent_kib: int = 4096  # from vgdisplay; LVM's default extent


@dataclass(frozen=True)
class NodeView:
    """A node of the cluster; `online` is False too when the health monitor saw it down."""

    id: str
    zone: int
    online: bool = True
    devices: tuple[DeviceView, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeShape:
    """Durability of the volume; `replica` is already defaulted (0 -> 2) by the caller."""

    durability: Durability
    replica: int = 2
    data: int = 4
    redundancy: int = 2
    arbiter: bool = False

    @property
    def uses_arbiter_placer(self) -> bool:
        # The arbiter option only makes sense for replication; for disperse it would put an
        # arbiter-sized brick into an erasure set, so it is ignored there.
        return self.arbiter and self.durability in ("replicate", "none")

    def is_arbiter_position(self, position: int) -> bool:
        """Upstream's arbiter is the third brick of a replica-3 set (index 2)."""
        return self.uses_arbiter_placer and self.durability == "replicate" and position == 2

    def describe(self) -> str:
        if self.durability == "replicate":
            return f"replica {self.replica}" + (" with arbiter" if self.arbiter else "")
        if self.durability == "disperse":
            return f"disperse {self.data}+{self.redundancy}"
        return "distribute"


@dataclass(frozen=True)
class PlacementPolicy:
    """Tunables (internals 1.1) merged with the volume's `user.heketi.*` options."""

    brick_min_kib: int = 1 * KIB_PER_GIB
    brick_max_kib: int = 4096 * KIB_PER_GIB
    max_bricks_per_volume: int = 32
    zone_checking: str = "none"
    average_file_size_kib: int = 64
    snapshot_factor: float = 1.0
    device_tag_match: str | None = None
    # Smallest brick a real node can format: xfsprogs 5.19+ refuses filesystems under 300 MiB
    # and zeroes a 64 MiB log, so an arbiter brick below it fails on real thin pools. 0 keeps
    # Heketi's exact sizing (the mock and simulator executors, the golden recordings).
    min_filesystem_kib: int = 0

    @property
    def strict_zones(self) -> bool:
        # Any value other than `strict` behaves as `none` (errata 9.2).
        return self.zone_checking == "strict"


@dataclass(frozen=True)
class BrickPlan:
    """One brick to create: where, how big, and the device charge (tp + metadata)."""

    node_id: str
    device_id: str
    size_kib: int
    tp_size_kib: int
    pool_metadata_kib: int
    arbiter: bool
    set_index: int
    position: int

    @property
    def charge_kib(self) -> int:
        return self.tp_size_kib + self.pool_metadata_kib


@dataclass(frozen=True)
class FilterStep:
    """What one filter left: devices, distinct nodes and distinct zones among them."""

    name: str
    devices: int
    nodes: int
    zones: int

    def describe(self) -> str:
        return (
            f"{self.name}: {_count(self.devices, 'device')} on {_count(self.nodes, 'node')}"
            f" in {_count(self.zones, 'zone')}"
        )


@dataclass(frozen=True)
class Attempt:
    """One try of the halving loop and its outcome (for logs and explanations)."""

    set_count: int
    brick_size_kib: int
    placed: bool
    explanation: str = ""


@dataclass(frozen=True)
class Allocation:
    """The placed volume (or expansion): `sets[i][p]` is position p of brick set i."""

    brick_size_kib: int
    sets: tuple[tuple[BrickPlan, ...], ...]
    attempts: tuple[Attempt, ...] = ()

    @property
    def bricks(self) -> tuple[BrickPlan, ...]:
        """All bricks in gluster order (set by set, position by position)."""
        return tuple(brick for brick_set in self.sets for brick in brick_set)

    def charges_kib(self) -> dict[str, int]:
        """KiB to debit per device id."""
        charges: dict[str, int] = {}
        for brick in self.bricks:
            charges[brick.device_id] = charges.get(brick.device_id, 0) + brick.charge_kib
        return charges
