"""The drift report finds what differs between the database and the (simulated) nodes, in both
directions, and repair removes orphans only when asked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.domain.entities import new_id
from heketipy.executors.base import BrickRequest
from heketipy.server import build
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology
from tests.openapi_check import validate_response
from tests.support.simulated import nodes_of


async def test_drift_report_and_repair(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        status, headers, _ = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303
        _, _, text = await api.call("GET", "/internal/state/drift")
        assert json.loads(text)["clean"] is True

        # An orphan brick made behind heketipy's back, and a gluster volume it does not know.
        device = next(iter(rt.state.devices.values()))
        host = rt.state.nodes[device.node_id].manage_host
        orphan_id = new_id()
        await rt.executor.brick_create(host, BrickRequest(
            device_id=device.id, brick_id=orphan_id, tp_name=f"tp_{orphan_id}",
            lv_name=f"brick_{orphan_id}", tp_size_kib=1048576, size_kib=1048576,
            pool_metadata_kib=8192,
        ))
        # A volume the database has but gluster lost.
        volume = next(iter(rt.state.volumes.values()))
        await rt.executor.volume_destroy(host, volume.name)

        _, _, text = await api.call("GET", "/internal/state/drift")
        drift = json.loads(text)
        assert drift["clean"] is False
        orphaned = {(f["kind"], f["name"]) for f in drift["orphaned"]}
        assert ("brick-lv", f"vg_{device.id}/brick_{orphan_id}") in orphaned
        assert any(f["kind"] == "mount" and orphan_id in f["name"] for f in drift["orphaned"])
        assert any(f["kind"] == "fstab" and orphan_id in f["name"] for f in drift["orphaned"])
        assert {(f["kind"], f["name"]) for f in drift["missing"]} == {
            ("gluster-volume", volume.name)
        }
        assert any(f["kind"] == "device" for f in drift["mismatched"])  # VG free differs

        status, _, text = await api.call("POST", "/internal/state/drift/repair", {})
        assert status == 400  # nothing is removed unless asked explicitly
        status, _, text = await api.call(
            "POST", "/internal/state/drift/repair", {"remove_orphans": True}
        )
        assert status == 200, text
        repaired = json.loads(text)
        assert any(orphan_id in item for item in repaired["removed"])
        after = repaired["report"]
        assert after["orphaned"] == [] and after["mismatched"] == []
        assert {(f["kind"], f["name"]) for f in after["missing"]} == {
            ("gluster-volume", volume.name)
        }


@asynccontextmanager
async def topology_served(tmp_path: Path) -> AsyncIterator[tuple[Api, Any, Any, str]]:
    """A server on the simulator with the test topology; its first device and that node."""
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        device = next(iter(rt.state.devices.values()))
        yield api, rt, device, rt.state.nodes[device.node_id].manage_host


def foreign_brick(rt, host: str, device_id: str, name: str, vg: str = "") -> str:
    """An LV, filesystem, mount and fstab line made on the node by someone else (untagged),
    in the device's heketipy VG unless another ``vg`` is named."""
    from heketipy.simulator import node as lvm

    node = nodes_of(rt.executor).node(host)
    vg = vg or f"vg_{device_id}"
    lvm.lvcreate_pool(node, vg, f"tp_{name}", 1048576, 8192)
    lvm.lvcreate_thin_lv(node, vg, f"tp_{name}", f"brick_{name}", 1048576)
    device = lvm.dm_path(vg, f"brick_{name}")
    mount_point = f"/var/lib/heketi/mounts/{vg}/brick_{name}"
    lvm.mkfs_xfs(node, device)
    lvm.mkdir_p(node, mount_point)
    lvm.fstab_add(node, lvm.fstab_line(device, mount_point))
    lvm.mount(node, device, mount_point)
    lvm.mkdir_in_mount(node, mount_point + "/brick")
    nodes_of(rt.executor).save()
    return rt.state.nodes[rt.state.devices[device_id].node_id].storage_host + ":" + (
        mount_point + "/brick"
    )


async def test_repair_never_removes_what_heketipy_did_not_create(tmp_path: Path) -> None:
    from heketipy.executors.base import BrickAddress, VolumeRequest

    async with topology_served(tmp_path) as (api, rt, device, host):
        # Two gluster volumes made directly on the node: one with no id at all, one whose
        # user.heketi.id is not an id heketipy would ever write.
        for name, options in (("admins_vol", ()), ("other_tool_vol", ("user.heketi.id other-42",))):
            brick = foreign_brick(rt, host, device.id, name)
            storage, path = brick.split(":", 1)
            await rt.executor.volume_create(host, VolumeRequest(
                name=name, bricks=(BrickAddress(storage, path),), options=options,
            ))
        # And heketipy's own leftover, which repair may remove.
        leftover = new_id()
        await rt.executor.brick_create(host, BrickRequest(
            device_id=device.id, brick_id=leftover, tp_name=f"tp_{leftover}",
            lv_name=f"brick_{leftover}", tp_size_kib=1048576, size_kib=1048576,
            pool_metadata_kib=8192,
        ))

        status, headers, text = await api.call("GET", "/internal/state/drift")
        validate_response("GET", "/internal/state/drift", status, headers, text.encode())
        drift = json.loads(text)
        assert drift["clean"] is False  # heketipy's own leftover is drift
        foreign = {(f["kind"], f["name"]) for f in drift["foreign"]}
        vg = f"vg_{device.id}"
        for name in ("admins_vol", "other_tool_vol"):
            assert ("gluster-volume", name) in foreign
            assert ("brick-lv", f"{vg}/brick_{name}") in foreign
            assert ("brick-pool", f"{vg}/tp_{name}") in foreign
            assert ("mount", f"/var/lib/heketi/mounts/{vg}/brick_{name}") in foreign
        orphaned = {(f["kind"], f["name"]) for f in drift["orphaned"]}
        assert ("brick-lv", f"{vg}/brick_{leftover}") in orphaned
        assert not any("admins_vol" in n or "other_tool_vol" in n for _, n in orphaned)

        status, headers, text = await api.call(
            "POST", "/internal/state/drift/repair", {"remove_orphans": True}
        )
        assert status == 200, text
        validate_response("POST", "/internal/state/drift/repair", status, headers, text.encode())
        repaired = json.loads(text)
        assert any(leftover in item for item in repaired["removed"])
        assert not any("admins_vol" in i or "other_tool_vol" in i for i in repaired["removed"])
        after = repaired["report"]
        assert after["orphaned"] == []
        assert {(f["kind"], f["name"]) for f in after["foreign"]} == foreign
        # What remains is theirs; only the VG free space they take differs from the database.
        assert after["missing"] == [] and {f["kind"] for f in after["mismatched"]} == {"device"}
        pool = nodes_of(rt.executor).state.pools[nodes_of(rt.executor).node(host).pool]
        assert {"admins_vol", "other_tool_vol"} <= set(pool.volumes)
        lvs_left = nodes_of(rt.executor).node(host).vgs[vg].lvs
        assert {"brick_admins_vol", "tp_admins_vol", "brick_other_tool_vol"} <= set(lvs_left)


