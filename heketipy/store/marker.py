"""Guards against silently starting on an empty database.

When the database lives on a Gluster mount and the mount is missing, the path exists as an
empty directory and SQLite would happily create a fresh, empty database: every volume would
be forgotten. heketipy records each database it opened (path and generation id) in a marker
file *outside* the database directory, and refuses to create a new database where the marker
says one existed, unless started with ``--init-db``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class MissingDatabase(Exception):
    pass


def marker_path(data_dir: str) -> Path:
    return Path(data_dir) / "known-databases.json"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def check_before_open(db_path: str, data_dir: str, *, init_db: bool) -> None:
    """Raise ``MissingDatabase`` if ``db_path`` is gone but was known to exist."""
    if os.path.exists(db_path) or init_db:
        return
    known = _load(marker_path(data_dir))
    generation = known.get(os.path.abspath(db_path))
    if generation:
        raise MissingDatabase(
            f"database {db_path} is missing but {marker_path(data_dir)} records one there "
            f"(generation {generation}); is its Gluster volume mounted? Restore it, or start "
            "with --init-db to create a new, empty database"
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
    tmp.write_text(json.dumps(known, indent=2) + "\n")
    os.replace(tmp, path)
