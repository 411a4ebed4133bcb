"""`topology info`'s text layout in every case (issue 10, item 14).

heketi-cli renders the topology with one Go text/template. Its whitespace rules decide the
layout, so the expected texts below are written the way that template emits them: every
section *starts* with its newline ("\\n\\tNode Id: …", "\\n\\t\\tId:…", "\\n\\t\\t\\tBricks:")
because the template trims the newline that ends the line before it (`{{-`). What that gives:

- the whole output is the clusters one after another plus one final newline (no clusters:
  just "\\n");
- "    Volumes:\\n", then per volume a block that ends with the brick list and one more
  newline, then "\\n\\n    Nodes:\\n" (so no volumes shows two empty lines before "Nodes:");
- per volume "Replica:" or the two "Disperse" lines right after "Durability Type:", then
  "Snapshot: Disabled" or "Snapshot: Enabled" + "Snapshot Factor: %.2f" (of a Go float32),
  an empty line, "\\t\\tBricks:" and per brick five lines and an empty line;
- "Mount Options:" is every mount option as `key=value`, sorted by key, with no separator;
- per node: "Management Hostnames:"/"Storage Hostnames:" joined with ", ", an optional
  "\\tTags: k:v …" (sorted) followed by an empty line, "\\tDevices:", the devices, and one
  newline that ends the node;
- per device: the fixed-width line (ids padded to 35, sizes to 8, state to 10; a failed state
  reads "removed"), optional "\\t\\t\\tTags: …" + empty line, "\\t\\t\\tKnown Paths: <paths>" (the
  device name when it has none) + empty line, "\\t\\t\\tBricks:" and one line per brick.

The golden recording (cli/topology.json) pins one case byte for byte against a real
heketi-cli; these pin the rest.
"""

from __future__ import annotations

from typing import Any

from heketipy.cli.output import topology_info
from heketipy.client.models import TopologyInfo

A, B, E = "a" * 32, "b" * 32, "e" * 32
C1, C2 = "c" * 32, "f" * 32
N1, N2, N3 = "1" * 32, "2" * 32, "3" * 32
D1, D2, D3 = "d1" * 16, "d2" * 16, "d3" * 16
GIB = 1024 * 1024

CLUSTER_HEAD = "\nCluster Id: {id}\n\n    File:  {file}\n    Block: {block}\n\n    Volumes:\n"
NODES_HEAD = "\n\n    Nodes:\n"


def _device(did: str, name: str, state: str = "online", *, tags: dict[str, str] | None = None,
            paths: list[str] | None = None, bricks: list[dict[str, Any]] | None = None,
            used_gib: int = 0) -> dict[str, Any]:
    device: dict[str, Any] = {
        "name": name, "id": did, "state": state, "bricks": bricks or [],
        "storage": {"total": 500 * GIB, "used": used_gib * GIB, "free": (500 - used_gib) * GIB},
    }
    if tags is not None:
        device["tags"] = tags
    if paths is not None:
        device["paths"] = paths
    return device


def _node(nid: str, cluster: str, devices: list[dict[str, Any]], *, state: str = "online",
          manage: list[str] | None = None, storage: list[str] | None = None,
          tags: dict[str, str] | None = None, zone: int = 1) -> dict[str, Any]:
    node: dict[str, Any] = {
        "zone": zone, "cluster": cluster, "id": nid, "state": state, "devices": devices,
        "hostnames": {"manage": manage or ["m-" + nid[:2]], "storage": storage or ["10.0.0.1"]},
    }
    if tags is not None:
        node["tags"] = tags
    return node


def _brick(bid: str, name: str, device: str, node: str, gib: int = 1) -> dict[str, Any]:
    return {"id": bid, "path": f"/bricks/{name}", "device": device, "node": node,
            "size": gib * GIB}


def _volume(vid: str, name: str, cluster: str, *, durability: dict[str, Any],
            bricks: list[dict[str, Any]], snapshot: dict[str, Any] | None = None,
            options: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "size": 2, "name": name, "durability": durability, "id": vid, "cluster": cluster,
        "snapshot": snapshot or {"enable": False, "factor": 1},
        "mount": {"glusterfs": {"device": f"10.0.0.1:{name}",
                                "options": {"backup-volfile-servers": "10.0.0.2"}
                                if options is None else options}},
        "bricks": bricks,
    }


def _render(*clusters: dict[str, Any]) -> str:
    return topology_info(TopologyInfo.model_validate({"clusters": list(clusters)}))


def _device_line(did: str, state: str, used: int = 0) -> str:
    return (f"\n\t\tId:{did:<35}State:{state:<10}Size (GiB):{500:<8}Used (GiB):{used:<8}"
            f"Free (GiB):{500 - used:<8}")


# --- nodes and devices ---------------------------------------------------------------------


