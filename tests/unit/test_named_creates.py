"""Idempotent named volume creates (issue 13 item 2), on a Runtime over the mock executor: a
create naming a volume that a create with the same parameters made (or is making) answers that
volume instead of making a second one; other parameters keep Heketi's conflict."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from heketipy.domain.errors import Busy, NodeCommandError, OperationFailed
from heketipy.operations import clusters, nodes, volumes
from heketipy.operations.runtime import Runtime
from heketipy.operations.volumes import VolumeSpec
from tests.support.runtime import finished, mock_runtime, succeeded, topology
from tests.support.runtime import volume_spec as spec

IN_USE = "Failed to allocate new volume: Volume name 'data' already in use"


def named(**changes: Any) -> VolumeSpec:
    return dataclasses.replace(spec(2, name="data"), **changes)


def named_volume_ids(rt: Runtime, name: str = "data") -> list[str]:
    return rt.state.volume_ids_named(name)


class Gate:
    """Holds every ``volume_create`` of the runtime's executor until ``open()``; ``fail`` makes
    the held calls fail instead."""

    def __init__(self, rt: Runtime) -> None:
        self.opened = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False
        real = rt.executor.volume_create

        async def held(host: str, request: Any) -> Any:
            self.entered.set()
            await self.opened.wait()
            if self.fail:
                raise NodeCommandError(host, ["gluster", "volume", "create"], 1, "refused")
            return await real(host, request)

        rt.executor.volume_create = held  # type: ignore[method-assign]

    def open(self) -> None:
        self.opened.set()


async def test_same_parameters_answer_the_existing_volume(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        location = await succeeded(rt, await volumes.create_volume(rt, named()))
        assert location is not None
        retried = await volumes.create_volume(rt, named())
        assert await succeeded(rt, retried) == location
        assert len(named_volume_ids(rt)) == 1 and len(rt.state.volumes) == 1
        assert rt.state.operations == {}


async def test_a_retry_while_the_create_runs_joins_it(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        gate = Gate(rt)
        first = await volumes.create_volume(rt, named())
        await gate.entered.wait()
        retried = await volumes.create_volume(rt, named())
        assert retried != first  # each client collects its own /queue result
        assert len(rt.state.volumes) == 1
        gate.open()
        location = await succeeded(rt, first)
        assert await succeeded(rt, retried) == location
        assert len(named_volume_ids(rt)) == 1 and rt.state.operations == {}


async def test_a_retry_joining_a_create_that_fails_gets_its_error(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path, operation_retry_limits={"volume_create": 0}) as rt:
        await topology(rt)
        gate = Gate(rt)
        first = await volumes.create_volume(rt, named())
        await gate.entered.wait()
        retried = await volumes.create_volume(rt, named())
        gate.fail = True
        gate.open()
        failure = (await finished(rt, first)).error
        assert failure is not None and "refused" in failure
        assert (await finished(rt, retried)).error == failure
        assert rt.state.volumes == {} and rt.state.operations == {}


CHANGES: dict[str, Callable[[VolumeSpec], VolumeSpec]] = {
    "size": lambda s: dataclasses.replace(s, size_gib=3),
    "durability": lambda s: dataclasses.replace(s, durability="none", replica=1),
    "replica": lambda s: dataclasses.replace(s, replica=2),
    "gid": lambda s: dataclasses.replace(s, gid=2001),
    "options": lambda s: dataclasses.replace(s, request_options=["user.custom x"]),
    "block": lambda s: dataclasses.replace(s, block=True),
    "snapshot": lambda s: dataclasses.replace(s, snapshot_enable=True, snapshot_factor=1.5),
}


@pytest.mark.parametrize("field", sorted(CHANGES))
async def test_other_parameters_keep_heketis_conflict(tmp_path: Path, field: str) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        await succeeded(rt, await volumes.create_volume(rt, named()))
        with pytest.raises(OperationFailed) as refused:
            await volumes.create_volume(rt, CHANGES[field](named()))
        assert refused.value.text == IN_USE
        assert len(rt.state.volumes) == 1 and rt.state.operations == {}


async def test_other_parameters_conflict_also_while_the_first_create_runs(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        gate = Gate(rt)
        first = await volumes.create_volume(rt, named())
        with pytest.raises(OperationFailed) as refused:
            await volumes.create_volume(rt, named(size_gib=3))
        assert refused.value.text == IN_USE
        gate.open()
        await succeeded(rt, first)
        assert len(rt.state.volumes) == 1


async def test_unnamed_creates_always_make_a_new_volume(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        locations = {await succeeded(rt, await volumes.create_volume(rt, spec(2)))
                     for _ in range(2)}
        assert len(locations) == 2 and len(rt.state.volumes) == 2


async def test_racing_identical_named_creates_make_one_volume(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        queue_ids = await asyncio.gather(
            *(volumes.create_volume(rt, named()) for _ in range(6))
        )
        locations = {await succeeded(rt, queue_id) for queue_id in queue_ids}
        assert len(locations) == 1 and len(named_volume_ids(rt)) == 1
        assert rt.state.operations == {}


async def test_a_retry_after_a_failed_create_creates(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path, operation_retry_limits={"volume_create": 0}) as rt:
        await topology(rt)
        gate = Gate(rt)
        gate.fail = True
        gate.open()
        failure = (await finished(rt, await volumes.create_volume(rt, named()))).error
        assert failure is not None and rt.state.volumes == {}
        gate.fail = False
        location = await succeeded(rt, await volumes.create_volume(rt, named()))
        assert location is not None
        assert named_volume_ids(rt) == [location.rsplit("/", 1)[1]]


async def test_a_retry_after_a_failed_rollback_cleans_up_then_creates(tmp_path: Path) -> None:
    """A create whose rollback failed leaves its volume pending and its journal record
    ``failed``; a retry of the same create retries that rollback first, then creates."""
    async with mock_runtime(tmp_path, operation_retry_limits={"volume_create": 0}) as rt:
        await topology(rt)
        gate = Gate(rt)
        gate.fail = True
        gate.open()
        real_destroy = rt.executor.brick_destroy
        broken = {"destroy": True}

        async def destroy(host: str, request: Any) -> bool:
            if broken["destroy"]:
                raise NodeCommandError(host, ["lvremove"], 5, "device busy")
            return await real_destroy(host, request)

        rt.executor.brick_destroy = destroy  # type: ignore[method-assign]
        assert (await finished(rt, await volumes.create_volume(rt, named()))).error
        [record] = rt.state.operations.values()
        assert record.status == "failed" and len(named_volume_ids(rt)) == 1
        broken["destroy"] = False
        gate.fail = False
        location = await succeeded(rt, await volumes.create_volume(rt, named()))
        assert location is not None
        volume_id = location.rsplit("/", 1)[1]
        assert named_volume_ids(rt) == [volume_id] and rt.state.operations == {}
        assert not rt.state.volumes[volume_id].pending_op


async def one_node_cluster(rt: Runtime, host: str) -> str:
    cluster = await clusters.create_cluster(rt, file=True, block=True)
    location = await succeeded(rt, await nodes.add_node(rt, cluster.id, 1, [host], [host], {}))
    assert location is not None
    await succeeded(rt, await nodes.add_device(rt, location.rsplit("/", 1)[1], "/dev/sdb", {},
                                               False))
    return cluster.id


def single(**changes: Any) -> VolumeSpec:
    return named(durability="none", replica=1, **changes)


async def test_the_name_in_a_cluster_the_request_excludes_is_another_volume(
    tmp_path: Path,
) -> None:
    """Heketi's names are unique per cluster: a request naming other clusters is not a retry
    of the create that used the name elsewhere."""
    async with mock_runtime(tmp_path) as rt:
        first, second = [await one_node_cluster(rt, f"10.0.0.{i}") for i in (1, 2)]
        await succeeded(rt, await volumes.create_volume(rt, single(cluster_ids=[first])))
        await succeeded(rt, await volumes.create_volume(rt, single(cluster_ids=[second])))
        assert {rt.state.volumes[v].cluster_id for v in named_volume_ids(rt)} == {first, second}


async def test_the_name_on_two_candidate_clusters_is_ambiguous(tmp_path: Path) -> None:
    """Two volumes of that name among the candidates: no single create made both, so the
    request is not a retry of either, and Heketi's answer stands."""
    async with mock_runtime(tmp_path) as rt:
        for i in (1, 2):
            cluster_id = await one_node_cluster(rt, f"10.0.0.{i}")
            await succeeded(rt, await volumes.create_volume(rt, single(cluster_ids=[cluster_id])))
        with pytest.raises(OperationFailed) as refused:
            await volumes.create_volume(rt, single())
        assert refused.value.text.startswith(
            "Failed to allocate new volume: No eligible cluster for volume\n")
        assert len(rt.state.volumes) == 2


async def test_a_request_naming_the_cluster_of_the_volume_is_a_retry(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        first, second = [await one_node_cluster(rt, f"10.0.0.{i}") for i in (1, 2)]
        location = await succeeded(rt, await volumes.create_volume(rt, single()))
        assert location is not None
        again = await succeeded(rt, await volumes.create_volume(rt, single(cluster_ids=[second, first])))
        assert again == location and len(rt.state.volumes) == 1


async def test_a_create_refused_as_busy_is_not_joined_later(tmp_path: Path) -> None:
    """A named create the throttle refuses never ran: a retry creates, it joins nothing."""
    async with mock_runtime(tmp_path, max_inflight=1, wait_queue_size=0) as rt:
        await topology(rt)
        gate = Gate(rt)
        other = await volumes.create_volume(rt, spec(1))
        with pytest.raises(Busy):
            await volumes.create_volume(rt, named())
        gate.open()
        await succeeded(rt, other)
        location = await asyncio.wait_for(
            succeeded(rt, await volumes.create_volume(rt, named())), 30)
        assert location is not None and named_volume_ids(rt) == [location.rsplit("/", 1)[1]]
