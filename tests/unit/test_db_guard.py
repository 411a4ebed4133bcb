"""The start-up guard's pieces: what ``probe`` reads from a database file without changing it
(a crashed server's write-ahead log included), the Secret restore that refuses another
generation, and the backup that never replaces another generation with an empty database."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import gzip
import hashlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from heketipy.domain.entities import Cluster
from heketipy.domain.state import Transaction
from heketipy.store import kube_backup as kb
from heketipy.store import marker, probe
from heketipy.store.sqlite import Store, StoreError
from tests.testbed.fake_secrets import FakeSecrets, create_app

NS = "default"
NAME = "heketi-db-backup"


def side_files(db: Path) -> dict[str, tuple[bytes, int, int]]:
    found = {}
    for path in sorted(db.parent.iterdir()):
        if path.name.startswith(db.name):
            found[path.name] = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
    return found


async def make_database(path: Path, *, with_cluster: bool) -> str:
    store = Store(str(path))
    state = await store.open()
    try:
        if with_cluster:
            tx = Transaction(state)
            tx.add(Cluster(id="c" * 32, file=True, block=True))
            await store.commit(tx)
        return state.attributes["DB_GENERATION_ID"]
    finally:
        await store.close()


async def test_inspect_tells_every_kind_of_file(tmp_path: Path) -> None:
    def inspect(name: str) -> probe.Contents:
        return probe.inspect(str(tmp_path / name))

    assert inspect("missing.db").kind == "missing"
    (tmp_path / "dir.db").mkdir()
    assert inspect("dir.db").kind == "directory"
    (tmp_path / "zero.db").write_bytes(b"")
    assert inspect("zero.db").kind == "empty"
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    assert inspect("text.db") == probe.Contents("unreadable", detail="file is not a database")
    conn = sqlite3.connect(tmp_path / "tableless.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.close()
    assert inspect("tableless.db").kind == "empty"
    conn = sqlite3.connect(tmp_path / "other-app.db")
    conn.execute("CREATE TABLE settings (x)")
    conn.close()
    assert inspect("other-app.db").kind == "foreign"
    fresh = await make_database(tmp_path / "fresh.db", with_cluster=False)
    assert inspect("fresh.db") == probe.Contents("heketipy", fresh, holds_data=False)
    full = await make_database(tmp_path / "full.db", with_cluster=True)
    assert inspect("full.db") == probe.Contents("heketipy", full, holds_data=True)
    # A name that means something in a SQLite URI is still just a file name.
    odd = tmp_path / "we?ird#name%20.db"
    os.link(tmp_path / "full.db", odd)
    assert probe.inspect(str(odd)).generation == full


async def test_describe_reads_backup_images(tmp_path: Path) -> None:
    generation = await make_database(tmp_path / "heketi.db", with_cluster=True)
    image = (tmp_path / "heketi.db").read_bytes()
    assert image[18:20] == b"\x02\x02"  # a WAL-mode database
    assert probe.describe(image) == probe.Contents("heketipy", generation, holds_data=True)
    assert probe.describe(b"").blank
    assert probe.describe(kb.SQLITE_MAGIC + b"\x00" * 100).kind == "unreadable"
    assert probe.describe(b"bolt").kind == "unreadable"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeSecrets, kb.KubeDbBackup]]:
    secrets = FakeSecrets()
    server = TestServer(create_app(secrets), host="127.0.0.1")
    await server.start_server()
    job = kb.KubeDbBackup(kb.KubeApi(str(server.make_url("")).rstrip("/"), NS), NAME)
    try:
        yield secrets, job
    finally:
        await job.close()
        await server.close()


async def image_of(path: Path, *, with_cluster: bool) -> tuple[str, bytes]:
    generation = await make_database(path, with_cluster=with_cluster)
    store = Store(str(path))
    await store.open()
    try:
        return generation, await store.backup_bytes()
    finally:
        await store.close()


async def emptied_image(path: Path) -> bytes:
    """The database at ``path`` (made by ``make_database`` with its cluster), its topology
    deleted: the same generation, holding nothing."""
    store = Store(str(path))
    state = await store.open()
    try:
        tx = Transaction(state)
        tx.delete(state.clusters["c" * 32])
        await store.commit(tx)
        return await store.backup_bytes()
    finally:
        await store.close()


async def test_empty_database_never_replaces_another_generation(
    fake: tuple[FakeSecrets, kb.KubeDbBackup], tmp_path: Path,
) -> None:
    secrets, job = fake
    good_generation, good = await image_of(tmp_path / "good.db", with_cluster=True)
    assert await job.backup(good)
    assert kb.manifest_of(secrets.data(NS, NAME) or {})["db_generation"] == good_generation
    held = secrets.data(NS, NAME)

    _fresh_generation, fresh = await image_of(tmp_path / "fresh.db", with_cluster=False)
    with pytest.raises(kb.BackupError, match="with an empty database"):
        await job.backup(fresh)
    # A new process (its first look at the Secrets) refuses as well.
    other = kb.KubeDbBackup(job.api, NAME)
    with pytest.raises(kb.BackupError, match=good_generation):
        await other.backup(fresh)
    assert secrets.data(NS, NAME) == held

    # The same database emptied of its topology is still backed up, and so is another
    # generation that holds a topology (a deliberate new start that has begun its work).
    emptied = await emptied_image(tmp_path / "good.db")
    assert probe.describe(emptied).blank
    assert await job.backup(emptied)
    _other_generation, other_full = await image_of(tmp_path / "other.db", with_cluster=True)
    assert await job.backup(other_full)


@pytest.mark.parametrize("held", ["manifest-without-generation", "heketi-bolt"])
async def test_empty_database_never_replaces_a_backup_of_unknown_generation(
    fake: tuple[FakeSecrets, kb.KubeDbBackup], tmp_path: Path, held: str,
) -> None:
    secrets, job = fake
    good_generation, good = await image_of(tmp_path / "good.db", with_cluster=True)
    if held == "heketi-bolt":
        payload = {kb.SINGLE_KEY: gzip.compress(b"bolt pages")}
    else:
        packed = kb.pack(good, NAME)  # what a manifest without db_generation looks like
        assert "db_generation" not in packed.manifest
        payload = packed.secrets[NAME]
    secrets.secrets[(NS, NAME)] = {
        "metadata": {"name": NAME, "resourceVersion": "1"},
        "data": {k: base64.b64encode(v).decode() for k, v in payload.items()},
    }
    held_data = secrets.data(NS, NAME)
    fresh_generation, fresh = await image_of(tmp_path / "fresh.db", with_cluster=False)
    with pytest.raises(kb.BackupError):
        await job.backup(fresh)
    assert secrets.data(NS, NAME) == held_data
    if held == "manifest-without-generation":
        # Read from the backup itself: the same generation emptied may replace it.
        assert fresh_generation != good_generation
        emptied = await emptied_image(tmp_path / "good.db")
        assert await kb.KubeDbBackup(job.api, NAME).backup(emptied)


async def test_restore_of_another_generation_is_refused_and_leaves_the_file(
    fake: tuple[FakeSecrets, kb.KubeDbBackup], tmp_path: Path,
) -> None:
    secrets, job = fake
    _generation, image = await image_of(tmp_path / "secret.db", with_cluster=True)
    assert await job.backup(image)
    data_dir = tmp_path / "var"
    db = tmp_path / "heketi.db"
    db.write_bytes(b"")
    recorded = "a" * 32
    marker.record_after_open(str(db), str(data_dir), recorded)
    registry = (data_dir / "known-databases.json").read_bytes()
    before = side_files(db)
    with pytest.raises(marker.RefusedDatabase, match=f"not the recorded generation {recorded}"):
        await marker.open_guarded(str(db), str(data_dir), job, init_db=False)
    assert {k: v for k, v in side_files(db).items() if not k.endswith(".lock")} == {
        k: v for k, v in before.items() if not k.endswith(".lock")
    }
    assert (data_dir / "known-databases.json").read_bytes() == registry
    # --init-db: the backup in the Secret is restored, whatever its generation.
    store, state = await marker.open_guarded(str(db), str(data_dir), job, init_db=True)
    await store.close()
    assert list(state.clusters) == ["c" * 32]
    assert json.loads((data_dir / "known-databases.json").read_text()) == {
        str(db): state.attributes["DB_GENERATION_ID"]
    }


async def test_unreachable_secret_api_at_start_is_one_clear_refusal(tmp_path: Path) -> None:
    job = kb.KubeDbBackup(kb.KubeApi("http://127.0.0.1:9", NS, timeout_s=5), NAME)
    db = tmp_path / "heketi.db"
    try:
        with pytest.raises(marker.RefusedDatabase, match="cannot be restored from secret"):
            await marker.open_guarded(str(db), str(tmp_path / "var"), job, init_db=False)
    finally:
        await job.close()
    assert not db.exists()


async def test_unwritable_marker_is_one_clear_refusal_and_releases_the_database(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    data_dir.write_text("a file where the marker's directory should be")
    db = tmp_path / "heketi.db"
    with pytest.raises(marker.RefusedDatabase, match="known-databases.json"):
        await marker.open_guarded(str(db), str(data_dir), None, init_db=False)
    # --init-db does not consult the marker; recording the database fails the same way.
    with pytest.raises(marker.RefusedDatabase, match="known-databases.json"):
        await marker.open_guarded(str(db), str(data_dir), None, init_db=True)
    store, _state = await marker.open_guarded(str(db), str(tmp_path / "var2"), None,
                                              init_db=False)
    await store.close()


def snapshot(db: Path) -> dict[str, tuple[str, int, int]]:
    """SHA-256, mtime and mode of the database and every file beside it named after it."""
    return {
        name: (hashlib.sha256(data).hexdigest(), mtime, mode)
        for name, (data, mtime, mode) in side_files(db).items()
    }


async def newer_rollback_database(db: Path) -> None:
    """A heketipy database in rollback-journal mode whose schema a newer heketipy wrote."""
    await make_database(db, with_cluster=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA user_version=999")
    conn.close()
    os.chmod(db, 0o644)


@pytest.mark.parametrize("init_db", [False, True])
async def test_newer_schema_version_is_refused_untouched(tmp_path: Path, init_db: bool) -> None:
    db = tmp_path / "heketi.db"
    await newer_rollback_database(db)
    before = snapshot(db)
    assert db.read_bytes()[18:20] == b"\x01\x01"
    with pytest.raises(marker.RefusedDatabase, match="schema version 999 is newer"):
        await marker.open_guarded(str(db), str(tmp_path / "var"), None, init_db=init_db)
    assert snapshot(db) == before  # bytes (journal mode too), mode, mtime; no side file


def foreign_database(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE settings (key TEXT, value TEXT)")
    conn.execute("INSERT INTO settings VALUES ('theme', 'dark')")
    conn.commit()
    conn.close()
    os.chmod(db, 0o644)


@pytest.mark.parametrize("init_db", [False, True])
async def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, init_db: bool,
) -> None:
    """No marker record there: still not ours, and --init-db does not take it over."""
    db = tmp_path / "app.db"
    foreign_database(db)
    before = snapshot(db)
    with pytest.raises(marker.RefusedDatabase, match="another application") as refused:
        await marker.open_guarded(str(db), str(tmp_path / "var"), None, init_db=init_db)
    assert "move it away" in str(refused.value)
    assert snapshot(db) == {**before, "app.db.lock": snapshot(db)["app.db.lock"]}
    assert not (tmp_path / "var" / "known-databases.json").exists()


def test_store_checks_before_switching_the_journal_mode(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    asyncio.run(newer_rollback_database(db))
    before = snapshot(db)
    store = Store(str(db))
    with pytest.raises(StoreError, match="newer"):
        store.open_sync()
    store._close_sync()
    assert snapshot(db) == before


@pytest.mark.parametrize("content", ["{\"/srv/heketi.db\": ", "[1, 2]", "\"text\""])
async def test_corrupt_marker_is_one_clear_refusal_and_kept(tmp_path: Path, content: str) -> None:
    """Reading it as "no database recorded" would silently switch the guard off."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    registry = data_dir / "known-databases.json"
    registry.write_text(content)
    db = tmp_path / "heketi.db"
    await make_database(db, with_cluster=True)
    before = snapshot(db)
    for init_db in (False, True):
        with pytest.raises(marker.RefusedDatabase, match=str(registry)) as refused:
            await marker.open_guarded(str(db), str(data_dir), None, init_db=init_db)
        assert "inspect" in str(refused.value) and "remove" in str(refused.value)
    assert registry.read_text() == content
    assert snapshot(db) == before


