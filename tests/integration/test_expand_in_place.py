"""Expansion in place on the simulator (issue 14 item 2): every mode of
``heketipy.volume_expansion``, no room, command faults at each step, and crash recovery; after
each, the database, the nodes, ``/db/check`` and the drift report agree exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.domain.units import KIB_PER_GIB
from heketipy.operations.expansion import ExpandInPlace
from heketipy.operations.runtime import Runtime
from heketipy.server import build
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology
from tests.support.simulated import nodes_of


async def create(api: Api, size: int, durability: dict[str, Any] = REPLICA3) -> dict[str, Any]:
    status, headers, text = await api.wait("POST", "/volumes", {"size": size, "durability": durability})
    assert status == 303, text
    _, _, text = await api.call("GET", headers["Location"])
    return json.loads(text)


async def expand_and_wait(api: Api, volume_id: str, gib: int) -> tuple[int, str]:
    """The expand's synchronous answer when it is refused, else its /queue outcome."""
    status, headers, text = await api.call(
        "POST", f"/volumes/{volume_id}/expand", {"expand_size": gib}
    )
    if status != 202:
        return status, text
    while True:
        status, qheaders, text = await api.call("GET", headers["Location"])
        if qheaders.get("X-Pending") != "true":
            return status, text


async def consistent(api: Api) -> None:
    """/db/check finds nothing and the drift report is clean."""
    _, _, text = await api.call("GET", "/db/check")
    assert json.loads(text)["totalinconsistencies"] == 0, text
    _, _, text = await api.call("GET", "/internal/state/drift")
    assert json.loads(text)["clean"] is True, text


def node_lvs(rt: Runtime) -> dict[str, dict[str, Any]]:
    """``host:vg/lv`` -> the simulated LV (kind, size_kib, metadata_kib, fs_size_kib...)."""
    found = {}
    for host, node in nodes_of(rt.executor).snapshot()["nodes"].items():
        for vg_name, vg in node["vgs"].items():
            for name, lv in vg["lvs"].items():
                found[f"{host}:{vg_name}/{name}"] = lv
    return found


def brick_lv(rt: Runtime, brick_id: str) -> dict[str, Any]:
    brick = rt.state.bricks[brick_id]
    host = rt.state.nodes[brick.node_id].manage_host
    return node_lvs(rt)[f"{host}:vg_{brick.device_id}/{brick.lv_name}"]


def brick_pool(rt: Runtime, brick_id: str) -> dict[str, Any]:
    brick = rt.state.bricks[brick_id]
    host = rt.state.nodes[brick.node_id].manage_host
    return node_lvs(rt)[f"{host}:vg_{brick.device_id}/{brick.tp_name}"]


def vg_free(rt: Runtime) -> dict[str, int]:
    """Each VG's free space as the database counts it: LVM's pool metadata spare (as large as
    the VG's largest pool metadata, grown by an in-place expand) is charged to no device."""
    return {
        vg_name.removeprefix("vg_"): vg["free_kib"] + vg["pmspare_kib"]
        for node in nodes_of(rt.executor).snapshot()["nodes"].values()
        for vg_name, vg in node["vgs"].items()
    }


def db_free(rt: Runtime) -> dict[str, int]:
    return {d.id: d.free_kib for d in rt.state.devices.values()}


def commands(rt: Runtime) -> list[str]:
    return [e.command for e in nodes_of(rt.executor).trace.events if e.phase == "start"]


async def assert_grown_to(rt: Runtime, api: Api, volume_id: str, size_gib: int) -> None:
    """The volume is ``size_gib`` in the API, every brick's LV and filesystem that size on its
    node, every pool as recorded, device space exact, and /db/check and drift clean."""
    _, _, text = await api.call("GET", f"/volumes/{volume_id}")
    assert json.loads(text)["size"] == size_gib
    for brick in rt.state.bricks_of_volume(volume_id):
        lv = brick_lv(rt, brick.id)
        assert brick.size_kib == lv["size_kib"] == lv["fs_size_kib"] == size_gib * KIB_PER_GIB
        pool = brick_pool(rt, brick.id)
        assert (brick.tp_size_kib, brick.pool_metadata_kib) == (
            pool["size_kib"], pool["metadata_kib"])
    assert db_free(rt) == vg_free(rt)
    await consistent(api)


