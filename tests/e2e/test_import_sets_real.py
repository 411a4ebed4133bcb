"""An imported, expanded volume on real glusterd gets Gluster's real replica sets.

The session's server plays Heketi: it makes a replica-3 volume on the testbed and expands it
until its sets are ones the import's guess gets wrong (a Heketi dump does not record sets;
the guess pairs each node's bricks in id order), then its dump is taken. A second server
starts on that dump imported into a new database: its first start reads ``gluster volume
info``; the API then shows Gluster's sets (``GET /internal/state/volumes/{id}/sets``, verified),
lists the bricks in Heketi's order (the dump's), and the drift report is clean. The second
server changes nothing on the nodes; the session's server, restarted on its own database,
removes everything afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heketipy import admin_cli
from heketipy.executors.commands_gluster import parse_volume_info
from heketipy.heketidump.importer import entities_from_dump
from tests.e2e.conftest import start_heketi
from tests.e2e.scenario import call, remove_topology
from tests.e2e.test_db_rebuild_real import (
    REPLICA3,
    created,
    current_topology,
    drift,
    load,
    topology_document,
)
from tests.e2e.testbed import Testbed
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
MAX_EXPANSIONS = 4

Sets = list[list[str]]


def addresses(dump: dict[str, Any]) -> dict[str, str]:
    """brick id -> ``storage host:path``, as Gluster names the brick."""
    storage = {
        node_id: entry["Info"]["hostnames"]["storage"][0]
        for node_id, entry in dump["nodeentries"].items()
    }
    return {
        brick_id: f"{storage[entry['Info']['node']]}:{entry['Info']['path']}"
        for brick_id, entry in dump["brickentries"].items()
    }


def gluster_sets(bed: Testbed, name: str) -> Sets:
    (volume,) = parse_volume_info(bed.gluster(bed.nodes[0], "volume", "info", name, "--xml"))
    listed = [f"{b.host}:{b.path}" for b in volume.bricks]
    return [listed[i : i + 3] for i in range(0, len(listed), 3)]


def guessed_sets(dump: dict[str, Any], volume_id: str) -> Sets:
    where = addresses(dump)
    sets: dict[int, list[tuple[int, str]]] = {}
    for entity in entities_from_dump(dump).entities:
        if entity.kind == "brick" and entity.volume_id == volume_id:
            sets.setdefault(entity.set_index, []).append((entity.position, where[entity.id]))
    return [[address for _, address in sorted(sets[i])] for i in sorted(sets)]


def test_imported_expanded_volume_shows_glusters_sets(
    heketi_over_ssh: ServerProcess, testbed: Testbed, tmp_path: Path
) -> None:
    api = heketi_over_ssh
    load(api, topology_document(testbed))
    volume_id = created(api, "/volumes", {"size": 1, "durability": REPLICA3})
    name = api.request("GET", f"/volumes/{volume_id}").json()["name"]
    server: ServerProcess | None = None
    try:
        for _ in range(MAX_EXPANSIONS):
            reply = call(api, "POST", f"/volumes/{volume_id}/expand", {"expand_size": 1})
            assert reply.status == 303, reply.text
            dump = api.request("GET", "/db/dump").json()
            real = gluster_sets(testbed, name)
            if sorted(map(sorted, guessed_sets(dump, volume_id))) != sorted(map(sorted, real)):
                break
        else:
            pytest.fail(f"after {MAX_EXPANSIONS} expansions the import still guesses right")
        assert len(real) >= 2

        api.stop()
        directory = tmp_path / "imported"
        directory.mkdir()
        config = json.loads(api.config_path.read_text())
        config["glusterfs"]["db"] = str(directory / "heketi.db")
        config["heketipy"]["data_dir"] = str(directory)
        config_path = directory / "heketi.json"
        config_path.write_text(json.dumps(config, indent=1))
        source = directory / "dump.json"
        source.write_text(json.dumps(dump))
        assert admin_cli.main(
            ["db", "import", "--jsonfile", str(source), "--dbfile", str(directory / "heketi.db")]
        ) == 0
        server = start_heketi(config_path, testbed, api.env)

        reply = server.request("GET", f"/internal/state/volumes/{volume_id}/sets")
        assert reply.status == 200, reply.text
        shown = reply.json()
        assert shown["verified"] is True
        where = addresses(dump)
        assert [[where[b] for b in members] for members in shown["sets"]] == real
        listed = [b["id"] for b in server.request("GET", f"/volumes/{volume_id}").json()["bricks"]]
        assert listed == dump["volumeentries"][volume_id]["Bricks"]
        report = drift(server)
        assert report["set-mismatch"] == [], report
        assert report["clean"] is True, report
    finally:
        if server is not None:
            server.stop()
        if api.process.poll() is not None:
            api.process = start_heketi(api.config_path, testbed, api.env).process
        for listed_id in api.request("GET", "/volumes").json()["volumes"]:
            assert call(api, "DELETE", f"/volumes/{listed_id}").status == 204
        remove_topology(api, testbed, current_topology(api, testbed))
