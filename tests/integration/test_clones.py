"""Clones are first-class volumes: their gluster volume carries their own ``user.heketi.id``,
their bricks have fstab lines, tags and mounts that drift checks, and the thin pools they share
with their source stay charged to the device until the last brick using them is gone, so the
database's free space equals the nodes' at every step."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.domain.entities import gluster_layout_uuid
from heketipy.domain.space import device_charge_kib, fits
from heketipy.operations.runtime import Runtime
from heketipy.operations.volumes import CloneVolume
from heketipy.server import build
from heketipy.simulator import gluster as sim_gluster
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology
from tests.support.simulated import charged_space_kib, nodes_of

GIB_KIB = 1024 * 1024


def assert_space_agrees(rt: Runtime) -> None:
    """Placement's free space is the simulated node's real VG free space, device by device
    (but for LVM's pool metadata spare, which the database does not charge)."""
    for device in rt.state.devices.values():
        node = nodes_of(rt.executor).node(rt.state.nodes[device.node_id].manage_host)
        vg = node.vgs[f"vg_{device.id}"]
        assert (device.free_kib, device.used_kib) == charged_space_kib(vg), device.id


async def assert_drift_clean(api: Api) -> None:
    _, _, text = await api.call("GET", "/internal/state/drift")
    drift = json.loads(text)
    assert drift["clean"] is True, drift


def largest_fitting_gib(rt: Runtime) -> int:
    """The largest replica-3 volume placement would accept, by the database's free space."""
    smallest_free = min(d.free_kib for d in rt.state.devices.values())
    size = smallest_free // GIB_KIB
    while size > 0 and not fits(smallest_free, device_charge_kib(size * GIB_KIB)):
        size -= 1
    return size


@asynccontextmanager
async def three_nodes(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Api]]:
    """A simulator-backed server with three nodes of one 50 GiB device each."""
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        yield rt, api


async def created(api: Api, path: str, body: dict) -> str:
    status, headers, text = await api.wait("POST", path, body)
    assert status == 303, text
    return headers["Location"].rsplit("/", 1)[1]


async def test_clone_then_drift_is_clean_and_carries_its_own_id(tmp_path: Path) -> None:
    async with three_nodes(tmp_path) as (rt, api):
        source = await created(api, "/volumes", {"size": 2, "durability": REPLICA3})
        clone = await created(api, f"/volumes/{source}/clone", {"name": "myclone"})
        await assert_drift_clean(api)
        assert_space_agrees(rt)
        host = next(iter(rt.state.nodes.values())).manage_host
        info = await rt.executor.volume_info(host, "myclone")
        assert info.options["user.heketi.id"] == clone
        for brick in rt.state.bricks_of_volume(clone):
            node = nodes_of(rt.executor).node(rt.state.nodes[brick.node_id].manage_host)
            lv = node.vgs[f"vg_{brick.device_id}"].lvs[brick.lv_name]
            assert f"heketi-brick-{brick.id}" in lv.tags
            # gluster's layout, as real glusterd makes it; glusterd mounts it, no fstab line
            assert brick.lv == f"{gluster_layout_uuid(brick.path)}_0"  # one brick per node
            assert node.mounts[brick.mount_path].endswith(brick.lv_name)
            assert not any(brick.mount_path in line for line in node.fstab)


async def test_space_agrees_through_clone_and_deletes(tmp_path: Path) -> None:
    async with three_nodes(tmp_path) as (rt, api):
        assert_space_agrees(rt)
        source = await created(api, "/volumes", {"size": 20, "durability": REPLICA3})
        assert_space_agrees(rt)
        clone = await created(api, f"/volumes/{source}/clone", {"name": ""})
        assert_space_agrees(rt)

        # The source goes; its thin pools stay on the nodes for the clone, and stay charged.
        status, _, text = await api.wait("DELETE", f"/volumes/{source}")
        assert status == 204, text
        assert_space_agrees(rt)
        await assert_drift_clean(api)

        # A volume that fills what placement says is left fits on the nodes too.
        size = largest_fitting_gib(rt)
        assert size > 0
        filler = await created(api, "/volumes", {"size": size, "durability": REPLICA3})
        assert_space_agrees(rt)
        await assert_drift_clean(api)

        for volume in (clone, filler):
            status, _, text = await api.wait("DELETE", f"/volumes/{volume}")
            assert status == 204, text
            assert_space_agrees(rt)
        for device in rt.state.devices.values():
            assert device.free_kib == device.total_kib and device.used_kib == 0
        await assert_drift_clean(api)


async def test_deleting_the_clone_first_keeps_the_source_charged(tmp_path: Path) -> None:
    async with three_nodes(tmp_path) as (rt, api):
        source = await created(api, "/volumes", {"size": 5, "durability": REPLICA3})
        first = await created(api, f"/volumes/{source}/clone", {"name": "c1"})
        second = await created(api, f"/volumes/{first}/clone", {"name": "c2"})
        assert_space_agrees(rt)
        for volume in (first, source, second):
            status, _, text = await api.wait("DELETE", f"/volumes/{volume}")
            assert status == 204, text
            assert_space_agrees(rt)
            await assert_drift_clean(api)
        for device in rt.state.devices.values():
            assert device.free_kib == device.total_kib