def in_place(tmp_path: Path, mode: str = "in-place", **more: Any) -> Any:
    return settings_for(tmp_path, volume_expansion=mode, **more)


async def test_in_place_grows_every_brick_and_adds_no_set(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 1)
        before = {b["id"] for b in volume["bricks"]}
        nodes_of(rt.executor).trace.clear()
        status, text = await expand_and_wait(api, volume["id"], 2)
        assert status == 303, text
        _, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        grown = json.loads(text)
        assert grown["size"] == 3
        assert {b["id"] for b in grown["bricks"]} == before
        assert {b["size"] for b in grown["bricks"]} == {3 * KIB_PER_GIB}
        for brick_id in before:
            lv = brick_lv(rt, brick_id)
            assert lv["size_kib"] == lv["fs_size_kib"] == 3 * KIB_PER_GIB
            brick = rt.state.bricks[brick_id]
            pool = brick_pool(rt, brick_id)
            assert (pool["size_kib"], pool["metadata_kib"]) == (
                brick.tp_size_kib, brick.pool_metadata_kib)
            assert brick.tp_size_kib == 3 * KIB_PER_GIB
        gluster = nodes_of(rt.executor).snapshot()["pools"]
        assert all(len(v) for v in gluster.values())
        issued = commands(rt)
        assert not any("add-brick" in c or "rebalance" in c for c in issued), issued
        assert sum(c.startswith("xfs_growfs") for c in issued) == 3
        assert db_free(rt) == vg_free(rt)
        assert rt.state.operations == {}
        await consistent(api)


async def test_default_mode_adds_a_set_as_heketi(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        assert rt.settings.heketipy.volume_expansion == "add-brick"
        await topology(api)
        volume = await create(api, 1)
        status, text = await expand_and_wait(api, volume["id"], 1)
        assert status == 303, text
        _, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        assert len(json.loads(text)["bricks"]) == 6
        assert not any(c.startswith(("xfs_growfs", "lvextend")) for c in commands(rt))
        await consistent(api)


async def test_in_place_without_room_is_no_space_and_changes_nothing(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)  # one 50 GiB device per node
        volume = await create(api, 30)
        free, bricks = db_free(rt), {b.id: b.charge_kib for b in rt.state.bricks.values()}
        status, text = await expand_and_wait(api, volume["id"], 25)
        assert status == 500
        assert text.startswith("Failed to allocate volume expansion: No space"), text
        assert db_free(rt) == free == vg_free(rt)
        assert {b.id: b.charge_kib for b in rt.state.bricks.values()} == bricks
        assert not any(c.startswith("lvextend") for c in commands(rt))
        await consistent(api)


async def add_second_devices(api: Api, node_ids: list[str]) -> None:
    for node_id in node_ids:
        status, _, text = await api.wait("POST", "/devices", {"node": node_id, "name": "/dev/sdc"})
        assert status == 204, text


async def test_auto_falls_back_to_add_brick_without_room(tmp_path: Path) -> None:
    app = build(in_place(tmp_path, "auto"))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        node_ids = await topology(api)
        volume = await create(api, 30)
        await add_second_devices(api, node_ids)
        status, text = await expand_and_wait(api, volume["id"], 25)
        assert status == 303, text
        _, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        grown = json.loads(text)
        assert grown["size"] == 55 and len(grown["bricks"]) == 6
        assert not any(c.startswith("lvextend") for c in commands(rt))
        await consistent(api)


async def test_auto_grows_in_place_when_there_is_room(tmp_path: Path) -> None:
    app = build(in_place(tmp_path, "auto"))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 4, {"type": "none"})
        status, text = await expand_and_wait(api, volume["id"], 4)
        assert status == 303, text
        _, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        grown = json.loads(text)
        assert grown["size"] == 8 and [b["size"] for b in grown["bricks"]] == [8 * KIB_PER_GIB]
        assert db_free(rt) == vg_free(rt)
        await consistent(api)


