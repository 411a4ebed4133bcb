"""The database is never shared, never silently replaced by an empty one, and never used
when corrupt: each case stops start-up with one clear line and leaves every file as it was.
The Kubernetes Secret backup restores an emptied database and is never overwritten by an
empty database of another generation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from heketipy.store import kube_backup, probe
from tests.support.server import (
    ServerProcess,
    running_server,
    start_fails,
    start_server,
    update_config,
    write_config,
)
from tests.testbed.fake_secrets import FakeSecrets, serving

SECRET = "heketi-db-backup"


def files_of(db: Path) -> dict[str, tuple[bytes, int, int] | None]:
    """Bytes, mtime and mode of the database, its side files and the marker registry."""
    paths = [Path(str(db) + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    paths.append(db.parent / "var" / "known-databases.json")
    found: dict[str, tuple[bytes, int, int] | None] = {}
    for path in paths:
        if path.exists():
            stat = path.stat()
            found[path.name] = (path.read_bytes(), stat.st_mtime_ns, stat.st_mode)
        else:
            found[path.name] = None
    return found


def generation_of(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute(
            "SELECT value FROM attributes WHERE key = 'DB_GENERATION_ID'"
        ).fetchone()[0])
    finally:
        conn.close()


def known_generation(config: Path) -> str:
    registry = json.loads((config.parent / "var" / "known-databases.json").read_text())
    return str(registry[str(config.parent / "heketi.db")])


def server_with_a_cluster(config: Path, **kwargs: object) -> tuple[ServerProcess, str]:
    server = start_server(config, **kwargs)  # type: ignore[arg-type]
    reply = server.request("POST", "/clusters", {"file": True})
    assert reply.status == 201, reply.text
    return server, str(reply.json()["id"])


def damage_database(db: Path, damage: str) -> None:
    """Leave ``db`` as a stopped server's clean database damaged in the way ``damage`` says."""
    if damage == "zero-bytes":
        db.write_bytes(b"")  # `: > heketi.db`: same inode, same mode
    elif damage == "schema-less":
        db.unlink()
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE scratch (x)")
        conn.execute("DROP TABLE scratch")
        conn.close()
    elif damage == "other-generation":
        conn = sqlite3.connect(db)
        conn.execute("UPDATE attributes SET value = ? WHERE key = 'DB_GENERATION_ID'", ("f" * 32,))
        conn.commit()
        conn.close()
    else:
        raise AssertionError(damage)


def test_second_server_on_the_same_database_fails_fast(tmp_path: Path) -> None:
    with running_server(tmp_path):
        second = write_config(tmp_path)  # same database path, another port
        message = start_fails(second)
    assert message.startswith("ERROR: database ")
    assert "in use by another heketipy server" in message


