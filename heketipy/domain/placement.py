"""Brick placement: which devices get the bricks of a volume, and why a request does not fit.

Owns Heketi's placement rules (internals 1.3-1.11, contract 9.1/9.2 and the section 17
errata): cluster eligibility and first-fit over clusters, the halving loop over brick sizes,
the device ring, the standard and arbiter placers, strict zones, tag rules, the brick limit
and the replacement of one brick. It is a pure function of a snapshot: the caller loads
nodes and devices, calls in, and persists the returned plan.

The work is a pipeline of small named filters over the snapshot, in the spirit of Cinder's
scheduler filters. Static filters (online node, online device, tag rule, arbiter role) run
once; per-brick checks (distinct node, distinct zone, free space) run as each position of a
brick set is filled. Every failure carries an explanation built from how many devices,
nodes and zones each filter left, e.g.::

    No space: cluster <id>: replica 3 needs 3 nodes in distinct zones per brick set, each
    with a device of more than 1056768 KiB free; filters left online: 4 devices on 4 nodes
    in 2 zones, more than 1056768 KiB free: 4 devices on 4 nodes in 2 zones; at 2 sets of
    1048576 KiB bricks, set 1 found no device for its brick at position 2 after placing 2
    of 3; for a volume of 2 GiB, 4 sets would need bricks of 524288 KiB, below the minimum

Errors keep upstream's bare text in `upstream_text` (what the REST layer must answer) and
the explanation in `explanation` (for logs and our own clients).
"""

from __future__ import annotations

import random
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from heketipy.domain.space import device_charge_kib, fits, space_needed
from heketipy.domain.tags import ArbiterRole, TagRule, arbiter_role, parse_tag_rule

KIB_PER_GIB = 1024 * 1024
MIN_ARBITER_BRICK_KIB = 16 * 1024

Durability = Literal["none", "replicate", "disperse"]
VolumeKind = Literal["file", "block"]


# --------------------------------------------------------------------------- errors


class PlacementError(Exception):
    """Base of placement failures: `upstream_text` is Heketi's exact text."""

    def __init__(self, upstream_text: str, explanation: str = "") -> None:
        super().__init__(upstream_text)
        self.upstream_text = upstream_text
        self.explanation = explanation

    def __str__(self) -> str:
        return self.upstream_text


class NoSpaceError(PlacementError):
    """Upstream `ErrNoSpace`; `str()` is ``No space: <explanation>``."""

    UPSTREAM_TEXT = "No space"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)

    def __str__(self) -> str:
        if self.explanation:
            return f"{self.upstream_text}: {self.explanation}"
        return self.upstream_text


class MinimumBrickSizeError(PlacementError):
    """Halving went below `brick_min_kib` (upstream `ErrMinimumBrickSize`)."""

    UPSTREAM_TEXT = "Minimum brick size limit reached.  Out of space."

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class MaxBricksError(PlacementError):
    """Existing plus new bricks would exceed `max_bricks_per_volume` (`ErrMaxBricks`)."""

    UPSTREAM_TEXT = "Maximum number of bricks reached."

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class InvalidTagRuleError(PlacementError):
    """A `user.heketi.device-tag-match` value that is not `<k>=<v>` or `<k>!=<v>`."""

    def __init__(self, rule: str) -> None:
        super().__init__(
            f"Invalid tag match rule: {rule}",
            "a tag rule is <key>=<value> or <key>!=<value> of [a-zA-Z0-9.-_] characters",
        )
        self.rule = rule

    @property
    def allocation_text(self) -> str:
        """The text upstream puts after `Failed to allocate new volume: ` (it wraps once more)."""
        return f"Invalid tag matching rule: {self.upstream_text}"