async def test_in_place_disperse_and_arbiter_sizes(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        node_ids = await topology(api, nodes=6)
        del node_ids
        disperse = await create(api, 4, {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}})
        status, text = await expand_and_wait(api, disperse["id"], 4)
        assert status == 303, text
        assert {rt.state.bricks[b["id"]].size_kib for b in disperse["bricks"]} == {2 * KIB_PER_GIB}
        status, headers, text = await api.wait("POST", "/volumes", {
            "size": 2, "durability": REPLICA3, "gid": 2000,
            "glustervolumeoptions": ["user.heketi.arbiter true", "user.heketi.average-file-size 64"],
        })
        assert status == 303, text
        arbiter_id = headers["Location"].rsplit("/", 1)[1]
        sizes = sorted(b.size_kib for b in rt.state.bricks_of_volume(arbiter_id))
        assert sizes == [32 * 1024, 2 * KIB_PER_GIB, 2 * KIB_PER_GIB]  # arbiter: 2 GiB / 64 KiB
        status, text = await expand_and_wait(api, arbiter_id, 30)
        assert status == 303, text
        sizes = sorted(b.size_kib for b in rt.state.bricks_of_volume(arbiter_id))
        assert sizes == [512 * 1024, 32 * KIB_PER_GIB, 32 * KIB_PER_GIB]
        assert db_free(rt) == vg_free(rt)
        await consistent(api)


@pytest.mark.parametrize(("nth", "extended"), [(1, False), (2, True), (3, True)])
async def test_failed_lvextend_on_node2_rolls_back_exactly(
    tmp_path: Path, nth: int, extended: bool
) -> None:
    """The n-th lvextend on node2 fails (1: pool data, 2: pool metadata, 3: thin LV): the
    expansion fails, thin LVs go back to their size, a pool that grew stays grown and the
    database says so; a retry then succeeds."""
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 1)
        nodes_of(rt.executor).faults.fail_nth("lvextend", nth, "node2", exit_code=5,
                                              stderr="  Insufficient free space")
        status, text = await expand_and_wait(api, volume["id"], 2)
        assert status == 500 and "node2" in text, text
        assert rt.state.operations == {}
        _, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        assert json.loads(text)["size"] == 1
        for brick in rt.state.bricks_of_volume(volume["id"]):
            assert brick.size_kib == KIB_PER_GIB
            assert brick_lv(rt, brick.id)["size_kib"] == KIB_PER_GIB
            pool = brick_pool(rt, brick.id)
            assert (brick.tp_size_kib, brick.pool_metadata_kib) == (
                pool["size_kib"], pool["metadata_kib"])
        (on_node2,) = [b for b in rt.state.bricks.values()
                       if rt.state.nodes[b.node_id].manage_host == "node2"]
        assert (on_node2.tp_size_kib > KIB_PER_GIB) == extended
        assert db_free(rt) == vg_free(rt)
        await consistent(api)
        status, text = await expand_and_wait(api, volume["id"], 2)
        assert status == 303, text
        assert {b.size_kib for b in rt.state.bricks.values()} == {3 * KIB_PER_GIB}
        assert db_free(rt) == vg_free(rt)
        await consistent(api)


