"""Import of Heketi database dumps: upstream-shaped dumps (the recorded golden ones, unmasked),
the ``heketipy db import|export`` commands, and refusals (non-empty target, malformed dumps).
What needs a server or another process is in tests/integration/test_heketi_import_processes.py."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from heketipy import admin_cli
from heketipy.admin_cli import main as admin_main
from heketipy.domain.consistency import check
from heketipy.heketidump import importer as heketi_import
from heketipy.heketidump.export import dump
from heketipy.heketidump.importer import (
    DumpFormatError,
    ImportRefused,
    entities_from_dump,
    import_dump,
)
from heketipy.store.readonly import load_state

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "http"
GENERATION = "DB_GENERATION_ID"
TIMESTAMP = 1700000000


def golden_dump(name: str) -> dict[str, Any]:
    """The recorded ``GET /db/dump`` body of a golden file with real-looking ids put back."""
    data = json.loads((GOLDEN / name).read_text())
    body = next(
        e["response"]["body"] for e in data["exchanges"]
        if e.get("request", {}).get("path") == "/db/dump"
    )
    text = re.sub(r"<ID:(\d+)>", lambda m: f"{int(m.group(1)):032x}", json.dumps(body))
    return sort_id_lists(json.loads(text.replace('"<TIMESTAMP>"', str(TIMESTAMP))))


def sort_id_lists(value: Any) -> Any:
    """Heketi emits id lists in raw-id order; the recording stored them in masked-text order."""
    if isinstance(value, dict):
        return {k: sort_id_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [sort_id_lists(v) for v in value]
        if items and all(isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) for v in items):
            return sorted(items)
        return items
    return value


def without_generation(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["dbattributeentries"].pop(GENERATION)
    return doc


async def import_and_load(doc: dict[str, Any], db_path: Path) -> Any:
    report = await import_dump(doc, str(db_path))
    return report, load_state(str(db_path))


# -- upstream-shaped dumps ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ops-and-db.json", "stale-ops.json"])
async def test_upstream_dump_imports_exactly(name: str, tmp_path: Path) -> None:
    upstream = golden_dump(name)
    report, state = await import_and_load(upstream, tmp_path / "heketi.db")
    assert report.warnings == []
    assert without_generation(dump(state)) == without_generation(upstream)
    # The import is a new database lineage.
    new_generation = state.attributes[GENERATION]
    assert re.fullmatch(r"[0-9a-f]{32}", new_generation)
    assert new_generation != upstream["dbattributeentries"][GENERATION]["Value"]
    assert report.generation_id == new_generation
    assert check(state)["totalinconsistencies"] == 0


async def test_upstream_details_survive(tmp_path: Path) -> None:
    upstream = golden_dump("ops-and-db.json")
    _report, state = await import_and_load(upstream, tmp_path / "heketi.db")
    bhv = state.volumes[f"{10:032x}"]
    assert (bhv.block, bhv.block_free_gib, bhv.block_reserved_gib) == (True, 2, 1)
    plain = state.volumes[f"{7:032x}"]
    assert (plain.gid, plain.durability, plain.set_size) == (1000, "none", 1)
    brick = state.bricks[f"{11:032x}"]
    # Upstream names thin pools with their own id; the brick must keep using that pool.
    assert brick.tp_name == f"tp_{17:032x}"
    assert (brick.size_kib, brick.charge_kib) == (4194304, 4194304 + 24576)
    node = state.nodes[f"{3:032x}"]
    assert (node.tags, node.manage, node.storage) == ({"rack": "a"}, ["node1.example.test"], ["10.0.0.1"])
    bv = state.blockvolumes[f"{13:032x}"]
    assert (bv.bhv_id, bv.iqn, bv.hosts, bv.usable_size_gib) == (bhv.id, "fakeIQN", ["10.0.0.1"], 1)
    # Hostname lookups work without Heketi's MANAGE/STORAGE registry keys.
    assert state.hostnames["node1.example.test"] == node.id


async def test_pending_operation_is_journaled_for_recovery(tmp_path: Path) -> None:
    upstream = golden_dump("stale-ops.json")
    _report, state = await import_and_load(upstream, tmp_path / "heketi.db")
    op_id, volume_id = f"{7:032x}", f"{9:032x}"
    record = state.operations[op_id]
    assert (record.type_name, record.status, record.timestamp) == ("create-volume", "stale", TIMESTAMP)
    assert record.data == {"volume": volume_id}
    assert [c["change"] for c in record.changes] == ["Add brick", "Add volume"]
    assert state.volumes[volume_id].pending_op == op_id
    assert state.bricks[f"{8:032x}"].pending_op == op_id


async def test_old_dump_without_back_links(tmp_path: Path) -> None:
    """Old Heketi: no brick volume id, no device NodeId, no cluster flags, no ExtentSize."""
    doc = golden_dump("ops-and-db.json")
    brick = doc["brickentries"][f"{8:032x}"]
    brick["Info"]["volume"] = ""
    del brick["SubType"]
    device = doc["deviceentries"][f"{5:032x}"]
    device["NodeId"] = ""
    del device["ExtentSize"]
    cluster = doc["clusterentries"][f"{1:032x}"]["Info"]
    del cluster["block"], cluster["file"]
    parsed = entities_from_dump(doc)
    by_id = {e.id: e for e in parsed.entities}
    assert by_id[f"{8:032x}"].volume_id == f"{7:032x}"
    assert by_id[f"{5:032x}"].node_id == f"{3:032x}"
    assert by_id[f"{5:032x}"].extent_kib == 4096
    assert (by_id[f"{1:032x}"].file, by_id[f"{1:032x}"].block) == (True, True)


def test_dangling_links_are_reported() -> None:
    doc = golden_dump("ops-and-db.json")
    ghost = f"{0xABC:032x}"
    doc["clusterentries"][f"{1:032x}"]["Info"]["volumes"].append(ghost)
    doc["brickentries"][f"{8:032x}"]["Info"]["path"] = "/somewhere/else"
    warnings = entities_from_dump(doc).warnings
    assert f"Cluster {1:032x} lists unknown volume {ghost}" in warnings
    assert any("path '/somewhere/else' differs" in w for w in warnings)


@pytest.mark.parametrize("breakage", [
    lambda d: d.pop("nodeentries"),
    lambda d: d["deviceentries"][f"{5:032x}"]["Info"]["storage"].update(total="big"),
    lambda d: d["volumeentries"][f"{7:032x}"]["Info"].update(id=f"{99:032x}"),
    lambda d: d["volumeentries"][f"{7:032x}"]["Info"]["durability"].update(type="stripe"),
    lambda d: d.update(brickentries=[]),
])
def test_malformed_dump_is_rejected(breakage: Any) -> None:
    doc = golden_dump("ops-and-db.json")
    breakage(doc)
    with pytest.raises(DumpFormatError):
        entities_from_dump(doc)


async def test_refuses_non_empty_database(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    await import_dump(golden_dump("ops-and-db.json"), str(db))
    with pytest.raises(ImportRefused, match="not empty"):
        await import_dump(golden_dump("stale-ops.json"), str(db))
    state = load_state(str(db))
    assert sorted(state.volumes) == [f"{7:032x}", f"{10:032x}"]


# -- admin command -------------------------------------------------------------------------
def run_admin(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = admin_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_db_import_and_export_commands(tmp_path: Path) -> None:
    upstream = golden_dump("ops-and-db.json")
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(upstream))
    db = tmp_path / "new.db"
    code, out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(db))
    assert (code, err) == (0, "")
    assert "1 clusters" in out and "2 volumes" in out
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(db))
    assert code == 1 and "not empty" in err

    exported = tmp_path / "export.json"
    code, out, err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", str(exported))
    assert code == 0, err
    assert without_generation(json.loads(exported.read_text())) == without_generation(upstream)
    # Like Heketi: never overwrite an existing output file.
    code, _out, err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", str(exported))
    assert code == 1 and "already exists" in err
    code, out, _err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", "-")
    assert code == 0 and json.loads(out)["clusterentries"].keys() == upstream["clusterentries"].keys()

    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    code, _out, err = run_admin("db", "import", "--jsonfile", str(broken), "--dbfile", str(tmp_path / "x.db"))
    assert code == 1 and "not a Heketi database dump" in err
    code, _out, err = run_admin("db", "export", "--dbfile", str(tmp_path / "none.db"), "--jsonfile", "-")
    assert code == 1 and "does not exist" in err


# -- round trip through real servers -------------------------------------------------------


# -- hostile dumps: the API's rules apply to every imported value ---------------------------
def _first(bucket: dict[str, Any]) -> dict[str, Any]:
    return next(iter(bucket.values()))


def _set_info(bucket: str, key: str, value: Any) -> Any:
    return lambda doc: _first(doc[bucket])["Info"].__setitem__(key, value)


def _set_hosts(kind: str, value: str) -> Any:
    return lambda doc: _first(doc["nodeentries"])["Info"]["hostnames"].__setitem__(kind, [value])


def _rekey(bucket: str, new_id: str) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        old_id, entry = next(iter(doc[bucket].items()))
        del doc[bucket][old_id]
        entry["Info"]["id"] = new_id
        doc[bucket][new_id] = entry

    return edit


HOSTILE_DUMPS = {
    "volume name $(reboot)": (_set_info("volumeentries", "name", "$(reboot)"), ".Info.name"),
    "volume name -rf": (_set_info("volumeentries", "name", "-rf"), ".Info.name"),
    "volume name 5000": (_set_info("volumeentries", "name", "v" * 5000), ".Info.name"),
    "block volume name": (_set_info("blockvolumeentries", "name", "a;reboot"), ".Info.name"),
    "block host": (
        lambda doc: _first(doc["blockvolumeentries"])["Info"]["blockvolume"].__setitem__(
            "hosts", ["$(reboot)"]
        ),
        ".Info.blockvolume.hosts",
    ),
    "device ;reboot": (_set_info("deviceentries", "name", "/dev/sdb;reboot"), ".Info.name"),
    "device ../": (_set_info("deviceentries", "name", "/dev/../etc/passwd"), ".Info.name"),
    "device not in /dev": (_set_info("deviceentries", "name", "/etc/passwd"), ".Info.name"),
    "device NUL": (_set_info("deviceentries", "name", "/dev/sdb\0"), ".Info.name"),
    "manage host": (_set_hosts("manage", "$(reboot)"), ".Info.hostnames.manage"),
    "storage host": (_set_hosts("storage", "-rf"), ".Info.hostnames.storage"),
    "node tag newline": (_set_info("nodeentries", "tags", {"rack": "a\nb"}), ".Info.tags"),
    "device tag name": (_set_info("deviceentries", "tags", {"a;b": "x"}), ".Info.tags"),
    "option": (
        lambda doc: _first(doc["volumeentries"]).__setitem__(
            "GlusterVolumeOptions", ["performance.cache-size $(reboot)"]
        ),
        ".GlusterVolumeOptions[0]",
    ),
    "node id": (_rekey("nodeentries", "../../x"), "nodeentries.../../x"),
    "device node link": (
        lambda doc: _first(doc["deviceentries"]).__setitem__("NodeId", "$(reboot)"),
        ".NodeId",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_DUMPS))
def test_hostile_dump_is_refused_with_the_api_rules(case: str) -> None:
    edit, where = HOSTILE_DUMPS[case]
    doc = golden_dump("ops-and-db.json")
    edit(doc)
    with pytest.raises(DumpFormatError) as caught:
        entities_from_dump(doc)
    assert where in str(caught.value)
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    ("bucket", "second_fault"),
    [("nodeentries", ("hostnames", {})), ("deviceentries", ("storage", "full"))],
)
def test_an_entry_under_a_wrong_key_is_refused_for_that_first(
    bucket: str, second_fault: tuple[str, Any]
) -> None:
    """Every bucket reader checks the key against ``Info.id`` before any other field."""
    doc = golden_dump("ops-and-db.json")
    info = _first(doc[bucket])["Info"]
    info["id"] = "f" * 32
    info[second_fault[0]] = second_fault[1]
    with pytest.raises(DumpFormatError, match=f"differs from Info.id {'f' * 32}"):
        entities_from_dump(doc)


def test_blank_options_heketi_stores_still_import() -> None:
    doc = golden_dump("ops-and-db.json")
    assert "" in _first(doc["volumeentries"])["GlusterVolumeOptions"]
    entities_from_dump(doc)


def test_clone_brick_keeps_the_path_and_lv_gluster_gave_it() -> None:
    """Heketi stores a clone's brick where gluster put it (/run/gluster/snaps/<uuid>/brickN/brick)
    with LvmLv <uuid>_0; the import keeps both (brick_<id> would name an LV that is not there)."""
    doc = golden_dump("ops-and-db.json")
    key, entry = next(iter(doc["brickentries"].items()))
    snap = "0123456789abcdef0123456789abcdef"
    entry["Info"]["path"] = f"/run/gluster/snaps/{snap}/brick2/brick"
    entry["LvmLv"] = f"{snap}_0"
    parsed = entities_from_dump(doc)
    brick = next(e for e in parsed.entities if e.kind == "brick" and e.id == key)
    assert brick.path == f"/run/gluster/snaps/{snap}/brick2/brick"
    assert brick.mount_path == f"/run/gluster/snaps/{snap}/brick2"
    assert brick.lv_name == f"{snap}_0"
    assert not any(f"logical volume '{snap}_0' differs" in w for w in parsed.warnings)


# -- db import/export change nothing unless they succeed --------------------------------------
def snapshot_dir(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of ``directory``: its bytes and its mode."""
    return {
        path.name: (path.read_bytes(), path.stat().st_mode)
        for path in sorted(directory.iterdir())
    }


