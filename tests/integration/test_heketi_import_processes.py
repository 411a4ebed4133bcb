"""Import of Heketi database dumps with real processes: a round trip through heketipy servers
(dump -> import -> dump is the identity), an imported stale operation rolled back when a server
starts, and the ``heketipy db`` commands against a database another process holds, crashed on
or is starting on. The dump helpers are tests/unit/test_heketi_import.py's."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from heketipy.domain.entities import BRICK_ARBITER
from heketipy.heketidump import importer as heketi_import
from heketipy.heketidump.importer import entities_from_dump, import_dump
from tests.support.server import ServerProcess, running_server, start_server, write_config
from tests.unit.test_heketi_import import (
    GENERATION,
    golden_dump,
    run_admin,
    snapshot_dir,
    without_generation,
)


def build_topology(server: ServerProcess) -> None:
    reply = server.request("POST", "/clusters", {"file": True, "block": True})
    assert reply.status == 201, reply.text
    cluster = reply.json()["id"]
    for i in range(1, 5):
        final = server.async_call("POST", "/nodes", {
            "zone": 1 + i % 2, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}.example.test"], "storage": [f"10.0.0.{i}"]},
            "tags": {"rack": f"r{i % 2}"},
        })
        assert final.status == 303, final.text
        node_id = final.headers["Location"].rsplit("/", 1)[1]
        for name in ("/dev/sdb", "/dev/sdc"):
            body = {"node": node_id, "name": name, "tags": {"disk": name[-3:]}}
            assert server.async_call("POST", "/devices", body).status == 204
    volumes = [
        {"size": 2, "durability": {"type": "replicate", "replicate": {"replica": 3}}},
        {"size": 3, "name": "plain", "gid": 2001, "durability": {"type": "none"},
         "glustervolumeoptions": ["performance.quick-read off"]},
        {"size": 2, "durability": {"type": "replicate", "replicate": {"replica": 3}},
         "glustervolumeoptions": ["user.heketi.arbiter true"]},
        {"size": 4, "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
         "snapshot": {"enable": True, "factor": 1.5}},
        {"size": 5, "block": True, "durability": {"type": "replicate"}},
    ]
    locations = []
    for body in volumes:
        final = server.async_call("POST", "/volumes", body)
        assert final.status == 303, final.text
        locations.append(final.headers["Location"])
    assert server.async_call("POST", f"{locations[0]}/expand", {"expand_size": 2}).status == 303
    final = server.async_call("POST", "/blockvolumes", {"size": 1, "name": "bv1", "hacount": 2})
    assert final.status == 303, final.text


def test_round_trip_through_servers(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_server(tmp_path / "a") as original:
        build_topology(original)
        first = original.request("GET", "/db/dump").json()
    assert first["blockvolumeentries"] and len(first["volumeentries"]) == 5
    assert any(b["SubType"] == BRICK_ARBITER for b in first["brickentries"].values())

    imported_db = tmp_path / "b" / "heketi.db"
    asyncio.run(import_dump(first, str(imported_db)))
    config = write_config(tmp_path / "b")
    server = start_server(config)
    try:
        second = server.request("GET", "/db/dump").json()
        assert second["dbattributeentries"][GENERATION] != first["dbattributeentries"][GENERATION]
        assert without_generation(second) == without_generation(first)
        assert server.request("GET", "/db/check").json()["totalinconsistencies"] == 0
        # The imported database is fully usable: grow and shrink it.
        volume_id = next(
            vid for vid, v in first["volumeentries"].items() if v["Info"]["name"] == "plain"
        )
        assert server.async_call("POST", f"/volumes/{volume_id}/expand", {"expand_size": 1}).status == 303
        final = server.async_call("POST", "/volumes", {"size": 1})
        assert final.status == 303, final.text
        assert server.async_call("DELETE", final.headers["Location"]).status == 204
        assert server.request("GET", "/db/check").json()["totalinconsistencies"] == 0
    finally:
        server.stop()


def test_replica_sets_are_rebuilt_without_repeating_nodes(tmp_path: Path) -> None:
    with running_server(tmp_path) as srv:
        build_topology(srv)
        doc = srv.request("GET", "/db/dump").json()
    parsed = entities_from_dump(doc)
    bricks = [e for e in parsed.entities if e.kind == "brick"]
    volumes = {e.id: e for e in parsed.entities if e.kind == "volume"}
    sets: dict[tuple[str, int], list[Any]] = {}
    for brick in bricks:
        sets.setdefault((brick.volume_id, brick.set_index), []).append(brick)
    for (volume_id, _index), members in sets.items():
        volume = volumes[volume_id]
        assert len(members) == volume.set_size
        assert len({b.node_id for b in members}) == len(members)
        assert sorted(b.position for b in members) == list(range(volume.set_size))
        arbiters = [b for b in members if b.subtype == BRICK_ARBITER]
        if volume.arbiter:
            assert [b.position for b in arbiters] == [volume.set_size - 1]


def test_imported_stale_operation_is_rolled_back_at_start(tmp_path: Path) -> None:
    """Heketi leaves stale operations for a human; heketipy undoes them when it starts."""
    upstream = golden_dump("stale-ops.json")
    asyncio.run(import_dump(upstream, str(tmp_path / "heketi.db")))
    server = start_server(write_config(tmp_path))
    try:
        after = server.request("GET", "/db/dump").json()
        assert after["pendingoperations"] == {}
        assert after["volumeentries"] == {} and after["brickentries"] == {}
        device = after["deviceentries"][f"{5:032x}"]["Info"]["storage"]
        assert (device["used"], device["free"]) == (0, device["total"])
        assert server.request("GET", "/db/check").json()["totalinconsistencies"] == 0
    finally:
        server.stop()


# A second process holds the database as a server does (POSIX locks never conflict within one
# process, so the holder cannot be this test itself).
HOLD_DATABASE = """
import asyncio, sys
from heketipy.store.sqlite import Store

