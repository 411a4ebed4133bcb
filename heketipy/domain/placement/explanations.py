"""Explanations: why a brick set could not be placed, in words and filter counts.

Owns the readable sentence a "No space" leads with (what was asked, the most free space found,
why it does not fit), the requirement sentence (what the shape needs per set), the funnel of
what each filter leaves of the snapshot for one brick size, and the sentence for a set's
shortfall.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from heketipy.domain.placement.errors import NoSpaceError
from heketipy.domain.placement.filters import (
    ArbiterRoleFilter,
    Candidate,
    DeviceFilter,
    FreeSpaceFilter,
    run_filters,
)
from heketipy.domain.placement.placers import _SetShortfall
from heketipy.domain.placement.sizes import arbiter_brick_kib
from heketipy.domain.placement.snapshot import (
    FilterStep,
    PlacementPolicy,
    VolumeShape,
    _count,
)
from heketipy.domain.space import device_charge_kib
from heketipy.domain.tags import ArbiterRole
from heketipy.domain.units import KIB_PER_GIB, set_width


def _arbiter_size_or_none(brick_kib: int, policy: PlacementPolicy) -> int | None:
    try:
        return max(
            arbiter_brick_kib(brick_kib, policy.average_file_size_kib), policy.min_filesystem_kib
        )
    except NoSpaceError:
        return None


def _requirement(shape: VolumeShape, policy: PlacementPolicy, brick_kib: int) -> str:
    width = set_width(shape)
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
    if arbiter_kib is not None and shape.is_arbiter_position(2) and set_width(shape) > 2:
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
        f" after placing {shortfall.placed} of {set_width(shape)}"
    )
    if shortfall.reason:
        detail += f" ({shortfall.reason})"
    return f"{_requirement(shape, policy, brick_kib)}; filters left {funnel}; {detail}"


def _readable_size(kib: int) -> str:
    if kib >= KIB_PER_GIB // 10:
        return f"{kib / KIB_PER_GIB:.1f}".removesuffix(".0") + " GiB"
    return f"{kib // 1024} MiB"


def no_space_sentence(
    what: str,
    shape: VolumeShape,
    policy: PlacementPolicy,
    usable: Sequence[Candidate],
    stop: Literal["max-bricks", "min-brick"],
) -> str:
    """One sentence for a person: what was asked, the most free space found, why it does not
    fit. `usable` are the devices that passed the static filters (online, tag rule)."""
    asked = f"{what[:1].upper()}{what[1:]} ({shape.describe()}) does not fit"
    if not usable:
        rule = ", and matching the volume's tag rule" if policy.device_tag_match else ""
        return f"{asked}: no device is usable (online, on an online node{rule})."
    most = max(c.device.free_kib for c in usable)
    width = set_width(shape)
    strict = policy.strict_zones and width > 1
    holders = {c.zone if strict else c.node.id for c in usable}
    if len(holders) < width:
        where = " in different zones" if strict else ""
        return (
            f"{asked}: each brick set needs {width} nodes{where} with a usable device, and only"
            f" {_count(len(holders), 'zone' if strict else 'node')} have one (the most free"
            f" space on one device is {_readable_size(most)})."
        )
    total = sum(c.device.free_kib for c in usable)
    found = (
        f"the most free space on one usable device is {_readable_size(most)}"
        f" ({_readable_size(total)} on all {len(usable)})"
    )
    if stop == "max-bricks":
        why = (
            f"bricks small enough to fit would take more than the"
            f" {policy.max_bricks_per_volume} bricks a volume may have"
        )
    else:
        room = "device" if width == 1 else f"{width} nodes"
        why = (
            f"even bricks of the minimum size, {_readable_size(policy.brick_min_kib)},"
            f" find no {room} with room"
        )
    return f"{asked}: {found}, and {why}."