async def test_untagged_lv_in_a_heketipy_vg_is_drift_but_never_removed(tmp_path: Path) -> None:
    """heketipy owns its VGs whole: an untagged LV there (a leftover snapshot, say) makes the
    report unclean, yet repair still leaves it; an untagged LV in any other VG is no drift."""
    from heketipy.simulator import node as lvm

    async with topology_served(tmp_path) as (api, rt, device, host):
        node = nodes_of(rt.executor).node(host)
        lvm.ensure_disk(node, "/dev/admin_disk", 50 * 1048576)
        lvm.pvcreate(node, "/dev/admin_disk")
        lvm.vgcreate(node, "vg_admin", "/dev/admin_disk")
        foreign_brick(rt, host, device.id, "elsewhere", vg="vg_admin")

        _, _, text = await api.call("GET", "/internal/state/drift")
        drift = json.loads(text)
        assert drift["clean"] is True, drift
        assert any("elsewhere" in f["name"] for f in drift["foreign"])

        # A snapshot left in one of heketipy's thin pools: untagged, and it costs no VG space,
        # so nothing but the LV itself shows it.
        status, _, _ = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303
        brick = next(iter(rt.state.bricks.values()))
        node = nodes_of(rt.executor).node(rt.state.nodes[brick.node_id].manage_host)
        vg = f"vg_{brick.device_id}"
        lvm.thin_snapshot(node, vg, brick.lv_name, "brick_stray")
        nodes_of(rt.executor).save()
        _, _, text = await api.call("GET", "/internal/state/drift")
        drift = json.loads(text)
        assert drift["clean"] is False
        assert ("brick-lv", f"{vg}/brick_stray") in {
            (f["kind"], f["name"]) for f in drift["foreign"]
        }

        status, _, text = await api.call(
            "POST", "/internal/state/drift/repair", {"remove_orphans": True}
        )
        assert status == 200, text
        assert json.loads(text)["removed"] == []
        assert json.loads(text)["report"]["clean"] is False
        assert "brick_stray" in node.vgs[vg].lvs


async def test_repair_claims_only_what_it_removed(tmp_path: Path) -> None:
    """A tagged LV outside heketipy's brick layout (gluster's ``<uuid>_0`` snapshot LV of a
    clone whose record is gone) is reported orphaned, but repair cannot destroy it through a
    brick request: it must leave it and say so, never list it as removed."""
    from heketipy.simulator import node as lvm

    async with topology_served(tmp_path) as (api, rt, device, host):
        status, _, _ = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303
        brick = next(iter(rt.state.bricks.values()))
        node = nodes_of(rt.executor).node(rt.state.nodes[brick.node_id].manage_host)
        vg = f"vg_{brick.device_id}"
        stray = f"{new_id()}_0"
        lvm.thin_snapshot(node, vg, brick.lv_name, stray)
        node.vgs[vg].lvs[stray].tags = [f"heketi-device-{brick.device_id}",
                                        f"heketi-brick-{new_id()}"]
        nodes_of(rt.executor).save()
        _, _, text = await api.call("GET", "/internal/state/drift")
        assert ("brick-lv", f"{vg}/{stray}") in {
            (f["kind"], f["name"]) for f in json.loads(text)["orphaned"]
        }

        status, _, text = await api.call(
            "POST", "/internal/state/drift/repair", {"remove_orphans": True}
        )
        assert status == 200, text
        assert not any(stray in item for item in json.loads(text)["removed"])
        assert stray in node.vgs[vg].lvs


async def test_an_arbiter_brick_made_at_the_xfs_minimum_is_no_drift(tmp_path: Path) -> None:
    """An arbiter brick (16 MiB here) is made as a 300 MiB thin LV, the smallest filesystem
    mkfs.xfs accepts: the node's LV size is the one the database's brick size is made with."""
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        status, _, text = await api.wait("POST", "/volumes", {
            "size": 1, "durability": REPLICA3, "glustervolumeoptions": ["user.heketi.arbiter true"],
        })  # fmt: skip
        assert status == 303, text
        assert min(b.size_kib for b in rt.state.bricks.values()) < 300 * 1024
        _, _, text = await api.call("GET", "/internal/state/drift")
        drift = json.loads(text)
        assert drift["mismatched"] == [] and drift["clean"] is True, drift
