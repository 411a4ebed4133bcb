"""Device space arithmetic for bricks: the thin-pool charge a brick puts on its device.

Owns the space formula Heketi applies when a brick is placed on a device (internals 1.9)
and the fit rule (a device fits a brick only when its free space is strictly larger than
the charge). Sizes are KiB throughout. Pure functions, standard library only.
"""

from __future__ import annotations

import math
import struct

from heketipy.domain.units import KIB_PER_GIB

DEFAULT_EXTENT_KIB = 4096
"""LVM extent size assumed when the device did not report one (vgdisplay default, 4 MiB)."""

POOL_METADATA_RATIO = 0.005
"""Thin-pool metadata is sized at 0.5 % of the pool."""

POOL_METADATA_CAP_KIB = 16 * KIB_PER_GIB
"""LVM's ceiling for thin-pool metadata: 16 GiB."""


def as_stored_factor(snapshot_factor: float) -> float:
    """Return the snapshot factor as upstream stores it: a 32-bit float widened to 64 bits.

    Upstream keeps the factor as float32, so 1.1 becomes 1.10000002384...; reproducing the
    widening keeps the truncation in `space_needed` identical for every factor.
    """
    return struct.unpack("f", struct.pack("f", snapshot_factor))[0]


def round_up_to_extent(size_kib: int, extent_kib: int = DEFAULT_EXTENT_KIB) -> int:
    """Round a size up to a whole number of extents."""
    if extent_kib <= 0:
        raise ValueError(f"extent size must be positive, got {extent_kib}")
    return -(-size_kib // extent_kib) * extent_kib


def space_needed(
    brick_kib: int, snapshot_factor: float = 1.0, extent_kib: int = DEFAULT_EXTENT_KIB
) -> tuple[int, int]:
    """Return `(thin_pool_kib, pool_metadata_kib)` charged to a device for one brick.

    The pool is the brick times the snapshot factor (truncated, then rounded up to whole
    extents); its metadata is 0.5 % of the pool (truncated, capped at 16 GiB, rounded up).
    The device is charged their sum.
    """
    if brick_kib < 0:
        raise ValueError(f"brick size must not be negative, got {brick_kib}")
    factor = as_stored_factor(snapshot_factor)
    thin_pool_kib = round_up_to_extent(math.trunc(float(brick_kib) * factor), extent_kib)
    metadata_kib = min(
        math.trunc(float(thin_pool_kib) * POOL_METADATA_RATIO), POOL_METADATA_CAP_KIB
    )
    return thin_pool_kib, round_up_to_extent(metadata_kib, extent_kib)


def device_charge_kib(
    brick_kib: int, snapshot_factor: float = 1.0, extent_kib: int = DEFAULT_EXTENT_KIB
) -> int:
    """Return the total KiB a brick takes from its device (thin pool + metadata)."""
    thin_pool_kib, metadata_kib = space_needed(brick_kib, snapshot_factor, extent_kib)
    return thin_pool_kib + metadata_kib


def fits(free_kib: int, charge_kib: int) -> bool:
    """Whether a device with `free_kib` can take a charge: strictly more free than needed."""
    return free_kib > charge_kib
