"""Volume and block volume commands of ``heketipy.operations``, called directly on a Runtime
over the mock executor (no HTTP): their checks, what they start and what they leave."""

from __future__ import annotations

from pathlib import Path

import pytest

from heketipy.domain.errors import Conflict, InvalidRequest, OperationFailed
from heketipy.domain.state import Transaction
from heketipy.domain.units import bhv_reserved_gib, bhv_usable_gib
from heketipy.operations import blockvolumes, bricks, volumes
from tests.support.runtime import finished, mock_runtime, succeeded, topology
from tests.support.runtime import volume_spec as spec


def volume_id_of(location: str | None) -> str:
    assert location is not None and location.startswith("/volumes/")
    return location.rsplit("/", 1)[1]


async def test_create_refuses_without_clusters_then_an_unknown_cluster(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        with pytest.raises(InvalidRequest, match="^No clusters configured$"):
            await volumes.create_volume(rt, spec())
        await topology(rt)
        unknown = "f" * 32
        with pytest.raises(InvalidRequest, match=f"^Cluster id {unknown} not found$"):
            await volumes.create_volume(rt, spec(clusters=[unknown]))
        assert rt.state.volumes == {} and rt.state.operations == {}


async def test_create_refuses_a_disperse_volume_smaller_than_its_data_bricks(
    tmp_path: Path,
) -> None:
    async with mock_runtime(tmp_path, brick_min_size_gb=1) as rt:
        await topology(rt)
        with pytest.raises(InvalidRequest) as refused:
            await volumes.create_volume(rt, spec(3, durability="disperse", data=4, redundancy=2))
        assert refused.value.text == (
            "Requested volume size (3 GB) is smaller than the minimum supported volume size "
            f"({4 * 1024 * 1024})"
        )
        assert rt.state.volumes == {}


def test_min_size_problem_is_one_minimum_brick_or_data_of_them() -> None:
    kib = 1024 * 1024
    assert volumes.min_size_problem(1, "replicate", 0, kib) is None
    assert volumes.min_size_problem(4, "disperse", 4, kib) is None
    assert volumes.min_size_problem(1, "none", 0, 2 * kib) == (
        f"Requested volume size (1 GB) is smaller than the minimum supported volume size "
        f"({2 * kib})"
    )


async def test_create_expand_and_delete_a_volume(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        volume_id = volume_id_of(await succeeded(rt, await volumes.create_volume(rt, spec(5))))
        volume = rt.state.volumes[volume_id]
        assert volume.size_gib == 5 and not volume.pending_op
        assert len(rt.state.bricks_of_volume(volume_id)) == 3
        await succeeded(rt, await volumes.expand_volume(rt, volume, 3))
        assert rt.state.volumes[volume_id].size_gib == 8
        assert len(rt.state.bricks_of_volume(volume_id)) == 6
        await succeeded(rt, await volumes.delete_volume(rt, volume))
        assert rt.state.volumes == {} and rt.state.bricks == {} and rt.state.operations == {}
        assert all(d.used_kib == 0 for d in rt.state.devices.values())


async def test_the_database_volume_is_never_deleted(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        location = await succeeded(
            rt, await volumes.create_volume(rt, spec(2, name=volumes.HEKETI_DB_VOLUME))
        )
        volume = rt.state.volumes[volume_id_of(location)]
        with pytest.raises(Conflict, match="Heketi database"):
            await volumes.delete_volume(rt, volume)
        assert not volume.pending_op


async def test_clone_makes_a_second_volume_on_the_source_bricks_devices(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        source = rt.state.volumes[volume_id_of(
            await succeeded(rt, await volumes.create_volume(rt, spec(2)))
        )]
        clone_id = volume_id_of(await succeeded(rt, await volumes.clone_volume(rt, source, "copy")))
        clone = rt.state.volumes[clone_id]
        assert clone.name == "copy" and clone.size_gib == source.size_gib
        assert sorted(b.device_id for b in rt.state.bricks_of_volume(clone_id)) == sorted(
            b.device_id for b in rt.state.bricks_of_volume(source.id)
        )


async def test_a_block_hosting_volume_offers_98_percent(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        location = await succeeded(rt, await volumes.create_volume(rt, spec(50, block=True)))
        bhv = rt.state.volumes[volume_id_of(location)]
        assert (bhv.block_free_gib, bhv.block_reserved_gib) == (49, 1)
        await succeeded(rt, await volumes.expand_volume(rt, bhv, 100))
        assert bhv.block_free_gib == 49 + bhv_usable_gib(100)
        assert bhv.block_reserved_gib == 1 + bhv_reserved_gib(100)


async def test_block_restriction_rules(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        plain = rt.state.volumes[volume_id_of(
            await succeeded(rt, await volumes.create_volume(rt, spec(2)))
        )]
        with pytest.raises(OperationFailed) as refused:
            await volumes.set_block_restriction(rt, plain, "locked")
        assert refused.value.text == (
            "Failed to set block restriction: Block restrictions can only be set on block "
            "hosting volumes"
        )
        bhv = rt.state.volumes[volume_id_of(
            await succeeded(rt, await volumes.create_volume(rt, spec(100, block=True)))
        )]

        def locked_and_full(tx: Transaction) -> None:
            tx.touch(bhv).block_restriction = volumes.LOCKED_BY_UPDATE
            bhv.block_free_gib = 1

        await rt.apply(locked_and_full)
        with pytest.raises(OperationFailed) as refused:
            await volumes.set_block_restriction(rt, bhv, "")
        assert refused.value.text == (
            "Failed to set block restriction: Can not unlock volume. 2GiB free space is "
            "required, but found 1GiB"
        )
        await rt.apply(lambda tx: setattr(tx.touch(bhv), "block_free_gib", 2))
        location = await succeeded(rt, await volumes.set_block_restriction(rt, bhv, ""))
        assert location == f"/volumes/{bhv.id}"
        assert bhv.block_restriction == ""


async def test_block_volume_create_expand_delete(tmp_path: Path) -> None:
    async with mock_runtime(
        tmp_path, auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    ) as rt:
        with pytest.raises(InvalidRequest, match="^No clusters configured$"):
            await blockvolumes.create_block_volume(rt, blockvolumes.BlockVolumeSpec(size_gib=1))
        await topology(rt)
        location = await succeeded(rt, await blockvolumes.create_block_volume(
            rt, blockvolumes.BlockVolumeSpec(size_gib=3, name="disk")
        ))
        assert location is not None and location.startswith("/blockvolumes/")
        bv = rt.state.blockvolumes[location.rsplit("/", 1)[1]]
        bhv = rt.state.volumes[bv.bhv_id]
        assert bhv.size_gib == 20 and bhv.block_free_gib == bhv_usable_gib(20) - 3
        await succeeded(rt, await blockvolumes.expand_block_volume(rt, bv, 5))
        assert bv.size_gib == 5 and bhv.block_free_gib == bhv_usable_gib(20) - 5
        await succeeded(rt, await blockvolumes.delete_block_volume(rt, bv))
        assert rt.state.blockvolumes == {} and bhv.block_free_gib == bhv_usable_gib(20)


async def test_evict_brick_is_accepted_and_reports_in_its_job(tmp_path: Path) -> None:
    """Three nodes for a replica-3 volume: no fourth place to move a brick to."""
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        volume_id = volume_id_of(await succeeded(rt, await volumes.create_volume(rt, spec(2))))
        brick = rt.state.bricks_of_volume(volume_id)[0]
        job = await finished(rt, await bricks.evict_brick(rt, brick))
        assert job.error == "No Replacement was found for resource requested to be removed"
        assert brick.id in rt.state.bricks and rt.state.operations == {}


async def test_evict_brick_moves_it_to_a_free_node(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt, 4)
        volume_id = volume_id_of(await succeeded(rt, await volumes.create_volume(rt, spec(2))))
        brick = rt.state.bricks_of_volume(volume_id)[0]
        await succeeded(rt, await bricks.evict_brick(rt, brick))
        remaining = rt.state.bricks_of_volume(volume_id)
        assert brick.id not in rt.state.bricks and len(remaining) == 3
        assert len({b.node_id for b in remaining}) == 3


async def test_a_delete_asks_a_brick_host_whether_the_volume_exists(tmp_path: Path) -> None:
    """A node that rejoined its pool (its link was down while the volume was made) answers
    "Volume ... does not exist" until glusterd's handshake syncs it: that answer must not end
    the delete while the volume still runs on its brick hosts (the bricks' umounts would then
    find them busy, or worse). Seen on the testbed after a link fault."""
    from heketipy.executors.base import VolumeDoesNotExist
    from heketipy.operations import nodes

    async with mock_runtime(tmp_path) as rt:
        cluster_id = await topology(rt)
        first = rt.state.nodes[rt.state.node_ids(cluster_id)[0]]
        await succeeded(rt, await nodes.set_node_state(rt, first, "offline"))
        volume_id = volume_id_of(await succeeded(rt, await volumes.create_volume(
            rt, spec(1, replica=2))))  # fmt: skip
        await succeeded(rt, await nodes.set_node_state(rt, rt.state.nodes[first.id], "online"))
        volume = rt.state.volumes[volume_id]
        brick_hosts = {rt.state.nodes[b.node_id].manage_host
                       for b in rt.state.bricks_of_volume(volume_id)}
        assert first.manage_host not in brick_hosts  # the rejoined node holds none of them
        asked: list[str] = []
        real_destroy = rt.executor.volume_destroy

        async def destroy(host: str, name: str) -> None:
            asked.append(host)
            if host not in brick_hosts:
                raise VolumeDoesNotExist(host, ["gluster", "volume", "delete", name], 1,
                                         f"Volume {name} does not exist")
            await real_destroy(host, name)

        rt.executor.volume_destroy = destroy  # type: ignore[method-assign]
        await volumes.destroy_gluster_volume(rt, volume)
        assert asked and asked[0] in brick_hosts, asked
        assert volume.name not in rt.executor._volume_bricks  # type: ignore[attr-defined]
