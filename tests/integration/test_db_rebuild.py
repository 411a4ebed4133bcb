"""``heketipy db rebuild`` on the simulator: volumes of every kind are made through the API,
the database is deleted, the rebuild reads the nodes, and the dump after equals the dump
before except for the cluster and node ids the rebuild lists as new; the server then starts on
it without ``--init-db`` and drift and ``/db/check`` are clean. Refusals leave no database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from heketipy import admin_cli
from heketipy.api.app import RUNTIME
from heketipy.server import build
from tests.integration.test_operations import Api, settings_for

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
NODES = 6


def topology_file(tmp_path: Path, extra_node: str | None = None) -> Path:
    """The topology.json an operator keeps: hostnames, zones, tags; no ids."""
    nodes: list[dict[str, Any]] = [
        {
            "node": {
                "hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]},
                "zone": 1 + i % 3,
                **({"tags": {"rack": f"r{i % 2}"}} if i % 2 else {}),
            },
            "devices": [
                {"name": "/dev/sdb", "destroydata": False, "tags": {"disk": "ssd"}},
                "/dev/sdc",
            ],
        }
        for i in range(1, NODES + 1)
    ]
    if extra_node:
        nodes.append({
            "node": {"hostnames": {"manage": [extra_node], "storage": [extra_node]}, "zone": 1},
            "devices": ["/dev/sdb"],
        })  # fmt: skip
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"clusters": [{"nodes": nodes}]}))
    return path


async def load_topology(api: Api, path: Path) -> None:
    """What ``heketi-cli topology load`` does with the file."""
    document = json.loads(path.read_text())
    _, _, text = await api.call("POST", "/clusters", {"file": True, "block": True})
    cluster = json.loads(text)["id"]
    for entry in document["clusters"][0]["nodes"]:
        status, headers, text = await api.wait("POST", "/nodes", {**entry["node"], "cluster": cluster})
        assert status == 303, text
        node_id = headers["Location"].rsplit("/", 1)[1]
        for device in entry["devices"]:
            body = {"name": device} if isinstance(device, str) else dict(device)
            status, _, text = await api.wait("POST", "/devices", {**body, "node": node_id})
            assert status == 204, text


async def create(api: Api, body: dict[str, Any], path: str = "/volumes") -> str:
    status, headers, text = await api.wait("POST", path, body)
    assert status == 303, text
    return headers["Location"].rsplit("/", 1)[1]


async def every_kind(api: Api) -> dict[str, str]:
    """One volume of each kind; returns name -> id."""
    made = {
        "replicate": await create(api, {"size": 2, "durability": REPLICA3, "gid": 2000}),
        "arbiter": await create(api, {
            "size": 2, "durability": REPLICA3,
            "glustervolumeoptions": ["user.heketi.arbiter true"],
        }),
        "disperse": await create(api, {
            "size": 4, "durability": {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}},
        }),
        "none": await create(api, {
            "size": 1, "name": "plain", "durability": {"type": "none"},
            "glustervolumeoptions": ["performance.readdir-ahead off", "user.heketi.custom x"],
        }),
        "expanded": await create(api, {"size": 1, "durability": REPLICA3, "gid": 3000}),
        "snapshot": await create(api, {
            "size": 2, "durability": REPLICA3, "snapshot": {"enable": True, "factor": 1.5},
        }),
        "bhv": await create(api, {"size": 10, "durability": REPLICA3, "block": True}),
    }  # fmt: skip
    status, _, text = await api.wait("POST", f"/volumes/{made['expanded']}/expand", {"expand_size": 2})
    assert status == 303, text
    made["block1"] = await create(api, {"size": 2}, "/blockvolumes")
    made["block2"] = await create(api, {"size": 1, "name": "mine", "auth": True, "hacount": 2},
                                  "/blockvolumes")
    return made


def rebuild(tmp_path: Path, topology: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = admin_cli.main(
        ["db", "rebuild", "--config", str(tmp_path / "heketi.json"), "--topology", str(topology)],
        out, err,
    )
    return code, out.getvalue(), err.getvalue()


def export(db: Path) -> dict[str, Any]:
    dumped = json.loads(admin_cli.export_bytes(str(db)))
    del dumped["dbattributeentries"]["DB_GENERATION_ID"]
    return dumped


def id_order_free(document: Any) -> Any:
    """``document`` without what follows the order of node ids (new ones after a rebuild):
    id lists are sorted by id, and a volume's mount names its hosts in node order."""
    if isinstance(document, list):
        items = [id_order_free(item) for item in document]
        return sorted(items) if all(isinstance(i, str) for i in items) else items
    if not isinstance(document, dict):
        return document
    out = {key: id_order_free(value) for key, value in document.items()}
    glusterfs = out.get("glusterfs")
    if isinstance(glusterfs, dict) and "device" in glusterfs:
        first, _, volume = glusterfs["device"].partition(":")
        backups = glusterfs["options"]["backup-volfile-servers"].split(",")
        glusterfs["device"] = volume
        glusterfs["options"]["backup-volfile-servers"] = sorted([first, *backups])
    return out


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Every path at which two JSON documents differ, with both values."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [
            line
            for key in sorted(set(got) | set(want))
            for line in differences(got.get(key, "<absent>"), want.get(key, "<absent>"),
                                    f"{where}/{key}")
        ]
    return [] if got == want else [f"{where}: rebuilt {got!r}, before {want!r}"]


