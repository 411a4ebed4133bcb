"""What a database file (or a database image in memory) holds, read without changing a byte.

The start-up guard (``marker``) and the Kubernetes backup decide on this whether a database is
missing or empty (nothing to lose), not a database heketipy can read, or a heketipy database of
some generation, with or without any topology in it.

Opening a database for reading is not harmless in SQLite: a read-write connection checkpoints
and deletes the write-ahead log when it closes, and a read-only one creates a ``-shm`` index.
So the file is read with ``immutable=1`` (no locks, no side files, nothing written) and, only
when that finds no heketipy schema, or cannot read the file, while a write-ahead log or
rollback journal lies beside it (a server killed before its first checkpoint, or during one),
from a private copy of the file and its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from heketipy.store.sqlite import SCHEMA_VERSION, TABLES

SQLITE_MAGIC = b"SQLite format 3\x00"
# Side files whose content SQLite replays into the database when it next opens it.
REPLAYED_SIDE_FILES = ("-wal", "-journal")

Kind = Literal["missing", "directory", "empty", "unreadable", "foreign", "heketipy"]


@dataclass(frozen=True)
class Contents:
    """``kind``: ``missing``; ``directory``; ``empty`` (zero bytes, or SQLite without a single
    table); ``unreadable`` (not SQLite, SQLite refusing it, a heketipy schema newer than this
    heketipy's, or a failed integrity check: ``detail`` says why);
    ``foreign`` (SQLite tables, none of them heketipy's); ``heketipy`` (``generation`` is its
    DB_GENERATION_ID, None if it has none yet; ``holds_data`` whether any entity is stored)."""

    kind: Kind
    generation: str | None = None
    holds_data: bool = False
    detail: str = ""

    @property
    def restorable(self) -> bool:
        """Nothing would be lost by writing a backup in its place."""
        return self.kind in ("missing", "empty")

    @property
    def blank(self) -> bool:
        """A database without any topology: empty, or a heketipy database holding no entity."""
        return self.kind == "empty" or (self.kind == "heketipy" and not self.holds_data)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {
        name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def _read(conn: sqlite3.Connection) -> Contents:
    tables = table_names(conn)
    if not tables:
        return Contents("empty")
    if "attributes" not in tables:
        return Contents("foreign")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return Contents(
            "unreadable",
            detail=f"schema version {version} is newer than this heketipy ({SCHEMA_VERSION})",
        )
    integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
    if integrity != "ok":
        return Contents("unreadable", detail=f"it failed its integrity check: {integrity}")
    row = conn.execute("SELECT value FROM attributes WHERE key = 'DB_GENERATION_ID'").fetchone()
    holds_data = any(
        conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]
        for table, _parent in TABLES.values()
        if table in tables
    )
    return Contents("heketipy", str(row[0]) if row else None, holds_data)


def _read_uri(uri: str) -> Contents:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        return _read(conn)
    finally:
        conn.close()


def _read_copy(path: str) -> Contents:
    """Read ``path`` as SQLite will when it next opens it: with its log replayed, on a copy."""
    with tempfile.TemporaryDirectory(prefix="heketipy-probe-") as directory:
        copy = os.path.join(directory, "copy.db")
        for suffix in ("", *REPLAYED_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(path + suffix, copy + suffix)
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            return _read(conn)
        finally:
            conn.close()


def inspect(path: str) -> Contents:
    """What the database file ``path`` holds; it and its side files are left as they were."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Contents("missing")
    if stat.S_ISDIR(info.st_mode):
        return Contents("directory")
    replayed = any(_size(path + suffix) > 0 for suffix in REPLAYED_SIDE_FILES)
    if info.st_size == 0 and not replayed:
        return Contents("empty")
    try:
        found = _read_file(path, info.st_size)
    except (OSError, sqlite3.Error) as exc:
        found = Contents("unreadable", detail=str(exc))
    if replayed and (found.kind != "heketipy" or found.generation is None):
        # What the file holds alone is not what SQLite will see: a server killed before its
        # first checkpoint, or in the middle of one (the file torn, the log whole).
        try:
            found = _read_copy(path)
        except (OSError, sqlite3.Error) as exc:
            return Contents("unreadable", detail=str(exc))
    return found


def read_only_uri(path: str) -> str:
    """SQLite URI opening ``path`` read-only with no lock, no side file, nothing written."""
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro&immutable=1"


def _read_file(path: str, size: int) -> Contents:
    """The file alone, its side files ignored."""
    if size > 0:
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return Contents("unreadable", detail="file is not a database")
    return _read_uri(read_only_uri(path))


def describe(image: bytes) -> Contents:
    """What a database image (a backup, a serialized database) holds."""
    if not image:
        return Contents("empty")
    if not image.startswith(SQLITE_MAGIC):
        return Contents("unreadable", detail="not a SQLite database")
    data = bytearray(image)
    # An in-memory database cannot use a write-ahead log: read a WAL-mode image as a
    # rollback-journal one (header bytes 18-19 are the file format's read/write versions).
    if data[18:20] == b"\x02\x02":
        data[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.deserialize(bytes(data))
        return _read(conn)
    except sqlite3.Error as exc:
        return Contents("unreadable", detail=str(exc))
    finally:
        conn.close()