NOT_A_DATABASE = b"this is my shopping list, not a database\n" * 100


@pytest.mark.parametrize("content", [NOT_A_DATABASE, b""], ids=["text", "empty"])
def test_export_of_a_non_database_changes_nothing(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "notes.txt"
    db.write_bytes(content)
    db.chmod(0o644)
    before = snapshot_dir(tmp_path)
    code, _out, err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", str(tmp_path / "out.json"))
    assert code == 1 and "heketipy database" in err, err
    code, out, err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", "-")
    assert (code, out) == (1, "") and "heketipy database" in err, err
    assert snapshot_dir(tmp_path) == before


def test_export_opens_the_database_read_only(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    asyncio.run(import_dump(golden_dump("ops-and-db.json"), str(db)))
    db.chmod(0o640)
    before = snapshot_dir(tmp_path)
    code, out, err = run_admin("db", "export", "--dbfile", str(db), "--jsonfile", "-")
    assert code == 0, err
    assert json.loads(out)["volumeentries"].keys() == golden_dump("ops-and-db.json")["volumeentries"].keys()
    assert snapshot_dir(tmp_path) == before  # no .lock, no -wal/-shm, mode kept


def test_import_into_a_non_database_changes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("ops-and-db.json")))
    target = tmp_path / "notes.txt"
    target.write_bytes(NOT_A_DATABASE)
    target.chmod(0o644)
    before = snapshot_dir(tmp_path)
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(target))
    assert code == 1 and "heketipy database" in err, err
    assert snapshot_dir(tmp_path) == before


