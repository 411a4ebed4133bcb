"""The drift report on real thin pools: LVM's hidden ``lvol0_pmspare`` (the pool metadata spare,
as large as the VG's largest pool metadata) takes VG free space neither Heketi nor heketipy
charges to the device. A device whose only difference is that spare is clean; any other
difference is still reported (naming the spare); hidden LVs (``[lvol0_pmspare]``, a pool's
``_tdata``/``_tmeta``) are never foreign or orphaned LVs.

The mock keeps no node state, so each node's inventory is built here from the database, as a
node that has exactly what the database says (plus the spare) would report it.
"""

from __future__ import annotations

import json
from pathlib import Path

from heketipy.domain.units import vg_name
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import GlusterBrick, GlusterVolume, NodeInventory, NodeLogicalVolume
from heketipy.operations import drift, volumes
from heketipy.operations.runtime import Runtime
from tests.support.runtime import mock_runtime, succeeded, topology, volume_spec

SPARE_KIB = 8192


def _node_as_database_says(
    rt: Runtime, host: str, spare_kib: int, short_kib: int, extra: tuple[NodeLogicalVolume, ...],
    charged: bool,
) -> NodeInventory:
    """The inventory of node ``host``: every brick's pool, LV, mount and fstab line, each pool's
    hidden ``_tdata``/``_tmeta``, and in every VG holding a pool a hidden ``lvol0_pmspare`` of
    ``spare_kib`` whose extents are missing from VG free, ``short_kib`` more missing besides;
    ``extra`` LVs of that node's first VG added. ``charged``: the database counts the spare as
    used already (as after a device resync), so VG free is the database's."""
    state = rt.state
    node = next(n for n in state.nodes.values() if n.manage_host == host)
    lvs: list[NodeLogicalVolume] = []
    free: dict[str, int] = {}
    mounts, fstab = [], []
    for device_id in state.device_ids(node.id):
        vg = vg_name(device_id)
        bricks = [state.bricks[b] for b in state.brick_ids_of_device(device_id)]
        spare = spare_kib if bricks else 0
        free[vg] = state.devices[device_id].free_kib - (0 if charged else spare) - short_kib
        if spare:
            lvs.append(NodeLogicalVolume(vg, "lvol0_pmspare", "linear", spare, hidden=True))
        for brick in bricks:
            tags = (f"heketi-brick-{brick.id}",)
            lvs += [
                NodeLogicalVolume(vg, brick.tp_name, "thin-pool", brick.tp_size_kib, tags=tags),
                NodeLogicalVolume(
                    vg, f"{brick.tp_name}_tdata", "linear", brick.tp_size_kib, hidden=True
                ),
                NodeLogicalVolume(
                    vg, f"{brick.tp_name}_tmeta", "linear", brick.pool_metadata_kib, hidden=True
                ),
                NodeLogicalVolume(
                    vg, brick.lv_name, "thin", max(brick.size_kib, lcmd.MIN_XFS_KIB),
                    pool=brick.tp_name, tags=tags,
                ),
            ]  # fmt: skip
            mounts.append(brick.mount_path)
            fstab.append(f"/dev/{vg}/{brick.lv_name} {brick.mount_path} xfs rw 1 2")
    gluster = tuple(
        GlusterVolume(
            name=volume.name, id=volume.id,
            bricks=tuple(
                GlusterBrick(state.nodes[b.node_id].storage_host, b.path)
                for b in sorted(state.bricks_of_volume(volume.id),
                                key=lambda b: (b.set_index, b.position))
            ),
        )  # fmt: skip
        for volume in state.volumes.values()
    )
    first_vg = vg_name(state.device_ids(node.id)[0])
    for lv in extra:
        if lv.vg == first_vg:
            lvs.append(lv)
            free[first_vg] -= lv.size_kib  # a linear LV takes its extents
    return NodeInventory(
        vg_free_kib=free, lvs=tuple(lvs), mounts=tuple(mounts), fstab=tuple(fstab),
        volumes=gluster,
    )  # fmt: skip


async def _report(
    rt: Runtime, spare_kib: int, short_kib: int = 0, extra: tuple[NodeLogicalVolume, ...] = (),
    charged: bool = False,
) -> dict:
    async def node_inventory(host: str) -> NodeInventory:
        return _node_as_database_says(rt, host, spare_kib, short_kib, extra, charged)

    rt.executor.node_inventory = node_inventory  # type: ignore[method-assign]
    return await drift.report(rt)


async def _with_volume(rt: Runtime) -> None:
    """Four nodes, a replica-3 volume: one device holds no brick, so its VG has no spare."""
    await topology(rt, 4)
    await succeeded(rt, await volumes.create_volume(rt, volume_spec(2)))


async def test_a_vg_short_of_the_database_by_its_pmspare_alone_is_clean(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await _with_volume(rt)
        report = await _report(rt, SPARE_KIB)
        assert report["clean"] is True, json.dumps(report, indent=1)
        assert report["mismatched"] == [] and report["foreign"] == []


async def test_more_than_the_pmspare_missing_is_a_mismatch_naming_the_spare(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await _with_volume(rt)
        report = await _report(rt, SPARE_KIB, short_kib=4096)
        assert report["clean"] is False
        devices = {f["name"]: f["detail"] for f in report["mismatched"] if f["kind"] == "device"}
        bricked = {vg_name(b.device_id) for b in rt.state.bricks.values()}
        assert set(devices) == {vg_name(d) for d in rt.state.devices}  # all four are short
        for vg, detail in devices.items():
            database = rt.state.devices[vg.removeprefix("vg_")].free_kib
            if vg in bricked:
                node = database - SPARE_KIB - 4096
                assert detail == (
                    f"database free {database} KiB, node free {node} KiB "
                    f"(+ {SPARE_KIB} KiB lvol0_pmspare)"
                )
            else:  # no pool, so no spare: just the two numbers
                assert detail == f"database free {database} KiB, node free {database - 4096} KiB"


async def test_a_database_that_charged_the_spare_agrees_too(tmp_path: Path) -> None:
    """A device resync takes LVM's numbers as they are (Heketi's resync too), the spare counted
    as used: node free equal to the database's is clean with a spare as without."""
    async with mock_runtime(tmp_path) as rt:
        await _with_volume(rt)
        report = await _report(rt, SPARE_KIB, charged=True)
        assert report["clean"] is True, json.dumps(report, indent=1)


async def test_hidden_lvs_are_neither_foreign_nor_orphaned(tmp_path: Path) -> None:
    async with mock_runtime(tmp_path) as rt:
        await _with_volume(rt)
        # Someone else's LV (visible, unmarked) in a VG heketipy manages is still found.
        node = rt.state.nodes[next(iter(rt.state.nodes))]
        vg = vg_name(rt.state.device_ids(node.id)[0])
        theirs = NodeLogicalVolume(vg, "theirs", "linear", 4096)
        report = await _report(rt, SPARE_KIB, extra=(theirs,))
        found = [(f["problem"], f["kind"], f["name"])
                 for problem in drift.PROBLEMS for f in report[problem]]
        assert found == [
            ("foreign", "brick-lv", f"{vg}/theirs"), ("mismatched", "device", vg),
        ], found
