"""Capacity ranges in bytes (CSI) to whole GiB (Heketi volume sizes), and back."""

from __future__ import annotations

import grpc

from heketipy.csi.errors import CsiError, invalid

GIB = 1 << 30
DEFAULT_SIZE_GIB = 1  # when the CO gives no capacity range


def gib_for_range(required_bytes: int, limit_bytes: int, *, default_gib: int | None) -> int:
    """The smallest whole GiB size within [required, limit] (0 means unset).

    ``default_gib`` is used when neither bound is set; None makes a range mandatory (expand).
    """
    if required_bytes < 0 or limit_bytes < 0:
        raise invalid("capacity_range: byte counts must not be negative")
    if required_bytes == 0 and limit_bytes == 0:
        if default_gib is None:
            raise invalid("capacity_range: required_bytes or limit_bytes must be set")
        return default_gib
    if limit_bytes and required_bytes > limit_bytes:
        raise CsiError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"capacity_range: required_bytes {required_bytes} exceeds limit_bytes {limit_bytes}",
        )
    size_gib = max(1, -(-required_bytes // GIB))
    if limit_bytes and size_gib * GIB > limit_bytes:
        raise CsiError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"capacity_range: volumes are whole GiB; {size_gib} GiB ({size_gib * GIB} bytes) "
            f"exceeds limit_bytes {limit_bytes}",
        )
    return size_gib


def fits(size_gib: int, required_bytes: int, limit_bytes: int) -> bool:
    """Whether an existing volume of ``size_gib`` satisfies the range."""
    size = size_gib * GIB
    return size >= required_bytes and (limit_bytes == 0 or size <= limit_bytes)
