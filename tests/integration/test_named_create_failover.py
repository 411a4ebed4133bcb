"""A retried named create after a failover gives one volume (issue 13 item 2), with real server
processes on one database over the simulator: the server dies (SIGKILL) while the create runs,
a new process recovers the unfinished create, and the client's retries - through the Python
client library and through plain HTTP - end at one volume of that name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heketipy.client import HeketiClient
from heketipy.simulator.state import load_state
from tests.support.polling import wait_until
from tests.support.server import ADMIN_KEY, ServerProcess, start_server, write_config

NAME = "retried"
REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
# The retry spells the replica default differently: the same request after normalisation.
CREATE = {"size": 2, "name": NAME, "durability": REPLICA3, "gid": 2001,
          "glustervolumeoptions": ["performance.rda-cache-limit 10MB"]}
LATENCY = {"lvm": 0, "fs": 0, "gluster": 0}
# Holds the create in flight after its bricks exist (a hang of glusterd as the server dies).
HELD = {**LATENCY, "commands": {"gluster volume create": 600_000}}


def configure(config_path: Path, latency: dict[str, Any]) -> None:
    config = json.loads(config_path.read_text())
    config["heketipy"]["simulator"] = {"device_size_gb": 64, "latency_ms": latency}
    config_path.write_text(json.dumps(config))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, glusterfs={"executor": "simulator"},
                        heketipy={"data_dir": str(tmp_path)})
    configure(path, LATENCY)
    return path


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Every server process the test starts, stopped at the end whatever happened."""
    started: list[ServerProcess] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def topology(server: ServerProcess) -> None:
    cluster = server.request("POST", "/clusters", {"file": True, "block": True}).json()["id"]
    for i in range(1, 4):
        reply = server.async_call("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]},
        })
        assert reply.status == 303, reply.text
        node_id = reply.headers["Location"].rsplit("/", 1)[1]
        assert server.async_call("POST", "/devices", {"node": node_id, "name": "/dev/sdb"}
                                 ).status == 204


def brick_lvs(state_path: Path) -> int:
    """Thin brick LVs on the simulated nodes (the simulator saves its state after each call)."""
    if not state_path.exists():
        return 0
    return sum(
        1
        for node in load_state(str(state_path)).nodes.values()
        for vg in node.vgs.values()
        for lv in vg.lvs.values()
        if lv.kind == "thin" and lv.name.startswith("brick_")
    )


def named(server: ServerProcess) -> list[str]:
    return list(server.request("GET", f"/volumes?volume_name={NAME}").json()["volumes"])


def test_a_retried_named_create_after_a_failover_gives_one_volume(
    config: Path, servers: list[ServerProcess]
) -> None:
    first = start_server(config)
    servers.append(first)
    topology(first)
    configure(config, HELD)  # read by the process started next
    first.stop()
    active = start_server(config)
    servers.append(active)
    accepted = active.request("POST", "/volumes", CREATE)
    assert accepted.status == 202, accepted.text
    state_path = Path(f"{active.db_path}.simulator.json")
    wait_until(lambda: brick_lvs(state_path) == 3, "the create's three bricks", 60)
    [pending] = active.request("GET", "/operations/pending").json()["pendingoperations"]
    assert (pending["type_name"], pending["sub_status"]) == ("create-volume", "in-flight")
    active.kill()  # the client never sees the create's answer

    configure(config, LATENCY)
    standby = start_server(config)  # the takeover: recovers the unfinished create first
    servers.append(standby)
    assert standby.request("GET", "/operations").json()["total"] == 0
    assert named(standby) == []
    assert brick_lvs(state_path) == 0  # rolled back on the nodes too

    with HeketiClient(standby.base_url, "admin", ADMIN_KEY) as client:
        volume = client.volume_create(CREATE)
        again = client.volume_create({**CREATE, "durability": {
            "type": "replicate", "replicate": {"replica": 3}, "disperse": {}}})
    assert again.id == volume.id and volume.name == NAME

    retried = standby.request("POST", "/volumes", CREATE)
    assert retried.status == 202, retried.text
    answer = standby.wait_queue(retried.headers["Location"])
    assert (answer.status, answer.headers["Location"]) == (303, f"/volumes/{volume.id}")
    different = standby.request("POST", "/volumes", {**CREATE, "size": 3})
    assert (different.status, different.text) == (
        500, f"Failed to allocate new volume: Volume name '{NAME}' already in use\n")

    assert named(standby) == [volume.id]
    assert standby.request("GET", "/volumes").json()["volumes"] == [volume.id]
    assert standby.request("GET", "/operations").json()["total"] == 0
    check = standby.request("GET", "/db/check").json()
    assert check["totalinconsistencies"] == 0, check
    assert brick_lvs(state_path) == 3

    # The defaults are applied before comparing: replicate without a count is replica 2.
    spelled = {"size": 1, "name": "pair", "durability": {"type": "replicate"}}
    made = standby.async_call("POST", "/volumes", spelled).headers["Location"]
    explicit = {**spelled, "durability": {"type": "replicate", "replicate": {"replica": 2}}}
    assert standby.async_call("POST", "/volumes", explicit).headers["Location"] == made
