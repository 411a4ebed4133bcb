"""Offline commands of the ``heketipy`` server binary: Heketi's ``heketi db ...`` and a token
maker for hand-made requests:

    heketipy db import --jsonfile FILE --dbfile DB [--config F]
                                                      load a Heketi dump into a new database
                                                      (with --config: replica sets from Gluster)
    heketipy db export --dbfile DB --jsonfile FILE|-   write the dump of a database
    heketipy db rebuild --config F --topology FILE     rebuild a lost database from the nodes
    heketipy token [--user U] --secret KEY METHOD PATH print a JWT for that one request

Both db commands open the database file directly, so they fail fast while a server holds it. Neither
changes a file unless it succeeds: export reads the database read-only (no ``<db>.lock``, no
chmod, no schema written into a file that is not a database) and never overwrites its output
file; import validates the whole dump first, builds the new database beside the target and
moves it into place only when complete, and refuses a database that already holds a topology.
``token`` signs with the client library's signer (``heketipy.client.token``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

from heketipy.client.token import TOKEN_LIFETIME_S, make_token
from heketipy.gocompat import json_encode
from heketipy.heketidump.export import dump
from heketipy.heketidump.importer import DumpFormatError, import_dump
from heketipy.store import readonly
from heketipy.store.durable import write_new_file
from heketipy.store.sqlite import StoreError

if TYPE_CHECKING:
    from heketipy.config.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heketipy db", description="database maintenance")
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="load a Heketi JSON dump into a new database")
    importer.add_argument("--jsonfile", required=True, help="dump to read (- for stdin)")
    importer.add_argument("--dbfile", required=True, help="heketipy database to create")
    importer.add_argument(
        "--config",
        help="the server's heketi.json: read each volume's replica sets from Gluster through "
             "its executor (without it, the server's first start reads them)",
    )
    exporter = commands.add_parser("export", help="write the database as Heketi's dump JSON")
    exporter.add_argument("--dbfile", required=True, help="heketipy database to read")
    exporter.add_argument("--jsonfile", required=True, help="output file (- for stdout)")
    rebuilder = commands.add_parser(
        "rebuild", help="reconstruct a lost database from what the storage nodes hold"
    )
    rebuilder.add_argument("--config", required=True, help="the server's heketi.json")
    rebuilder.add_argument(
        "--topology", required=True, help="topology.json of the nodes (hostnames, zones, tags)"
    )
    return parser


class _Failed(Exception):
    """A db command cannot go on; ``main`` prints ``ERROR: <message>`` and exits 1."""


class _Report(Protocol):
    warnings: list[str]


_ReportT = TypeVar("_ReportT", bound=_Report)
_T = TypeVar("_T")


def _write_database(
    work: Coroutine[Any, Any, _ReportT], refusal: type[Exception], db_path: str, err: TextIO
) -> _ReportT:
    """Run the import or rebuild that writes ``db_path``; its warnings go to ``err``. A refusal
    (``refusal`` or a ``StoreError``) or a write failure fails the command."""
    try:
        report = asyncio.run(work)
    except (refusal, StoreError) as exc:
        raise _Failed(str(exc)) from exc
    except OSError as exc:
        raise _Failed(f"unable to write {db_path}: {exc}") from exc
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=err)
    return report


def _load_settings(config: str) -> Settings:
    """The server settings a command that reaches the nodes needs."""
    from heketipy.config import ConfigError, load_settings

    try:
        return load_settings(config, os.environ)
    except ConfigError as exc:
        raise _Failed(str(exc)) from exc


def _read(path: str, read: Callable[[str], _T]) -> _T:
    try:
        return read(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise _Failed(f"unable to read {path}: {reason}") from exc


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_dump(path: str) -> object:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_rebuild(config: str, topology: str, out: TextIO, err: TextIO) -> int:
    """``heketipy db rebuild``: see ``heketipy.rebuild``."""
    # Imported here: the rebuild reaches executors and operations the other commands never need.
    from heketipy.rebuild.command import rebuild
    from heketipy.rebuild.facts import RebuildError

    settings = _load_settings(config)
    raw = _read(topology, _read_bytes)
    report = _write_database(rebuild(settings, raw), RebuildError, settings.glusterfs.db, err)
    print(f"DB rebuilt to {report.db_path}: {report.summary()}", file=out)
    for line in report.new_ids:
        print(f"  {line}", file=out)
    return 0


def run_import(
    jsonfile: str, dbfile: str, out: TextIO, err: TextIO, config: str | None = None
) -> int:
    settings = _load_settings(config) if config is not None else None
    doc = _read(jsonfile, _read_dump)
    report = _write_database(import_dump(doc, dbfile), DumpFormatError, dbfile, err)
    print(f"DB imported to {dbfile}: {report.summary()}", file=out)
    if settings is not None:
        return _sets_from_gluster(settings, dbfile, out, err)
    return 0


def _sets_from_gluster(settings: Settings, dbfile: str, out: TextIO, err: TextIO) -> int:
    """After an import with ``--config``: the volumes' replica sets from Gluster. The import
    itself has succeeded whatever happens here; what is left unverified the server's first
    start reads again, and no brick eviction plans from it meanwhile."""
    # Imported here: only this path reaches the nodes.
    from heketipy.operations.replica_sets import verify_imported_database
    from heketipy.wiring import create_executor

    async def verify() -> tuple[int, int]:
        executor = create_executor(settings)
        await executor.start()
        try:
            return await verify_imported_database(dbfile, settings, executor)
        finally:
            await executor.close()

    try:
        verified, left = asyncio.run(verify())
    except (StoreError, OSError) as exc:
        print(f"WARNING: replica sets not read from gluster: {exc}", file=err)
        return 0
    print(f"Replica sets of {verified} volume(s) read from gluster", file=out)
    if left:
        print(f"WARNING: replica sets of {left} volume(s) could not be read from gluster; "
              "the server reads them at start", file=err)
    return 0


def export_bytes(dbfile: str) -> bytes:
    """The dump JSON of ``dbfile`` exactly as ``GET /db/dump`` answers it."""
    return json_encode.dumps_indent4(dump(readonly.load_state(dbfile)))


def run_export(dbfile: str, jsonfile: str, out: TextIO, err: TextIO) -> int:
    if not os.path.exists(dbfile):
        raise _Failed(f"database file {dbfile} does not exist")
    if jsonfile != "-" and os.path.exists(jsonfile):
        raise _Failed(f"{jsonfile} already exists")
    try:
        data = export_bytes(dbfile)
    except (StoreError, OSError) as exc:
        raise _Failed(str(exc)) from exc
    if jsonfile == "-":
        out.write(data.decode())
        out.flush()
        return 0
    try:
        write_new_file(jsonfile, data)
    except OSError as exc:
        raise _Failed(f"unable to write {jsonfile}: {exc.strerror or exc}") from exc
    print(f"DB exported to {jsonfile}", file=out)
    return 0


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``argv`` starts after the program name: ``["db", "import", "--jsonfile", ...]``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if argv[:1] == ["db"]:
        argv = argv[1:]
    args = _parser().parse_args(argv)
    try:
        if args.command == "import":
            return run_import(args.jsonfile, args.dbfile, out, err, args.config)
        if args.command == "rebuild":
            return run_rebuild(args.config, args.topology, out, err)
        return run_export(args.dbfile, args.jsonfile, out, err)
    except _Failed as failure:
        print(f"ERROR: {failure}", file=err)
        return 1


def _token_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heketipy token",
        description="Print a JWT for one request (Heketi binds a token to its method and path),"
                    ' e.g. curl -H "Authorization: Bearer $(heketipy token GET /clusters)"'
                    " http://127.0.0.1:8080/clusters with the key in HEKETI_CLI_KEY (--secret"
                    " puts it in argv, where ps shows it)",
    )
    parser.add_argument("--user", default="admin", help="issuer: admin or user (default admin)")
    parser.add_argument("--secret", help="that user's key (default: $HEKETI_CLI_KEY)")
    parser.add_argument("--ttl", type=int, default=TOKEN_LIFETIME_S,
                        help=f"seconds the token stays valid (default {TOKEN_LIFETIME_S})")
    parser.add_argument("method", help="HTTP method of the request, e.g. GET")
    parser.add_argument("path", help="request path (or full URL); the query is not signed")
    return parser


def token_main(argv: list[str], env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """``heketipy token ...``: ``argv`` starts after ``token``."""
    args = _token_parser().parse_args(argv)
    secret = args.secret if args.secret is not None else env.get("HEKETI_CLI_KEY")
    if not secret:
        print("ERROR: --secret (or HEKETI_CLI_KEY) is required", file=err)
        return 2
    path = urllib.parse.urlsplit(args.path).path if "://" in args.path else args.path
    if not path.startswith("/"):
        print(f"ERROR: path must start with / (got {args.path!r})", file=err)
        return 2
    print(make_token(args.user, secret, args.method.upper(), path, ttl_s=args.ttl), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
