"""Operations against the simulator: rollback leaves nothing, volume create retries with a
fresh placement, and start-up recovery finishes or undoes what a crash interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.client.token import make_token
from heketipy.config import load_settings
from heketipy.domain.state import Transaction
from heketipy.operations.volumes import CreateVolume, VolumeSpec
from heketipy.server import build
from tests.support.simulated import nodes_of

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


def settings_for(
    tmp_path: Path, nodes_faults: dict[str, Any] | None = None, **heketipy: Any
) -> Any:
    config = {
        "port": "0",
        "jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
        "glusterfs": {"executor": "simulator", "db": str(tmp_path / "heketi.db")},
        # data_dir: the database marker registry stays with the test, not in ./var.
        "heketipy": {"data_dir": str(tmp_path),
                     "simulator": {"device_size_gb": 50,
                                   "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0},
                                   **({"faults": nodes_faults} if nodes_faults else {})},
                     **heketipy},
    }
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps(config))
    return load_settings(str(path), {})


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict, str]:
        headers = {"Authorization": "Bearer " + make_token("admin", "a", method, path)}
        async with self.client.request(
            method, path, json=body, headers=headers, allow_redirects=False
        ) as resp:
            return resp.status, dict(resp.headers), await resp.text()

    async def wait(self, method: str, path: str, body: Any = None) -> tuple[int, dict, str]:
        status, headers, text = await self.call(method, path, body)
        assert status == 202, (status, text)
        while True:
            status, qheaders, text = await self.call("GET", headers["Location"])
            if qheaders.get("X-Pending") != "true":
                return status, qheaders, text


async def topology(api: Api, nodes: int = 3) -> list[str]:
    _, _, text = await api.call("POST", "/clusters", {"file": True, "block": True})
    cluster = json.loads(text)["id"]
    node_ids = []
    for i in range(1, nodes + 1):
        status, headers, _ = await api.wait("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]},
        })
        assert status == 303
        node_id = headers["Location"].rsplit("/", 1)[1]
        node_ids.append(node_id)
        status, _, text = await api.wait("POST", "/devices", {"node": node_id, "name": "/dev/sdb"})
        assert status == 204, text
    return node_ids


def lvs(executor: Any) -> list[str]:
    found = []
    for host, node in nodes_of(executor).snapshot()["nodes"].items():
        for vg_name, vg in node["vgs"].items():
            found += [f"{host}:{vg_name}/{lv}" for lv in vg.get("lvs", {})]
    return found


def gluster_volumes(executor: Any) -> list[str]:
    return [v for pool in nodes_of(executor).snapshot()["pools"].values() for v in pool["volumes"]]



async def test_failed_create_rolls_back_everything(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        free_before = {d.id: d.free_kib for d in rt.state.devices.values()}
        nodes_of(rt.executor).faults.fail_on_node("lvcreate", "node2")
        status, _, text = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 500
        assert "node2" in text
        assert lvs(rt.executor) == []
        assert gluster_volumes(rt.executor) == []
        assert {d.id: d.free_kib for d in rt.state.devices.values()} == free_before
        assert rt.state.volumes == {} and rt.state.bricks == {} and rt.state.operations == {}
        _, _, listing = await api.call("GET", "/volumes")
        assert json.loads(listing) == {"volumes": []}


async def test_create_retries_after_a_failed_gluster_command(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        nodes_of(rt.executor).faults.fail_nth("gluster volume create", 1)
        status, headers, text = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303, text
        volume_id = headers["Location"].rsplit("/", 1)[1]
        volume = rt.state.volumes[volume_id]
        assert len(lvs(rt.executor)) == 6  # 3 thin pools + 3 thin LVs, nothing left over
        assert gluster_volumes(rt.executor) == [volume.name]
        assert rt.state.operations == {}


async def test_recovery_undoes_an_interrupted_create(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        free_before = {d.id: d.free_kib for d in rt.state.devices.values()}
        spec = VolumeSpec(
            size_gib=1, name="interrupted", cluster_ids=[], durability_echo={},
            durability="replicate", replica=3, data=0, redundancy=0, gid=0,
            request_options=[], block=False, snapshot_enable=False, snapshot_factor=1.0,
        )
        op = CreateVolume(rt, spec)
        await rt.apply(op.plan)
        bricks = rt.state.bricks_of_volume(op.volume_id)
        # Half the node work happened, then the process "died".
        from heketipy.operations.volumes import brick_host, brick_request

        await rt.executor.brick_create(brick_host(rt.state, bricks[0]),
                                       brick_request(rt.state, bricks[0], 0))
        assert lvs(rt.executor)
    # A new server on the same database and node state.
    app2 = build(settings)
    async with TestClient(TestServer(app2)):
        rt2 = app2[RUNTIME]
        assert rt2.state.operations == {}
        assert rt2.state.volumes == {}
        assert {d.id: d.free_kib for d in rt2.state.devices.values()} == free_before
        assert lvs(rt2.executor) == []


async def test_recovery_rolls_forward_a_finalizing_create(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = build(settings)
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        await topology(Api(client))
        spec = VolumeSpec(
            size_gib=1, name="almost", cluster_ids=[], durability_echo={"type": "none"},
            durability="none", replica=1, data=0, redundancy=0, gid=0,
            request_options=[], block=False, snapshot_enable=False, snapshot_factor=1.0,
        )
        op = CreateVolume(rt, spec)
        await rt.apply(op.plan)
        await op.execute()
        assert op.record is not None
        await rt.set_phase(op.record, "finalizing")
    app2 = build(settings)
    async with TestClient(TestServer(app2)) as client:
        rt2 = app2[RUNTIME]
        api = Api(client)
        assert rt2.state.operations == {}
        status, _, text = await api.call("GET", f"/volumes/{op.volume_id}")
        assert status == 200, text
        assert json.loads(text)["name"] == "almost"
        assert gluster_volumes(rt2.executor) == ["almost"]


def test_transaction_undo_restores_state(tmp_path: Path) -> None:
    from heketipy.domain.entities import Cluster
    from heketipy.domain.state import State

    state = State()
    cluster = Cluster(id="a" * 32, file=True)
    state.insert(cluster)
    tx = Transaction(state)
    tx.touch(cluster).block = True
    tx.add(Cluster(id="b" * 32))
    tx.undo()
    assert set(state.clusters) == {"a" * 32}
    assert state.clusters["a" * 32].block is False


async def test_placement_avoids_nodes_the_monitor_saw_down(tmp_path: Path) -> None:
    from heketipy.operations import monitor

    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        node_ids = await topology(api, nodes=4)
        nodes_of(rt.executor).set_node_down("node2")
        down = await monitor.check_nodes(rt)
        assert down == {node_ids[1]}
        status, headers, text = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303, text
        volume_id = headers["Location"].rsplit("/", 1)[1]
        assert node_ids[1] not in {b.node_id for b in rt.state.bricks_of_volume(volume_id)}
        nodes_of(rt.executor).set_node_down("node2", down=False)
        assert await monitor.check_nodes(rt) == set()