def test_missing_database_where_one_existed_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    server = start_server(config)
    server.stop()
    db = tmp_path / "heketi.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    message = start_fails(config)
    assert "is missing but" in message and "--init-db" in message
    server = start_server(config, args=["--init-db"])
    try:
        assert server.request("GET", "/clusters").json() == {"clusters": []}
    finally:
        server.stop()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_database_is_refused(tmp_path: Path, damage: str) -> None:
    config = write_config(tmp_path)
    server = start_server(config)
    assert server.request("POST", "/clusters", {"file": True}).status == 201
    server.stop()
    db = tmp_path / "heketi.db"
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    else:
        db.write_bytes(data[: len(data) // 2 + 100])
    before = files_of(db)
    message = start_fails(config)
    assert message.startswith("ERROR: database ")
    # Not even --init-db writes over bytes that are not a database heketipy can read.
    assert start_fails(config, "--init-db").startswith("ERROR: database ")
    assert files_of(db) == before


@pytest.mark.parametrize("damage", ["zero-bytes", "schema-less", "other-generation"])
def test_known_database_that_is_not_the_recorded_one_is_refused_untouched(
    tmp_path: Path, damage: str,
) -> None:
    config = write_config(tmp_path)
    server, cluster = server_with_a_cluster(config)
    server.stop()
    db = tmp_path / "heketi.db"
    generation = generation_of(db)
    assert known_generation(config) == generation
    damage_database(db, damage)
    before = files_of(db)

    message = start_fails(config)
    assert message.startswith(f"ERROR: database {db} "), message
    assert generation in message and "--init-db" in message, message
    assert files_of(db) == before  # the file, its mode and mtime, and the marker

    # A deliberate fresh start (or adoption of the other database) is still possible.
    server = start_server(config, args=["--init-db"])
    try:
        clusters = server.request("GET", "/clusters").json()["clusters"]
    finally:
        server.stop()
    assert clusters == ([cluster] if damage == "other-generation" else [])
    assert known_generation(config) == generation_of(db) != generation


def test_restart_after_a_crash_right_after_creation(tmp_path: Path) -> None:
    """Killed before SQLite ever checkpointed: the schema and the generation exist only in the
    write-ahead log. That database is the recorded one, not an empty one."""
    config = write_config(tmp_path)
    server = start_server(config)
    server.kill()
    db = tmp_path / "heketi.db"
    assert Path(str(db) + "-wal").stat().st_size > 0
    generation = known_generation(config)
    server, _cluster = server_with_a_cluster(config)
    server.stop()
    assert generation_of(db) == generation == known_generation(config)


def test_crashed_database_of_another_generation_is_refused_untouched(tmp_path: Path) -> None:
    """The database and its write-ahead log, as a SIGKILL left them, stay exactly as they are
    when the marker records another generation there: reading them replays nothing."""
    config = write_config(tmp_path)
    server, _cluster = server_with_a_cluster(config)
    server.kill()
    db = tmp_path / "heketi.db"
    assert Path(str(db) + "-wal").stat().st_size > 0
    registry = tmp_path / "var" / "known-databases.json"
    recorded = "e" * 32
    registry.write_text(json.dumps({str(db): recorded}))
    before = files_of(db)
    message = start_fails(config)
    assert f"records generation {recorded} there" in message, message
    assert files_of(db) == before


def kube_env(url: str) -> dict[str, str]:
    return {kube_backup.API_URL_ENV: url}


def backup_config(directory: Path) -> Path:
    return update_config(write_config(directory), backup_db_to_kube_secret=True)


def backup_in(secrets: FakeSecrets) -> tuple[str | None, bool]:
    """The generation of the database backed up in the Secret, and whether it holds data."""
    data = secrets.data("default", SECRET)
    assert data is not None
    contents = probe.describe(kube_backup.unpack_database(data[kube_backup.SINGLE_KEY]))
    return contents.generation, contents.holds_data


def test_emptied_database_is_restored_from_the_secret(tmp_path: Path) -> None:
    with serving() as (secrets, url):
        config = backup_config(tmp_path)
        server, cluster = server_with_a_cluster(config, env=kube_env(url))
        server.stop()
        assert server.process.returncode == 0
        backed_up = secrets.data("default", SECRET)
        assert backed_up is not None
        db = tmp_path / "heketi.db"
        generation = generation_of(db)
        db.write_bytes(b"")

        server = start_server(config, env=kube_env(url))
        try:
            assert server.request("GET", "/clusters").json()["clusters"] == [cluster]
        finally:
            server.stop()
        assert generation_of(db) == generation == known_generation(config)
        assert backup_in(secrets) == (generation, True)


def test_empty_database_never_replaces_a_backup_of_another_generation(tmp_path: Path) -> None:
    with serving() as (secrets, url):
        (tmp_path / "first").mkdir()
        config = backup_config(tmp_path / "first")
        server, _cluster = server_with_a_cluster(config, env=kube_env(url))
        server.stop()
        backed_up = secrets.data("default", SECRET)
        assert backed_up is not None

        # Another server, on a database of its own that holds nothing, shares the Secret.
        other = tmp_path / "second"
        other.mkdir()
        plain = write_config(other)
        start_server(plain).stop()
        config = backup_config(other)
        server = start_server(config, env=kube_env(url))
        try:
            # A failed change still triggers a backup, as in Heketi.
            assert server.request("POST", "/clusters", raw=b"{").status == 422
        finally:
            server.stop()
        assert secrets.data("default", SECRET) == backed_up
        log = server.log_path.read_text()
        assert "empty database" in log and "Traceback" not in log, log
