"""Brick sizes: the arbiter brick formula and the halving loop over set counts (internals 1.4)."""

from __future__ import annotations

from collections.abc import Iterator

from heketipy.domain.placement.errors import MinimumBrickSizeError, NoSpaceError
from heketipy.domain.placement.snapshot import (
    PlacementPolicy,
    VolumeShape,
    _count,
)
from heketipy.domain.units import KIB_PER_GIB, KIB_PER_MIB

MIN_ARBITER_BRICK_KIB = 16 * KIB_PER_MIB


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