def gluster_volume_names(rt: Runtime) -> set[str]:
    return {name for pool in nodes_of(rt.executor).state.pools.values() for name in pool.volumes}


def lv_names(rt: Runtime) -> set[str]:
    return {
        lv for node in nodes_of(rt.executor).state.nodes.values() for vg in node.vgs.values() for lv in vg.lvs
    }


async def test_a_clone_that_fails_after_gluster_made_it_leaves_nothing(tmp_path: Path) -> None:
    async with three_nodes(tmp_path) as (rt, api):
        source = await created(api, "/volumes", {"size": 2, "durability": REPLICA3})
        before = lv_names(rt)
        nodes_of(rt.executor).faults.fail_nth("gluster volume info", 1, after=True)
        status, _, text = await api.wait("POST", f"/volumes/{source}/clone", {"name": "c"})
        assert status == 500, text
        assert lv_names(rt) == before  # the snapshots gluster made are gone again
        assert sorted(v.name for v in rt.state.volumes.values()) == [
            rt.state.volumes[source].name
        ]
        assert_space_agrees(rt)
        await assert_drift_clean(api)


async def test_a_clone_whose_snapshot_steps_were_lost_leaves_no_snapshot(tmp_path: Path) -> None:
    """``snapshot create`` took effect, then glusterd stopped answering before the temporary
    snapshot was deleted (as when the server dies there): rolling back removes the snapshot,
    so its LVs and mounts do not stay in heketipy's VGs and the source can still be deleted."""
    async with three_nodes(tmp_path) as (rt, api):
        source = await created(api, "/volumes", {"size": 2, "durability": REPLICA3})
        before = lv_names(rt)
        faults = nodes_of(rt.executor).faults
        for command in ("activate", "deactivate", "delete"):
            faults.fail_nth(f"gluster snapshot {command}", 1, timeout=True)
        status, _, text = await api.wait("POST", f"/volumes/{source}/clone", {"name": "c"})
        assert status == 500, text
        assert all(not pool.snapshots for pool in nodes_of(rt.executor).state.pools.values())
        assert lv_names(rt) == before
        await assert_drift_clean(api)
        status, _, text = await api.wait("DELETE", f"/volumes/{source}")
        assert status == 204, text


async def test_a_clone_that_fails_on_a_name_someone_else_uses_removes_nothing(
    tmp_path: Path,
) -> None:
    async with three_nodes(tmp_path) as (rt, api):
        source = await created(api, "/volumes", {"size": 2, "durability": REPLICA3})
        host = next(iter(rt.state.nodes.values())).manage_host
        # A clone of the source made directly with gluster, under the name we will ask for.
        await rt.executor.volume_clone(host, rt.state.volumes[source].name, "theirs")
        status, _, text = await api.wait("POST", f"/volumes/{source}/clone", {"name": "theirs"})
        assert status == 500, text
        assert "theirs" in gluster_volume_names(rt)  # rolling back did not delete theirs
        assert "already in use" in text


@pytest.mark.parametrize("started", [True, False])
async def test_a_clone_interrupted_after_gluster_made_it_is_finished_or_undone_on_restart(
    tmp_path: Path, started: bool
) -> None:
    settings = settings_for(tmp_path)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        source = await created(api, "/volumes", {"size": 2, "durability": REPLICA3})
        before = lv_names(rt)
        op = CloneVolume(rt, rt.state.volumes[source], "halfway")
        await rt.apply(op.plan)
        host = next(iter(rt.state.nodes.values())).manage_host
        source_name = rt.state.volumes[source].name
        # The process "dies" right after gluster cloned (and started, or not yet started, the
        # clone): nothing of it is journaled.
        if started:
            await rt.executor.volume_clone(host, source_name, "halfway")
        else:
            sim_gluster.volume_clone(nodes_of(rt.executor).state, nodes_of(rt.executor).node(host), source_name,
                                     "halfway")
            nodes_of(rt.executor).save()
    app2 = build(settings)
    async with TestClient(TestServer(app2)) as client:
        rt2 = app2[RUNTIME]
        api = Api(client)
        assert rt2.state.operations == {}
        status, _, text = await api.call("GET", f"/volumes/{op.clone_id}")
        await assert_drift_clean(api)
        assert_space_agrees(rt2)
        if started:  # finished
            assert status == 200, text
            info = await rt2.executor.volume_info(host, "halfway")
            assert info.options["user.heketi.id"] == op.clone_id
        else:  # undone, with the snapshots gluster made
            assert status == 404, text
            assert "halfway" not in gluster_volume_names(rt2)
            assert lv_names(rt2) == before
