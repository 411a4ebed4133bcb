"""A clone made by real glusterd (``snapshot create``/``activate``/``clone`` on the testbed's
emulated thin LVM): its bricks sit where gluster puts them (/run/gluster/snaps/<uuid>/brickN on
the LV <uuid>_<N-1>), and heketipy still owns them: drift is clean, the source can go first
(the shared thin pools stay, space agrees with the nodes), and deleting the clone leaves the
nodes as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.scenario import _created_id, call, device_free, load_topology, remove_topology
from tests.e2e.testbed import Testbed
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

SNAPS_ROOT = "/run/gluster/snaps/"


def _drift(api: ServerProcess) -> dict[str, Any]:
    reply = api.request("GET", "/internal/state/drift")
    assert reply.status == 200, reply.text
    return dict(json.loads(reply.text))


def _snap_mounts(bed: Testbed) -> dict[str, list[str]]:
    found = {}
    for node in bed.nodes:
        lines = bed.node_run(node, ["cat", "/proc/self/mounts"]).stdout.splitlines()
        found[node.name] = sorted(
            f.split()[1] for f in lines if len(f.split()) > 1 and f.split()[1].startswith(SNAPS_ROOT)
        )
    return found


def test_real_clone_lifecycle(heketi_over_ssh: ServerProcess, testbed: Testbed) -> None:
    api, bed = heketi_over_ssh, testbed
    topology = load_topology(api, bed)
    free_before = device_free(api, topology)
    nodes_before = bed.states()
    try:
        source_id = _created_id(call(api, "POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        }))  # fmt: skip
        reply = call(api, "POST", f"/volumes/{source_id}/clone", {"name": "vol_realclone"})
        clone_id = _created_id(reply)
        clone = api.request("GET", f"/volumes/{clone_id}").json()
        assert clone["name"] == "vol_realclone" and len(clone["bricks"]) == 3
        # the bricks are gluster's, and the API reports them where gluster serves them
        paths = sorted(b["path"] for b in clone["bricks"])
        assert all(p.startswith(SNAPS_ROOT) for p in paths), paths
        info = bed.gluster(bed.nodes[0], "volume", "info", "vol_realclone")
        for path in paths:
            assert path in info, (path, info)
        mounts = _snap_mounts(bed)
        assert sum(len(m) for m in mounts.values()) == 3, mounts
        # heketipy tagged each clone LV as its brick
        for node in bed.nodes:
            tags = bed.node_run(node, ["lvm", "lvs", "--noheadings", "-o", "lv_name,lv_tags"]).stdout
            for brick in clone["bricks"]:
                if brick["node"] == topology.node_ids[node.name]:
                    assert f"heketi-brick-{brick['id']}" in tags, (node.name, tags)
        assert _drift(api)["clean"] is True, _drift(api)

        assert call(api, "DELETE", f"/volumes/{source_id}").status == 204
        drift = _drift(api)  # device free (database) == VG free (node) is part of it
        assert drift["clean"] is True, drift

        assert call(api, "DELETE", f"/volumes/{clone_id}").status == 204
        assert _drift(api)["clean"] is True
        after = bed.states()
        for node in bed.nodes:
            state = after[node.name]
            assert state.lvs == [] and state.mounts == [] and state.fstab == [], (node.name, state)
            assert state.vg_free_kib == nodes_before[node.name].vg_free_kib, node.name
        assert _snap_mounts(bed) == {node.name: [] for node in bed.nodes}
        assert device_free(api, topology) == free_before
    finally:
        for vid in api.request("GET", "/volumes").json()["volumes"]:
            call(api, "DELETE", f"/volumes/{vid}")
    remove_topology(api, bed, topology)
