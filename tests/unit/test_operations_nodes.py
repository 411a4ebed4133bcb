"""Cluster, node and device commands of ``heketipy.operations``, and the one way they start
background work, called directly on a Runtime over the mock executor (no HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heketipy.domain.errors import Busy, Conflict, NotFound, OperationFailed
from heketipy.operations import clusters, nodes, pending, volumes
from heketipy.operations.runtime import Unjournaled
from tests.support.runtime import finished, mock_runtime, succeeded, topology, volume_spec


async def test_cluster_create_flags_and_delete(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        cluster = await clusters.create_cluster(rt, file=True, block=False)
        assert rt.state.clusters[cluster.id] is cluster
        await clusters.set_cluster_flags(rt, cluster, file=False, block=True)
        assert (cluster.file, cluster.block) == (False, True)
        await clusters.delete_cluster(rt, cluster)
        assert rt.state.clusters == {}


async def test_a_cluster_with_nodes_is_not_deleted(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        cluster_id = await topology(rt, 1)
        with pytest.raises(Conflict) as refused:
            await clusters.delete_cluster(rt, rt.state.clusters[cluster_id])
        assert refused.value.text == (
            f"Unable to delete cluster [{cluster_id}] because it contains volumes and/or nodes"
        )


async def test_add_node_checks_before_it_starts(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        with pytest.raises(NotFound, match="^Cluster id does not exist$"):
            await nodes.add_node(rt, "a" * 32, 1, ["n1"], ["10.0.0.1"], {})
        cluster_id = await topology(rt, 1)
        node_id = next(iter(rt.state.nodes))
        with pytest.raises(Conflict) as refused:
            await nodes.add_node(rt, cluster_id, 2, ["node1.example.test"], ["10.9.9.9"], {})
        assert refused.value.text == (
            f"Hostname node1.example.test already used by node with id {node_id}\n"
        )
        with pytest.raises(NotFound, match="^Node id does not exist$"):
            await nodes.add_device(rt, "b" * 32, "/dev/sdc", {}, False)


async def test_node_and_device_tags(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt, 1)
        node = next(iter(rt.state.nodes.values()))
        device = next(iter(rt.state.devices.values()))
        assert await nodes.set_node_tags(rt, node, "set", {"b": "2", "a": "1"}) == {
            "a": "1", "b": "2"
        }
        assert await nodes.set_node_tags(rt, node, "update", {"c": "3"}) == {
            "a": "1", "b": "2", "c": "3"
        }
        assert await nodes.set_node_tags(rt, node, "delete", {"a": ""}) == {"b": "2", "c": "3"}
        assert await nodes.set_device_tags(rt, device, "set", {"disk": "ssd"}) == {"disk": "ssd"}
        assert device.tags == {"disk": "ssd"} and node.tags == {"b": "2", "c": "3"}


async def test_only_a_removal_is_throttled(tmp_path: Path) -> None:
    """Moving a node or device to ``failed`` moves bricks: it waits its turn in the throttle;
    online/offline do not."""
    async with mock_runtime(tmp_path) as rt:
        await topology(rt, 1)
        node = next(iter(rt.state.nodes.values()))
        queue_id = await nodes.set_node_state(rt, node, "offline")
        assert rt.throttle.admitted == 0
        await succeeded(rt, queue_id)
        assert node.state == "offline"
        queue_id = await nodes.set_node_state(rt, node, "failed")
        assert rt.throttle.admitted == 1
        await succeeded(rt, queue_id)
        assert rt.throttle.admitted == 0
        assert node.state == "failed"
        assert all(d.state == "failed" for d in rt.state.devices.values())


async def test_state_changes_are_refused_in_the_job(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt, 1)
        device = next(iter(rt.state.devices.values()))
        job = await finished(rt, await nodes.set_device_state(rt, device, "failed"))
        assert job.error == (
            f"Device must be offline before remove operation is performed, device:{device.id}"
        )
        assert device.state == "online"


async def test_device_delete_resync_and_node_delete(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt, 1)
        node = next(iter(rt.state.nodes.values()))
        device = next(iter(rt.state.devices.values()))
        with pytest.raises(Conflict):
            await nodes.delete_node(rt, node)
        await succeeded(rt, await nodes.resync_device(rt, device))
        assert device.total_kib > 0
        await succeeded(rt, await nodes.set_device_state(rt, device, "offline"))
        await succeeded(rt, await nodes.set_device_state(rt, device, "failed"))
        await succeeded(rt, await nodes.delete_device(rt, device, False))
        assert rt.state.devices == {}
        await succeeded(rt, await nodes.delete_node(rt, node))
        assert rt.state.nodes == {}


async def test_start_refuses_throttled_work_when_the_queue_is_full(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path, max_inflight=1, wait_queue_size=0) as rt:
        async def work() -> str | None:
            return "/somewhere"

        queue_id = await rt.start(Unjournaled("test-work", work, throttled=True))
        with pytest.raises(Busy):
            await rt.start(Unjournaled("test-work", work, throttled=True))
        assert await succeeded(rt, queue_id) == "/somewhere"
        assert await succeeded(rt, await rt.start(Unjournaled("test-work", work))) == "/somewhere"


async def test_a_journaled_plan_failure_frees_its_throttle_place(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path, max_inflight=1, wait_queue_size=0) as rt:
        await topology(rt, 3)
        with pytest.raises(OperationFailed):
            await volumes.create_volume(rt, volume_spec(10_000, durability="none"))
        assert rt.throttle.admitted == 0 and rt.state.operations == {}


async def test_cleanup_recovers_a_stale_operation(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        op = volumes.CreateVolume(rt, volume_spec(2))
        await rt.apply(op.plan)  # planned, then "the process died"
        assert op.record is not None
        await rt.apply(lambda tx: setattr(tx.touch(op.record), "status", "stale"))
        assert pending.cleanup_candidates(rt.state, set(), []) == [op.record.id]
        assert pending.cleanup_candidates(rt.state, {op.record.id}, []) == []
        assert await succeeded(rt, await pending.cleanup_operations(rt, [])) is None
        assert rt.state.operations == {} and rt.state.volumes == {} and rt.state.bricks == {}


async def test_a_resumed_operation_gets_back_its_journal_fields(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        node = next(iter(rt.state.nodes.values()))
        planned = [
            volumes.CreateVolume(rt, volume_spec(2)),
            nodes.AddDevice(rt, node, "/dev/sdz", {"zone": "a"}, True),
        ]
        for op in planned:
            await rt.apply(op.plan)
            assert op.record is not None and op.journal_fields
            resumed = type(op).resume(rt, op.record)
            for attribute in op.journal_fields:
                assert getattr(resumed, attribute) == getattr(op, attribute), attribute
