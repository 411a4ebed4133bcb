"""SQLite persistence of the topology and the operation journal.

One process owns the database: a POSIX lock on ``<db>.lock`` plus SQLite's
``locking_mode=EXCLUSIVE`` make a second server fail fast. Writes are ``synchronous=FULL``.
The journal mode is WAL (exclusive locking mode lets WAL work without a shared-memory index,
which matters on FUSE mounts); see benchmarks/ for the measurement behind the choice.

Concurrent transactions are *group committed*: ``commit()`` queues a change set and one writer
task writes everything queued so far in a single SQLite transaction on a dedicated thread,
so throughput is not one fsync per operation step. ``on_commit``, when set, is told each
group commit's duration and how many transactions it carried (the commit metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from heketipy.domain.entities import ENTITY_TYPES, Entity, new_id
from heketipy.domain.state import State, Transaction

SCHEMA_VERSION = 1

# Each kind gets a table with its parent key indexed, so a query for "the bricks of a device"
# never reads every brick.
TABLES: dict[str, tuple[str, str | None]] = {
    "cluster": ("clusters", None),
    "node": ("nodes", "cluster_id"),
    "device": ("devices", "node_id"),
    "brick": ("bricks", "volume_id"),
    "volume": ("volumes", "cluster_id"),
    "blockvolume": ("blockvolumes", "bhv_id"),
    "operation": ("operations", None),
}

DB_ATTRIBUTES_DEFAULT = {
    "DB_BRICK_HAS_SUBTYPE_FIELD": "yes",
    "DB_CLUSTER_HAS_FILE_BLOCK_FLAG": "yes",
    "DB_DEVICE_HAS_ID_META": "yes",
    "DB_HAS_PENDING_OPS_BUCKET": "yes",
}


class StoreError(Exception):
    pass


class DatabaseLocked(StoreError):
    pass


def _schema_sql() -> list[str]:
    statements = [
        "CREATE TABLE IF NOT EXISTS attributes (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]
    for table, parent in TABLES.values():
        if parent:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table} "
                f"(id TEXT PRIMARY KEY, {parent} TEXT NOT NULL, data TEXT NOT NULL)"
            )
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {table}_{parent} ON {table} ({parent})"
            )
        else:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, data TEXT NOT NULL)"
            )
    statements.append(
        "CREATE INDEX IF NOT EXISTS bricks_device ON bricks (json_extract(data, '$.device_id'))"
    )
    return statements


def read_entities(conn: sqlite3.Connection) -> list[Entity]:
    """Every stored entity, parents' tables first."""
    entities: list[Entity] = []
    for kind, (table, _parent) in TABLES.items():
        cls = ENTITY_TYPES[kind]
        for (data,) in conn.execute(f"SELECT data FROM {table}"):
            entities.append(cls.from_record(json.loads(data)))
    return entities


@dataclass
class _Pending:
    puts: list[tuple[str, str, str | None, str]]  # kind, id, parent, json
    deletes: list[tuple[str, str]]
    attributes: dict[str, str]
    future: asyncio.Future[None]


