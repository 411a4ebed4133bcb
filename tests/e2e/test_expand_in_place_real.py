"""An in-place expand on the testbed (issue 14 item 2): real glusterd, real XFS on the thin-LV
shim's loop images. The expand adds no brick (``gluster volume info`` shows the same bricks),
every brick's filesystem really grows (``df``), the data written before is intact, a single file
larger than the old bricks now fits, and drift and ``/db/check`` stay clean."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.conftest import start_heketi
from tests.e2e.scenario import (
    PAYLOAD,
    _created_id,
    call,
    fuse_write_and_read,
    gluster_info,
    load_topology,
    remove_topology,
)
from tests.e2e.testbed import Node, Testbed
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
GIB_KIB = 1024 * 1024


@contextmanager
def reconfigured(api: ServerProcess, bed: Testbed, **heketipy: Any) -> Iterator[ServerProcess]:
    """The session's server restarted with ``heketipy`` settings, then restored (the testbed
    forwards one port, so two servers cannot run side by side)."""
    original = api.config_path.read_text()
    config = json.loads(original)
    config["heketipy"].update(heketipy)
    api.stop()
    api.config_path.write_text(json.dumps(config, indent=1))
    api.process = start_heketi(api.config_path, bed, api.env).process
    try:
        yield api
    finally:
        api.stop()
        api.config_path.write_text(original)
        api.process = start_heketi(api.config_path, bed, api.env).process


def brick_df_kib(bed: Testbed, node: Node, brick_path: str) -> int:
    """The size ``df`` reports for the filesystem holding ``brick_path`` (KiB)."""
    out = bed.node_run(node, ["df", "-k", "--output=size", brick_path]).stdout.split()
    return int(out[-1])


def node_of(bed: Testbed, topology: Any, node_id: str) -> Node:
    return next(n for n in bed.nodes if topology.node_ids[n.name] == node_id)


def test_real_expand_in_place(heketi_over_ssh: ServerProcess, testbed: Testbed) -> None:
    bed = testbed
    with reconfigured(heketi_over_ssh, bed, volume_expansion="in-place") as api:
        topology = load_topology(api, bed)
        volume_id = ""
        try:
            volume_id = _created_id(call(api, "POST", "/volumes", {
                "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
            }))  # fmt: skip
            volume = api.request("GET", f"/volumes/{volume_id}").json()
            fuse_write_and_read(bed, topology, volume)
            bricks_before = [b.findtext("name") for b in gluster_info(
                bed, bed.nodes[0], volume["name"]).iter("brick")]
            assert len(bricks_before) == 3
            df_before = {b["id"]: brick_df_kib(bed, node_of(bed, topology, b["node"]), b["path"])
                         for b in volume["bricks"]}

            reply = call(api, "POST", f"/volumes/{volume_id}/expand", {"expand_size": 2})
            assert reply.status == 303, reply.text

            grown = api.request("GET", f"/volumes/{volume_id}").json()
            assert grown["size"] == 3
            assert sorted(b["id"] for b in grown["bricks"]) == sorted(df_before)
            assert {b["size"] for b in grown["bricks"]} == {3 * GIB_KIB}
            bricks_after = [b.findtext("name") for b in gluster_info(
                bed, bed.nodes[0], volume["name"]).iter("brick")]
            assert bricks_after == bricks_before  # no set added
            for brick in grown["bricks"]:
                node = node_of(bed, topology, brick["node"])
                df_after = brick_df_kib(bed, node, brick["path"])
                assert df_after > df_before[brick["id"]] + GIB_KIB, (df_before, df_after)
                # the file written before the expand is intact on every brick
                found = bed.node_run(node, ["cat", f"{brick['path']}/hello.txt"]).stdout
                assert found == PAYLOAD
            big_file_fits(bed, volume["name"])
            drift = api.request("GET", "/internal/state/drift").json()
            assert drift["clean"] is True, drift
            check = api.request("GET", "/db/check").json()
            assert check["totalinconsistencies"] == 0, check
        finally:
            if volume_id:
                assert call(api, "DELETE", f"/volumes/{volume_id}").status == 204
            remove_topology(api, bed, topology)


def big_file_fits(bed: Testbed, name: str) -> None:
    """A 1.5 GiB file on the grown 3 GiB volume: more than a brick held before the expand."""
    server, mount_point = bed.nodes[0].storage, f"/mnt/{name}-grown"
    bed.client_run(["mkdir", "-p", mount_point])
    bed.client_run(["mount", "-t", "glusterfs", f"{server}:/{name}", mount_point])
    try:
        bed.client_run(
            ["dd", "if=/dev/zero", f"of={mount_point}/big", "bs=1M", "count=1536", "conv=fsync"],
            timeout=600,
        )
        size = bed.client_run(["stat", "-c", "%s", f"{mount_point}/big"]).stdout.strip()
        assert int(size) == 1536 * 1024 * 1024
        assert bed.client_run(["cat", f"{mount_point}/hello.txt"]).stdout == PAYLOAD
    finally:
        bed.client_run(["rm", "-f", f"{mount_point}/big"], check=False)
        bed.client_run(["umount", mount_point], check=False)