def test_cluster_without_volumes_tags_and_known_paths() -> None:
    node = _node(N1, C1, [
        _device(D1, "/dev/sdb", tags={"speed": "fast", "age": "new"},
                paths=["/dev/disk/by-id/x", "/dev/sdb"]),
        _device(D2, "/dev/sdc", "offline"),
    ], manage=["m1", "m1b"], storage=["10.0.0.1", "10.0.1.1"], tags={"rack": "r1", "a": "b"})
    text = _render({"volumes": [], "nodes": [node], "id": C1, "block": False, "file": True})
    assert text == (
        CLUSTER_HEAD.format(id=C1, file="true", block="false")
        + NODES_HEAD
        + f"\n\tNode Id: {N1}\n\tState: online\n\tCluster Id: {C1}\n\tZone: 1"
        "\n\tManagement Hostnames: m1, m1b\n\tStorage Hostnames: 10.0.0.1, 10.0.1.1"
        "\n\tTags: a:b rack:r1\n"
        "\n\tDevices:"
        + _device_line(D1, "online")
        + "\n\t\t\tTags: age:new speed:fast\n"
        "\n\t\t\tKnown Paths: /dev/disk/by-id/x /dev/sdb\n"
        "\n\t\t\tBricks:"
        + _device_line(D2, "offline")
        + "\n\t\t\tKnown Paths: /dev/sdc\n"
        "\n\t\t\tBricks:"
        "\n"  # ends the node
        "\n"  # ends the output
    )
    # Spelled out once, as it shows on a terminal: two empty lines between "Volumes:" and
    # "Nodes:", an empty line after each Tags and Known Paths line, one at the very end.
    assert "    Volumes:\n\n\n    Nodes:\n\n\tNode Id:" in text
    assert text.endswith("\t\t\tKnown Paths: /dev/sdc\n\n\t\t\tBricks:\n\n")


def test_nodes_without_tags_or_devices_and_devices_with_bricks() -> None:
    bricks = [_brick(A, "x", D1, N1, 3), _brick(B, "y", D1, N1, 5)]
    nodes = [
        _node(N1, C1, [_device(D1, "/dev/sdb", bricks=bricks, used_gib=8),
                       _device(D2, "/dev/sdc")]),
        _node(N2, C1, []),
        _node(N3, C1, [_device(D3, "/dev/sdd", paths=[])]),
    ]
    text = _render({"volumes": [], "nodes": nodes, "id": C1, "block": True, "file": True})

    def head(nid: str) -> str:
        return (f"\n\tNode Id: {nid}\n\tState: online\n\tCluster Id: {C1}\n\tZone: 1"
                f"\n\tManagement Hostnames: m-{nid[:2]}\n\tStorage Hostnames: 10.0.0.1")

    assert text == (
        CLUSTER_HEAD.format(id=C1, file="true", block="true") + NODES_HEAD
        + head(N1) + "\n\tDevices:"
        + _device_line(D1, "online", 8)
        + "\n\t\t\tKnown Paths: /dev/sdb\n"
        "\n\t\t\tBricks:"
        f"\n\t\t\t\tId:{A:<35}Size (GiB):3       Path: /bricks/x"
        f"\n\t\t\t\tId:{B:<35}Size (GiB):5       Path: /bricks/y"
        + _device_line(D2, "online")
        + "\n\t\t\tKnown Paths: /dev/sdc\n"
        "\n\t\t\tBricks:"
        "\n"
        + head(N2) + "\n\tDevices:" + "\n"
        # An empty path list falls back to the device name, as no list does.
        + head(N3) + "\n\tDevices:" + _device_line(D3, "online")
        + "\n\t\t\tKnown Paths: /dev/sdd\n\n\t\t\tBricks:" + "\n"
        + "\n"
    )


def test_failed_nodes_and_devices_read_removed() -> None:
    node = _node(N1, C1, [_device(D1, "/dev/sdb", "failed")], state="failed")
    text = _render({"volumes": [], "nodes": [node], "id": C1, "block": True, "file": True})
    assert "\n\tState: removed\n" in text
    assert _device_line(D1, "removed") in text


def test_long_ids_and_sizes_are_not_truncated() -> None:
    """Go's %-35v pads but never cuts: a longer value pushes the next column."""
    long_id = "x" * 40
    node = _node(N1, C1, [_device(long_id, "/dev/sdb")])
    text = _render({"volumes": [], "nodes": [node], "id": C1, "block": True, "file": True})
    assert f"\n\t\tId:{long_id}State:online    Size (GiB):500" in text


# --- volumes -------------------------------------------------------------------------------


