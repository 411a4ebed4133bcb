"""Chaos: random mutating operations (clones included) against a simulator-backed server that
is SIGKILLed at random moments and restarted. Afterwards nothing is stale, the database is consistent, the
simulated nodes match the database exactly in both directions (the drift report is clean),
all device space is accounted for, and every volume the API reported created is intact.

Bounded: a fixed number of operations and kills; the seed is printed so a failure replays
(``HEKETIPY_CHAOS_SEED``).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess, start_server, write_config

OPERATIONS = 110
KILLS = 22
LATENCY = {"lvm": 2, "fs": 2, "gluster": 6}


class Chaos:
    def __init__(self, tmp_path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.config = write_config(
            tmp_path,
            glusterfs={"executor": "simulator"},
            heketipy={"simulator": {"device_size_gb": 64, "latency_ms": LATENCY}},
        )
        self.server: ServerProcess = start_server(self.config)
        self.created: set[str] = set()  # volumes whose create the API reported done
        self.deleting: set[str] = set()  # volumes a DELETE was accepted for
        self.expected_size: dict[str, int | None] = {}
        self.kills = 0
        self.operations = 0
        self.recoveries = 0
        self.clones = 0  # clone requests accepted
        self.nodes: list[str] = []
        self.disks = 0

    # -- helpers ---------------------------------------------------------------------------
    def restart(self, *, kill: bool) -> None:
        if kill:
            self.server.kill()
            self.kills += 1
        else:
            self.server.stop()
        self.server = start_server(self.config)
        ops = self.server.request("GET", "/operations").json()
        assert ops["total"] == 0, f"operations left after restart: {ops}"

    def topology(self) -> None:
        cluster = self.server.request("POST", "/clusters", {"file": True, "block": True}).json()["id"]
        for i in range(1, 5):
            reply = self.server.async_call("POST", "/nodes", {
                "zone": (i - 1) % 3 + 1, "cluster": cluster,
                "hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]},
            })
            assert reply.status == 303, reply.text
            node_id = reply.headers["Location"].rsplit("/", 1)[1]
            self.nodes.append(node_id)
            for disk in ("/dev/sdb", "/dev/sdc"):
                assert self.server.async_call(
                    "POST", "/devices", {"node": node_id, "name": disk}
                ).status == 204

    def volumes(self) -> list[str]:
        return list(self.server.request("GET", "/volumes").json()["volumes"])

    def devices(self) -> list[dict[str, Any]]:
        found = []
        for node_id in self.nodes:
            node = self.server.request("GET", f"/nodes/{node_id}").json()
            found += [{**d, "node": node_id, "node_state": node["state"]} for d in node["devices"]]
        return found

    # -- the random operations ------------------------------------------------------------
    def pick(self) -> tuple[str, str, Any]:
        roll = self.rng.random()
        volumes = self.volumes()
        if roll < 0.35 or not volumes:
            durability = self.rng.choice([
                {"type": "replicate", "replicate": {"replica": 3}},
                {"type": "none"},
                {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
            ])
            size = self.rng.randint(2, 4)
            return "POST", "/volumes", {"size": size, "durability": durability}
        if roll < 0.45:
            # Clones share their source's thin pools: deleting either must keep the space
            # accounting and the nodes in step.
            return "POST", f"/volumes/{self.rng.choice(volumes)}/clone", {}
        if roll < 0.6:
            return "DELETE", f"/volumes/{self.rng.choice(volumes)}", None
        if roll < 0.75:
            return "POST", f"/volumes/{self.rng.choice(volumes)}/expand", {"expand_size": 1}
        if roll < 0.85:
            self.disks += 1
            node_id = self.rng.choice(self.nodes)
            return "POST", "/devices", {"node": node_id, "name": f"/dev/vd{self.disks}"}
        if roll < 0.93:
            # At most one device offline at a time, so placement keeps room to work with.
            devices = self.devices()
            failed = [d for d in devices if d["state"] == "failed"]
            if failed:  # the last step of removing a device
                return "DELETE", f"/devices/{failed[0]['id']}", None
            offline = [d for d in devices if d["state"] == "offline"]
            if offline:
                device = offline[0]
                if not device["bricks"] and self.rng.random() < 0.5:
                    return "POST", f"/devices/{device['id']}/state", {"state": "failed"}
                return "POST", f"/devices/{device['id']}/state", {"state": "online"}
            device = self.rng.choice(devices)
            return "POST", f"/devices/{device['id']}/state", {"state": "offline"}
        # At most one node offline at a time: replica 3 and disperse 2+1 need three nodes.
        states = {n: self.server.request("GET", f"/nodes/{n}").json()["state"] for n in self.nodes}
        offline_nodes = [n for n, state in states.items() if state == "offline"]
        if offline_nodes:
            return "POST", f"/nodes/{offline_nodes[0]}/state", {"state": "online"}
        return "POST", f"/nodes/{self.rng.choice(self.nodes)}/state", {"state": "offline"}

    def step(self, kill_now: bool) -> bool:
        """One random operation; returns whether the server was killed during it."""
        method, path, body = self.pick()
        reply = self.server.request(method, path, body)
        self.operations += 1
        if reply.status != 202:
            assert reply.status in (400, 404, 409, 500), (method, path, reply.status, reply.text)
            return False
        if method == "DELETE" and path.startswith("/volumes/"):
            self.deleting.add(path.rsplit("/", 1)[1])
        self.clones += path.endswith("/clone")
        if kill_now:
            time.sleep(self.rng.uniform(0, 0.06))
            self.restart(kill=True)
            return True
        final = self.server.wait_queue(reply.headers["Location"])
        creates = path == "/volumes" or path.endswith("/clone")
        if method == "POST" and creates and final.status == 303:
            self.created.add(final.headers["Location"].rsplit("/", 1)[1])
        return False

    def run(self) -> None:
        self.topology()
        kill_slots = set(self.rng.sample(range(OPERATIONS), KILLS))
        owed = 0  # a kill slot that fell on a refused request moves to the next accepted one
        index = 0
        while index < OPERATIONS or (owed and index < 3 * OPERATIONS):
            owed += index in kill_slots
            if self.step(owed > 0):
                owed -= 1
            index += 1

    # -- the verdict ------------------------------------------------------------------------
    def verify(self) -> None:
        self.restart(kill=False)
        server = self.server
        check = server.request("GET", "/db/check").json()
        assert check["totalinconsistencies"] == 0, check
        drift = server.request("GET", "/internal/state/drift").json()
        assert drift["clean"], drift
        # The clean drift report above also says each device's free space equals its VG's
        # free space on the node (clone bricks share pools, so brick sizes do not add up).
        for device in self.devices():
            storage = device["storage"]
            assert storage["used"] + storage["free"] == storage["total"], device
        for volume_id in self.created - self.deleting:
            reply = server.request("GET", f"/volumes/{volume_id}")
            assert reply.status == 200, (volume_id, reply.text)
        # Deleting everything gives every device its space back, on the nodes too.
        for volume_id in self.volumes():
            assert server.async_call("DELETE", f"/volumes/{volume_id}").status == 204
        for device in self.devices():
            if device["state"] != "failed":
                assert device["storage"]["used"] == 0, device
        assert server.request("GET", "/internal/state/drift").json()["clean"]


@pytest.mark.slow
def test_chaos_kills_leave_nothing_behind(tmp_path: Path) -> None:
    seed = int(os.environ.get("HEKETIPY_CHAOS_SEED", random.SystemRandom().randrange(1 << 30)))
    print(f"chaos seed {seed}")
    chaos = Chaos(tmp_path, seed)
    try:
        chaos.run()
        chaos.verify()
    finally:
        chaos.server.stop()
    print(f"chaos: {chaos.operations} operations, {chaos.kills} kills, "
          f"{len(chaos.created)} volumes created, {chaos.clones} clones")
    assert chaos.operations >= 100 and chaos.kills >= 20 and chaos.clones >= 1
