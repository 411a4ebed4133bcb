"""Read-only reports and the drift repair of ``heketipy.operations``, called directly on a
Runtime over the mock executor (no HTTP)."""

from __future__ import annotations

from pathlib import Path

from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import BrickRequest, NodeInventory, NodeLogicalVolume
from heketipy.operations import drift, reports, volumes
from tests.support.runtime import mock_runtime, succeeded, topology, volume_spec


async def test_db_check_of_a_consistent_database_finds_nothing(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        await succeeded(rt, await volumes.create_volume(rt, volume_spec(2)))
        assert reports.db_check(rt)["totalinconsistencies"] == 0
        dumped = reports.db_dump(rt)
        assert set(dumped["volumeentries"]) == set(rt.state.volumes)


async def test_examine_reports_a_node_whose_gluster_disagrees(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        cluster_id = await topology(rt)
        await succeeded(rt, await volumes.create_volume(rt, volume_spec(2, name="data")))
        assert (await reports.examine_gluster(rt))["report"] == [
            "OnDemand Examiner invoked while 0 ops are in flight"
        ]
        unreachable = rt.state.nodes[rt.state.node_ids(cluster_id)[0]]
        answer = rt.executor.volumes_info

        async def volumes_info(host: str) -> list:
            if host == unreachable.manage_host:
                raise NodeCommandError(host, ["gluster"], 1, "down")
            return await answer(host)

        rt.executor.volumes_info = volumes_info  # type: ignore[method-assign]
        examined = await reports.examine_gluster(rt)
        assert examined["report"] == [
            "OnDemand Examiner invoked while 0 ops are in flight",
            f"heketi volume list does not match with volume list of node {unreachable.id}",
        ]


async def test_drift_repair_removes_an_orphan_brick_and_reports_again(tmp_path: Path) -> None:
    """The mock keeps no node state, so the nodes' inventories are given here: every device's
    VG as the database has it, plus one brick LV heketipy tagged but no longer knows."""
    async with mock_runtime(tmp_path) as rt:
        await topology(rt)
        device = next(iter(rt.state.devices.values()))
        host = rt.state.nodes[device.node_id].manage_host
        orphan_id = "e" * 32
        orphan = NodeLogicalVolume(
            vg=f"vg_{device.id}", name=f"brick_{orphan_id}", kind="thin", size_kib=1024,
            tags=("heketi-brick-x",),
        )
        destroyed: list[tuple[str, BrickRequest]] = []

        async def node_inventory(node_host: str) -> NodeInventory:
            node = next(n for n in rt.state.nodes.values() if n.manage_host == node_host)
            devices = [rt.state.devices[d] for d in rt.state.device_ids(node.id)]
            lvs = (orphan,) if node_host == host and not destroyed else ()
            return NodeInventory(
                vg_free_kib={f"vg_{d.id}": d.free_kib for d in devices},
                lvs=lvs, mounts=(), fstab=(), volumes=(),
            )

        async def brick_destroy(node_host: str, brick: BrickRequest) -> bool:
            destroyed.append((node_host, brick))
            return True

        rt.executor.node_inventory = node_inventory  # type: ignore[method-assign]
        rt.executor.brick_destroy = brick_destroy  # type: ignore[method-assign]
        repaired = await drift.repair(rt)
        assert repaired["removed"] == [f"brick-lv {host}:vg_{device.id}/brick_{orphan_id}"]
        [(node_host, request)] = destroyed
        assert node_host == host
        assert (request.device_id, request.tp_name, request.lv_name) == (
            device.id, f"tp_{orphan_id}", f"brick_{orphan_id}"
        )
        assert repaired["report"]["clean"] is True and repaired["report"]["orphaned"] == []