class Store:
    """Owns the SQLite file; loads it into a ``State`` and persists transactions."""

    def __init__(self, path: str, *, journal_mode: str = "WAL") -> None:
        self.path = path
        self.journal_mode = journal_mode
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._queue: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0
        self.transactions = 0
        # (seconds, transactions in the batch) after each successful group commit
        self.on_commit: Callable[[float, int], None] | None = None

    # -- opening --------------------------------------------------------------------------
    def lock_sync(self) -> None:
        """Take the process-lifetime lock on ``<db>.lock``; DatabaseLocked if a server has it."""
        if self._lock_fd is not None:
            return
        if os.path.isdir(self.path):
            raise StoreError(f"database {self.path} is a directory, not a file")
        directory = os.path.dirname(os.path.abspath(self.path))
        lock_path = self.path + ".lock"
        while True:
            try:
                os.makedirs(directory, exist_ok=True)
                lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"database {self.path}: cannot create its lock file: {exc}"
                ) from exc
            try:
                # POSIX (fcntl) locks, not flock(): GlusterFS enforces them across all clients,
                # so a second server on another FUSE mount of the same volume is refused too.
                fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(lock_fd)
                raise DatabaseLocked(
                    f"database {self.path} is in use by another heketipy server"
                ) from exc
            # `heketipy db import` removes a lock file it created; one locked after that
            # removal is not the one the next server would lock: open the current one.
            try:
                current = os.stat(lock_path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(lock_fd).st_ino:
                break
            os.close(lock_fd)
        self._lock_fd = lock_fd

    async def lock(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self.lock_sync)

    def open_sync(self) -> tuple[list[Entity], dict[str, str]]:
        self.lock_sync()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} cannot be opened: {exc}") from exc
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # Every check reads before anything is written, the journal mode included: a
            # database refused here keeps its bytes (header bytes 18-19 are the mode).
            self._check_usable(conn)
            mode = conn.execute(f"PRAGMA journal_mode={self.journal_mode}").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"database {self.path} is unreadable: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        if str(mode).lower() != self.journal_mode.lower():
            # SQLite silently keeps the old mode when the requested one is impossible there.
            raise StoreError(
                f"database {self.path}: journal mode {self.journal_mode} unavailable (got {mode})"
            )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=OFF")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise DatabaseLocked(f"database {self.path} is locked: {exc}") from exc
        for statement in _schema_sql():
            conn.execute(statement)
        attributes = dict(conn.execute("SELECT key, value FROM attributes").fetchall())
        for key, value in DB_ATTRIBUTES_DEFAULT.items():
            if key not in attributes:
                attributes[key] = value
                conn.execute("INSERT INTO attributes VALUES (?, ?)", (key, value))
        if "DB_GENERATION_ID" not in attributes:
            attributes["DB_GENERATION_ID"] = new_id()
            conn.execute(
                "INSERT INTO attributes VALUES (?, ?)",
                ("DB_GENERATION_ID", attributes["DB_GENERATION_ID"]),
            )
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
        # Only now: a database refused above keeps its mode as well as its bytes.
        os.chmod(self.path, 0o600)
        entities = read_entities(conn)
        self._conn = conn
        return entities, attributes

    def _check_usable(self, conn: sqlite3.Connection) -> None:
        """StoreError unless ``conn``'s database is intact, ours (or blank) and not newer."""
        integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            raise StoreError(f"database {self.path} failed its integrity check: {integrity}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this heketipy ({SCHEMA_VERSION})"
            )
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )}
        if tables and "attributes" not in tables:
            raise StoreError(
                f"database {self.path} is another application's SQLite database; move it away"
            )

    async def open(self) -> State:
        loop = asyncio.get_running_loop()
        entities, attributes = await loop.run_in_executor(self._thread, self.open_sync)
        state = State()
        state.load(entities, attributes)
        self._wakeup = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="sqlite-group-commit")
        return state

    async def close(self) -> None:
        if self._writer is not None:
            await self.flush()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close_sync)
        self._thread.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- writing --------------------------------------------------------------------------
    @staticmethod
    def _encode(entities: Iterable[Entity]) -> list[tuple[str, str, str | None, str]]:
        rows = []
        for entity in entities:
            _table, parent = TABLES[entity.kind]
            parent_value = getattr(entity, parent) if parent else None
            rows.append((entity.kind, entity.id, parent_value, json.dumps(entity.to_record())))
        return rows

    async def commit(self, tx: Transaction) -> None:
        """Persist everything ``tx`` changed; returns once it is durable."""
        puts, deletes = tx.changes()
        if not puts and not deletes and not tx.attributes:
            return
        assert self._wakeup is not None, "store not open"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(self._encode(puts), deletes, dict(tx.attributes), future))
        self._wakeup.set()
        await future

    async def flush(self) -> None:
        while self._queue:
            await asyncio.sleep(0.001)

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            started = time.perf_counter()
            try:
                await loop.run_in_executor(self._thread, self._write_batch, batch)
            except Exception as exc:  # noqa: BLE001 - every waiter must learn of the failure
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(StoreError(f"Unable to access db: {exc}"))
                continue
            if self.on_commit is not None:
                self.on_commit(time.perf_counter() - started, len(batch))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_result(None)

    def _write_batch(self, batch: list[_Pending]) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            for pending in batch:
                for kind, entity_id, parent, data in pending.puts:
                    table, parent_column = TABLES[kind]
                    if parent_column:
                        conn.execute(
                            f"INSERT OR REPLACE INTO {table} (id, {parent_column}, data) "
                            "VALUES (?, ?, ?)",
                            (entity_id, parent, data),
                        )
                    else:
                        conn.execute(
                            f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)",
                            (entity_id, data),
                        )
                for kind, entity_id in pending.deletes:
                    conn.execute(f"DELETE FROM {TABLES[kind][0]} WHERE id = ?", (entity_id,))
                for key, value in pending.attributes.items():
                    conn.execute("INSERT OR REPLACE INTO attributes VALUES (?, ?)", (key, value))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self.transactions += len(batch)

    def backup_bytes_sync(self) -> bytes:
        """A consistent copy of the database file (for GET /backup/db)."""
        assert self._conn is not None
        target = sqlite3.connect(":memory:")
        self._conn.backup(target)
        data = target.serialize()
        target.close()
        return bytes(data)

    async def backup_bytes(self) -> bytes:
        await self.flush()
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self.backup_bytes_sync
        )
