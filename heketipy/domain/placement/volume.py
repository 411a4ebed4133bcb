"""Placement within one cluster: a volume (or an expansion) and the replacement of one brick.

Owns `allocate_volume`, the halving loop that re-places every set at smaller bricks until
they fit, and `replacement_brick`, which finds a new device for one brick of an existing set.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from heketipy.domain.placement.errors import (
    MaxBricksError,
    MinimumBrickSizeError,
    NoReplacementError,
)
from heketipy.domain.placement.explanations import _explain_shortfall, no_space_sentence
from heketipy.domain.placement.filters import (
    DeviceFilter,
    FreeSpaceFilter,
    NotDeviceFilter,
    OnlineFilter,
    _check_cluster_has_storage,
    _tag_filters,
    census,
    run_filters,
    snapshot_candidates,
)
from heketipy.domain.placement.placers import (
    _arbiter_feed,
    _data_feed,
    _Ledger,
    _place_set,
    _SetBuilder,
    _SetShortfall,
    build_ring,
)
from heketipy.domain.placement.sizes import brick_sizes
from heketipy.domain.placement.snapshot import (
    Allocation,
    Attempt,
    BrickPlan,
    NodeView,
    PlacementPolicy,
    VolumeShape,
    _count,
)
from heketipy.domain.units import set_width

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
    width = set_width(shape)
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
                _join(last_explanation, f"for {what}, {error.explanation}"),
                no_space_sentence(what, shape, policy, eligible, "min-brick"),
            ) from None
        if set_count * width + existing_bricks > policy.max_bricks_per_volume:
            raise MaxBricksError(
                _join(
                    last_explanation,
                    f"{what} in {_count(set_count, 'set')} of {width} bricks plus"
                    f" {existing_bricks} existing would exceed the limit of"
                    f" {policy.max_bricks_per_volume} bricks",
                ),
                no_space_sentence(what, shape, policy, eligible, "max-bricks"),
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