async def main():
    store = Store(sys.argv[1])
    await store.open()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await store.close()

asyncio.run(main())
"""


def test_db_commands_refuse_a_database_a_server_holds(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    asyncio.run(import_dump(golden_dump("ops-and-db.json"), str(db)))
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("stale-ops.json")))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DATABASE, str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        before = snapshot_dir(tmp_path)
        code, _out, err = run_admin(
            "db", "export", "--dbfile", str(db), "--jsonfile", str(tmp_path / "o.json")
        )
        assert code == 1 and "in use by a heketipy server" in err, err
        code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(db))
        assert code == 1 and "in use by a heketipy server" in err, err
        assert snapshot_dir(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()


# A server killed before its first checkpoint: the database lives only in its log.
CRASHED_SERVER = """
import os, sys
from heketipy.store.sqlite import Store
Store(sys.argv[1]).open_sync()
os._exit(0)
"""


@pytest.mark.parametrize("target", ["zero-bytes", "missing"])
def test_import_refuses_a_target_with_unfinished_changes_beside_it(
    tmp_path: Path, target: str,
) -> None:
    """SQLite would replay the stale log into the imported database when it next opens it."""
    db = tmp_path / "heketi.db"
    subprocess.run([sys.executable, "-c", CRASHED_SERVER, str(db)], check=True, timeout=60)
    assert Path(f"{db}-wal").stat().st_size > 0
    if target == "zero-bytes":
        db.write_bytes(b"")
    else:
        db.unlink()
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("ops-and-db.json")))
    before = snapshot_dir(tmp_path)
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(db))
    assert code == 1 and "unfinished changes" in err, err
    assert snapshot_dir(tmp_path) == before


# A server starting: True when it gets the database's lock.
SERVER_STARTS = """
import sys
from heketipy.store.sqlite import DatabaseLocked, Store
store = Store(sys.argv[1])
try:
    store.lock_sync()
except DatabaseLocked:
    print("refused")
else:
    print("started")
"""


def test_import_keeps_a_server_from_starting_until_it_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Else the server's database could be replaced underneath it."""
    db = tmp_path / "heketi.db"
    seen: list[str] = []
    write_database = heketi_import._write_database

    async def write_while_a_server_starts(parsed: Any, path: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", SERVER_STARTS, str(db)], capture_output=True, text=True,
            check=True, timeout=60,
        )
        seen.append(result.stdout.strip())
        return await write_database(parsed, path)

    monkeypatch.setattr(heketi_import, "_write_database", write_while_a_server_starts)
    asyncio.run(import_dump(golden_dump("ops-and-db.json"), str(db)))
    assert seen == ["refused"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heketi.db"]  # no stray lock file
