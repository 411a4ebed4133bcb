"""Expansion in place: how much every brick of a volume grows, and whether its device has room.

Owns the pure planning of an in-place expand (issue 14 item 2): instead of adding a distribute
set, each brick's thin pool, thin LV and XFS grow. The sizes follow the create path's rules:

* a data brick grows in proportion to the volume (``old * (size + delta) // size``), so a
  volume made in one set of ``size`` GiB bricks ends with bricks of ``size + delta`` GiB, and
  sets sized differently by earlier add-brick expansions keep their proportions (DHT's layout
  weights stay right without a rebalance);
* an arbiter brick is re-sized from its set's grown data brick (``arbiter_brick_kib``, at least
  ``min_filesystem_kib``) and never shrinks;
* a brick's thin pool and metadata are ``space_needed(new size, snapshot factor, extent)``, never
  smaller than what the brick has; the device is charged the difference;
* a device fits the growth of all the volume's bricks on it only when its free space is strictly
  larger than their summed difference (Heketi's fit rule), and it must be online on an online
  node; a grown brick above ``brick_max_kib`` does not fit either.

Any failure is a ``NoSpaceError`` naming the brick or device (Heketi's "No space" family).
"""

from __future__ import annotations

from dataclasses import dataclass

from heketipy.domain.placement import BrickPlan, NoSpaceError, PlacementPolicy
from heketipy.domain.placement.sizes import arbiter_brick_kib
from heketipy.domain.space import fits, space_needed


@dataclass(frozen=True)
class DeviceRoom:
    """What placement knows of a brick's device."""

    id: str
    free_kib: int
    extent_kib: int
    usable: bool  # device online, on an online node the health monitor sees up


@dataclass(frozen=True)
class BrickGrowth:
    """A brick's sizes after the expansion, and what that costs its device."""

    brick_id: str
    device_id: str
    size_kib: int
    tp_size_kib: int
    pool_metadata_kib: int
    charge_delta_kib: int

    def sizes(self) -> list[int]:
        """``[size, thin pool, metadata]``: the form the journal keeps."""
        return [self.size_kib, self.tp_size_kib, self.pool_metadata_kib]


def grown_data_kib(size_kib: int, volume_gib: int, expand_gib: int) -> int:
    """A data brick of a ``volume_gib`` volume after growing it by ``expand_gib``."""
    if volume_gib <= 0 or expand_gib <= 0:
        raise ValueError(f"sizes must be positive, got {volume_gib} + {expand_gib}")
    return size_kib * (volume_gib + expand_gib) // volume_gib


def plan_growth(
    bricks: dict[str, BrickPlan],
    devices: dict[str, DeviceRoom],
    volume_gib: int,
    expand_gib: int,
    policy: PlacementPolicy,
) -> list[BrickGrowth]:
    """Every brick's growth (``bricks``: brick id -> where and how big it is now), in their
    order; NoSpaceError when one does not fit."""
    if not bricks:
        raise NoSpaceError("the volume has no bricks to grow")
    data_by_set: dict[int, int] = {}
    sizes: dict[str, int] = {}
    for brick_id, brick in bricks.items():
        if brick.arbiter:
            continue
        sizes[brick_id] = grown_data_kib(brick.size_kib, volume_gib, expand_gib)
        data_by_set[brick.set_index] = max(data_by_set.get(brick.set_index, 0), sizes[brick_id])
    for brick_id, brick in bricks.items():
        if brick.arbiter:
            data_kib = data_by_set.get(brick.set_index, 0)
            arbiter = arbiter_brick_kib(data_kib, policy.average_file_size_kib)
            sizes[brick_id] = max(brick.size_kib, arbiter, policy.min_filesystem_kib)
    growth = []
    delta_by_device: dict[str, int] = {}
    for brick_id, brick in bricks.items():
        size = sizes[brick_id]
        if size > policy.brick_max_kib:
            raise NoSpaceError(
                f"brick {brick_id} would grow to {size} KiB, above the maximum brick size of "
                f"{policy.brick_max_kib} KiB",
                summary="in-place expansion would exceed the maximum brick size.",
            )
        device = devices.get(brick.device_id)
        if device is None or not device.usable:
            raise NoSpaceError(
                f"device {brick.device_id} of brick {brick_id} is not online",
                summary="in-place expansion needs every brick's device online.",
            )
        tp_kib, metadata_kib = space_needed(size, policy.snapshot_factor, device.extent_kib)
        tp_kib = max(tp_kib, brick.tp_size_kib)
        metadata_kib = max(metadata_kib, brick.pool_metadata_kib)
        delta = tp_kib + metadata_kib - brick.charge_kib
        delta_by_device[device.id] = delta_by_device.get(device.id, 0) + delta
        growth.append(BrickGrowth(brick_id, device.id, size, tp_kib, metadata_kib, delta))
    for device_id, delta in sorted(delta_by_device.items()):
        free = devices[device_id].free_kib
        if delta > 0 and not fits(free, delta):
            raise NoSpaceError(
                f"device {device_id} has {free} KiB free, growing its bricks in place needs "
                f"more than {delta} KiB",
                summary="a device lacks room to grow its bricks in place.",
            )
    return growth
