"""MockExecutor: Heketi's always-succeeds behaviour plus real brick paths for clone and moves."""

from __future__ import annotations

import asyncio

from heketipy.executors.base import (
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    GlusterBrick,
    VolumeRequest,
)
from heketipy.executors.mock import MockExecutor


def make_brick(device_id: str = "d" * 32, brick_id: str = "b" * 32) -> BrickRequest:
    return BrickRequest(
        device_id=device_id,
        brick_id=brick_id,
        tp_name=f"tp_{brick_id}",
        lv_name=f"brick_{brick_id}",
        tp_size_kib=1048576,
        size_kib=1048576,
        pool_metadata_kib=8192,
    )


async def test_device_setup_and_info_report_the_configured_size() -> None:
    mock = MockExecutor()
    info = await mock.device_setup("h1", "/dev/sdb", "d1", False)
    assert (info.total_kib, info.free_kib, info.used_kib) == (524288000, 524288000, 0)
    assert info.extent_kib == 4096 and info.pv_uuid == "" and info.paths == ()
    small = await MockExecutor(device_size_gb=2).device_info("h1", "/dev/sdb", "d1")
    assert small.total_kib == small.free_kib == 2 * 1024 * 1024


async def test_brick_create_returns_the_real_path_and_destroy_reclaims() -> None:
    mock = MockExecutor()
    brick = make_brick()
    address = await mock.brick_create("h1", brick)
    assert address == BrickAddress("h1", brick.path)
    assert await mock.brick_destroy("h1", brick) is True


async def test_volume_info_lists_the_bricks_of_create_and_expand() -> None:
    mock = MockExecutor()
    first = (
        BrickAddress("s1", "/m/vg_a/brick_1/brick"),
        BrickAddress("s2", "/m/vg_b/brick_2/brick"),
    )
    await mock.volume_create("h1", VolumeRequest(name="vol_x", bricks=first))
    assert [b.host for b in (await mock.volume_info("h1", "vol_x")).bricks] == ["s1", "s2"]
    more = (BrickAddress("s3", "/m/vg_c/brick_3/brick"),)
    await mock.volume_expand("h1", VolumeRequest(name="vol_x", bricks=more))
    info = await mock.volume_info("h1", "vol_x")
    assert info.bricks == (
        GlusterBrick("s1", "/m/vg_a/brick_1/brick"),
        GlusterBrick("s2", "/m/vg_b/brick_2/brick"),
        GlusterBrick("s3", "/m/vg_c/brick_3/brick"),
    )
    assert (await mock.volume_info("h1", "unknown")).bricks == ()


async def test_replace_brick_updates_the_listing() -> None:
    mock = MockExecutor()
    old, new = (
        BrickAddress("s1", "/m/vg_a/brick_1/brick"),
        BrickAddress("s9", "/m/vg_z/brick_9/brick"),
    )
    await mock.volume_create("h1", VolumeRequest(name="v", bricks=(old,)))
    await mock.volume_replace_brick("h1", "v", old, new)
    assert (await mock.volume_info("h1", "v")).bricks == (GlusterBrick("s9", new.path),)


async def test_clone_gets_new_brick_paths_under_the_same_vg_dirs() -> None:
    mock = MockExecutor()
    paths = [
        "/var/lib/heketi/mounts/vg_a/brick_1/brick",
        "/var/lib/heketi/mounts/vg_b/brick_2/brick",
    ]
    bricks = tuple(BrickAddress(f"s{i}", p) for i, p in enumerate(paths))
    await mock.volume_create("h1", VolumeRequest(name="src", bricks=bricks))
    clone = await mock.volume_clone("h1", "src", "clone")
    assert clone.name == "clone" and len(clone.bricks) == 2
    for original, copy in zip(paths, clone.bricks, strict=True):
        vg_dir = original.rsplit("/", 2)[0]
        assert copy.path.startswith(vg_dir + "/brick_") and copy.path.endswith("/brick")
        assert copy.path != original
        assert len(copy.path.split("/")[-2].removeprefix("brick_")) == 32
    assert (await mock.volume_info("h1", "clone")).bricks == clone.bricks


async def test_block_volume_create_echoes_with_fake_credentials() -> None:
    mock = MockExecutor()
    request = BlockVolumeRequest(
        name="blk", size_gib=3, bhv_name="vol_b", hosts=("s1", "s2"), hacount=2
    )
    info = await mock.block_volume_create("h1", request)
    assert (info.name, info.size_gib, info.usable_size_gib, info.hosts) == (
        "blk",
        3,
        3,
        ("s1", "s2"),
    )
    assert (info.iqn, info.username, info.password) == ("fakeIQN", "", "")
    authed = await mock.block_volume_create(
        "h1", BlockVolumeRequest(**{**request.__dict__, "auth": True})
    )
    assert (authed.username, authed.password) == ("heketi-user", "secret")


async def test_everything_else_succeeds_quietly() -> None:
    mock = MockExecutor()
    assert await mock.glusterd_check("h1") is None
    assert await mock.peer_probe("h1", "s2") is None
    assert await mock.device_teardown("h1", "/dev/sdb", "d1") is None
    assert await mock.volume_destroy("h1", "nope") is None
    assert await mock.heal_info_ok("h1", "v") is True
    assert await mock.block_volume_destroy("h1", "bhv", "b") is None


class HeldSleep:
    """An injected sleep that records what it was asked for and returns only when released."""

    def __init__(self) -> None:
        self.requested: list[float] = []
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        await self.release.wait()


async def test_latency_keeps_every_call_in_flight_until_its_sleep_ends() -> None:
    sleep = HeldSleep()
    mock = MockExecutor(latency_ms=50, sleep=sleep)
    calls = [asyncio.create_task(mock.glusterd_check("h1")),
             asyncio.create_task(mock.volume_destroy("h1", "v"))]
    while len(sleep.requested) < len(calls):
        await asyncio.sleep(0)  # let both calls reach their latency
    assert sleep.requested == [0.05, 0.05]
    assert not any(call.done() for call in calls)
    sleep.release.set()
    assert await asyncio.gather(*calls) == [None, None]


async def test_no_latency_never_sleeps() -> None:
    sleep = HeldSleep()
    mock = MockExecutor(sleep=sleep)
    assert await mock.glusterd_check("h1") is None
    assert sleep.requested == []