async def test_xfs_growfs_timeout_is_finished_by_recovery(tmp_path: Path) -> None:
    settings = in_place(tmp_path)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 1)
        nodes_of(rt.executor).faults.fail_nth("xfs_growfs", 1, "node3", timeout=True)
        status, text = await expand_and_wait(api, volume["id"], 2)
        assert status == 500 and "node3" in text, text
        (record,) = rt.state.operations.values()
        assert record.status == "failed" and "extended" in record.done_steps
        # Nothing shrank: every thin LV is extended, the pools are charged.
        assert db_free(rt) == vg_free(rt)
        status, _, text = await api.call("GET", f"/volumes/{volume['id']}")
        assert status == 200 and json.loads(text)["size"] == 1
    app2 = build(settings)
    async with TestClient(TestServer(app2)) as client:
        rt2, api2 = app2[RUNTIME], Api(client)
        assert rt2.state.operations == {}
        await assert_grown_to(rt2, api2, volume["id"], 3)


async def test_failed_operation_is_finished_by_cleanup(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 1)
        nodes_of(rt.executor).faults.fail_nth("xfs_growfs", 1, "node1")
        status, text = await expand_and_wait(api, volume["id"], 1)
        assert status == 500, text
        status, _, text = await api.wait("POST", "/operations/pending/cleanup", {})
        assert status in (200, 204, 303), text
        assert rt.state.operations == {}
        assert {b.size_kib for b in rt.state.bricks.values()} == {2 * KIB_PER_GIB}
        await consistent(api)


async def crash_after(tmp_path: Path, step: str) -> tuple[Any, str]:
    """Plan an in-place expand and run it up to ``step``, then 'crash' (drop the server)."""
    settings = in_place(tmp_path)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        volume = await create(api, 1)
        op = ExpandInPlace(rt, rt.state.volumes[volume["id"]], 2)
        await rt.apply(op.plan)
        bricks = op._bricks()
        if step == "one-lvextend":
            await rt.executor.brick_extend(
                rt.state.nodes[bricks[0].node_id].manage_host,
                op._request(bricks[0], op.targets[bricks[0].id]),
            )
        elif step in ("extended", "one-growfs"):
            for brick in bricks:
                await rt.executor.brick_extend(
                    rt.state.nodes[brick.node_id].manage_host, op._request(brick, op.targets[brick.id])
                )
            await rt.step_done(op.record, "extended")
            assert op.record is not None
            await rt.set_phase(op.record, "finalizing")
            if step == "one-growfs":
                await rt.executor.brick_grow_filesystem(
                    rt.state.nodes[bricks[1].node_id].manage_host,
                    op._request(bricks[1], op.targets[bricks[1].id]),
                )
    return settings, volume["id"]


@pytest.mark.parametrize(("step", "size"), [
    ("planned", 1), ("one-lvextend", 1), ("extended", 3), ("one-growfs", 3),
])
async def test_crash_at_each_step_recovers_consistent(tmp_path: Path, step: str, size: int) -> None:
    settings, volume_id = await crash_after(tmp_path, step)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        assert rt.state.operations == {}
        await assert_grown_to(rt, api, volume_id, size)


async def test_in_place_block_hosting_volume_splits_its_new_space(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        status, headers, text = await api.wait(
            "POST", "/volumes", {"size": 10, "durability": REPLICA3, "block": True}
        )
        assert status == 303, text
        volume_id = headers["Location"].rsplit("/", 1)[1]
        before = rt.state.volumes[volume_id]
        free, reserved = before.block_free_gib, before.block_reserved_gib
        status, text = await expand_and_wait(api, volume_id, 10)
        assert status == 303, text
        _, _, text = await api.call("GET", f"/volumes/{volume_id}")
        grown = json.loads(text)
        assert grown["size"] == 20 and len(grown["bricks"]) == 3
        # as an add-brick expand: 98 % of the new space free, the rest reserved
        info = grown["blockinfo"]
        assert (info["freesize"], info["reservedsize"]) == (free + 9, reserved + 1)
        assert db_free(rt) == vg_free(rt)
        await consistent(api)