def test_one_replicated_volume() -> None:
    volume = _volume(A, "vr", C1, durability={"type": "replicate", "replicate": {"replica": 3}},
                     bricks=[_brick(B, "b1", D1, N1, 2), _brick(E, "b2", D2, N2, 2)])
    text = _render({"volumes": [volume], "nodes": [], "id": C1, "block": True, "file": True})
    assert text == (
        CLUSTER_HEAD.format(id=C1, file="true", block="true")
        + f"\n\tName: vr\n\tSize: 2\n\tId: {A}\n\tCluster Id: {C1}\n\tMount: 10.0.0.1:vr"
        "\n\tMount Options: backup-volfile-servers=10.0.0.2"
        "\n\tDurability Type: replicate"
        "\n\tReplica: 3"
        "\n\tSnapshot: Disabled\n"
        "\n\t\tBricks:"
        f"\n\t\t\tId: {B}\n\t\t\tPath: /bricks/b1\n\t\t\tSize (GiB): 2\n\t\t\tNode: {N1}"
        f"\n\t\t\tDevice: {D1}\n"
        f"\n\t\t\tId: {E}\n\t\t\tPath: /bricks/b2\n\t\t\tSize (GiB): 2\n\t\t\tNode: {N2}"
        f"\n\t\t\tDevice: {D2}\n"
        "\n"  # ends the volume
        + NODES_HEAD
        + "\n"
    )
    assert f"\t\t\tDevice: {D2}\n\n\n\n    Nodes:\n\n" == text[text.index("\t\t\tDevice: " + D2):]


def test_several_volumes_of_every_durability() -> None:
    """Disperse prints its two counts, none prints neither; a snapshot-enabled volume prints
    its factor; a volume without bricks still prints "Bricks:". Volumes follow each other
    without a separator of their own: each ends with its newline, the next starts with one."""
    disperse = _volume(A, "vd", C1, bricks=[_brick(E, "d", D1, N1, 1)],
                       durability={"type": "disperse", "disperse": {"data": 4, "redundancy": 2}},
                       snapshot={"enable": True, "factor": 1.5})
    plain = _volume(B, "vn", C1, durability={"type": "none"}, bricks=[], options={})
    text = _render({"volumes": [disperse, plain], "nodes": [], "id": C1, "block": False,
                    "file": True})
    assert text == (
        CLUSTER_HEAD.format(id=C1, file="true", block="false")
        + f"\n\tName: vd\n\tSize: 2\n\tId: {A}\n\tCluster Id: {C1}\n\tMount: 10.0.0.1:vd"
        "\n\tMount Options: backup-volfile-servers=10.0.0.2"
        "\n\tDurability Type: disperse"
        "\n\tDisperse Data: 4\n\tDisperse Redundancy: 2"
        "\n\tSnapshot: Enabled\n\tSnapshot Factor: 1.50\n"
        "\n\t\tBricks:"
        f"\n\t\t\tId: {E}\n\t\t\tPath: /bricks/d\n\t\t\tSize (GiB): 1\n\t\t\tNode: {N1}"
        f"\n\t\t\tDevice: {D1}\n"
        "\n"
        + f"\n\tName: vn\n\tSize: 2\n\tId: {B}\n\tCluster Id: {C1}\n\tMount: 10.0.0.1:vn"
        "\n\tMount Options: "
        "\n\tDurability Type: none"
        "\n\tSnapshot: Disabled\n"
        "\n\t\tBricks:"
        "\n"
        + NODES_HEAD
        + "\n"
    )


def test_mount_options_are_every_option_sorted_without_separator() -> None:
    volume = _volume(A, "vo", C1, durability={"type": "none"}, bricks=[],
                     options={"z-opt": "1", "backup-volfile-servers": "h2,h3", "a-opt": "x"})
    text = _render({"volumes": [volume], "nodes": [], "id": C1, "block": True, "file": True})
    assert "\n\tMount Options: a-opt=xbackup-volfile-servers=h2,h3z-opt=1\n" in text


def test_replica_is_printed_as_stored() -> None:
    volume = _volume(A, "v0", C1, durability={"type": "replicate", "replicate": {"replica": 0}},
                     bricks=[])
    text = _render({"volumes": [volume], "nodes": [], "id": C1, "block": True, "file": True})
    assert "\n\tReplica: 0\n" in text


def test_snapshot_factor_is_rounded_as_a_go_float32() -> None:
    """The factor is a float32 in Go: 1.335 is 1.33500003… there, so "%.2f" gives 1.34
    where a float64 1.335 (1.33499999…) would give 1.33."""
    volume = _volume(A, "vs", C1, durability={"type": "none"}, bricks=[],
                     snapshot={"enable": True, "factor": 1.335})
    text = _render({"volumes": [volume], "nodes": [], "id": C1, "block": True, "file": True})
    assert "\n\tSnapshot Factor: 1.34\n" in text


# --- clusters ------------------------------------------------------------------------------


def test_two_clusters_follow_each_other_and_share_one_final_newline() -> None:
    first = {"volumes": [], "nodes": [_node(N1, C1, [])], "id": C1, "block": True,
             "file": True}
    second = {"volumes": [], "nodes": [], "id": C2, "block": False, "file": False}
    assert _render(first, second) == (
        CLUSTER_HEAD.format(id=C1, file="true", block="true") + NODES_HEAD
        + f"\n\tNode Id: {N1}\n\tState: online\n\tCluster Id: {C1}\n\tZone: 1"
        f"\n\tManagement Hostnames: m-{N1[:2]}\n\tStorage Hostnames: 10.0.0.1"
        "\n\tDevices:" + "\n"
        + CLUSTER_HEAD.format(id=C2, file="false", block="false") + NODES_HEAD
        + "\n"
    )


def test_empty_topology_is_one_newline() -> None:
    assert _render() == "\n"