class NoNodesError(PlacementError):
    """The cluster has no nodes (`ErrEmptyCluster`)."""

    UPSTREAM_TEXT = "No nodes in cluster"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class NoOnlineDevicesError(PlacementError):
    """No online device on an online node of the cluster (`ErrNoStorage`)."""

    UPSTREAM_TEXT = "No online storage devices in cluster"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class NoReplacementError(PlacementError):
    """No device can take the replacement of an evicted brick (`ErrNoReplacement`)."""

    UPSTREAM_TEXT = "No Replacement was found for resource requested to be removed"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class ClusterNotEligibleError(PlacementError):
    """Every candidate cluster was dropped before placement (contract 9.1).

    `reasons` holds `(cluster_id, reason)` in candidate order. One reason is answered as is,
    several as `No eligible cluster for volume` plus `Cluster <id>: <reason>` lines.
    """

    HEADER = "No eligible cluster for volume"

    def __init__(self, reasons: Sequence[tuple[str, str]]) -> None:
        self.reasons = tuple(reasons)
        if len(self.reasons) == 1:
            text = self.reasons[0][1]
        else:
            text = "\n".join([self.HEADER, *(f"Cluster {cid}: {why}" for cid, why in self.reasons)])
        super().__init__(text, "; ".join(f"cluster {cid}: {why}" for cid, why in self.reasons))


class AllClustersFailedError(PlacementError):
    """Placement failed in several clusters; `failures` holds `(cluster_id, error)`."""

    HEADER = "Unable to create volume on any cluster:"

    def __init__(self, failures: Sequence[tuple[str, PlacementError]]) -> None:
        self.failures = tuple(failures)
        lines = [f"Cluster {cid}: {err.upstream_text}" for cid, err in self.failures]
        explanation = "; ".join(
            f"cluster {cid}: {err.explanation or err.upstream_text}" for cid, err in self.failures
        )
        super().__init__("\n".join([self.HEADER, *lines]), explanation)


# --------------------------------------------------------------------------- snapshot types


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
    def bricks_per_set(self) -> int:
        if self.durability == "replicate":
            return max(self.replica, 0)  # upstream accepts a negative replica: no bricks
        if self.durability == "disperse":
            return self.data + self.redundancy
        return 1

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


# --------------------------------------------------------------------------- sizes


