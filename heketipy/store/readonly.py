"""Reading a heketipy database without changing anything, for ``heketipy db export`` and for
checking the target of ``heketipy db import``.

``Store.open`` is the server's way in: it creates ``<db>.lock``, sets the file's mode to 0600,
creates the schema and writes attributes. None of that may happen to a file an administrator
only wants to read (or names by mistake), so this module:

* refuses while a server holds the database: a shared POSIX lock on an existing ``<db>.lock``
  (opened read-only, never created) conflicts with the server's exclusive one, and holding it
  keeps a server from starting meanwhile (``held_for_import`` takes the exclusive one for the
  import, which is about to write the database anyway);
* refuses a database with unfinished changes in ``<db>-wal`` or ``<db>-journal`` (a server
  recovers those when it starts; reading around them would give a stale or torn view);
* opens the file with SQLite's URI ``mode=ro&immutable=1``: read-only, and without the
  ``-wal``/``-shm`` files SQLite would otherwise create beside a WAL-mode database;
* refuses anything that is not a heketipy database (a text file, an empty file, another
  application's SQLite file) with ``NotADatabase``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator

from heketipy.domain.entities import Entity
from heketipy.domain.state import State
from heketipy.store.probe import REPLAYED_SIDE_FILES, read_only_uri, table_names
from heketipy.store.sqlite import (
    DB_ATTRIBUTES_DEFAULT,
    SCHEMA_VERSION,
    TABLES,
    DatabaseLocked,
    StoreError,
    read_entities,
)


class NotADatabase(StoreError):
    """The file exists but holds no heketipy database."""


@contextlib.contextmanager
def no_server_holds(path: str) -> Iterator[None]:
    """Fail fast when a heketipy server holds ``path``; keep one from starting until exit.

    Never creates ``<path>.lock``: without it no server has ever opened the database.
    """
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    except OSError as exc:
        raise StoreError(f"cannot read {lock_path}: {exc.strerror}") from exc
    with _locked(fd, path, fcntl.LOCK_SH):
        yield


@contextlib.contextmanager
def held_for_import(path: str) -> Iterator[None]:
    """Hold ``<path>.lock`` exclusively, as a server does, until ``heketipy db import`` is over.

    A server starting meanwhile is refused instead of having its database replaced underneath
    it. A lock file this creates is removed again while still locked (``Store.lock_sync``
    notices a removed lock file and locks the current one): the import leaves no stray file.
    """
    lock_path = path + ".lock"
    created = False
    try:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            fd = os.open(lock_path, os.O_RDWR)
    except OSError as exc:
        raise StoreError(f"cannot open {lock_path}: {exc.strerror or exc}") from exc
    with _locked(fd, path, fcntl.LOCK_EX, remove=lock_path if created else None):
        yield


@contextlib.contextmanager
def _locked(fd: int, path: str, operation: int, remove: str | None = None) -> Iterator[None]:
    """Lock the open lock file ``fd`` without waiting (DatabaseLocked when a server holds it)
    and close it at the end, which releases the lock; ``remove`` is unlinked first."""
    try:
        try:
            fcntl.lockf(fd, operation | fcntl.LOCK_NB)
        except OSError as exc:
            raise DatabaseLocked(
                f"database {path} is in use by a heketipy server; stop it first"
            ) from exc
        yield
    finally:
        if remove is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(remove)
        os.close(fd)


def check_no_unfinished_changes(path: str) -> None:
    """StoreError when ``<path>-wal`` or ``<path>-journal`` holds anything: SQLite replays it
    into whatever database it next opens at ``path``, whether or not ``path`` exists."""
    for suffix in REPLAYED_SIDE_FILES:
        sidecar = path + suffix
        with contextlib.suppress(FileNotFoundError):
            if os.stat(sidecar).st_size > 0:
                raise StoreError(
                    f"database {path} has unfinished changes in {sidecar}; start heketipy on "
                    f"it once (it completes or rolls them back) and stop it, then retry"
                )


def _connect_read_only(path: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc


def _read(conn: sqlite3.Connection, path: str) -> tuple[list[Entity], dict[str, str]]:
    try:
        tables = table_names(conn)
    except sqlite3.DatabaseError as exc:
        raise NotADatabase(f"{path} is not a heketipy database ({exc})") from exc
    wanted = {"attributes", *(table for table, _parent in TABLES.values())}
    if not tables:
        raise NotADatabase(f"{path} is not a heketipy database (it holds no tables)")
    if not wanted <= tables:
        missing = ", ".join(sorted(wanted - tables))
        raise NotADatabase(f"{path} is not a heketipy database (no table {missing})")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this heketipy ({SCHEMA_VERSION})"
        )
    integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
    if integrity != "ok":
        raise StoreError(f"database {path} failed its integrity check: {integrity}")
    attributes = {**DB_ATTRIBUTES_DEFAULT, **dict(conn.execute("SELECT key, value FROM attributes"))}
    return read_entities(conn), attributes


def read_database(path: str) -> tuple[list[Entity], dict[str, str]]:
    """The entities and attributes of the database at ``path``; changes no file.

    The caller holds ``no_server_holds(path)``.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise StoreError(f"database file {path} does not exist") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise NotADatabase(f"{path} is not a heketipy database (not a regular file)")
    check_no_unfinished_changes(path)
    conn = _connect_read_only(path)
    try:
        return _read(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"database {path} is unreadable: {exc}") from exc
    finally:
        conn.close()


def load_state(path: str) -> State:
    """The database at ``path`` as a ``State``, read without changing any file."""
    with no_server_holds(path):
        entities, attributes = read_database(path)
    state = State()
    state.load(entities, attributes)
    return state