@pytest.mark.parametrize("case", ["volume name $(reboot)", "device ;reboot", "manage host"])
def test_hostile_import_creates_nothing(tmp_path: Path, case: str) -> None:
    doc = golden_dump("ops-and-db.json")
    HOSTILE_DUMPS[case][0](doc)
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(doc))
    before = snapshot_dir(tmp_path)
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(tmp_path / "new.db"))
    assert code == 1 and HOSTILE_DUMPS[case][1] in err, err
    assert snapshot_dir(tmp_path) == before


def test_refused_import_leaves_the_existing_database_as_it_was(tmp_path: Path) -> None:
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("stale-ops.json")))
    db = tmp_path / "heketi.db"
    asyncio.run(import_dump(golden_dump("ops-and-db.json"), str(db)))
    db.chmod(0o640)
    before = snapshot_dir(tmp_path)
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(db))
    assert code == 1 and "not empty" in err
    assert snapshot_dir(tmp_path) == before


def test_import_writes_only_the_database(tmp_path: Path) -> None:
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("ops-and-db.json")))
    code, _out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(tmp_path / "new.db"))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.json", "new.db"]
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600


def test_failed_import_leaves_no_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def disk_full(parsed: Any, path: str) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(heketi_import, "_write_database", disk_full)
    with pytest.raises(OSError, match="No space"):
        asyncio.run(import_dump(golden_dump("ops-and-db.json"), str(tmp_path / "heketi.db")))
    assert list(tmp_path.iterdir()) == []


def test_db_import_command_reports_a_failed_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write the OS refuses (disk full, read-only file system) is named with the target."""

    async def disk_full(doc: object, db_path: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(admin_cli, "import_dump", disk_full)
    source = tmp_path / "dump.json"
    source.write_text(json.dumps(golden_dump("ops-and-db.json")))
    target = tmp_path / "new.db"
    code, out, err = run_admin("db", "import", "--jsonfile", str(source), "--dbfile", str(target))
    assert (code, out) == (1, "")
    assert err == f"ERROR: unable to write {target}: [Errno 28] No space left on device\n"
