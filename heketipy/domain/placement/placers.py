"""Placers: the device ring and the filling of brick sets from it.

Owns the ring (zone- and node-interleaved device order), the per-attempt space ledger, the
set builder with its per-brick checks (distinct node, distinct zone, free space), the role
feeds of the arbiter placer, and `_place_set`, which fills one set or reports its shortfall.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from heketipy.domain.placement.errors import NoSpaceError
from heketipy.domain.placement.filters import Candidate
from heketipy.domain.placement.sizes import arbiter_brick_kib
from heketipy.domain.placement.snapshot import BrickPlan, PlacementPolicy, VolumeShape
from heketipy.domain.space import fits, space_needed
from heketipy.domain.tags import ArbiterRole, arbiter_role
from heketipy.domain.units import set_width

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
    width = set_width(shape)
    if not shape.uses_arbiter_placer:
        feed = iter(ring)  # one feed per set: a device is never offered twice
        bricks: list[BrickPlan] = []
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