def remove_database(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        if os.path.lexists(f"{db}{suffix}"):
            os.unlink(f"{db}{suffix}")


def new_ids(output: str) -> dict[str, str]:
    """What the rebuild printed: node manage host -> new node id, and cluster -> new id."""
    mapping = {m[1]: m[0] for m in re.findall(r"node ([0-9a-f]{32}): new id \((\S+)\)", output)}
    (mapping["cluster"],) = re.findall(r"cluster ([0-9a-f]{32}): new id", output)
    return mapping


async def served_world(tmp_path: Path) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Volumes of every kind; returns the dump, volume ids and old node/cluster ids by name."""
    topology = topology_file(tmp_path)
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await load_topology(api, topology)
        made = await every_kind(api)
        old = {n.manage_host: n.id for n in rt.state.nodes.values()}
        old["cluster"] = next(iter(rt.state.clusters))
    return export(tmp_path / "heketi.db"), made, old


async def test_rebuild_gives_back_the_database_but_new_node_and_cluster_ids(tmp_path: Path) -> None:
    before, made, old = await served_world(tmp_path)
    db = tmp_path / "heketi.db"
    remove_database(db)

    code, out, err = await asyncio.to_thread(rebuild, tmp_path, tmp_path / "topology.json")
    assert code == 0, err
    assert err == ""
    assert f"DB rebuilt to {db}" in out
    fresh = new_ids(out)
    assert sorted(fresh) == sorted(old)  # every node and the cluster, named in the output
    # The block volume with a name of its own had no id on the nodes: it gets a new one.
    renamed = re.findall(r"blockvolume ([0-9a-f]{32}): new id \(mine\)", out)
    assert len(renamed) == 1

    text = json.dumps(before)
    for name, old_id in old.items():
        text = text.replace(old_id, fresh[name])
    text = text.replace(made["block2"], renamed[0])
    expected = json.loads(text)
    after = export(db)
    problems = differences(id_order_free(after), id_order_free(expected))
    assert not problems, "\n".join(problems)
    # The facts the rebuild must get exactly right, spelled out.
    volumes = after["volumeentries"]
    assert volumes[made["replicate"]]["Info"]["gid"] == 2000
    assert volumes[made["expanded"]]["Info"]["size"] == 3
    assert volumes[made["snapshot"]]["Info"]["snapshot"] == {"enable": True, "factor": 1.5}
    assert volumes[made["bhv"]]["Info"]["blockinfo"]["freesize"] == 9 - 3
    assert volumes[made["none"]]["Info"]["name"] == "plain"

    # A normal start (no --init-db) accepts the rebuilt database; it and the nodes agree.
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        status, _, text = await api.call("GET", "/db/check")
        assert status == 200, text
        assert json.loads(text)["totalinconsistencies"] == 0, text
        _, _, text = await api.call("GET", "/internal/state/drift")
        drift = json.loads(text)
        assert drift["clean"] is True, json.dumps(drift)[:3000]
        assert drift["orphaned"] == drift["missing"] == drift["mismatched"] == []
        # And it keeps working: a new volume is placed and served.
        await create(api, {"size": 1, "durability": REPLICA3})
        assert len(rt.state.volumes) == len(before["volumeentries"]) + 1


async def refused(tmp_path: Path, topology: Path) -> str:
    """A rebuild that must refuse: exit 1, nothing on stdout; its stderr."""
    code, out, err = await asyncio.to_thread(rebuild, tmp_path, topology)
    assert code == 1 and out == ""
    return err


async def test_rebuild_refuses_an_existing_database(tmp_path: Path) -> None:
    await served_world(tmp_path)
    db = tmp_path / "heketi.db"
    content = db.read_bytes()
    err = await refused(tmp_path, tmp_path / "topology.json")
    assert f"database {db} already exists" in err
    assert db.read_bytes() == content


async def test_rebuild_refuses_the_mock_executor(tmp_path: Path) -> None:
    config = {"jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
              "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db")},
              "heketipy": {"data_dir": str(tmp_path)}}
    (tmp_path / "heketi.json").write_text(json.dumps(config))
    err = await refused(tmp_path, topology_file(tmp_path))
    assert "executor mock keeps no node state" in err
    assert not os.path.lexists(tmp_path / "heketi.db")


async def test_rebuild_refuses_a_brick_on_a_node_the_topology_does_not_list(tmp_path: Path) -> None:
    await served_world(tmp_path)
    remove_database(tmp_path / "heketi.db")
    document = json.loads((tmp_path / "topology.json").read_text())
    document["clusters"][0]["nodes"].pop()  # node6 holds bricks
    short = tmp_path / "short.json"
    short.write_text(json.dumps(document))
    err = await refused(tmp_path, short)
    assert "host 10.0.0.6 is not in the topology file" in err
    assert not os.path.lexists(tmp_path / "heketi.db")


async def test_rebuild_refuses_when_a_node_is_unreachable(tmp_path: Path) -> None:
    await served_world(tmp_path)
    remove_database(tmp_path / "heketi.db")
    state_file = tmp_path / "heketi.db.simulator.json"
    state = json.loads(state_file.read_text())
    state["nodes"]["node3"]["unreachable"] = True
    state_file.write_text(json.dumps(state))
    err = await refused(tmp_path, tmp_path / "topology.json")
    assert "node node3: inventory:" in err and "no route to host" in err
    assert not os.path.lexists(tmp_path / "heketi.db")


async def test_rebuild_refuses_an_unknown_node_in_the_topology(tmp_path: Path) -> None:
    await served_world(tmp_path)
    remove_database(tmp_path / "heketi.db")
    err = await refused(tmp_path, topology_file(tmp_path, extra_node="stranger"))
    assert "stranger" in err
    assert not os.path.lexists(tmp_path / "heketi.db")


async def test_rebuild_gives_back_clones_and_their_shared_thin_pools(tmp_path: Path) -> None:
    """A clone's bricks are thin snapshots in its source's pools, mounted where glusterd put
    them; once the source is gone its pools stay charged to the clone."""
    topology = topology_file(tmp_path)
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await load_topology(api, topology)
        kept = await create(api, {"size": 1, "durability": REPLICA3})
        await create(api, {"name": "clone-of-kept"}, f"/volumes/{kept}/clone")
        gone = await create(api, {"size": 2, "durability": REPLICA3})
        await create(api, {"name": "orphan-clone"}, f"/volumes/{gone}/clone")
        status, _, text = await api.wait("DELETE", f"/volumes/{gone}")
        assert status == 204, text
        old = {n.manage_host: n.id for n in rt.state.nodes.values()}
        old["cluster"] = next(iter(rt.state.clusters))
    db = tmp_path / "heketi.db"
    before = export(db)
    served = [b["Info"]["path"] for b in before["brickentries"].values()]
    assert sum(path.startswith("/run/gluster/snaps/") for path in served) == 6
    remove_database(db)

    code, out, err = await asyncio.to_thread(rebuild, tmp_path, topology)
    assert code == 0, err
    fresh = new_ids(out)
    text = json.dumps(before)
    for name, old_id in old.items():
        text = text.replace(old_id, fresh[name])
    problems = differences(id_order_free(export(db)), id_order_free(json.loads(text)))
    assert not problems, "\n".join(problems)
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        _, _, text = await Api(client).call("GET", "/internal/state/drift")
        assert json.loads(text)["clean"] is True, text


async def test_a_cluster_keeps_the_id_its_nodes_name(tmp_path: Path) -> None:
    _before, _made, old = await served_world(tmp_path)
    remove_database(tmp_path / "heketi.db")
    document = json.loads((tmp_path / "topology.json").read_text())
    for entry in document["clusters"][0]["nodes"]:
        entry["node"]["cluster"] = old["cluster"]
    named = tmp_path / "named.json"
    named.write_text(json.dumps(document))
    code, out, err = await asyncio.to_thread(rebuild, tmp_path, named)
    assert code == 0, err
    assert re.findall(r"cluster ([0-9a-f]{32}): new id", out) == []
    assert list(export(tmp_path / "heketi.db")["clusterentries"]) == [old["cluster"]]
