"""Drift on thin pools with LVM's pool metadata spare (issue 14 item 5), on the simulator, which
keeps a hidden ``[lvol0_pmspare]`` per VG as LVM does: as large as the VG's largest pool
metadata, grown by an in-place expand that grows metadata, gone with the VG's last pool. The
database does not charge it (nor does Heketi's), so VG free is short of the database's free by
exactly the spare; the drift report reads the spare with ``lvs -a`` and stays clean throughout.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.domain.units import vg_name
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.commands_common import CommandOptions
from heketipy.operations import drift_scan
from heketipy.operations.runtime import Runtime
from heketipy.server import build
from tests.integration.test_expand_in_place import consistent, create, expand_and_wait, in_place
from tests.integration.test_operations import Api, topology
from tests.support.simulated import nodes_of


async def node_lvm(rt: Runtime) -> dict[str, tuple[int, int]]:
    """Device id -> (VG free, ``[lvol0_pmspare]`` size) as each node's ``vgs`` and ``lvs -a``
    answer (the spare 0 when ``lvs -a`` lists none)."""
    nodes, options = nodes_of(rt.executor), CommandOptions()
    found = {}
    for node in rt.state.nodes.values():
        vgs = await nodes.run(node.manage_host, lcmd.vgs_inventory(options), timeout_s=60)
        lvs = await nodes.run(node.manage_host, lcmd.lvs_inventory(options), timeout_s=60)
        assert vgs.exit_code == lvs.exit_code == 0, (vgs, lvs)
        free = lcmd.parse_vgs_free(vgs.stdout)
        rows = json.loads(lvs.stdout)["report"][0]["lv"]
        for device_id in rt.state.device_ids(node.id):
            vg = vg_name(device_id)
            spare = [
                int(float(row["lv_size"])) for row in rows
                if row["vg_name"] == vg and row["lv_name"] == "[lvol0_pmspare]"
            ]  # fmt: skip
            assert len(spare) <= 1, rows
            found[device_id] = (free[vg], spare[0] if spare else 0)
    return found


def largest_metadata(rt: Runtime) -> dict[str, int]:
    """Device id -> the largest pool metadata of its bricks (0 without bricks)."""
    return {
        device_id: max(
            (rt.state.bricks[b].pool_metadata_kib for b in rt.state.brick_ids_of_device(device_id)),
            default=0,
        )
        for device_id in rt.state.devices
    }


async def spare_is_the_largest_metadata_and_drift_clean(
    rt: Runtime, api: Api, spare_kib: int | None = None
) -> dict[str, int]:
    """Every VG's spare is its largest pool metadata (or ``spare_kib`` where it has pools); VG
    free plus the spare is the database's free; /db/check and drift are clean. Device -> spare."""
    node = await node_lvm(rt)
    largest = largest_metadata(rt)
    for device_id, (free, spare) in node.items():
        expected = largest[device_id] if spare_kib is None or not largest[device_id] else spare_kib
        assert spare == expected, (device_id, spare, largest[device_id])
        assert free + spare == rt.state.devices[device_id].free_kib, device_id
    await consistent(api)
    return {device_id: spare for device_id, (_, spare) in node.items()}


async def test_drift_stays_clean_through_create_expand_in_place_and_delete(tmp_path: Path) -> None:
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        small = await create(api, 1)
        other = await create(api, 1)
        spares = await spare_is_the_largest_metadata_and_drift_clean(rt, api)
        first = set(spares.values())
        assert len(first) == 1 and first.pop() > 0  # one spare per VG, made with its first pool

        # Growing in place grows the pool's metadata, and the spare with it.
        status, text = await expand_and_wait(api, small["id"], 4)
        assert status == 303, text
        grown = await spare_is_the_largest_metadata_and_drift_clean(rt, api)
        assert all(grown[d] > spares[d] for d in grown), (spares, grown)

        # The pool with the largest metadata goes; the spare keeps its size (LVM never shrinks
        # it) while another pool remains, so it is now larger than any pool's metadata.
        status, _, text = await api.wait("DELETE", f"/volumes/{small['id']}")
        assert status == 204, text
        await spare_is_the_largest_metadata_and_drift_clean(rt, api, spare_kib=max(grown.values()))

        # With the VG's last pool the spare goes too: the VG is whole again.
        status, _, text = await api.wait("DELETE", f"/volumes/{other['id']}")
        assert status == 204, text
        gone = await spare_is_the_largest_metadata_and_drift_clean(rt, api)
        assert set(gone.values()) == {0}
        for device_id, (free, _) in (await node_lvm(rt)).items():
            assert free == rt.state.devices[device_id].total_kib


async def test_the_drift_scan_reads_one_lvs_report_per_node(tmp_path: Path) -> None:
    """The scan's inventory ``lvs`` carries the thin-pool fill for the metrics as well (issue
    14 item 5): one ``lvs`` per node, not a second one for the thin pools."""
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        await create(api, 1)
        trace = nodes_of(rt.executor).trace
        trace.clear()
        await drift_scan.scan(rt)
        reads = [(e.host, e.command) for e in trace.events if e.phase == "start"]
        lvs = sorted(host for host, command in reads if command == "lvs")
        assert lvs == sorted(n.manage_host for n in rt.state.nodes.values()), reads
        bricked = {b.device_id for b in rt.state.bricks.values()}
        assert set(rt.metrics.thin_pools) == bricked


async def test_a_resync_that_charges_the_spare_keeps_drift_clean(tmp_path: Path) -> None:
    """A device resync takes LVM's numbers as they are, as Heketi's does: the spare counted as
    used. The database then agrees with VG free exactly, and drift is clean too (``/db/check``
    finds the device's used size above its bricks', as Heketi's does on real LVM)."""
    app = build(in_place(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt, api = app[RUNTIME], Api(client)
        await topology(api)
        await create(api, 1)
        device_id = next(b.device_id for b in rt.state.bricks.values())
        status, _, text = await api.wait("GET", f"/devices/{device_id}/resync")
        assert status == 204, text
        free, spare = (await node_lvm(rt))[device_id]
        assert spare > 0 and rt.state.devices[device_id].free_kib == free
        _, _, text = await api.call("GET", "/internal/state/drift")
        assert json.loads(text)["clean"] is True, text
