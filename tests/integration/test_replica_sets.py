"""Replica sets of an imported volume come from Gluster, never from the import's guess.

The scenario, on simulated nodes: five nodes in five zones, one device each; a replica-3 volume
created on ``first, s1, s2`` and expanded onto ``first, s3, s4`` (``s1..s4`` the other nodes
in id order), as Heketi's expansion can leave it, then exported as a Heketi dump and imported.
The dump does not say which bricks form a set; the import's guess pairs ``s1`` with ``s3`` and
``s2`` with ``s4`` (whatever the ids), so the guessed sets are not Gluster's real ones. With
``s3``'s device offline, evicting ``s2``'s brick from the guess would put the replacement on
``s1``: two replicas of one real set on one node (and zone).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.domain.errors import OperationFailed
from heketipy.heketidump.importer import entities_from_dump, import_dump
from heketipy.operations import bricks as bricks_ops
from heketipy.operations import drift, replica_sets
from heketipy.operations.runtime import Runtime
from heketipy.server import build
from heketipy.store import readonly
from heketipy.store.sqlite import Store
from heketipy.wiring import simulator_executor
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology
from tests.openapi_check import validate_response
from tests.support.simulated import nodes_of
from tests.unit.test_heketi_import import run_admin


@dataclass
class Imported:
    """An imported database whose expanded volume's guessed sets differ from Gluster's."""

    directory: Path
    volume_id: str
    volume_name: str
    first: str  # node ids: the node in both sets, and the others in id order
    others: list[str]
    storage: dict[str, str]  # node id -> storage host
    dump: dict[str, Any]


async def _set_device(api: Api, device_id: str, state: str) -> None:
    status, _, text = await api.wait("POST", f"/devices/{device_id}/state", {"state": state})
    assert status == 204, text


async def expanded_volume_imported(tmp_path: Path) -> Imported:
    origin, target = tmp_path / "heketi", tmp_path / "heketipy"
    origin.mkdir()
    target.mkdir()
    app = build(settings_for(origin))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        node_ids = await topology(api, nodes=5)
        device_of = {d.node_id: d.id for d in rt.state.devices.values()}
        first, others = node_ids[0], sorted(node_ids[1:])
        s1, s2, s3, s4 = others
        for node in (s3, s4):
            await _set_device(api, device_of[node], "offline")
        status, headers, text = await api.wait(
            "POST", "/volumes", {"size": 1, "durability": REPLICA3}
        )
        assert status == 303, text
        volume_path = headers["Location"]
        for node in (s1, s2):
            await _set_device(api, device_of[node], "offline")
        for node in (s3, s4):
            await _set_device(api, device_of[node], "online")
        status, _, text = await api.wait("POST", f"{volume_path}/expand", {"expand_size": 1})
        assert status == 303, text
        for node in (s1, s2):
            await _set_device(api, device_of[node], "online")
        # s3 cannot take a replacement: only s1 (wrong) or s4 (right) can.
        await _set_device(api, device_of[s3], "offline")
        _, _, text = await api.call("GET", "/db/dump")
        dump = json.loads(text)
        volume = rt.state.volumes[volume_path.rsplit("/", 1)[1]]
        storage = {n.id: n.storage_host for n in rt.state.nodes.values()}
    shutil.copy(
        origin / "heketi.db.simulator.json", target / "heketi.db.simulator.json"
    )
    await import_dump(dump, str(target / "heketi.db"))
    return Imported(target, volume.id, volume.name, first, others, storage, dump)


@contextlib.asynccontextmanager
async def imported_runtime(imported: Imported) -> AsyncIterator[Runtime]:
    """A runtime over the imported database and the same simulated nodes, not started as a
    server (so nothing has read Gluster yet)."""
    settings = settings_for(imported.directory)
    store = Store(settings.glusterfs.db)
    state = await store.open()
    executor = simulator_executor(settings)
    await executor.start()
    for node in state.nodes.values():
        executor.register_node(node.manage, node.storage)
    rt = Runtime(state, store, executor, settings)
    try:
        yield rt
    finally:
        await rt.jobs.drain()
        await executor.close()
        await store.close()


async def gluster_node_sets(rt: Runtime, imported: Imported) -> list[list[str]]:
    """Gluster's real sets of the volume, as node ids."""
    node_of = {host: node for node, host in imported.storage.items()}
    host = rt.state.nodes[imported.first].manage_host
    info = await rt.executor.volume_info(host, imported.volume_name)
    nodes = [node_of[b.host] for b in info.bricks]
    return [nodes[i : i + 3] for i in range(0, len(nodes), 3)]


def database_node_sets(rt: Runtime, volume_id: str) -> list[list[str]]:
    sets: dict[int, list[str]] = {}
    for brick in rt.state.bricks_of_volume(volume_id):
        sets.setdefault(brick.set_index, []).append(brick.node_id)
    return [sets[i] for i in sorted(sets)]