def arbiter_brick_kib(data_brick_kib: int, average_file_size_kib: int) -> int:
    """Size of an arbiter brick: one inode's worth per average file, at least 16 MiB.

    Raises NoSpaceError when the data brick is smaller than one average file, which upstream
    also refuses.
    """
    if average_file_size_kib <= 0:
        raise ValueError(f"average file size must be positive, got {average_file_size_kib}")
    if data_brick_kib < average_file_size_kib:
        raise NoSpaceError(
            f"data brick of {data_brick_kib} KiB is smaller than the average file size"
            f" of {average_file_size_kib} KiB"
        )
    return max(data_brick_kib // average_file_size_kib, MIN_ARBITER_BRICK_KIB)


def brick_sizes(
    size_gib: int, shape: VolumeShape, policy: PlacementPolicy
) -> Iterator[tuple[int, int]]:
    """Yield `(set_count, brick_kib)` for each try of the halving loop (internals 1.4).

    Starts at the smallest power-of-two set count whose bricks fit under `brick_max_kib`,
    then halves the brick (doubling the sets) on each further request. Raises
    MinimumBrickSizeError once a brick would be smaller than `brick_min_kib`.
    """
    size_kib = size_gib * KIB_PER_GIB
    sets = 1
    while True:
        set_count, sets = sets, sets * 2
        brick_kib = size_kib // set_count
        if shape.durability == "disperse":
            brick_kib //= shape.data
        # A zero-KiB brick is never placeable, even with a zero minimum.
        if brick_kib < policy.brick_min_kib or brick_kib <= 0:
            raise MinimumBrickSizeError(
                f"{_count(set_count, 'set')} would need bricks of {brick_kib} KiB,"
                f" below the minimum of {policy.brick_min_kib} KiB"
            )
        if brick_kib <= policy.brick_max_kib:
            yield set_count, brick_kib


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Candidate:
    """A device together with its node, the unit every filter looks at."""

    node: NodeView
    device: DeviceView

    @property
    def zone(self) -> int:
        return self.node.zone


class DeviceFilter(Protocol):
    """A named, pure predicate over candidates; `name` labels its line in explanations."""

    @property
    def name(self) -> str: ...

    def accepts(self, candidate: Candidate) -> bool: ...


@dataclass(frozen=True)
class OnlineFilter:
    """Online devices of online nodes (a node the health monitor saw down is offline)."""

    name: str = "online"

    def accepts(self, candidate: Candidate) -> bool:
        return candidate.node.online and candidate.device.online


@dataclass(frozen=True)
class TagMatchFilter:
    rule: TagRule

    @property
    def name(self) -> str:
        return f"tag {self.rule}"

    def accepts(self, candidate: Candidate) -> bool:
        return self.rule.matches(candidate.device.tags)


@dataclass(frozen=True)
class NotDeviceFilter:
    """Replacement: the brick must leave its old device."""

    device_id: str

    @property
    def name(self) -> str:
        return "not the old device"

    def accepts(self, candidate: Candidate) -> bool:
        return candidate.device.id != self.device_id


@dataclass(frozen=True)
class ArbiterRoleFilter:
    """Keeps devices whose `arbiter` tag is one of `roles`."""

    roles: frozenset[ArbiterRole]
    label: str

    @property
    def name(self) -> str:
        return self.label

    def accepts(self, candidate: Candidate) -> bool:
        return arbiter_role(candidate.device.tags) in self.roles


@dataclass(frozen=True)
class FreeSpaceFilter:
    """Devices whose snapshot free space is strictly larger than a brick's charge."""

    brick_kib: int
    snapshot_factor: float

    @property
    def name(self) -> str:
        return f"more than {device_charge_kib(self.brick_kib, self.snapshot_factor)} KiB free"

    def accepts(self, candidate: Candidate) -> bool:
        charge = device_charge_kib(
            self.brick_kib, self.snapshot_factor, candidate.device.extent_kib
        )
        return fits(candidate.device.free_kib, charge)


def census(name: str, candidates: Sequence[Candidate]) -> FilterStep:
    return FilterStep(
        name=name,
        devices=len(candidates),
        nodes=len({c.node.id for c in candidates}),
        zones=len({c.zone for c in candidates}),
    )


def run_filters(
    candidates: Sequence[Candidate], filters: Iterable[DeviceFilter]
) -> tuple[list[Candidate], list[FilterStep]]:
    """Apply filters in order; return the survivors and what each filter left."""
    survivors = list(candidates)
    steps: list[FilterStep] = []
    for device_filter in filters:
        survivors = [c for c in survivors if device_filter.accepts(c)]
        steps.append(census(device_filter.name, survivors))
    return survivors, steps


def snapshot_candidates(nodes: Sequence[NodeView]) -> list[Candidate]:
    """Every device of the snapshot, nodes and devices in id order (upstream sorts both)."""
    return [
        Candidate(node, device)
        for node in sorted(nodes, key=lambda n: n.id)
        for device in sorted(node.devices, key=lambda d: d.id)
    ]


def _tag_filters(policy: PlacementPolicy) -> list[DeviceFilter]:
    if not policy.device_tag_match:  # None or "" (option absent or empty): no rule
        return []
    rule = parse_tag_rule(policy.device_tag_match)
    if rule is None:
        raise InvalidTagRuleError(policy.device_tag_match)
    return [TagMatchFilter(rule)]


def _check_cluster_has_storage(nodes: Sequence[NodeView]) -> None:
    if not nodes:
        raise NoNodesError("the cluster has no nodes")
    if not any(node.online and any(d.online for d in node.devices) for node in nodes):
        raise NoOnlineDevicesError(
            f"none of {_count(len(nodes), 'node')} is online with an online device"
        )


# --------------------------------------------------------------------------- ring


def build_ring(
    candidates: Sequence[Candidate], rng: random.Random, free_kib: Mapping[str, int]
) -> list[Candidate]:
    """Order devices so that consecutive picks change zone and node as often as possible.

    Devices are grouped zone -> node; zone and node order are shuffled by `rng` (upstream's
    order comes from Go map iteration); a node offers its roomiest device first, so space is
    balanced across a node's disks. The groups are interleaved
    round-robin, and the ring is rotated by a random offset so successive sets start
    elsewhere.
    """
    by_zone: dict[int, dict[str, list[Candidate]]] = {}
    for candidate in candidates:
        by_zone.setdefault(candidate.zone, {}).setdefault(candidate.node.id, []).append(candidate)
    zones = sorted(by_zone)
    rng.shuffle(zones)
    zone_queues: list[list[list[Candidate]]] = []
    for zone in zones:
        node_ids = sorted(by_zone[zone])
        rng.shuffle(node_ids)
        queues = []
        for node_id in node_ids:
            devices = sorted(
                by_zone[zone][node_id], key=lambda c: (-free_kib[c.device.id], c.device.id)
            )
            queues.append(devices)
        zone_queues.append(queues)

    # Round-robin over zones; within a zone, round-robin over its nodes.
    node_cursor = [0] * len(zone_queues)
    ring: list[Candidate] = []
    while any(any(queues) for queues in zone_queues):
        for zone_index, queues in enumerate(zone_queues):
            live = [q for q in queues if q]
            if not live:
                continue
            queue = live[node_cursor[zone_index] % len(live)]
            node_cursor[zone_index] += 1
            ring.append(queue.pop(0))
    if ring:
        offset = rng.randrange(len(ring))
        ring = ring[offset:] + ring[:offset]
    return ring


# --------------------------------------------------------------------------- placers


@dataclass
class _Ledger:
    """Free KiB per device during one attempt; debited as bricks are placed."""

    free_kib: dict[str, int]

    @classmethod
    def from_candidates(cls, candidates: Iterable[Candidate]) -> _Ledger:
        return cls({c.device.id: c.device.free_kib for c in candidates})


@dataclass(frozen=True)
class _SetShortfall:
    """Why a set could not be completed: which position and how far it got."""

    set_index: int
    placed: int
    position: int
    arbiter: bool
    reason: str = ""


@dataclass
class _SetBuilder:
    """Fills the positions of one brick set from device feeds, checking each brick.

    Per-brick checks, in upstream's order: distinct node (always), distinct zone (strict
    zones), then free space, which is debited at once.
    """

    set_index: int
    policy: PlacementPolicy
    ledger: _Ledger
    excluded_nodes: set[str] = field(default_factory=set)
    excluded_zones: set[int] = field(default_factory=set)

    def place(
        self, feed: Iterator[Candidate], position: int, brick_kib: int, arbiter: bool
    ) -> BrickPlan | None:
        for candidate in feed:
            if candidate.node.id in self.excluded_nodes:
                continue
            if self.policy.strict_zones and candidate.zone in self.excluded_zones:
                continue
            thin_pool_kib, metadata_kib = space_needed(
                brick_kib, self.policy.snapshot_factor, candidate.device.extent_kib
            )
            charge = thin_pool_kib + metadata_kib
            if not fits(self.ledger.free_kib[candidate.device.id], charge):
                continue
            self.ledger.free_kib[candidate.device.id] -= charge
            self.excluded_nodes.add(candidate.node.id)
            self.excluded_zones.add(candidate.zone)
            return BrickPlan(
                node_id=candidate.node.id,
                device_id=candidate.device.id,
                size_kib=brick_kib,
                tp_size_kib=thin_pool_kib,
                pool_metadata_kib=metadata_kib,
                arbiter=arbiter,
                set_index=self.set_index,
                position=position,
            )
        return None


_DATA_ROLES = frozenset({ArbiterRole.DISABLED})
_ARBITER_ROLES = frozenset({ArbiterRole.REQUIRED})
_ANY_ROLES = frozenset({ArbiterRole.SUPPORTED})


def _role_ring(ring: Sequence[Candidate], roles: frozenset[ArbiterRole]) -> list[Candidate]:
    return [c for c in ring if arbiter_role(c.device.tags) in roles]


def _arbiter_feed(ring: Sequence[Candidate]) -> Iterator[Candidate]:
    """Arbiter bricks go to `required` devices first, then to `supported` ones."""
    yield from _role_ring(ring, _ARBITER_ROLES)
    yield from _role_ring(ring, _ANY_ROLES)


def _data_feed(ring: Sequence[Candidate]) -> Iterator[Candidate]:
    """Data bricks go to `disabled` (data-only) devices first, then to `supported` ones."""
    yield from _role_ring(ring, _DATA_ROLES)
    yield from _role_ring(ring, _ANY_ROLES)


def _place_set(
    set_index: int,
    ring: Sequence[Candidate],
    shape: VolumeShape,
    policy: PlacementPolicy,
    brick_kib: int,
    ledger: _Ledger,
) -> tuple[BrickPlan, ...] | _SetShortfall:
    builder = _SetBuilder(set_index, policy, ledger)
    width = shape.bricks_per_set
    if not shape.uses_arbiter_placer:
        feed = iter(ring)  # one feed per set: a device is never offered twice
        bricks = []
        for position in range(width):
            brick = builder.place(feed, position, brick_kib, arbiter=False)
            if brick is None:
                return _SetShortfall(set_index, len(bricks), position, arbiter=False)
            bricks.append(brick)
        return tuple(bricks)

    # Arbiter placer: the arbiter position first, then the data positions from one shared
    # feed, highest index first (internals 1.7).
    placed: dict[int, BrickPlan] = {}
    arbiter_positions = [p for p in range(width) if shape.is_arbiter_position(p)]
    data_feed = _data_feed(ring)
    order = arbiter_positions + [p for p in reversed(range(width)) if p not in arbiter_positions]
    for position in order:
        if position in arbiter_positions:
            try:
                size = max(
                    arbiter_brick_kib(brick_kib, policy.average_file_size_kib),
                    policy.min_filesystem_kib,
                )
            except NoSpaceError as error:
                return _SetShortfall(set_index, len(placed), position, True, error.explanation)
            brick = builder.place(_arbiter_feed(ring), position, size, arbiter=True)
        else:
            brick = builder.place(data_feed, position, brick_kib, arbiter=False)
        if brick is None:
            return _SetShortfall(set_index, len(placed), position, position in arbiter_positions)
        placed[position] = brick
    return tuple(placed[p] for p in range(width))


# --------------------------------------------------------------------------- explanations


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _arbiter_size_or_none(brick_kib: int, policy: PlacementPolicy) -> int | None:
    try:
        return max(
            arbiter_brick_kib(brick_kib, policy.average_file_size_kib), policy.min_filesystem_kib
        )
    except NoSpaceError:
        return None


def _requirement(shape: VolumeShape, policy: PlacementPolicy, brick_kib: int) -> str:
    width = shape.bricks_per_set
    where = " in distinct zones" if policy.strict_zones and width > 1 else ""
    data_charge = device_charge_kib(brick_kib, policy.snapshot_factor)
    head = f"{shape.describe()} needs {_count(width, 'node')}{where} per brick set"
    if not shape.uses_arbiter_placer:
        return f"{head}, each with a device of more than {data_charge} KiB free"
    arbiters = sum(shape.is_arbiter_position(p) for p in range(width))
    data = f"{width - arbiters} allowed data bricks with more than {data_charge} KiB free"
    if not arbiters:
        return f"{head}: {data}"
    arbiter_kib = _arbiter_size_or_none(brick_kib, policy)
    if arbiter_kib is None:
        return f"{head}: {data} and 1 for an arbiter brick that cannot be sized"
    arbiter_charge = device_charge_kib(arbiter_kib, policy.snapshot_factor)
    return f"{head}: {data} and 1 allowed an arbiter brick with more than {arbiter_charge} KiB free"


_MAY_HOLD_DATA = frozenset({ArbiterRole.DISABLED, ArbiterRole.SUPPORTED})
_MAY_HOLD_ARBITER = frozenset({ArbiterRole.REQUIRED, ArbiterRole.SUPPORTED})


def _funnel(
    shape: VolumeShape,
    policy: PlacementPolicy,
    candidates: Sequence[Candidate],
    static_filters: Sequence[DeviceFilter],
    brick_kib: int,
) -> list[FilterStep]:
    """What the filters leave of the fresh snapshot for one brick size.

    Under the arbiter placer the data and arbiter branches are counted side by side, since
    they are different feeds with different brick sizes.
    """
    survivors, steps = run_filters(candidates, static_filters)
    data_filters: list[DeviceFilter] = [FreeSpaceFilter(brick_kib, policy.snapshot_factor)]
    if not shape.uses_arbiter_placer:
        return steps + run_filters(survivors, data_filters)[1]
    data_filters.insert(0, ArbiterRoleFilter(_MAY_HOLD_DATA, "may hold data"))
    steps += run_filters(survivors, data_filters)[1]
    arbiter_kib = _arbiter_size_or_none(brick_kib, policy)
    if arbiter_kib is not None and shape.is_arbiter_position(2) and shape.bricks_per_set > 2:
        arbiter_filters: list[DeviceFilter] = [
            ArbiterRoleFilter(_MAY_HOLD_ARBITER, "may hold an arbiter"),
            FreeSpaceFilter(arbiter_kib, policy.snapshot_factor),
        ]
        steps += run_filters(survivors, arbiter_filters)[1]
    return steps


def _explain_shortfall(
    shape: VolumeShape,
    policy: PlacementPolicy,
    candidates: Sequence[Candidate],
    static_filters: Sequence[DeviceFilter],
    set_count: int,
    brick_kib: int,
    shortfall: _SetShortfall,
) -> str:
    steps = _funnel(shape, policy, candidates, static_filters, brick_kib)
    funnel = ", ".join(step.describe() for step in steps)
    kind = "arbiter brick" if shortfall.arbiter else "brick"
    detail = (
        f"at {_count(set_count, 'set')} of {brick_kib} KiB bricks, set {shortfall.set_index + 1}"
        f" found no device for its {kind} at position {shortfall.position}"
        f" after placing {shortfall.placed} of {shape.bricks_per_set}"
    )
    if shortfall.reason:
        detail += f" ({shortfall.reason})"
    return f"{_requirement(shape, policy, brick_kib)}; filters left {funnel}; {detail}"


# --------------------------------------------------------------------------- volume placement


def allocate_volume(
    size_gib: int,
    shape: VolumeShape,
    policy: PlacementPolicy,
    nodes: Sequence[NodeView],
    *,
    existing_bricks: int = 0,
    seed: int | None = None,
    halving: Literal["create", "expand"] = "create",
) -> Allocation:
    """Place the bricks for `size_gib` (a new volume, or the delta of an expansion).

    Runs the halving loop: each attempt re-places all sets from the snapshot; a set that
    cannot be completed moves on to bricks half the size. Raises InvalidTagRuleError,
    NoNodesError, NoOnlineDevicesError, MaxBricksError or MinimumBrickSizeError (the last
    two explain the last attempt that ran out of space). `halving` names the operation in
    explanations; the loop is the same for both (upstream runs expand on the delta).
    """
    if halving not in ("create", "expand"):
        raise ValueError(f"halving must be 'create' or 'expand', got {halving!r}")
    static_filters: list[DeviceFilter] = [OnlineFilter(), *_tag_filters(policy)]
    _check_cluster_has_storage(nodes)
    candidates = snapshot_candidates(nodes)
    eligible, _ = run_filters(candidates, static_filters)
    rng = random.Random(seed)
    width = shape.bricks_per_set
    attempts: list[Attempt] = []
    last_explanation = ""
    what = (
        f"an expansion by {size_gib} GiB" if halving == "expand" else f"a volume of {size_gib} GiB"
    )

    sizes = brick_sizes(size_gib, shape, policy)
    while True:
        try:
            set_count, brick_kib = next(sizes)
        except MinimumBrickSizeError as error:
            raise MinimumBrickSizeError(
                _join(last_explanation, f"for {what}, {error.explanation}")
            ) from None
        if set_count * width + existing_bricks > policy.max_bricks_per_volume:
            raise MaxBricksError(
                _join(
                    last_explanation,
                    f"{what} in {_count(set_count, 'set')} of {width} bricks plus"
                    f" {existing_bricks} existing would exceed the limit of"
                    f" {policy.max_bricks_per_volume} bricks",
                )
            )
        ledger = _Ledger.from_candidates(eligible)
        sets: list[tuple[BrickPlan, ...]] = []
        shortfall: _SetShortfall | None = None
        for set_index in range(set_count):
            # The ring is rebuilt for every set so the next one starts on other nodes.
            ring = build_ring(eligible, rng, ledger.free_kib)
            result = _place_set(set_index, ring, shape, policy, brick_kib, ledger)
            if isinstance(result, _SetShortfall):
                shortfall = result
                break
            sets.append(result)
        if shortfall is None:
            attempts.append(Attempt(set_count, brick_kib, placed=True))
            return Allocation(brick_size_kib=brick_kib, sets=tuple(sets), attempts=tuple(attempts))
        last_explanation = _explain_shortfall(
            shape, policy, candidates, static_filters, set_count, brick_kib, shortfall
        )
        attempts.append(Attempt(set_count, brick_kib, placed=False, explanation=last_explanation))


def _join(last_explanation: str, stop_reason: str) -> str:
    return f"{last_explanation}; {stop_reason}" if last_explanation else stop_reason


# --------------------------------------------------------------------------- clusters


@dataclass(frozen=True)
class ClusterView:
    """A cluster as cluster selection sees it (contract 9.1)."""

    id: str
    file: bool
    block: bool
    volume_names: Container[str] = frozenset()  # membership only (a live view is fine)
    volume_count: int = 0
    nodes: tuple[NodeView, ...] = ()


@dataclass(frozen=True)
class ClusterRequest:
    """What the volume asks of a cluster.

    `max_volumes_per_cluster` < 0 means unlimited (pass -1 when looking up existing block
    hosting volumes, which upstream does not limit). `cluster_ids` is the request's list in
    its order; empty means every cluster in id order.
    """

    kind: VolumeKind
    name: str | None = None
    max_volumes_per_cluster: int = 1000
    cluster_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterAllocation:
    cluster_id: str
    allocation: Allocation


def cluster_ineligibility(cluster: ClusterView, request: ClusterRequest) -> str | None:
    """Upstream's reason for skipping a cluster, or None when it may be tried."""
    if not cluster.file and not cluster.block:
        return "Cluster has disabled all volume types"
    allowed = cluster.block if request.kind == "block" else cluster.file
    if not allowed:
        return "Cluster does not support requested volume type"
    if request.name is not None and request.name in cluster.volume_names:
        return f"Volume name '{request.name}' already in use"
    limit = request.max_volumes_per_cluster
    if limit >= 0 and cluster.volume_count >= limit:
        return f"Cluster has {cluster.volume_count} volumes and limit is {limit}"
    return None


def select_clusters(
    clusters: Sequence[ClusterView], request: ClusterRequest
) -> tuple[ClusterView, ...]:
    """Return the clusters to try, in order; raise when none is eligible.

    Requested ids that are unknown are skipped: the REST layer answers `Cluster id <id> not
    found` before placement. Raises ClusterNotEligibleError, or NoSpaceError when there was
    no candidate at all.
    """
    by_id = {cluster.id: cluster for cluster in clusters}
    if request.cluster_ids:
        candidates = [by_id[cid] for cid in request.cluster_ids if cid in by_id]
    else:
        candidates = [by_id[cid] for cid in sorted(by_id)]
    eligible: list[ClusterView] = []
    reasons: list[tuple[str, str]] = []
    for cluster in candidates:
        reason = cluster_ineligibility(cluster, request)
        if reason is None:
            eligible.append(cluster)
        else:
            reasons.append((cluster.id, reason))
    if eligible:
        return tuple(eligible)
    if reasons:
        raise ClusterNotEligibleError(reasons)
    raise NoSpaceError("there is no cluster to place the volume in")


_SPACE_ERRORS = (NoSpaceError, MaxBricksError, MinimumBrickSizeError)


def allocate_in_clusters(
    clusters: Sequence[ClusterView],
    size_gib: int,
    shape: VolumeShape,
    policy: PlacementPolicy,
    *,
    seed: int | None = None,
) -> ClusterAllocation:
    """First fit over the clusters `select_clusters` returned (internals 1.3 step 3).

    Space failures (no space, brick limit, minimum brick size) are recorded as `No space`;
    `No nodes in cluster` and `No online storage devices in cluster` are recorded as they
    are; any other error (an invalid tag rule) aborts at once. One failure is raised as is,
    several as AllClustersFailedError.
    """
    failures: list[tuple[str, PlacementError]] = []
    for cluster in clusters:
        try:
            allocation = allocate_volume(size_gib, shape, policy, cluster.nodes, seed=seed)
        except _SPACE_ERRORS as error:
            failures.append((cluster.id, NoSpaceError(_space_explanation(error))))
        except (NoNodesError, NoOnlineDevicesError) as error:
            failures.append((cluster.id, error))
        else:
            return ClusterAllocation(cluster.id, allocation)
    if not failures:
        raise NoSpaceError("there is no cluster to place the volume in")
    if len(failures) == 1:
        cluster_id, error = failures[0]
        if isinstance(error, NoSpaceError):
            raise NoSpaceError(f"cluster {cluster_id}: {error.explanation}")
        raise error
    raise AllClustersFailedError(failures)


def _space_explanation(error: PlacementError) -> str:
    # The size-limit errors already explain themselves; their bare text adds nothing here.
    return error.explanation or error.upstream_text


# --------------------------------------------------------------------------- replacement


@dataclass(frozen=True)
class PlacedBrick:
    """An existing brick of a set, for replacement: where it is and what it is."""

    node_id: str
    device_id: str
    zone: int
    size_kib: int
    position: int
    arbiter: bool = False


def replacement_brick(
    old: PlacedBrick,
    set_bricks: Sequence[PlacedBrick],
    shape: VolumeShape,
    policy: PlacementPolicy,
    nodes: Sequence[NodeView],
    *,
    set_index: int = 0,
    seed: int | None = None,
) -> BrickPlan:
    """Choose the device for the brick that replaces `old` (brick evict, device remove).

    Same size as the old brick; the volume's filters plus "not the old device". The other
    bricks' nodes are excluded, the old node is not. Under strict zones the other bricks'
    zones are excluded, and with the arbiter placer the old brick's zone too (upstream's
    arbiter placer sees the set with the old brick). Raises NoReplacementError.
    """
    static_filters: list[DeviceFilter] = [
        OnlineFilter(),
        *_tag_filters(policy),
        NotDeviceFilter(old.device_id),
    ]
    candidates = snapshot_candidates(nodes)
    eligible, steps = run_filters(candidates, static_filters)
    others = [b for b in set_bricks if (b.device_id, b.position) != (old.device_id, old.position)]
    ledger = _Ledger.from_candidates(eligible)
    builder = _SetBuilder(set_index, policy, ledger)
    builder.excluded_nodes.update(b.node_id for b in others)
    builder.excluded_zones.update(b.zone for b in others)
    ring = build_ring(eligible, random.Random(seed), ledger.free_kib)
    if shape.uses_arbiter_placer:
        builder.excluded_zones.add(old.zone)
        feed = _arbiter_feed(ring) if old.arbiter else _data_feed(ring)
    else:
        feed = iter(ring)
    brick = builder.place(feed, old.position, old.size_kib, arbiter=old.arbiter)
    if brick is not None:
        return brick
    space_filter = FreeSpaceFilter(old.size_kib, policy.snapshot_factor)
    steps.append(census(space_filter.name, [c for c in eligible if space_filter.accepts(c)]))
    zones = " or zones" if policy.strict_zones else ""
    raise NoReplacementError(
        f"a {old.size_kib} KiB {'arbiter ' if old.arbiter else ''}brick needs a device off the"
        f" nodes{zones} of the other {_count(len(others), 'brick')} of its set; filters left "
        + ", ".join(step.describe() for step in steps)
    )
