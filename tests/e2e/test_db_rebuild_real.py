"""``heketipy db rebuild`` against real glusterd, LVM and XFS on the namespace testbed, over SSH:
volumes of every kind the testbed can hold (it has no gluster-block: the block-hosting volume
carries no block volumes), the database deleted, rebuilt from the nodes, dump after equal to
dump before except the new cluster and node ids, and the server restarted on it without
``--init-db`` finding the same drift report (clean) and a consistent database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from heketipy import admin_cli
from tests.e2e.conftest import REPO, start_heketi
from tests.e2e.scenario import Topology, call, remove_topology
from tests.e2e.testbed import Testbed
from tests.integration.test_db_rebuild import differences, id_order_free, new_ids
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


def created(api: ServerProcess, path: str, body: dict[str, Any]) -> str:
    reply = call(api, "POST", path, body)
    assert reply.status == 303, (path, body, reply.status, reply.text)
    return str(reply.headers["Location"].rsplit("/", 1)[1])


def topology_document(bed: Testbed) -> dict[str, Any]:
    return {"clusters": [{"nodes": [
        {
            "node": {"hostnames": {"manage": [n.manage], "storage": [n.storage]}, "zone": n.zone},
            "devices": list(n.devices),
        }
        for n in bed.nodes
    ]}]}  # fmt: skip


def load(api: ServerProcess, document: dict[str, Any]) -> None:
    reply = api.request("POST", "/clusters", {"file": True, "block": True})
    assert reply.status == 201, reply.text
    cluster = reply.json()["id"]
    for entry in document["clusters"][0]["nodes"]:
        node_id = created(api, "/nodes", {**entry["node"], "cluster": cluster})
        for device in entry["devices"]:
            reply = call(api, "POST", "/devices", {"node": node_id, "name": device})
            assert reply.status == 204, reply.text


def export(db: Path) -> dict[str, Any]:
    dumped = json.loads(admin_cli.export_bytes(str(db)))
    del dumped["dbattributeentries"]["DB_GENERATION_ID"]
    return dumped


def drift(api: ServerProcess) -> dict[str, Any]:
    reply = api.request("GET", "/internal/state/drift")
    assert reply.status == 200, reply.text
    return dict(reply.json())


def current_topology(api: ServerProcess, bed: Testbed) -> Topology:
    """The cluster and node ids heketipy has now (new ones after a rebuild)."""
    topology = Topology()
    (topology.cluster,) = api.request("GET", "/clusters").json()["clusters"]
    for node_id in api.request("GET", f"/clusters/{topology.cluster}").json()["nodes"]:
        manage = api.request("GET", f"/nodes/{node_id}").json()["hostnames"]["manage"][0]
        name = next(n.name for n in bed.nodes if n.manage == manage)
        topology.node_ids[name] = node_id
    return topology


def test_rebuild_from_real_nodes(
    heketi_over_ssh: ServerProcess, testbed: Testbed, tmp_path: Path
) -> None:
    api = heketi_over_ssh
    document = topology_document(testbed)
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps(document))
    load(api, document)
    made = {
        "replicate": created(api, "/volumes", {"size": 1, "durability": REPLICA3, "gid": 2000}),
        "arbiter": created(api, "/volumes", {
            "size": 1, "durability": REPLICA3, "glustervolumeoptions": ["user.heketi.arbiter true"],
        }),
        "disperse": created(api, "/volumes", {
            "size": 2, "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
        }),
        "none": created(api, "/volumes", {
            "size": 1, "name": "plain", "durability": {"type": "none"},
            "glustervolumeoptions": ["performance.readdir-ahead off"],
        }),
        "expanded": created(api, "/volumes", {"size": 1, "durability": REPLICA3}),
        "snapshot": created(api, "/volumes", {
            "size": 1, "durability": REPLICA3, "snapshot": {"enable": True, "factor": 1.5},
        }),
        "bhv": created(api, "/volumes", {"size": 2, "durability": REPLICA3, "block": True}),
    }  # fmt: skip
    reply = call(api, "POST", f"/volumes/{made['expanded']}/expand", {"expand_size": 1})
    assert reply.status == 303, reply.text
    old = {n["hostnames"]["manage"][0]: n["id"] for n in (
        api.request("GET", f"/nodes/{node_id}").json()
        for cluster in api.request("GET", "/clusters").json()["clusters"]
        for node_id in api.request("GET", f"/clusters/{cluster}").json()["nodes"]
    )}  # fmt: skip
    old["cluster"] = api.request("GET", "/clusters").json()["clusters"][0]
    drift_before = drift(api)

    api.stop()
    before = export(api.db_path)
    saved = tmp_path / "saved"
    saved.mkdir()
    files = [Path(f"{api.db_path}{suffix}") for suffix in ("", "-wal", "-shm", ".lock")]
    for path in files:
        if path.exists():
            shutil.copy2(path, saved / path.name)
            path.unlink()
    rebuilt = subprocess.run(
        ["nsenter", f"--net={testbed.description['client']['netns_path']}", "--", sys.executable,
         "-m", "heketipy", "db", "rebuild", "--config", str(api.config_path),
         "--topology", str(topology)],
        capture_output=True, text=True, env=api.env, cwd=REPO, timeout=600, check=False,
    )  # fmt: skip
    after: dict[str, Any] = {}
    if rebuilt.returncode == 0:
        after = export(api.db_path)  # now: the server locks it
    else:  # the old database back, so the nodes can be cleaned up
        for path in saved.iterdir():
            shutil.copy2(path, api.db_path.parent / path.name)
    restarted = start_heketi(api.config_path, testbed, api.env)
    # The session's server is this one from now on (its teardown stops it).
    api.process = restarted.process
    try:
        assert rebuilt.returncode == 0, rebuilt.stderr
        print(rebuilt.stdout)
        fresh = new_ids(rebuilt.stdout)
        text = json.dumps(before)
        for name, old_id in old.items():
            text = text.replace(old_id, fresh[name])
        problems = differences(id_order_free(after), id_order_free(json.loads(text)))
        assert not problems, "\n".join(problems)
        reply = api.request("GET", "/db/check")
        assert reply.status == 200 and reply.json()["totalinconsistencies"] == 0, reply.text
        drift_after = drift(api)
        assert drift_after["clean"] is True and drift_before["clean"] is True, drift_after
        for problem in ("orphaned", "missing", "mismatched"):
            assert drift_after[problem] == [], drift_after
    finally:
        for volume_id in api.request("GET", "/volumes").json()["volumes"]:
            assert call(api, "DELETE", f"/volumes/{volume_id}").status == 204
        remove_topology(api, testbed, current_topology(api, testbed))
