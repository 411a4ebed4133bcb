"""The end-to-end scenario, transport-independent: drive heketipy's REST API against the testbed
and check every effect on the real nodes (gluster, LVs, mounts, fstab, brick directories).

``run_scenario(api, bed, timings)`` is called once per transport (SSH, Kubernetes exec).
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ElementTree
from typing import Any

from tests.e2e.testbed import Node, NodeState, Testbed, Timings
from tests.support.server import ServerProcess

GIB_KIB = 1024 * 1024
PAYLOAD = "heketipy e2e payload\n"
FAULT_TEXT = "testbed: injected lvcreate failure"


class Topology:
    def __init__(self) -> None:
        self.cluster = ""
        self.node_ids: dict[str, str] = {}  # testbed node name -> heketi node id
        self.storage_of: dict[str, str] = {}  # heketi node id -> storage hostname
        self.device_ids: list[str] = []


def call(api: ServerProcess, method: str, path: str, body: Any = None) -> Any:
    """An async request (202) followed to its final /queue answer, with room for slow nodes."""
    reply = api.request(method, path, body)
    assert reply.status == 202, (method, path, reply.status, reply.text)
    return api.wait_queue(reply.headers["Location"], limit_s=300)


def _created_id(reply: Any) -> str:
    assert reply.status == 303, (reply.status, reply.text)
    return str(reply.headers["Location"].rsplit("/", 1)[1])


def load_topology(api: ServerProcess, bed: Testbed) -> Topology:
    topology = Topology()
    reply = api.request("POST", "/clusters", {"file": True, "block": True})
    assert reply.status == 201, reply.text
    topology.cluster = reply.json()["id"]
    for node in bed.nodes:
        node_id = _created_id(call(api, "POST", "/nodes", {
            "zone": node.zone, "cluster": topology.cluster,
            "hostnames": {"manage": [node.manage], "storage": [node.storage]},
        }))  # fmt: skip
        topology.node_ids[node.name] = node_id
        topology.storage_of[node_id] = node.storage
        # a node's devices are set up concurrently (LVM work is not serialised)
        locations = []
        for device in node.devices:
            reply = api.request("POST", "/devices", {"node": node_id, "name": device})
            assert reply.status == 202, reply.text
            locations.append(reply.headers["Location"])
        for location in locations:
            final = api.wait_queue(location, limit_s=120)
            assert final.status == 204, final.text
        devices = api.request("GET", f"/nodes/{node_id}").json()["devices"]
        assert sorted(d["name"] for d in devices) == sorted(node.devices)
        topology.device_ids += [d["id"] for d in devices]
    return topology


def device_free(api: ServerProcess, topology: Topology) -> dict[str, int]:
    return {
        device_id: api.request("GET", f"/devices/{device_id}").json()["storage"]["free"]
        for device_id in topology.device_ids
    }


def gluster_info(bed: Testbed, node: Node, name: str) -> ElementTree.Element:
    # Right after "volume start" the CLI can briefly refuse (cluster lock still held).
    for _ in range(30):
        done = bed.node_run(
            node, ["gluster", "--mode=script", "volume", "info", name, "--xml"], check=False
        )
        if done.returncode == 0 and "<opRet>0</opRet>" in done.stdout:
            volume = ElementTree.fromstring(done.stdout).find("volInfo/volumes/volume")
            assert volume is not None, done.stdout
            return volume
        time.sleep(0.5)
    raise AssertionError(f"gluster volume info {name} on {node.name}: {done.stdout}{done.stderr}")


def check_gluster_matches_api(
    api: ServerProcess, bed: Testbed, topology: Topology, volume: dict[str, Any]
) -> ElementTree.Element:
    expected = sorted(
        f"{topology.storage_of[brick['node']]}:{brick['path']}" for brick in volume["bricks"]
    )
    info = None
    for node in bed.nodes:
        info = gluster_info(bed, node, volume["name"])
        seen = sorted(b.findtext("name") or "" for b in info.findall("bricks/brick"))
        assert seen == expected, (node.name, seen, expected)
        assert info.findtext("statusStr") == "Started"
        assert info.findtext("id") == volume["id"] or info.findtext("id")
    assert info is not None
    return info


def fuse_write_and_read(bed: Testbed, topology: Topology, volume: dict[str, Any]) -> None:
    server = bed.nodes[0].storage
    mount_point = f"/mnt/{volume['name']}"
    bed.client_run(["mkdir", "-p", mount_point])
    for _attempt in range(40):
        done = bed.client_run(
            ["mount", "-t", "glusterfs", f"{server}:/{volume['name']}", mount_point], check=False
        )
        if done.returncode == 0:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"FUSE mount failed: {done.stderr}")
    try:
        bed.client_run(["sh", "-c", f"printf %s '{PAYLOAD}' > {mount_point}/hello.txt"])
        assert bed.client_run(["cat", f"{mount_point}/hello.txt"]).stdout == PAYLOAD
    finally:
        bed.client_run(["umount", mount_point], check=False)
    # replica 3: the file is on every brick of the set
    node_by_id = {topology.node_ids[n.name]: n for n in bed.nodes}
    for brick in volume["bricks"][:3]:
        node = node_by_id[brick["node"]]
        found = bed.node_run(node, ["cat", f"{brick['path']}/hello.txt"], check=False)
        if found.returncode == 0:
            assert found.stdout == PAYLOAD


def bricks_on(volume: dict[str, Any], node_id: str) -> set[str]:
    return {b["id"] for b in volume["bricks"] if b["node"] == node_id}


def check_nodes_hold_exactly(
    api: ServerProcess, bed: Testbed, topology: Topology, states: dict[str, NodeState]
) -> None:
    """Every LV/mount/fstab line/brick dir on the nodes belongs to a brick the API knows."""
    volumes = [api.request("GET", f"/volumes/{v}").json()
               for v in api.request("GET", "/volumes").json()["volumes"]]
    for node in bed.nodes:
        node_id = topology.node_ids[node.name]
        expected = set().union(*(bricks_on(v, node_id) for v in volumes)) if volumes else set()
        state = states[node.name]
        thin_lvs = {lv.removeprefix("brick_") for _vg, lv in state.lvs if lv.startswith("brick_")}
        assert thin_lvs == expected, (node.name, state.lvs, expected)
        assert len(state.mounts) == len(expected), (node.name, state.mounts)
        assert len(state.fstab) == len(expected), (node.name, state.fstab)
        assert len(state.brick_dirs) == len(expected), (node.name, state.brick_dirs)
        assert state.volumes == sorted(v["name"] for v in volumes), (node.name, state.volumes)


def remove_topology(api: ServerProcess, bed: Testbed, topology: Topology) -> None:
    """Take devices, nodes and the cluster out of heketipy (no volumes left): the nodes end up
    with no VGs, as before ``load_topology``."""
    for node in bed.nodes:
        node_id = topology.node_ids[node.name]
        for device in api.request("GET", f"/nodes/{node_id}").json()["devices"]:
            path = f"/devices/{device['id']}"
            assert call(api, "POST", f"{path}/state", {"state": "offline"}).status == 204
            assert call(api, "POST", f"{path}/state", {"state": "failed"}).status == 204
            assert call(api, "DELETE", path).status == 204
        assert call(api, "DELETE", f"/nodes/{node_id}").status == 204
    assert api.request("DELETE", f"/clusters/{topology.cluster}").status == 200
    for node in bed.nodes:
        assert bed.state(node).vg_free_kib == {}, node.name


def run_scenario(api: ServerProcess, bed: Testbed, timings: Timings) -> None:
    with timings.step("topology load (3 nodes, peer probe, device setup)"):
        topology = load_topology(api, bed)
    free_before = device_free(api, topology)
    nodes_before = bed.states()
    for node in bed.nodes:
        assert nodes_before[node.name].lvs == [], nodes_before[node.name]

    with timings.step("create 1 GiB replica-3 volume"):
        volume_id = _created_id(call(api, "POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        }))  # fmt: skip
    volume = api.request("GET", f"/volumes/{volume_id}").json()
    assert volume["size"] == 1 and len(volume["bricks"]) == 3
    with timings.step("gluster volume info on every node vs API"):
        info = check_gluster_matches_api(api, bed, topology, volume)
        assert info.findtext("replicaCount") == "3"
    with timings.step("FUSE mount, write, read back"):
        fuse_write_and_read(bed, topology, volume)

    with timings.step("expand by 1 GiB"):
        reply = call(api, "POST", f"/volumes/{volume_id}/expand", {"expand_size": 1})
        assert reply.status == 303, reply.text
    volume = api.request("GET", f"/volumes/{volume_id}").json()
    assert volume["size"] == 2 and len(volume["bricks"]) == 6
    check_gluster_matches_api(api, bed, topology, volume)

    with timings.step("create arbiter volume"):
        # Default sizing: a 16 MiB arbiter brick, below mkfs.xfs's 300 MiB floor; its thin LV
        # gets a 300 MiB virtual size (commands_lvm.MIN_XFS_KIB) in its own small pool.
        arbiter_id = _created_id(call(api, "POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
            "glustervolumeoptions": ["user.heketi.arbiter true"],
        }))  # fmt: skip
    arbiter = api.request("GET", f"/volumes/{arbiter_id}").json()
    info = check_gluster_matches_api(api, bed, topology, arbiter)
    assert info.findtext("arbiterCount") == "1", ElementTree.tostring(info)

    with timings.step("create failing on every attempt (lvcreate on node2) -> rolled back"):
        before = bed.states()
        free_mid = device_free(api, topology)
        marker = bed.fail_always(bed.nodes[1], "lvcreate", FAULT_TEXT)
        try:
            reply = call(api, "POST", "/volumes", {
                "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
            })  # fmt: skip
        finally:
            marker.unlink()
        assert reply.status == 500, (reply.status, reply.text)
        after = bed.states()
        for node in bed.nodes:
            assert after[node.name].without_free() == before[node.name].without_free(), node.name
            assert after[node.name].vg_free_kib == before[node.name].vg_free_kib, node.name
        assert device_free(api, topology) == free_mid

    with timings.step("create with one failing lvcreate (node3) -> retried, no leftovers"):
        marker = bed.fail_next(bed.nodes[2], "lvcreate", FAULT_TEXT)
        retried_id = _created_id(call(api, "POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        }))  # fmt: skip
        assert not marker.exists(), "the injected fault was never hit"
        check_nodes_hold_exactly(api, bed, topology, bed.states())
    assert api.request("GET", f"/volumes/{retried_id}").json()["size"] == 1

    with timings.step("delete every volume"):
        # all at once: deletes run concurrently, gluster commands serialised per pool
        locations = []
        for vid in api.request("GET", "/volumes").json()["volumes"]:
            reply = api.request("DELETE", f"/volumes/{vid}")
            assert reply.status == 202, reply.text
            locations.append(reply.headers["Location"])
        for location in locations:
            assert api.wait_queue(location, limit_s=180).status == 204
    with timings.step("verify nodes are clean"):
        after = bed.states()
        for node in bed.nodes:
            state = after[node.name]
            assert state.lvs == [], (node.name, state.lvs)
            assert state.mounts == [] and state.fstab == [], (node.name, state)
            assert state.brick_dirs == [] and state.volumes == [], (node.name, state)
            assert state.vg_free_kib == nodes_before[node.name].vg_free_kib, node.name
        assert device_free(api, topology) == free_before

    with timings.step("remove devices, nodes, cluster"):
        remove_topology(api, bed, topology)


# -- expansion in place (issue 14 item 2): shared by the namespace and VM tiers ---------------
GIB_KIB = 1024 * 1024


def brick_df_kib(bed: Testbed, node: Node, brick_path: str) -> int:
    """The size ``df`` reports for the filesystem holding ``brick_path`` (KiB)."""
    out = bed.node_run(node, ["df", "-k", "--output=size", brick_path]).stdout.split()
    return int(out[-1])


def _node_of(bed: Testbed, topology: Topology, node_id: str) -> Node:
    return next(n for n in bed.nodes if topology.node_ids[n.name] == node_id)


def _gluster_bricks(bed: Testbed, name: str) -> list[str]:
    return [b.findtext("name") or "" for b in gluster_info(bed, bed.nodes[0], name).iter("brick")]


def _lvs_all(bed: Testbed, node: Node, vg: str) -> list[dict[str, str]]:
    return json.loads(bed.node_run(node, [
        "lvm", "lvs", "-a", "--reportformat=json", "--units", "k", "--nosuffix",
        "-o", "lv_name,lv_size,lv_metadata_size,segtype", vg,
    ]).stdout)["report"][0]["lv"]  # fmt: skip


def check_pmspare(bed: Testbed, node: Node, vg: str) -> None:
    """The VG's hidden ``[lvol0_pmspare]`` (``lvs -a`` only) is as large as its largest
    thin-pool metadata, as LVM keeps it (the namespace shim models it, the VM tier's dm-thin
    is LVM's own); neither Heketi nor heketipy charges it, and drift must still be clean."""
    rows = _lvs_all(bed, node, vg)
    # One row per segment (segtype is a segment field): an extended spare shows twice.
    spare = sorted({int(float(r["lv_size"])) for r in rows if r["lv_name"] == "[lvol0_pmspare]"})
    largest = max(int(float(r["lv_metadata_size"])) for r in rows if r["segtype"] == "thin-pool")
    assert spare == [largest], rows


def check_in_place_expand(
    api: ServerProcess, bed: Testbed, timings: Timings, *, big_file: bool = True,
) -> None:
    """On a server with ``volume_expansion`` in-place: a 1 GiB replica-3 volume with a file on
    it grows by 2 GiB in place: the same bricks in gluster, every brick's XFS bigger (``df``),
    the file intact, (``big_file``) a file larger than the old bricks fits, each brick's VG
    keeps LVM's ``lvol0_pmspare`` as large as the grown pool metadata, drift (which counts the
    uncharged spare as free) and ``/db/check`` clean; then the volume and topology go."""
    topology = load_topology(api, bed)
    volume_id = ""
    try:
        volume_id = _created_id(call(api, "POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        }))  # fmt: skip
        volume = api.request("GET", f"/volumes/{volume_id}").json()
        fuse_write_and_read(bed, topology, volume)
        bricks_before = _gluster_bricks(bed, volume["name"])
        assert len(bricks_before) == 3
        df_before = {
            b["id"]: brick_df_kib(bed, _node_of(bed, topology, b["node"]), b["path"])
            for b in volume["bricks"]
        }
        with timings.step("expand by 2 GiB in place"):
            reply = call(api, "POST", f"/volumes/{volume_id}/expand", {"expand_size": 2})
        assert reply.status == 303, reply.text
        grown = api.request("GET", f"/volumes/{volume_id}").json()
        assert grown["size"] == 3
        assert sorted(b["id"] for b in grown["bricks"]) == sorted(df_before)
        assert {b["size"] for b in grown["bricks"]} == {3 * GIB_KIB}
        assert _gluster_bricks(bed, volume["name"]) == bricks_before  # no set added
        for brick in grown["bricks"]:
            node = _node_of(bed, topology, brick["node"])
            df_after = brick_df_kib(bed, node, brick["path"])
            assert df_after > df_before[brick["id"]] + GIB_KIB, (df_before, df_after)
            # the file written before the expand is intact on every brick
            assert bed.node_run(node, ["cat", f"{brick['path']}/hello.txt"]).stdout == PAYLOAD
            check_pmspare(bed, node, f"vg_{brick['device']}")
        if big_file:
            with timings.step("write a 1.5 GiB file (more than a brick held before)"):
                _big_file_fits(bed, volume["name"])
        drift = api.request("GET", "/internal/state/drift").json()
        assert drift["clean"] is True, drift
        check = api.request("GET", "/db/check").json()
        assert check["totalinconsistencies"] == 0, check
    finally:
        if volume_id:
            assert call(api, "DELETE", f"/volumes/{volume_id}").status == 204
        remove_topology(api, bed, topology)


def _big_file_fits(bed: Testbed, name: str) -> None:
    server, mount_point = bed.nodes[0].storage, f"/mnt/{name}-grown"
    bed.client_run(["mkdir", "-p", mount_point])
    bed.client_run(["mount", "-t", "glusterfs", f"{server}:/{name}", mount_point])
    try:
        bed.client_run(
            ["dd", "if=/dev/zero", f"of={mount_point}/big", "bs=1M", "count=1536", "conv=fsync"],
            timeout=900,
        )
        size = bed.client_run(["stat", "-c", "%s", f"{mount_point}/big"]).stdout.strip()
        assert int(size) == 1536 * 1024 * 1024
        assert bed.client_run(["cat", f"{mount_point}/hello.txt"]).stdout == PAYLOAD
    finally:
        bed.client_run(["rm", "-f", f"{mount_point}/big"], check=False)
        bed.client_run(["umount", mount_point], check=False)