async def test_the_import_guess_differs_from_glusters_sets(tmp_path: Path) -> None:
    """The scenario holds what it claims: the imported sets are a guess, and a wrong one."""
    imported = await expanded_volume_imported(tmp_path)
    first, (s1, s2, s3, s4) = imported.first, imported.others
    async with imported_runtime(imported) as rt:
        real = await gluster_node_sets(rt, imported)
        assert sorted(map(sorted, real)) == sorted([sorted([first, s1, s2]), sorted([first, s3, s4])])
        guessed = database_node_sets(rt, imported.volume_id)
        assert sorted(map(sorted, guessed)) != sorted(map(sorted, real))
        assert rt.state.volumes[imported.volume_id].sets_verified is False


async def test_eviction_never_places_two_replicas_of_a_real_set_on_one_node(
    tmp_path: Path,
) -> None:
    imported = await expanded_volume_imported(tmp_path)
    s2 = imported.others[1]
    async with imported_runtime(imported) as rt:
        brick = next(b for b in rt.state.bricks_of_volume(imported.volume_id) if b.node_id == s2)
        await bricks_ops.evict(rt, brick)
        real = await gluster_node_sets(rt, imported)
        zones = {n.id: n.zone for n in rt.state.nodes.values()}
        for members in real:
            assert len(set(members)) == len(members), real
            assert len({zones[n] for n in members}) == len(members), real
        # What heketipy planned from is now Gluster's truth, recorded.
        assert rt.state.volumes[imported.volume_id].sets_verified is True
        assert database_node_sets(rt, imported.volume_id) == real


async def test_eviction_refuses_when_gluster_cannot_be_read(tmp_path: Path) -> None:
    imported = await expanded_volume_imported(tmp_path)
    async with imported_runtime(imported) as rt:
        for node in rt.state.nodes.values():
            nodes_of(rt.executor).set_node_unreachable(node.manage_host)
        brick = rt.state.bricks_of_volume(imported.volume_id)[0]
        with pytest.raises(OperationFailed) as refused:
            await bricks_ops.evict(rt, brick)
        assert imported.volume_name in refused.value.text
        assert imported.volume_id in refused.value.text
        assert "replica sets" in refused.value.text
        # Nothing was planned: no operation, no new brick.
        assert not rt.state.operations
        assert len(rt.state.bricks_of_volume(imported.volume_id)) == 6


async def test_device_removal_names_the_volume_whose_sets_cannot_be_read(
    tmp_path: Path,
) -> None:
    """Not "no device was found to replace it": the reason is the volume's unknown sets."""
    imported = await expanded_volume_imported(tmp_path)
    async with imported_runtime(imported) as rt:
        for node in rt.state.nodes.values():
            nodes_of(rt.executor).set_node_unreachable(node.manage_host)
        brick = rt.state.bricks_of_volume(imported.volume_id)[0]
        device = rt.state.devices[brick.device_id]
        with pytest.raises(OperationFailed) as refused:
            await bricks_ops.remove_device_bricks(rt, device, node_removal=True)
        assert refused.value.text.startswith(
            f"Failed to set up brick eviction: replica sets of volume {imported.volume_name} "
            f"({imported.volume_id}) are not verified from gluster"
        )
        assert not rt.state.operations


async def test_drift_reports_sets_that_differ_from_gluster(tmp_path: Path) -> None:
    imported = await expanded_volume_imported(tmp_path)
    async with imported_runtime(imported) as rt:
        report = await drift.report(rt)
        assert report["clean"] is False
        found = [f for f in report["set-mismatch"] if f["name"] == imported.volume_name]
        assert len(found) == 1, report
        assert found[0]["kind"] == "replica-sets"
        assert "replica sets differently from gluster" in found[0]["detail"]
        assert await replica_sets.verify_unverified(rt) == [imported.volume_id]
        after = await drift.report(rt)
        assert after["clean"] is True, after
        assert after["set-mismatch"] == []


async def test_first_start_takes_the_sets_from_gluster(tmp_path: Path) -> None:
    imported = await expanded_volume_imported(tmp_path)
    app = build(settings_for(imported.directory))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        real = await gluster_node_sets(rt, imported)
        assert database_node_sets(rt, imported.volume_id) == real
        path = f"/internal/state/volumes/{imported.volume_id}/sets"
        status, headers, text = await api.call("GET", path)
        assert status == 200, text
        validate_response("GET", path, status, headers, text.encode())
        shown = json.loads(text)
        assert shown["verified"] is True
        node_of_brick = {b.id: b.node_id for b in rt.state.bricks_of_volume(imported.volume_id)}
        assert [[node_of_brick[b] for b in members] for members in shown["sets"]] == real
        # Clients reading the brick list see Heketi's order: the dump's.
        status, _, text = await api.call("GET", f"/volumes/{imported.volume_id}")
        assert status == 200, text
        listed = [b["id"] for b in json.loads(text)["bricks"]]
        assert listed == imported.dump["volumeentries"][imported.volume_id]["Bricks"]
        _, _, text = await api.call("GET", "/internal/state/drift")
        assert json.loads(text)["clean"] is True


