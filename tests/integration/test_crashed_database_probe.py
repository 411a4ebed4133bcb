"""What ``probe`` reads from the database of a server that died without a checkpoint (its
write-ahead log holds the schema and the generation): the crash is a real child process that
exits without closing the store, so these tests live outside tests/unit."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from heketipy.store import probe
from tests.unit.test_db_guard import side_files

CRASH = """
import os, sys
from heketipy.store.sqlite import Store
store = Store(sys.argv[1])
entities, attributes = store.open_sync()
print(attributes["DB_GENERATION_ID"], flush=True)
os._exit(0)  # no checkpoint: the schema and the generation exist only in the log
"""


def test_inspect_reads_a_crashed_servers_log_and_leaves_it_alone(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    result = subprocess.run(
        [sys.executable, "-c", CRASH, str(db)], capture_output=True, text=True, check=True,
        timeout=60,
    )
    generation = result.stdout.strip()
    assert (tmp_path / "heketi.db-wal").stat().st_size > 0
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    conn.close()
    before = side_files(db)
    found = probe.inspect(str(db))
    assert (found.kind, found.generation) == ("heketipy", generation)
    assert side_files(db) == before


def test_inspect_replays_the_log_of_a_database_killed_mid_checkpoint(tmp_path: Path) -> None:
    """The file itself cannot be read (a checkpoint was writing page 1 when the server died),
    but with its log replayed it is the crashed server's database: not unreadable."""
    db = tmp_path / "heketi.db"
    result = subprocess.run(
        [sys.executable, "-c", CRASH, str(db)], capture_output=True, text=True, check=True,
        timeout=60,
    )
    generation = result.stdout.strip()
    torn = bytearray(db.read_bytes())
    torn[16:18] = b"\x00\x07"  # a page size SQLite refuses; the log holds the whole page 1
    db.write_bytes(bytes(torn))
    before = side_files(db)
    found = probe.inspect(str(db))
    assert (found.kind, found.generation) == ("heketipy", generation)
    assert side_files(db) == before
