"""``heketipy db rebuild``: read the nodes, reconstruct, write a new database, record it.

Refuses before reading any node when the database file exists (a rebuild never overwrites),
when the executor keeps no node state (mock), or when the topology file is unusable; refuses
before writing anything when a node cannot be read or the nodes do not describe every volume
exactly. The database is written beside its path and moved into place only when complete
(``heketidump.importer.write_new_database``), then recorded in the marker as a fresh ``--init-db``
records it, so the server starts on it without ``--init-db``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from heketipy.config.settings import Settings
from heketipy.heketidump.importer import ParsedDump, write_new_database
from heketipy.models.requests import ParseError
from heketipy.models.topology_file import parse_topology_file
from heketipy.rebuild.collect import collect
from heketipy.rebuild.facts import RebuildError
from heketipy.rebuild.reconstruct import reconstruct, topology_nodes
from heketipy.store import marker
from heketipy.wiring import create_executor

NO_STATE_EXECUTORS = ("mock", "inject/mock")


@dataclass
class RebuildReport:
    db_path: str
    generation: str
    counts: dict[str, int]
    new_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        order = ("cluster", "node", "device", "volume", "brick", "blockvolume")
        return ", ".join(f"{self.counts.get(kind, 0)} {kind}s" for kind in order)


def refuse_early(settings: Settings) -> None:
    """What is refused before any node is asked."""
    kind = str(settings.glusterfs.executor or "ssh").strip().lower()
    if kind in NO_STATE_EXECUTORS:
        raise RebuildError(
            f"executor {kind} keeps no node state: there is nothing to rebuild from; "
            "configure the ssh, kubernetes or simulator executor"
        )
    db_path = settings.glusterfs.db
    if os.path.lexists(db_path):
        raise RebuildError(
            f"database {db_path} already exists; rebuild writes only a new database: "
            "move the existing one away first"
        )
    for leftover in (db_path + "-wal", db_path + "-journal"):
        if os.path.lexists(leftover):
            raise RebuildError(
                f"{leftover} is left from the old database; move it away first (it would be "
                "replayed into the rebuilt one)"
            )
    try:
        marker.known_generation(db_path, settings.heketipy.data_dir)
    except marker.RefusedDatabase as exc:
        raise RebuildError(str(exc)) from exc


async def rebuild(settings: Settings, topology_raw: bytes) -> RebuildReport:
    refuse_early(settings)
    try:
        topology = parse_topology_file(topology_raw)
    except ParseError as exc:
        raise RebuildError(f"Unable to parse topology file: {exc}") from exc
    entries = topology_nodes(topology)
    executor = create_executor(settings)
    await executor.start()
    try:
        facts = await collect(executor, entries, settings)
    finally:
        await executor.close()
    rebuilt = reconstruct(topology, facts, settings)
    db_path = settings.glusterfs.db
    # Checked again: a file that appeared while the nodes were read is never replaced.
    refuse_early(settings)
    generation = await write_new_database(ParsedDump(rebuilt.entities, {}, []), db_path)
    try:
        marker.record_after_open(db_path, settings.heketipy.data_dir, generation)
    except OSError as exc:
        raise RebuildError(
            f"database {db_path} was rebuilt but cannot be recorded in "
            f"{marker.marker_path(settings.heketipy.data_dir)}: {exc}; start once with --init-db"
        ) from exc
    return RebuildReport(db_path, generation, rebuilt.counts(), rebuilt.new_ids, rebuilt.warnings)
