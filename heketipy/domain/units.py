"""Units, on-node layout and set widths: the one place for the sizes, names and paths that the
API, the operations, the executors, the simulator and the import/export all share.

Sizes on nodes and in the database are KiB; the API speaks GiB. The on-node layout is Heketi's
(heketi-internals.md): one VG ``vg_<device id>`` per device, a thin pool ``tp_<brick id>`` and a
thin LV ``brick_<brick id>`` per brick, mounted under ``/var/lib/heketi/mounts``.
"""

from __future__ import annotations

from typing import Protocol

KIB_PER_MIB = 1024
KIB_PER_GIB = 1024 * 1024
BYTES_PER_KIB = 1024

MOUNTS_ROOT = "/var/lib/heketi/mounts"
GLUSTER_SNAPS_ROOT = "/run/gluster/snaps"  # where glusterd mounts snapshot and clone bricks

# Bricks per gluster add-brick command, in whole sets (Heketi: 15 sets for distribute, 5 for
# replica, 1 for disperse).
MAX_SETS_PER_ADD_BRICK = {"none": 15, "replicate": 5, "disperse": 1}

# A block-hosting volume offers this share of its size to block volumes; the rest is reserved.
BHV_USABLE_PERCENT = 98


def gib_to_kib(gib: int) -> int:
    return gib * KIB_PER_GIB


def bhv_usable_gib(size_gib: int) -> int:
    """What a block-hosting volume of ``size_gib`` can hold (Heketi's integer 98 %)."""
    return size_gib * BHV_USABLE_PERCENT // 100


def bhv_reserved_gib(size_gib: int) -> int:
    """The part of a block-hosting volume of ``size_gib`` that block volumes never get."""
    return size_gib - bhv_usable_gib(size_gib)


def bricks_per_set(durability: str, replica: int = 0, data: int = 0, redundancy: int = 0) -> int:
    """Bricks in one distribute set: the replica count, data + redundancy, or 1 for "none".

    A replica count below zero gives 0 (upstream accepts it and places no bricks); callers that
    divide by the width use ``max(1, ...)``.
    """
    if durability == "replicate":
        return max(replica, 0)
    if durability == "disperse":
        return data + redundancy
    return 1


class Durable(Protocol):
    """Anything that carries a volume's durability: a volume, a placement shape, a request."""

    @property
    def durability(self) -> str: ...
    @property
    def replica(self) -> int: ...
    @property
    def data(self) -> int: ...
    @property
    def redundancy(self) -> int: ...


def set_width(durable: Durable) -> int:
    """``bricks_per_set`` of a durability-bearing object (the one reading of its four fields)."""
    return bricks_per_set(durable.durability, durable.replica, durable.data, durable.redundancy)


def vg_name(device_id: str) -> str:
    return f"vg_{device_id}"


def thin_pool_name(brick_id: str) -> str:
    return f"tp_{brick_id}"


def brick_lv_name(brick_id: str) -> str:
    return f"brick_{brick_id}"


def brick_mount_dir(device_id: str, brick_id: str) -> str:
    """Where heketipy mounts a brick's file system (the brick directory is ``<this>/brick``)."""
    return f"{MOUNTS_ROOT}/{vg_name(device_id)}/{brick_lv_name(brick_id)}"
