"""Black-box: a real server process driven over HTTP the way Heketi's clients drive it
(fresh token per request, /queue polled by hand), through the whole topology lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import ServerProcess, running_server

GIB_KIB = 1024 * 1024


@pytest.fixture(params=["mock", "simulator"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> ServerProcess:
    glusterfs = {"executor": request.param}
    heketipy = {"simulator": {"device_size_gb": 100, "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0}}}
    with running_server(tmp_path, glusterfs=glusterfs, heketipy=heketipy) as srv:
        yield srv


def load_topology(server: ServerProcess, nodes: int = 3) -> tuple[str, list[str], list[str]]:
    reply = server.request("POST", "/clusters", {"file": True, "block": True})
    assert reply.status == 201
    cluster = reply.json()["id"]
    node_ids, device_ids = [], []
    for i in range(1, nodes + 1):
        final = server.async_call("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}.example.test"], "storage": [f"10.0.0.{i}"]},
        })
        assert final.status == 303, final.text
        node_id = final.headers["Location"].rsplit("/", 1)[1]
        node_ids.append(node_id)
        final = server.async_call("POST", "/devices", {"node": node_id, "name": "/dev/sdb"})
        assert final.status == 204, final.text
        devices = server.request("GET", f"/nodes/{node_id}").json()["devices"]
        device_ids.append(devices[0]["id"])
    return cluster, node_ids, device_ids


def device_free(server: ServerProcess, device_ids: list[str]) -> dict[str, int]:
    return {d: server.request("GET", f"/devices/{d}").json()["storage"]["free"] for d in device_ids}


def test_full_lifecycle(server: ServerProcess) -> None:
    cluster, node_ids, device_ids = load_topology(server)
    free_before = device_free(server, device_ids)

    final = server.async_call("POST", "/volumes", {
        "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
    })
    assert final.status == 303, final.text
    volume_path = final.headers["Location"]
    volume = server.request("GET", volume_path).json()
    assert volume["size"] == 1
    assert volume["cluster"] == cluster
    assert len(volume["bricks"]) == 3
    assert {b["node"] for b in volume["bricks"]} == set(node_ids)
    assert volume["mount"]["glusterfs"]["device"].endswith(":" + volume["name"])
    assert volume["name"] == "vol_" + volume["id"]

    listing = server.request("GET", "/volumes").json()
    assert listing == {"volumes": [volume["id"]]}
    assert server.request("GET", f"/clusters/{cluster}").json()["volumes"] == [volume["id"]]

    charged = device_free(server, device_ids)
    for device_id in device_ids:
        assert free_before[device_id] - charged[device_id] == GIB_KIB + 8192

    final = server.async_call("POST", f"{volume_path}/expand", {"expand_size": 2})
    assert final.status == 303
    expanded = server.request("GET", volume_path).json()
    assert expanded["size"] == 3
    assert len(expanded["bricks"]) == 6

    assert server.async_call("DELETE", volume_path).status == 204
    assert server.request("GET", volume_path).status == 404
    assert device_free(server, device_ids) == free_before

    for node_id, device_id in zip(node_ids, device_ids, strict=True):
        assert server.async_call("POST", f"/devices/{device_id}/state", {"state": "offline"}).status == 204
        assert server.async_call("POST", f"/devices/{device_id}/state", {"state": "failed"}).status == 204
        assert server.async_call("DELETE", f"/devices/{device_id}").status == 204
        assert server.async_call("DELETE", f"/nodes/{node_id}").status == 204
    assert server.request("DELETE", f"/clusters/{cluster}").status == 200
    assert server.request("GET", "/clusters").json() == {"clusters": []}


def test_state_survives_restart(tmp_path: Path) -> None:
    with running_server(tmp_path, glusterfs={"executor": "simulator"}) as srv:
        cluster, _nodes, _devices = load_topology(srv)
        final = srv.async_call("POST", "/volumes", {"size": 2, "durability": {"type": "none"}})
        volume_id = final.headers["Location"].rsplit("/", 1)[1]
    with running_server(tmp_path, glusterfs={"executor": "simulator"}) as srv:
        volume = srv.request("GET", f"/volumes/{volume_id}").json()
        assert volume["cluster"] == cluster
        assert srv.async_call("DELETE", f"/volumes/{volume_id}").status == 204