def test_marker_is_written_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new record reaches the disk (file, then directory entry) before the rename is
    relied on: a crash leaves the old marker or the new one, never an empty file."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    data_dir = tmp_path / "var"
    marker.record_after_open(str(tmp_path / "heketi.db"), str(data_dir), "a" * 32)
    assert marker.known_generation(str(tmp_path / "heketi.db"), str(data_dir)) == "a" * 32
    assert len(synced) == 2
    assert synced[0].startswith(str(data_dir / "known-databases")) and synced[1] == str(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == ["known-databases.json"]


def test_server_locks_the_current_lock_file_when_an_import_removed_it_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`heketipy db import` removes a lock file it created: a lock on the removed file would
    not keep the next server (which creates a new one) away."""
    db = tmp_path / "heketi.db"
    lock_path = tmp_path / "heketi.db.lock"
    lock_path.write_bytes(b"")
    real_lockf = fcntl.lockf
    removed: list[int] = []

    def lockf_after_the_import_removed_it(fd: int, operation: int) -> None:
        if not removed:
            removed.append(os.fstat(fd).st_ino)
            lock_path.unlink()
        real_lockf(fd, operation)

    monkeypatch.setattr(fcntl, "lockf", lockf_after_the_import_removed_it)
    store = Store(str(db))
    store.lock_sync()
    try:
        assert store._lock_fd is not None
        assert os.fstat(store._lock_fd).st_ino == lock_path.stat().st_ino
    finally:
        store._close_sync()