async def test_sets_of_an_unknown_volume_are_404(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        status, _, text = await Api(client).call(
            "GET", f"/internal/state/volumes/{'0' * 32}/sets"
        )
        assert (status, text.strip()) == (404, "Id not found")


def test_the_import_marks_sets_unverified(tmp_path: Path) -> None:
    """Every imported volume with bricks starts unverified: the dump cannot say its sets."""
    imported = asyncio.run(expanded_volume_imported(tmp_path))
    parsed = entities_from_dump(imported.dump)
    volumes = [e for e in parsed.entities if e.kind == "volume"]
    assert volumes and all(v.sets_verified is False for v in volumes)


async def test_volume_bricks_are_listed_in_heketis_order(tmp_path: Path) -> None:
    """Heketi lists a volume's bricks sorted by id (its database order), not by set."""
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api, nodes=3)
        # Eight sets of replica 3: set order is almost never id order.
        status, headers, text = await api.wait("POST", "/volumes", {
            "size": 8, "durability": REPLICA3, "glustervolumeoptions": [],
        })
        assert status == 303, text
        volume_id = headers["Location"].rsplit("/", 1)[1]
        for _ in range(3):
            status, _, text = await api.wait(
                "POST", f"/volumes/{volume_id}/expand", {"expand_size": 1}
            )
            assert status == 303, text
        status, _, text = await api.call("GET", f"/volumes/{volume_id}")
        listed = [b["id"] for b in json.loads(text)["bricks"]]
        assert len(listed) == 12
        assert listed == sorted(listed)
        in_set_order = [b.id for b in rt.state.bricks_of_volume(volume_id)]
        assert sorted(in_set_order) == listed


def test_db_import_with_config_reads_the_sets_from_gluster(tmp_path: Path) -> None:

    imported = asyncio.run(expanded_volume_imported(tmp_path))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(
        imported.directory / "heketi.db.simulator.json", fresh / "heketi.db.simulator.json"
    )
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(imported.dump))
    settings_for(fresh)  # writes fresh/heketi.json for fresh/heketi.db
    code, out, err = run_admin(
        "db", "import", "--jsonfile", str(source), "--dbfile", str(fresh / "heketi.db"),
        "--config", str(fresh / "heketi.json"),
    )
    assert (code, err) == (0, ""), err
    assert "Replica sets of 1 volume(s) read from gluster" in out
    state = readonly.load_state(str(fresh / "heketi.db"))
    assert state.volumes[imported.volume_id].sets_verified is True
    node_of = {host: node for node, host in imported.storage.items()}
    sim = json.loads((fresh / "heketi.db.simulator.json").read_text())
    gluster = next(
        v for pool in sim["pools"].values() for name, v in pool["volumes"].items()
        if name == imported.volume_name
    )
    real = [node_of[b.split(":", 1)[0]] for b in gluster["bricks"]]
    sets: dict[int, list[str]] = {}
    for brick in state.bricks_of_volume(imported.volume_id):
        sets.setdefault(brick.set_index, []).append(brick.node_id)
    assert [sets[i] for i in sorted(sets)] == [real[:3], real[3:]]


def test_db_import_with_config_leaves_sets_gluster_cannot_give_to_the_start(
    tmp_path: Path,
) -> None:

    imported = asyncio.run(expanded_volume_imported(tmp_path))
    fresh = tmp_path / "fresh"
    fresh.mkdir()  # no simulator state: the nodes know nothing of the volume
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(imported.dump))
    settings_for(fresh)
    code, out, err = run_admin(
        "db", "import", "--jsonfile", str(source), "--dbfile", str(fresh / "heketi.db"),
        "--config", str(fresh / "heketi.json"),
    )
    assert code == 0, err
    assert "DB imported to" in out
    assert "replica sets of 1 volume(s) could not be read from gluster" in err
    state = readonly.load_state(str(fresh / "heketi.db"))
    assert state.volumes[imported.volume_id].sets_verified is False


async def test_a_clone_of_an_imported_volume_maps_its_bricks_by_glusters_sets(
    tmp_path: Path,
) -> None:
    """A clone's bricks are matched with the source's by set order: from a guess, gluster's
    clone bricks would be recorded on the wrong nodes."""
    from heketipy.operations import volumes
    from tests.support.runtime import succeeded

    imported = await expanded_volume_imported(tmp_path)
    async with imported_runtime(imported) as rt:
        source = rt.state.volumes[imported.volume_id]
        location = await succeeded(rt, await volumes.clone_volume(rt, source, "clone1"))
        assert location is not None
        clone_id = location.rsplit("/", 1)[1]
        host = rt.state.nodes[imported.first].manage_host
        served = [(b.host, b.path) for b in (await rt.executor.volume_info(host, "clone1")).bricks]
        recorded = [
            (rt.state.nodes[b.node_id].storage_host, b.path)
            for b in rt.state.bricks_of_volume(clone_id)
        ]
        assert recorded == served
        assert (await drift.report(rt))["clean"] is True
