"""The drift report finds what differs between the database and the (simulated) nodes, in both
directions, and repair removes orphans only when asked."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from heketipy.domain.entities import new_id
from heketipy.executors.base import BrickRequest
from heketipy.server import build
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology


async def test_drift_report_and_repair(tmp_path: Path) -> None:
    app, rt = await build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
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
