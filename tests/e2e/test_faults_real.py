"""Faults on real nodes (issue 14 item 4): each lands on one testbed node while heketipy works,
and afterwards nothing is leaked: no pending operation, a clean drift report, the nodes hold
exactly what they held before (LVs, mounts, fstab, brick directories, volumes, VG free space)
and the database's device free space is what it was.

A fault lands mid-operation deterministically: the LVM shim holds the operation's first
``lvcreate`` on the node (``Testbed.holding``) until the fault is in place. Whatever a test
breaks (a stopped daemon, a link down, a qdisc, a filled VG) is restored in ``finally``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.scenario import Topology, call, device_free, load_topology, remove_topology
from tests.e2e.testbed import NodeState, Testbed
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

REPLICA3 = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}


@dataclass
class Baseline:
    states: dict[str, NodeState]
    free: dict[str, int]


@pytest.fixture(scope="module")
def topology(heketi_over_ssh: ServerProcess, testbed: Testbed) -> Iterator[Topology]:
    loaded = load_topology(heketi_over_ssh, testbed)
    try:
        yield loaded
    finally:
        for volume_id in heketi_over_ssh.request("GET", "/volumes").json()["volumes"]:
            call(heketi_over_ssh, "DELETE", f"/volumes/{volume_id}")
        remove_topology(heketi_over_ssh, testbed, loaded)


def drift(api: ServerProcess) -> dict[str, Any]:
    reply = api.request("GET", "/internal/state/drift")
    assert reply.status == 200, reply.text
    return dict(json.loads(reply.text))


def baseline(api: ServerProcess, bed: Testbed, topology: Topology) -> Baseline:
    return Baseline(bed.states(), device_free(api, topology))


def assert_nothing_leaked(
    api: ServerProcess, bed: Testbed, topology: Topology, before: Baseline
) -> None:
    pending = api.request("GET", "/operations/pending").json()["pendingoperations"]
    assert pending == [], pending
    report = drift(api)
    assert report["clean"] is True, report
    after = bed.states()
    for node in bed.nodes:
        assert after[node.name] == before.states[node.name], node.name
    assert device_free(api, topology) == before.free


def wait_until(what: str, probe: Any, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit_s:g}s")
        time.sleep(0.5)


def peers_connected(bed: Testbed) -> bool:
    for node in bed.nodes:
        done = bed.node_run(node, ["gluster", "--mode=script", "pool", "list"], check=False)
        if done.returncode != 0 or "Disconnected" in done.stdout:
            return False
    return True


def start_create(api: ServerProcess, body: dict[str, Any]) -> str:
    reply = api.request("POST", "/volumes", body)
    assert reply.status == 202, reply.text
    return str(reply.headers["Location"])


def test_glusterd_killed_during_create(
    heketi_over_ssh: ServerProcess, testbed: Testbed, topology: Topology
) -> None:
    """glusterd dies on node3 while the create makes its bricks: the create fails (replica 3
    needs every node), is rolled back everywhere, and says which node and command failed."""
    api, bed = heketi_over_ssh, testbed
    before = baseline(api, bed, topology)
    victim = bed.nodes[2]
    try:
        with bed.holding(victim, "lvcreate") as held:
            location = start_create(api, REPLICA3)
            held.wait()
            bed.node_run(victim, ["systemctl", "stop", "glusterd"])
        final = api.wait_queue(location, limit_s=300)
    finally:
        bed.node_run(victim, ["systemctl", "start", "glusterd"])
        wait_until("peers connected again", lambda: peers_connected(bed))
    assert final.status == 500, (final.status, final.text)
    assert victim.manage in final.text, final.text
    assert "gluster volume create" in final.text, final.text
    assert_nothing_leaked(api, bed, topology, before)
