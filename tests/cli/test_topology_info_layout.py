"""`topology info`'s text layout in the cases the golden recording does not show (issue 10,
item 14). The recording (cli/topology.json, seq 7: one cluster, one volume of three bricks, a
node with tags, a device with tags, devices without bricks) fixes the layout of every section;
a template that renders it byte for byte puts two empty lines between "Volumes:" and
"Nodes:" when a cluster has no volumes, and two between one volume's last brick and the next
volume."""

from __future__ import annotations

from heketipy.cli.output import topology_info
from heketipy.client.models import TopologyInfo

A, B, C = "a" * 32, "b" * 32, "c" * 32
N1, D1, D2 = "1" * 32, "d1" * 16, "d2" * 16

NODE = {"zone": 1, "hostnames": {"manage": ["m1", "m1b"], "storage": ["10.0.0.1"]},
        "cluster": C, "tags": {"rack": "r1", "a": "b"}, "id": N1, "state": "online",
        "devices": [
            {"name": "/dev/sdb", "storage": {"total": 524288000, "free": 524288000, "used": 0},
             "id": D1, "paths": ["/dev/disk/by-id/x", "/dev/sdb"], "state": "online",
             "tags": {"speed": "fast"}, "bricks": []},
            {"name": "/dev/sdc", "storage": {"total": 524288000, "free": 524288000, "used": 0},
             "id": D2, "state": "offline", "bricks": []},
        ]}


def _volume(vid: str, name: str) -> dict:
    return {"size": 1, "name": name, "durability": {"type": "none"}, "id": vid, "cluster": C,
            "snapshot": {"enable": True, "factor": 1.5},
            "mount": {"glusterfs": {"device": f"10.0.0.1:{name}",
                                    "options": {"backup-volfile-servers": ""}}},
            "bricks": [{"id": vid[::-1], "path": f"/p/{name}", "device": D1, "node": N1,
                        "size": 1048576}]}


NODES_TEXT = (
    "\n    Nodes:\n"
    f"\n\tNode Id: {N1}\n\tState: online\n\tCluster Id: {C}\n\tZone: 1\n"
    "\tManagement Hostnames: m1 m1b\n\tStorage Hostnames: 10.0.0.1\n"
    "\tTags: a:b rack:r1\n\n"
    "\tDevices:\n"
    f"\t\tId:{D1}   State:online    Size (GiB):500     Used (GiB):0       Free (GiB):500     \n"
    "\t\t\tTags: speed:fast\n\n"
    "\t\t\tKnown Paths: /dev/disk/by-id/x /dev/sdb\n\n"
    "\t\t\tBricks:\n"
    f"\t\tId:{D2}   State:offline   Size (GiB):500     Used (GiB):0       Free (GiB):500     \n"
    "\t\t\tKnown Paths: /dev/sdc\n\n"
    "\t\t\tBricks:\n"
    "\n"
)


def test_cluster_without_volumes() -> None:
    topology = TopologyInfo.model_validate(
        {"clusters": [{"volumes": [], "nodes": [NODE], "id": C, "block": False, "file": True}]})
    assert topology_info(topology) == (
        f"\nCluster Id: {C}\n\n    File:  true\n    Block: false\n\n    Volumes:\n\n" + NODES_TEXT
    )


def test_two_volumes_are_two_empty_lines_apart() -> None:
    topology = TopologyInfo.model_validate({"clusters": [{
        "volumes": [_volume(A, "va"), _volume(B, "vb")], "nodes": [NODE], "id": C,
        "block": True, "file": True}]})

    def volume_text(vid: str, name: str) -> str:
        return (
            f"\n\tName: {name}\n\tSize: 1\n\tId: {vid}\n\tCluster Id: {C}\n"
            f"\tMount: 10.0.0.1:{name}\n\tMount Options: backup-volfile-servers=\n"
            "\tDurability Type: none\n\tSnapshot: Enabled\n\tSnapshot Factor: 1.50\n"
            f"\n\t\tBricks:\n\t\t\tId: {vid[::-1]}\n\t\t\tPath: /p/{name}\n\t\t\tSize (GiB): 1\n"
            f"\t\t\tNode: {N1}\n\t\t\tDevice: {D1}\n\n"
        )

    assert topology_info(topology) == (
        f"\nCluster Id: {C}\n\n    File:  true\n    Block: true\n\n    Volumes:\n"
        + volume_text(A, "va") + volume_text(B, "vb") + "\n" + NODES_TEXT
    )


def test_empty_topology_is_one_newline() -> None:
    assert topology_info(TopologyInfo.model_validate({"clusters": []})) == "\n"
