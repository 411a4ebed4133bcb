"""RemoteExecutor over SimulatedNodes: every Executor method on simulated nodes (the production
orchestration over the command boundary), the nodes' rules and rejections, idempotency,
persistence, command-level faults and the per-command latency model."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from heketipy.domain.entities import new_id
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import (
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    DeviceNotAvailable,
    VolumeDoesNotExist,
    VolumeRequest,
)
from heketipy.executors.commands import UnsafeArgument
from heketipy.executors.commands_common import CommandOptions, unwrap
from heketipy.executors.mock import MockExecutor
from heketipy.executors.remote import RemoteExecutor
from heketipy.simulator import node as sim_node
from heketipy.simulator.runner import SimulatedNodes
from heketipy.simulator.support import FaultInjector, LatencyModel
from heketipy.wiring import create_executor
from tests.support.simulated import nodes_of

HOSTS = ("h1", "h2", "h3")
GIB = 1024 * 1024


def simulated(**kwargs: object) -> RemoteExecutor:
    """RemoteExecutor over fresh simulated nodes, built as the factory builds it."""
    return RemoteExecutor(
        SimulatedNodes(**kwargs), CommandOptions(), name="simulator", use_sudo=False  # type: ignore[arg-type]
    )


def dev(name: str) -> str:
    """A device id (32 hex digits, as heketi's ids) named for the test's reading."""
    return hashlib.md5(name.encode()).hexdigest()


def vg(name: str) -> str:
    return f"vg_{dev(name)}"


def device_id(host: str) -> str:
    return dev(host)


def make_brick(
    host: str, size_kib: int = GIB, gid: int = 0, brick_id: str | None = None
) -> BrickRequest:
    brick_id = brick_id or uuid.uuid4().hex
    metadata = sim_node.round_up(max(size_kib * 5 // 1000, 1))
    return BrickRequest(
        device_id=device_id(host),
        brick_id=brick_id,
        tp_name=f"tp_{brick_id}",
        lv_name=f"brick_{brick_id}",
        tp_size_kib=size_kib,
        size_kib=size_kib,
        pool_metadata_kib=metadata,
        gid=gid,
    )


async def make_cluster(sim: RemoteExecutor, hosts: tuple[str, ...] = HOSTS) -> None:
    for host in hosts:
        await sim.device_setup(host, "/dev/sdb", device_id(host), False)
    for host in hosts[1:]:
        await sim.peer_probe(hosts[0], host)


async def make_bricks(sim: RemoteExecutor, hosts: tuple[str, ...] = HOSTS) -> list[BrickAddress]:
    return [await sim.brick_create(host, make_brick(host)) for host in hosts]


def replica3(name: str, bricks: list[BrickAddress], options: tuple[str, ...] = ()) -> VolumeRequest:
    return VolumeRequest(
        name=name, bricks=tuple(bricks), durability="replicate", replica=3, options=options
    )


@pytest.fixture
async def sim() -> RemoteExecutor:
    executor = simulated(device_size_gb=100)
    await make_cluster(executor)
    return executor


# -- devices ---------------------------------------------------------------------------------


async def test_device_setup_reports_extent_aligned_space_and_is_idempotent() -> None:
    sim = simulated(device_size_gb=100)
    info = await sim.device_setup("h1", "/dev/sdb", dev("d1"), False)
    assert info.extent_kib == 4096
    assert info.total_kib % 4096 == 0 and 99 * GIB < info.total_kib < 100 * GIB
    assert info.free_kib == info.total_kib and info.used_kib == 0
    assert info.pv_uuid and info.paths == ("/dev/sdb",)
    assert await sim.device_setup("h1", "/dev/sdb", dev("d1"), False) == info
    assert await sim.device_info("h1", "/dev/sdb", dev("d1")) == info


async def test_pvcreate_refuses_a_device_already_in_another_vg() -> None:
    sim = simulated()
    await sim.device_setup("h1", "/dev/sdb", dev("d1"), False)
    with pytest.raises(DeviceNotAvailable) as caught:
        await sim.device_setup("h1", "/dev/sdb", dev("d2"), False)
    assert f'of volume group "{vg("d1")}" without -ff' in caught.value.stderr
    assert caught.value.node == "h1" and caught.value.exit_code == 5


async def test_destroy_data_wipes_an_unused_vg_but_not_a_busy_one() -> None:
    sim = simulated()
    await sim.device_setup("h1", "/dev/sdb", dev("old"), False)
    info = await sim.device_setup("h1", "/dev/sdb", dev("new"), True)
    assert vg("old") not in nodes_of(sim).node("h1").vgs and info.total_kib > 0
    await sim.brick_create("h1", _brick_on(dev("new")))
    with pytest.raises(NodeCommandError, match="Device or resource busy"):
        await sim.device_setup("h1", "/dev/sdb", dev("other"), True)


def _brick_on(device: str) -> BrickRequest:
    brick_id = uuid.uuid4().hex
    return BrickRequest(device, brick_id, f"tp_{brick_id}", f"brick_{brick_id}", GIB, GIB, 8192)


async def test_signature_needs_destroy_data_and_missing_disks_are_rejected() -> None:
    sim = simulated(auto_create_disks=False)
    nodes_of(sim).add_disk("h1", "/dev/sdc", 10 * GIB, signature="xfs")
    with pytest.raises(DeviceNotAvailable, match="xfs signature detected"):
        await sim.device_setup("h1", "/dev/sdc", dev("d1"), False)
    assert (await sim.device_setup("h1", "/dev/sdc", dev("d1"), True)).total_kib > 9 * GIB
    with pytest.raises(DeviceNotAvailable, match="not found"):
        await sim.device_setup("h1", "/dev/sdz", dev("d2"), False)


async def test_vgcreate_refuses_a_vg_name_on_another_device() -> None:
    sim = simulated()
    await sim.device_setup("h1", "/dev/sdb", dev("d1"), False)
    with pytest.raises(NodeCommandError, match=f"A volume group called {vg('d1')} already exists"):
        await sim.device_setup("h1", "/dev/sdc", dev("d1"), False)


async def test_teardown_refuses_a_vg_with_lvs_and_is_idempotent() -> None:
    sim = simulated()
    await sim.device_setup("h1", "/dev/sdb", dev("d1"), False)
    brick = _brick_on(dev("d1"))
    await sim.brick_create("h1", brick)
    with pytest.raises(NodeCommandError, match="still contains 2 logical volume"):
        await sim.device_teardown("h1", "/dev/sdb", dev("d1"))
    await sim.brick_destroy("h1", brick)
    await sim.device_teardown("h1", "/dev/sdb", dev("d1"))
    await sim.device_teardown("h1", "/dev/sdb", dev("d1"))
    node = nodes_of(sim).node("h1")
    assert not node.vgs and not node.pvs and f"/var/lib/heketi/mounts/{vg('d1')}" not in node.dirs
    with pytest.raises(NodeCommandError, match=f'Volume group "{vg("d1")}" not found'):
        await sim.device_info("h1", "/dev/sdb", dev("d1"))


# -- bricks ----------------------------------------------------------------------------------


async def test_brick_create_builds_lv_fs_mount_fstab_and_dir(sim: RemoteExecutor) -> None:
    brick = make_brick("h1", gid=2001)
    address = await sim.brick_create("h1", brick)
    assert address == BrickAddress("h1", brick.path)
    node = nodes_of(sim).node("h1")
    vg = node.vgs[f"vg_{brick.device_id}"]
    assert vg.lvs[brick.lv_name].pool == brick.tp_name
    device = sim_node.dm_path(vg.name, brick.lv_name)
    assert node.mounts[brick.mount_path] == device
    assert f"{device} {brick.mount_path} xfs rw,inode64,noatime,nouuid 1 2" in node.fstab
    assert sim_node.path_exists(node, brick.path)
    assert vg.lvs[brick.lv_name].fs_dirs["brick"] == 2001


async def test_space_returns_to_the_start_after_create_and_destroy(sim: RemoteExecutor) -> None:
    start = (await sim.device_info("h1", "/dev/sdb", device_id("h1"))).free_kib
    bricks = [make_brick("h1", size_kib=(i + 1) * GIB) for i in range(3)]
    for brick in bricks:
        await sim.brick_create("h1", brick)
    used = (await sim.device_info("h1", "/dev/sdb", device_id("h1"))).used_kib
    # LVM's pool metadata spare, as large as the largest pool metadata, is used space too.
    spare = max(b.pool_metadata_kib for b in bricks)
    assert used == sum(b.tp_size_kib + b.pool_metadata_kib for b in bricks) + spare
    for brick in bricks:
        assert await sim.brick_destroy("h1", brick) is True
    info = await sim.device_info("h1", "/dev/sdb", device_id("h1"))
    assert info.free_kib == start and info.used_kib == 0
    node = nodes_of(sim).node("h1")
    assert not node.mounts and not node.fstab


async def test_brick_create_rejects_insufficient_free_space_and_cleans_up(
    sim: RemoteExecutor,
) -> None:
    brick = make_brick("h1", size_kib=200 * GIB)
    with pytest.raises(NodeCommandError, match="has insufficient free space") as caught:
        await sim.brick_create("h1", brick)
    assert unwrap(caught.value.argv)[:2] == [sim_node.LVM, "lvcreate"]
    node = nodes_of(sim).node("h1")
    assert brick.mount_path not in node.dirs and not node.vgs[f"vg_{brick.device_id}"].lvs


async def test_brick_create_is_idempotent_and_completes_a_partial_brick(
    sim: RemoteExecutor,
) -> None:
    brick = make_brick("h2")
    first = await sim.brick_create("h2", brick)
    free = (await sim.device_info("h2", "/dev/sdb", device_id("h2"))).free_kib
    assert await sim.brick_create("h2", brick) == first
    # A crash after lvcreate: the replay must finish the remaining steps.
    node = nodes_of(sim).node("h2")
    del node.mounts[brick.mount_path]
    node.fstab.clear()
    assert await sim.brick_create("h2", brick) == first
    assert node.mounts[brick.mount_path] and len(node.fstab) == 1
    assert (await sim.device_info("h2", "/dev/sdb", device_id("h2"))).free_kib == free


async def test_brick_create_on_a_missing_vg_fails(sim: RemoteExecutor) -> None:
    brick = _brick_on(dev("nosuchdevice"))
    with pytest.raises(NodeCommandError, match=f'Volume group "{vg("nosuchdevice")}" not found'):
        await sim.brick_create("h1", brick)


async def test_brick_destroy_of_a_missing_brick_returns_false(sim: RemoteExecutor) -> None:
    assert await sim.brick_destroy("h1", make_brick("h1")) is False
    assert await sim.brick_destroy("h1", _brick_on(dev("nosuchdevice"))) is False
    brick = make_brick("h1")
    await sim.brick_create("h1", brick)
    assert await sim.brick_destroy("h1", brick) is True
    assert await sim.brick_destroy("h1", brick) is False


async def test_brick_of_a_started_volume_cannot_be_unmounted(sim: RemoteExecutor) -> None:
    bricks = [make_brick(host) for host in HOSTS]
    addresses = [await sim.brick_create(host, b) for host, b in zip(HOSTS, bricks, strict=True)]
    await sim.volume_create("h1", replica3("vol_a", addresses))
    with pytest.raises(NodeCommandError, match="target is busy"):
        await sim.brick_destroy("h1", bricks[0])
    await sim.volume_destroy("h1", "vol_a")
    assert await sim.brick_destroy("h1", bricks[0]) is True


# -- primitives ------------------------------------------------------------------------------


def test_mount_rejects_missing_lv_missing_mount_point_and_double_mount() -> None:
    from heketipy.simulator.state import Disk, NodeState

    node = NodeState(host="h1", disks={"/dev/sdb": Disk(10 * GIB)})
    sim_node.pvcreate(node, "/dev/sdb")
    sim_node.vgcreate(node, "vg_x", "/dev/sdb")
    device = sim_node.dm_path("vg_x", "brick_1")
    with pytest.raises(NodeCommandError, match="special device .* does not exist") as caught:
        sim_node.mount(node, device, "/mnt/b")
    assert caught.value.exit_code == 32
    sim_node.lvcreate_pool(node, "vg_x", "tp_1", GIB, 8192)
    sim_node.lvcreate_thin_lv(node, "vg_x", "tp_1", "brick_1", GIB)
    sim_node.mkfs_xfs(node, device)
    with pytest.raises(NodeCommandError, match="mount point does not exist"):
        sim_node.mount(node, device, "/mnt/b")
    sim_node.mkdir_p(node, "/mnt/b")
    sim_node.mount(node, device, "/mnt/b")
    with pytest.raises(NodeCommandError, match="already mounted"):
        sim_node.mount(node, device, "/mnt/b")
    with pytest.raises(NodeCommandError, match="contains a filesystem in use"):
        sim_node.lvremove(node, "vg_x", "brick_1")
    with pytest.raises(NodeCommandError, match="still contains"):
        sim_node.vgremove(node, "vg_x")


def test_vg_and_pv_removal_absent_is_done_in_use_is_refused_else_removed() -> None:
    from heketipy.simulator.state import Disk, NodeState

    node = NodeState(host="h1", disks={"/dev/sdb": Disk(10 * GIB)})
    assert sim_node.pvremove(node, "/dev/sdb") is False
    assert sim_node.vgremove(node, "vg_x") is False
    sim_node.pvcreate(node, "/dev/sdb")
    sim_node.vgcreate(node, "vg_x", "/dev/sdb")
    with pytest.raises(NodeCommandError, match="is used by VG vg_x") as caught:
        sim_node.pvremove(node, "/dev/sdb")
    assert caught.value.exit_code == 5
    sim_node.lvcreate_pool(node, "vg_x", "tp_1", GIB, 8192)
    with pytest.raises(NodeCommandError, match="still contains 1 logical volume"):
        sim_node.vgremove(node, "vg_x")
    sim_node.lvremove(node, "vg_x", "tp_1")
    assert sim_node.vgremove(node, "vg_x") is True
    assert node.pvs["/dev/sdb"].vg == ""
    assert sim_node.pvremove(node, "/dev/sdb") is True
    assert "/dev/sdb" not in node.pvs


# -- peers and volumes -----------------------------------------------------------------------


async def test_volume_create_records_bricks_options_and_start(sim: RemoteExecutor) -> None:
    addresses = await make_bricks(sim)
    await sim.volume_create(
        "h1", replica3("vol_a", addresses, ("performance.rda on", "user.heketi.id x"))
    )
    volume = await sim.volume_info("h1", "vol_a")
    assert volume.status == "Started"
    assert volume.options.items() >= {"performance.rda": "on", "user.heketi.id": "x"}.items()
    assert [f"{b.host}:{b.path}" for b in volume.bricks] == [
        f"{a.host}:{a.path}" for a in addresses
    ]
    info = await sim.volume_info("h2", "vol_a")  # any peer sees the pool's volumes
    assert info == volume
    assert [v.name for v in await sim.volumes_info("h3")] == ["vol_a"]


async def test_volume_create_rejects_an_existing_name(sim: RemoteExecutor) -> None:
    await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))
    with pytest.raises(NodeCommandError, match="Volume vol_a already exists"):
        await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))


async def test_volume_create_rejects_hosts_outside_the_trusted_pool() -> None:
    sim = simulated()
    await make_cluster(sim, ("h1", "h2"))
    await sim.device_setup("h3", "/dev/sdb", device_id("h3"), False)  # never probed
    addresses = await make_bricks(sim)
    with pytest.raises(NodeCommandError, match="Host h3 is not in 'Peer in Cluster' state"):
        await sim.volume_create("h1", replica3("vol_a", addresses))


async def test_volume_create_rejects_missing_brick_dirs_and_bricks_in_use(
    sim: RemoteExecutor,
) -> None:
    addresses = await make_bricks(sim)
    ghost = BrickAddress("h3", "/var/lib/heketi/mounts/vg_x/brick_nope/brick")
    with pytest.raises(NodeCommandError, match="Failed to create brick directory"):
        await sim.volume_create("h1", replica3("vol_a", [*addresses[:2], ghost]))
    await sim.volume_create("h1", replica3("vol_a", addresses))
    with pytest.raises(NodeCommandError, match="not available. Brick may be containing"):
        await sim.volume_create("h1", replica3("vol_b", addresses))


async def test_volume_create_rejects_two_bricks_of_a_set_on_one_server(
    sim: RemoteExecutor,
) -> None:
    addresses = [await sim.brick_create("h1", make_brick("h1")) for _ in range(2)]
    addresses.append(await sim.brick_create("h2", make_brick("h2")))
    with pytest.raises(NodeCommandError, match="Multiple bricks of a replicate volume"):
        await sim.volume_create("h1", replica3("vol_a", addresses))


async def test_storage_names_are_learnt_from_brick_paths() -> None:
    sim = simulated()
    for host in HOSTS:
        await sim.device_setup(host, "/dev/sdb", device_id(host), False)
    await sim.peer_probe("h1", "10.0.0.2")
    await sim.peer_probe("h1", "10.0.0.3")
    addresses = await make_bricks(sim)
    storage = [
        addresses[0],
        *(BrickAddress(f"10.0.0.{i}", a.path) for i, a in ((2, addresses[1]), (3, addresses[2]))),
    ]
    await sim.volume_create("h1", replica3("vol_a", storage))
    assert nodes_of(sim).state.aliases == {"10.0.0.2": "h2", "10.0.0.3": "h3"}
    assert nodes_of(sim).node("h2").pool == nodes_of(sim).node("h1").pool


async def test_volume_expand_adds_sets_and_ignores_replayed_bricks(sim: RemoteExecutor) -> None:
    first = await make_bricks(sim)
    await sim.volume_create("h1", replica3("vol_a", first))
    second = await make_bricks(sim)
    request = replica3("vol_a", second)
    await sim.volume_expand("h1", request)
    assert len((await sim.volume_info("h1", "vol_a")).bricks) == 6
    await sim.volume_expand("h1", request)
    assert len((await sim.volume_info("h1", "vol_a")).bricks) == 6
    with pytest.raises(VolumeDoesNotExist):
        await sim.volume_expand("h1", replica3("vol_missing", await make_bricks(sim)))


async def test_volume_destroy_of_unknown_volume_raises_volume_does_not_exist(
    sim: RemoteExecutor,
) -> None:
    with pytest.raises(VolumeDoesNotExist, match="Volume nope does not exist"):
        await sim.volume_destroy("h1", "nope")
    with pytest.raises(VolumeDoesNotExist):
        await sim.volume_info("h1", "nope")
    await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))
    await sim.volume_destroy("h1", "vol_a")
    with pytest.raises(VolumeDoesNotExist):
        await sim.volume_destroy("h1", "vol_a")


async def test_glusterd_down_fails_checks_probes_and_volume_creates(sim: RemoteExecutor) -> None:
    addresses = await make_bricks(sim)
    await sim.glusterd_check("h2")
    nodes_of(sim).set_node_down("h2")
    with pytest.raises(NodeCommandError) as caught:
        await sim.glusterd_check("h2")
    assert caught.value.exit_code == 3
    with pytest.raises(NodeCommandError, match="Host h2 not connected"):
        await sim.volume_create("h1", replica3("vol_a", addresses))
    with pytest.raises(NodeCommandError, match="gluster daemon is operational"):
        await sim.volume_info("h2", "vol_a")
    await sim.device_setup("h4", "/dev/sdb", device_id("h4"), False)
    nodes_of(sim).set_node_down("h4")
    with pytest.raises(NodeCommandError, match="Transport endpoint is not connected"):
        await sim.peer_probe("h1", "h4")
    nodes_of(sim).set_node_down("h2", False)
    await sim.volume_create("h1", replica3("vol_a", addresses))


async def test_unreachable_node_fails_every_command(sim: RemoteExecutor) -> None:
    nodes_of(sim).set_node_unreachable("h3")
    with pytest.raises(NodeCommandError) as caught:
        await sim.brick_create("h3", make_brick("h3"))
    assert caught.value.exit_code is None


async def test_peer_probe_rules_and_detach_of_a_brick_host(sim: RemoteExecutor) -> None:
    await sim.peer_probe("h1", "h2")  # already a peer: success
    await sim.peer_probe("h1", "h1")  # localhost: success
    other = simulated()
    await make_cluster(other, ("x1", "x2"))
    await sim.device_setup("x1", "/dev/sdb", dev("x1dev"), False)
    await sim.device_setup("x2", "/dev/sdb", dev("x2dev"), False)
    await sim.peer_probe("x1", "x2")
    with pytest.raises(NodeCommandError, match="already part of another cluster"):
        await sim.peer_probe("h1", "x1")
    await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))
    with pytest.raises(NodeCommandError, match="hosts one or more bricks"):
        await sim.peer_detach("h1", "h3")
    await sim.volume_destroy("h1", "vol_a")
    await sim.peer_detach("h1", "h3")
    assert nodes_of(sim).node("h3").pool != nodes_of(sim).node("h1").pool
    with pytest.raises(NodeCommandError, match="is not part of cluster"):
        await sim.peer_detach("h1", "h3")


async def test_set_options_replace_brick_heal_and_clone(sim: RemoteExecutor) -> None:
    addresses = await make_bricks(sim)
    await sim.volume_create("h1", replica3("vol_a", addresses))
    await sim.volume_set_options("h1", "vol_a", ("cluster.quorum-type auto",))
    assert (await sim.volume_info("h1", "vol_a")).options["cluster.quorum-type"] == "auto"
    replacement = await sim.brick_create("h1", make_brick("h1"))
    await sim.volume_replace_brick("h1", "vol_a", addresses[0], replacement)
    await sim.volume_replace_brick("h1", "vol_a", addresses[0], replacement)  # replay
    bricks = (await sim.volume_info("h1", "vol_a")).bricks
    assert bricks[0].path == replacement.path
    assert await sim.heal_info_ok("h1", "vol_a") is True
    nodes_of(sim).set_heal_pending("vol_a")
    assert await sim.heal_info_ok("h1", "vol_a") is False
    nodes_of(sim).set_heal_pending("vol_a", False)
    clone = await sim.volume_clone("h1", "vol_a", "vol_clone")
    assert clone.name == "vol_clone" and clone.status == "Started" and len(clone.bricks) == 3
    snaps = f"/run/gluster/snaps/{clone.id.replace('-', '')}"
    for index, (original, copy) in enumerate(zip(bricks, clone.bricks, strict=True)):
        # glusterd's layout: brick N of the clone at <snaps>/<uuid>/brickN, LV <uuid>_<N-1>
        assert copy.host == original.host and copy.path == f"{snaps}/brick{index + 1}/brick"
    # A clone brick shares the source pool: destroying it removes its LV but reclaims nothing.
    node = nodes_of(sim).node("h2")
    clone_lv = f"{clone.id.replace('-', '')}_0"  # K counts per node: h2's only brick
    source_lv = bricks[1].path.split("/")[-2]
    vg_name = f"vg_{device_id('h2')}"
    assert node.vgs[vg_name].lvs[clone_lv].pool == node.vgs[vg_name].lvs[source_lv].pool
    pool_name = node.vgs[vg_name].lvs[source_lv].pool
    clone_request = BrickRequest(
        device_id("h2"), new_id(), pool_name, clone_lv, GIB, GIB, 8192,
        mount_dir=f"{snaps}/brick2",
    )  # fmt: skip
    await sim.volume_destroy("h1", "vol_clone")
    assert await sim.brick_destroy("h2", clone_request) is False
    assert clone_lv not in node.vgs[vg_name].lvs and pool_name in node.vgs[vg_name].lvs


async def test_block_volumes_check_capacity_and_delete_idempotently(sim: RemoteExecutor) -> None:
    addresses = [await sim.brick_create(h, make_brick(h, size_kib=5 * GIB)) for h in HOSTS]
    await sim.volume_create("h1", replica3("bhv", addresses))
    request = BlockVolumeRequest(
        name="blk", size_gib=3, bhv_name="bhv", hosts=HOSTS, hacount=2, auth=True
    )
    info = await sim.block_volume_create("h1", request)
    assert info.hosts == ("h1", "h2") and info.iqn.startswith("iqn.2016-12.org.gluster-block:")
    assert info.username and info.password
    with pytest.raises(NodeCommandError, match="already EXIST"):
        await sim.block_volume_create("h1", request)
    with pytest.raises(NodeCommandError, match="Not enough space"):
        await sim.block_volume_create("h1", BlockVolumeRequest("big", 3, "bhv", HOSTS, 3))
    await sim.block_volume_expand("h1", "bhv", "blk", 5)
    with pytest.raises(NodeCommandError, match="Not enough space"):
        await sim.block_volume_expand("h1", "bhv", "blk", 6)
    await sim.block_volume_destroy("h1", "bhv", "blk")
    await sim.block_volume_destroy("h1", "bhv", "blk")
    await sim.block_volume_destroy("h1", "nobhv", "blk")


# -- persistence -----------------------------------------------------------------------------


async def test_state_survives_a_new_instance(tmp_path) -> None:
    path = str(tmp_path / "sim.json")
    first = simulated(state_path=path, device_size_gb=100)
    await make_cluster(first)
    addresses = await make_bricks(first)
    await first.volume_create("h1", replica3("vol_a", addresses))
    nodes_of(first).set_node_down("h3")
    before = nodes_of(first).snapshot()

    second = simulated(state_path=path, device_size_gb=100)
    assert nodes_of(second).snapshot() == before
    assert (await second.volume_info("h2", "vol_a")).bricks == (
        await first.volume_info("h2", "vol_a")
    ).bricks
    with pytest.raises(NodeCommandError):
        await second.glusterd_check("h3")
    json.loads((tmp_path / "sim.json").read_text())  # a complete JSON document
    assert [p.name for p in tmp_path.iterdir()] == ["sim.json"]  # no temp files left


async def test_saved_text_is_the_full_state_document(tmp_path) -> None:
    sim = simulated(device_size_gb=100)
    await make_cluster(sim)
    addresses = await make_bricks(sim)
    await sim.volume_create("h1", replica3("vol_a", addresses))
    state = nodes_of(sim).state
    assert json.loads(state.dumps()) == json.loads(json.dumps(state.to_json()))


async def test_every_mutating_call_is_saved_before_it_returns(tmp_path) -> None:
    path = str(tmp_path / "sim.json")
    sim = simulated(state_path=path)
    await sim.device_setup("h1", "/dev/sdb", dev("d1"), False)
    brick = _brick_on(dev("d1"))
    await sim.brick_create("h1", brick)
    assert brick.lv_name in SimulatedNodes(state_path=path).node("h1").vgs[vg("d1")].lvs
    await sim.brick_destroy("h1", brick)
    assert not SimulatedNodes(state_path=path).node("h1").vgs[vg("d1")].lvs


async def test_concurrent_calls_all_persist(tmp_path) -> None:
    path = str(tmp_path / "sim.json")
    sim = simulated(state_path=path)
    await make_cluster(sim)
    bricks = [make_brick(h) for _ in range(4) for h in HOSTS]
    await asyncio.gather(*(sim.brick_create(h, b) for h, b in zip(HOSTS * 4, bricks, strict=True)))
    reloaded = SimulatedNodes(state_path=path)
    assert reloaded.snapshot() == nodes_of(sim).snapshot()


# -- fault injection -------------------------------------------------------------------------


async def test_fail_nth_fails_exactly_that_command(sim: RemoteExecutor) -> None:
    nodes_of(sim).faults.fail_nth("lvcreate", 2, exit_code=5, stderr="  Aborting. Failed")
    first = make_brick("h1")
    await sim.brick_create("h1", first)  # lvcreate 1: thin pool and thin LV in one
    second = make_brick("h1")
    with pytest.raises(NodeCommandError, match="Aborting. Failed") as caught:
        await sim.brick_create("h1", second)  # lvcreate 2: its pool and LV
    assert caught.value.exit_code == 5 and unwrap(caught.value.argv)[1] == "lvcreate"
    vg = nodes_of(sim).node("h1").vgs[f"vg_{device_id('h1')}"]
    assert second.tp_name not in vg.lvs and second.mount_path not in nodes_of(sim).node("h1").dirs
    await sim.brick_create("h1", second)


async def test_fail_nth_on_a_node_counts_only_that_node(sim: RemoteExecutor) -> None:
    nodes_of(sim).faults.fail_nth("mkfs.xfs", 1, node="h2")
    await sim.brick_create("h1", make_brick("h1"))
    with pytest.raises(NodeCommandError, match="simulated failure of mkfs.xfs .* on h2"):
        await sim.brick_create("h2", make_brick("h2"))
    await sim.brick_create("h2", make_brick("h2"))


async def test_fail_on_node_until_cleared_and_after_mode(sim: RemoteExecutor) -> None:
    nodes_of(sim).faults.fail_on_node("gluster volume create", "h1")
    addresses = await make_bricks(sim)
    for _ in range(2):
        with pytest.raises(NodeCommandError):
            await sim.volume_create("h1", replica3("vol_a", addresses))
    nodes_of(sim).faults.clear()
    nodes_of(sim).faults.fail_nth("gluster volume start", 1, after=True)
    with pytest.raises(NodeCommandError):
        await sim.volume_create("h1", replica3("vol_a", addresses))
    # The command took effect although it reported failure (a lost reply).
    assert (await sim.volume_info("h1", "vol_a")).status == "Started"


async def test_a_timed_out_command_has_no_exit_code(sim: RemoteExecutor) -> None:
    nodes_of(sim).faults.fail_nth("gluster volume start", 1, timeout=True)
    with pytest.raises(NodeCommandError, match="timed out") as caught:
        await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))
    assert caught.value.exit_code is None and caught.value.argv[-1] == "vol_a"


async def test_faults_from_a_json_config() -> None:
    config = {
        "faults": [
            {"command": "lvcreate", "nth": 1},
            {"command": "systemctl status glusterd", "node": "h2", "exit": 3},
        ]
    }
    sim = simulated(faults=config)
    await make_cluster(sim)
    with pytest.raises(NodeCommandError):
        await sim.brick_create("h1", make_brick("h1"))
    await sim.brick_create("h1", make_brick("h1"))
    await sim.glusterd_check("h1")
    with pytest.raises(NodeCommandError) as caught:
        await sim.glusterd_check("h2")
    assert caught.value.exit_code == 3
    with pytest.raises(ValueError, match="needs 'nth' or 'node'"):
        FaultInjector({"faults": [{"command": "lvcreate"}]})
    with pytest.raises(ValueError, match="faults are injected per command"):
        FaultInjector({"faults": [{"kind": "brick_create", "nth": 1}]})


# -- latency model ---------------------------------------------------------------------------


def _intervals(sim: RemoteExecutor, family: str) -> list[tuple[int, int, str]]:
    """(start seq, end seq, host) of every command of ``family``, from the trace."""
    open_events: dict[tuple[str, str], list[int]] = {}
    spans = []
    for event in nodes_of(sim).trace.events:
        if event.family != family:
            continue
        key = (event.host, event.command)
        if event.phase == "start":
            open_events.setdefault(key, []).append(event.seq)
        else:
            spans.append((open_events[key].pop(0), event.seq, event.host))
    return sorted(spans)


async def test_brick_creates_on_two_nodes_overlap() -> None:
    sim = simulated(latency=LatencyModel(lvm_ms=5, fs_ms=5, gluster_ms=5))
    await make_cluster(sim, ("h1", "h2"))
    nodes_of(sim).trace.clear()
    await asyncio.gather(
        sim.brick_create("h1", make_brick("h1")), sim.brick_create("h2", make_brick("h2"))
    )
    events = list(nodes_of(sim).trace.events)
    first_end = next(e.seq for e in events if e.phase == "end")
    started_hosts = {e.host for e in events if e.phase == "start" and e.seq < first_end}
    assert started_hosts == {"h1", "h2"}
    spans = _intervals(sim, "lvm")
    h1 = [span for span in spans if span[2] == "h1"]
    h2 = [span for span in spans if span[2] == "h2"]
    # LVM on two nodes runs at the same time: some command of h2 starts before one of h1 ends.
    assert any(b[0] < a[1] and a[0] < b[1] for a in h1 for b in h2)


async def test_lvm_commands_on_one_vg_do_not_overlap() -> None:
    sim = simulated(latency=LatencyModel(lvm_ms=2, fs_ms=2))
    await make_cluster(sim, ("h1",))
    nodes_of(sim).trace.clear()
    await asyncio.gather(*(sim.brick_create("h1", make_brick("h1")) for _ in range(3)))
    spans = _intervals(sim, "lvm")
    assert len(spans) == 3  # one lvcreate (pool and LV) per brick, three bricks
    for (_, end, _), (start, _, _) in zip(spans, spans[1:], strict=False):
        assert end < start


async def test_gluster_commands_of_one_pool_are_serialised() -> None:
    sim = simulated(latency=LatencyModel(gluster_ms=3))
    await make_cluster(sim)
    requests = [replica3(f"vol_{i}", await make_bricks(sim), ("a.b c",)) for i in range(3)]
    nodes_of(sim).trace.clear()
    await asyncio.gather(*(sim.volume_create(HOSTS[i], r) for i, r in enumerate(requests)))
    spans = _intervals(sim, "gluster")
    assert len(spans) == 9  # create + set + start, three times
    for (_, end, _), (start, _, _) in zip(spans, spans[1:], strict=False):
        assert end < start
    pools = {e.pool for e in nodes_of(sim).trace.events if e.family == "gluster"}
    assert len(pools) == 1


async def test_gluster_commands_of_different_pools_overlap() -> None:
    sim = simulated(latency=LatencyModel(gluster_ms=3))
    nodes_of(sim).trace.clear()
    await asyncio.gather(sim.peer_probe("a1", "a2"), sim.peer_probe("b1", "b2"))
    spans = _intervals(sim, "gluster")
    assert len(spans) == 2 and spans[1][0] < spans[0][1]


# -- snapshot and factory --------------------------------------------------------------------


async def test_snapshot_is_json_and_shows_free_space_and_volumes(sim: RemoteExecutor) -> None:
    await sim.volume_create("h1", replica3("vol_a", await make_bricks(sim)))
    view = nodes_of(sim).snapshot()
    json.dumps(view)
    node = view["nodes"]["h1"]
    vg = node["vgs"][f"vg_{device_id('h1')}"]
    assert vg["free_kib"] == vg["total_kib"] - vg["used_kib"] and vg["used_kib"] > 0
    assert any(lv["kind"] == "thin" and "tags" in lv for lv in vg["lvs"].values())
    assert node["gluster_volumes"]["vol_a"]["status"] == "Started"
    assert len(node["mounts"]) == 1 and len(node["fstab"]) == 1
    assert sorted(node["peers"]) == list(HOSTS)


def test_factory_builds_each_executor(tmp_path) -> None:
    from heketipy.config.settings import Settings

    def settings(glusterfs: dict, heketipy: dict | None = None) -> Settings:
        return Settings.model_validate(
            {"auth_enabled": False, "glusterfs": glusterfs, "heketipy": heketipy or {}}
        )

    mock = create_executor(
        settings({"executor": "mock", "mock_device_size_gb": 7}, {"mock_latency_ms": 3})
    )
    assert isinstance(mock, MockExecutor) and mock.device_size_gb == 7 and mock.latency_ms == 3

    db = str(tmp_path / "heketi.db")
    latency = {"lvm": 1, "fs": 2, "gluster": 3, "commands": {"gluster volume create": 9}}
    sim = create_executor(settings(
        {"executor": "simulator", "db": db},
        {"simulator": {"device_size_gb": 10, "latency_ms": latency,
                       "faults": {"faults": [{"command": "lvcreate", "nth": 2}]}}},
    ))  # fmt: skip
    assert isinstance(sim, RemoteExecutor) and sim.name == "simulator"
    nodes = nodes_of(sim)
    assert nodes.state_path == db + ".simulator.json" and nodes.device_size_kib == 10 * GIB
    assert nodes.latency == LatencyModel(1, 2, 3, (("gluster volume create", 9.0),))
    assert nodes.latency.for_command("gluster", "gluster volume create v") == 9.0
    assert nodes.faults.check("lvcreate vg", "h1") is None
    assert nodes.faults.check("lvcreate vg", "h1") is not None
    explicit = create_executor(settings(
        {"executor": "simulator"}, {"simulator": {"state_file": str(tmp_path / "s.json")}}
    ))  # fmt: skip
    assert nodes_of(explicit).state_path == str(tmp_path / "s.json")

    bad = settings({"executor": "simulator"}, {"simulator": {"faults": {"faults": [{"kind": "x"}]}}})
    with pytest.raises(ValueError, match="faults are injected per command"):
        create_executor(bad)  # the old executor-level shape is refused at start-up

    ssh = create_executor(settings({"executor": "ssh", "sshexec": {"keyfile": "/k"}}))
    assert isinstance(ssh, RemoteExecutor) and ssh.name == "ssh"


async def test_volume_create_rejects_a_partial_set(sim: RemoteExecutor) -> None:
    addresses = await make_bricks(sim, ("h1", "h2"))
    with pytest.raises(NodeCommandError, match="not a multiple of replica count"):
        await sim.volume_create("h1", replica3("vol_a", addresses))
    with pytest.raises(VolumeDoesNotExist):
        await sim.volume_info("h1", "vol_a")


# -- the node-side rules ---------------------------------------------------------------------
HOSTILE_NAMES = ["$(reboot)", "a;reboot", "-rf", "a\nb", "a\0b", "x" * 5000]


@pytest.mark.parametrize(
    "device", ["/etc/passwd", "/dev/../etc/passwd", "/-rf", "/dev/sdb;reboot", "/dev/" + "a" * 5000]
)
async def test_devices_a_real_node_refuses_are_refused(device: str) -> None:
    sim = simulated()
    with pytest.raises(UnsafeArgument):
        await sim.device_setup("h1", device, device_id("h1"), True)
    assert device not in nodes_of(sim).node("h1").disks and not nodes_of(sim).node("h1").vgs
    assert not nodes_of(sim).trace.events


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
async def test_hostile_names_hosts_and_options_never_run(
    sim: RemoteExecutor, hostile: str
) -> None:
    bricks = await make_bricks(sim)
    before = json.dumps(nodes_of(sim).snapshot(), sort_keys=True)
    nodes_of(sim).trace.clear()
    probes = [
        lambda: sim.volume_create("h1", replica3(hostile, bricks)),
        lambda: sim.volume_create("h1", replica3("v", [BrickAddress(hostile, "/b"), *bricks[1:]])),
        lambda: sim.volume_clone("h1", "v", hostile),
        lambda: sim.peer_probe("h1", hostile),
        lambda: sim.block_volume_create("h1", BlockVolumeRequest(hostile, 1, "bhv", HOSTS, 1)),
        lambda: sim.block_volume_create("h1", BlockVolumeRequest("b", 1, "bhv", (hostile,), 1)),
    ]
    if not hostile.isalnum():  # a long option value is for the request limits to refuse
        probes += [
            lambda: sim.volume_create("h1", replica3("v", bricks, (f"key {hostile}",))),
            lambda: sim.volume_set_options("h1", "v", (f"performance.cache-size {hostile}",)),
        ]
    for probe in probes:
        with pytest.raises(UnsafeArgument):
            await probe()
    assert json.dumps(nodes_of(sim).snapshot(), sort_keys=True) == before
    assert not nodes_of(sim).trace.events


async def test_bricks_are_tagged_and_a_clone_brick_can_be_adopted(sim: RemoteExecutor) -> None:
    request = make_brick("h1")
    await sim.brick_create("h1", request)
    vg = nodes_of(sim).node("h1").vgs[f"vg_{device_id('h1')}"]
    tags = [f"heketi-device-{device_id('h1')}", f"heketi-brick-{request.brick_id}"]
    assert vg.lvs[request.lv_name].tags == tags and vg.lvs[request.tp_name].tags == tags
    addresses = [await sim.brick_create(h, make_brick(h)) for h in ("h2", "h3")]
    await sim.volume_create("h1", replica3("vol_a", [BrickAddress("h1", request.path), *addresses]))
    clone = await sim.volume_clone("h1", "vol_a", "vol_c")
    clone_lv = f"{clone.id.replace('-', '')}_0"
    assert vg.lvs[clone_lv].tags == []  # gluster's snapshot carries no tags of ours
    brick_id = new_id()
    adopted = BrickRequest(
        device_id("h1"), brick_id, request.tp_name, clone_lv, 0, GIB, 0,
        mount_dir=clone.bricks[0].path.removesuffix("/brick"),
    )  # fmt: skip
    for _ in range(2):  # idempotent
        await sim.brick_adopt("h1", adopted)
    node = nodes_of(sim).node("h1")
    assert vg.lvs[clone_lv].tags == [f"heketi-device-{device_id('h1')}", f"heketi-brick-{brick_id}"]
    # glusterd mounted it and mounts it again at volume start: no fstab line (/run is gone at boot)
    assert [line for line in node.fstab if adopted.mount_path in line] == []
    assert node.mounts[adopted.mount_path] == sim_node.dm_path(vg.name, clone_lv)
