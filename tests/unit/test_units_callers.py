"""The callers of domain/units keep their own edge cases for the width of a distribute set, and
every on-node name and path comes out of units the same way for the executors and the domain."""

from __future__ import annotations

from heketipy.domain import units
from heketipy.domain.entities import Brick, Volume
from heketipy.domain.placement.snapshot import VolumeShape
from heketipy.domain.units import set_width
from heketipy.executors import commands_gluster, commands_lvm
from heketipy.executors.base import BrickRequest, VolumeRequest

DEVICE = "d" * 32
BRICK = "b" * 32


def test_gluster_commands_slice_by_at_least_one_brick() -> None:
    assert commands_gluster.set_size(VolumeRequest("v", (), "replicate", replica=0)) == 1
    assert commands_gluster.set_size(VolumeRequest("v", (), "replicate", replica=3)) == 3
    assert commands_gluster.set_size(VolumeRequest("v", (), "disperse", data=4, redundancy=2)) == 6
    assert commands_gluster.set_size(VolumeRequest("v", ())) == 1


def test_placement_and_entities_keep_zero_for_a_negative_replica() -> None:
    # Upstream accepts a negative replica and places no bricks: the width is 0, not 1.
    assert set_width(VolumeShape("replicate", replica=-1)) == 0
    volume = Volume(id="v", name="v", cluster_id="c", size_gib=1, durability="replicate", replica=-1)
    assert volume.set_size == 0
    assert Volume(id="v", name="v", cluster_id="c", size_gib=1, durability="disperse", data=8,
                  redundancy=3).set_size == 11


def test_brick_layout_is_the_same_for_the_domain_and_the_executors() -> None:
    brick = Brick(id=BRICK, volume_id="v", device_id=DEVICE, node_id="n", size_kib=1,
                  tp_size_kib=1, pool_metadata_kib=1)
    request = BrickRequest(device_id=DEVICE, brick_id=BRICK, tp_name=brick.tp_name,
                           lv_name=brick.lv_name, tp_size_kib=1, size_kib=1, pool_metadata_kib=1)
    expected = f"/var/lib/heketi/mounts/vg_{DEVICE}/brick_{BRICK}"
    assert brick.mount_path == request.mount_path == units.brick_mount_dir(DEVICE, BRICK) == expected
    assert brick.tp_name == units.thin_pool_name(BRICK) == f"tp_{BRICK}"
    assert commands_lvm.vg_name(DEVICE) == units.vg_name(DEVICE)
    assert commands_lvm.MOUNTS_ROOT == units.MOUNTS_ROOT
