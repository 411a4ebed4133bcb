"""The database is never shared, never silently replaced by an empty one, and never used
when corrupt: each case stops start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import running_server, start_server, write_config


def start_fails(config: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "heketipy", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, cwd=config.parent,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


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
    message = start_fails(config)
    assert message.startswith("ERROR: database ")
