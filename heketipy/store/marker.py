"""Guards against silently starting on an empty database, or on another one.

When the database lives on a Gluster mount and the mount is missing, the path exists as an
empty directory and SQLite would happily create a fresh, empty database: every volume would
be forgotten. The same happens to a file truncated to nothing (``: > heketi.db``). heketipy
records each database it opened (path and generation id) in a marker file *outside* the
database directory, and opens a recorded path only when it holds that very generation: a
missing, empty, schema-less or other database there stops start-up with one line and is left
exactly as it was, unless heketipy is started with ``--init-db``. Bytes that are not a
database heketipy can read (a newer schema, a failed integrity check) and another
application's SQLite file are never opened, ``--init-db`` or not: every check runs on a
read-only view (``probe``) before ``Store.open`` changes anything.

``open_guarded`` is the whole start-up sequence: the lock, the Kubernetes Secret restore of a
missing or empty file, the check, the open and the new record.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp

from heketipy.domain.state import State
from heketipy.store import kube_backup, probe
from heketipy.store.durable import fsync_directory
from heketipy.store.sqlite import Store


class RefusedDatabase(Exception):
    """The database file must not be opened; the message is the one line to show."""


class MissingDatabase(RefusedDatabase):
    pass


def marker_path(data_dir: str) -> Path:
    return Path(data_dir) / "known-databases.json"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        data = None
    except OSError as exc:
        raise RefusedDatabase(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not isinstance(data, dict):
        # Read as "nothing recorded", it would switch the guard off and then be overwritten.
        raise RefusedDatabase(
            f"{path} is corrupt (not a JSON object of database paths and generations); "
            "inspect it, then repair or remove it"
        )
    return {str(k): str(v) for k, v in data.items()}


def known_generation(db_path: str, data_dir: str) -> str | None:
    """The generation recorded for ``db_path``; None when no database was recorded there."""
    return _load(marker_path(data_dir)).get(os.path.abspath(db_path)) or None


def check_kind(db_path: str, found: probe.Contents) -> None:
    """Refuse what no flag makes usable: a directory, bytes heketipy cannot read (a schema
    newer than this heketipy's, a failed integrity check), another application's database."""
    if found.kind == "directory":
        raise RefusedDatabase(f"database {db_path} is a directory, not a file")
    if found.kind == "unreadable":
        raise RefusedDatabase(
            f"database {db_path} is unreadable: {found.detail}; it was left as it is"
        )
    if found.kind == "foreign":
        raise RefusedDatabase(
            f"database {db_path} is another application's SQLite database (none of its tables "
            "is heketipy's); it was left as it is. --init-db does not take it over: move it "
            "away first"
        )


def check(db_path: str, data_dir: str, found: probe.Contents, *, init_db: bool) -> None:
    """Raise ``RefusedDatabase`` unless ``found`` may be opened at ``db_path``."""
    check_kind(db_path, found)
    generation = None if init_db else known_generation(db_path, data_dir)
    if generation is None:
        return
    recorded = f"{marker_path(data_dir)} records generation {generation} there"
    if found.kind == "missing":
        raise MissingDatabase(
            f"database {db_path} is missing but {recorded}; is its Gluster volume mounted? "
            "Restore it, or start with --init-db to create a new, empty database"
        )
    if found.kind == "empty":
        raise RefusedDatabase(
            f"database {db_path} is empty but {recorded}; is its Gluster volume mounted? "
            "Restore it, or start with --init-db to create a new, empty database"
        )
    if found.generation != generation:
        raise RefusedDatabase(
            f"database {db_path} is generation {found.generation or 'unknown'} but {recorded}; "
            "restore the recorded database, or start with --init-db to use this one"
        )


def record_after_open(db_path: str, data_dir: str, generation: str) -> None:
    path = marker_path(data_dir)
    known = _load(path)
    key = os.path.abspath(db_path)
    if known.get(key) == generation:
        return
    known[key] = generation
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # The content reaches the disk before the rename and the rename before we go on: a crash
    # leaves the old marker or the new one, never an empty one.
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(known, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_directory(str(path.parent))


async def _restore(
    db_path: str, data_dir: str, backup: kube_backup.KubeDbBackup, *, init_db: bool
) -> None:
    expected = None if init_db else known_generation(db_path, data_dir)
    try:
        await kube_backup.restore_if_missing(db_path, backup, expect_generation=expected)
    except (kube_backup.BackupError, kube_backup.KubeApiError, aiohttp.ClientError,
            OSError) as exc:
        raise RefusedDatabase(
            f"database {db_path} cannot be restored from secret {backup.secret_name}: {exc}"
        ) from exc


async def open_guarded(
    db_path: str, data_dir: str, backup: kube_backup.KubeDbBackup | None, *, init_db: bool
) -> tuple[Store, State]:
    """Open the database at ``db_path`` if it is the one recorded there (see the module)."""
    _load(marker_path(data_dir))  # a corrupt marker stops start-up before anything is opened
    # Before the lock, decide only on what stat() tells: a missing database with no backup
    # to restore is refused without creating anything beside it (say, on a bare mount point).
    if os.path.isdir(db_path) or (backup is None and not os.path.exists(db_path)):
        check(db_path, data_dir, probe.inspect(db_path), init_db=init_db)
    store = Store(db_path)
    try:
        # Everything below reads the file under the lock: never a database another server
        # is writing.
        await store.lock()
        if backup is not None:
            await _restore(db_path, data_dir, backup, init_db=init_db)
        found = await asyncio.to_thread(probe.inspect, db_path)
        check(db_path, data_dir, found, init_db=init_db)
        state = await store.open()
        try:
            record_after_open(db_path, data_dir, state.attributes["DB_GENERATION_ID"])
        except OSError as exc:
            raise RefusedDatabase(
                f"database {db_path}: cannot record it in {marker_path(data_dir)}: {exc}"
            ) from exc
    except BaseException:
        await store.close()
        raise
    return store, state
