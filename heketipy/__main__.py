"""Command line entry point of the server: ``heketipy [--config heketi.json] [options]``, and
``heketipy db ...`` (see ``admin_cli``); ``--help`` describes the built-in defaults."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from heketipy.config import ConfigError, load_settings

# Printed at start-up whichever way authentication was turned off, on stderr whatever the log
# level: a server anyone can administer must not go unnoticed.
# The exit status of an active server that lost leadership and fenced itself (heketipy.ha):
# non-zero so the orchestrator restarts it, as a fresh standby; 1 is a refused start-up.
EXIT_LEADERSHIP_LOST = 3

AUTH_DISABLED_WARNING = (
    'WARNING: authentication is disabled (--disable-auth or "use_auth": false in heketi.json): '
    "every request is served with administrator rights, no token is checked"
)

HELP_EPILOG = """\
without --config, heketipy runs on built-in defaults, to try it out:
  listens on 127.0.0.1:8080 (--listen and --port change it)
  executor: simulator (storage nodes simulated in memory, 1024 GiB devices; no real node
            is touched)
  database: var/heketi.db, under the current directory
  JWT authentication with admin and user secrets generated once into var/secrets.json;
  the admin key is printed at start
with --config, heketi.json is read as Heketi reads it, HEKETI_* environment variables
override it, and heketipy's own settings go under its "heketipy" object.

database commands (offline: they open the database file directly):
  heketipy db import --jsonfile FILE --dbfile DB   load a Heketi JSON dump (heketi db export,
                                                   GET /db/dump; - for stdin) into a new
                                                   database (--config F: replica sets
                                                   read from gluster at once)
  heketipy db export --dbfile DB --jsonfile FILE   write the database as Heketi's dump JSON
                                                   (- for stdout)
  heketipy db rebuild --config F --topology FILE   reconstruct a lost database from what the
                                                   storage nodes hold (new ids printed)
  heketipy db import --help, heketipy db export --help   their options

token command (offline):
  heketipy token [--user USER] METHOD PATH   print a JWT for one request, signed with the
                                             key in HEKETI_CLI_KEY (e.g. for curl)
  heketipy token --help                      its options
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="heketipy",
        description="Heketi-compatible storage management server for GlusterFS.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="heketi.json configuration file (without it: the defaults below)"
    )
    parser.add_argument("--disable-auth", action="store_true", help="ignore JWT authorization")
    parser.add_argument("--listen", help="address to listen on (default from config)")
    parser.add_argument("--port", help="port to listen on (default from config)")
    parser.add_argument(
        "--init-db",
        action="store_true",
        help="start even where another database is recorded to have existed: create a new, "
        "empty one if the file is missing or empty, or use the one found (a backup in "
        "Kubernetes Secrets is still restored first)",
    )
    parser.add_argument("-v", "--version", action="store_true", help="print the version")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["db"]:
        from heketipy.admin_cli import main as admin_main

        return admin_main(argv)
    if argv[:1] == ["token"]:
        from heketipy.admin_cli import token_main

        return token_main(argv[1:], os.environ, sys.stdout, sys.stderr)
    args = parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"heketipy v{version('heketipy')}")
        return 0
    try:
        settings = load_settings(
            args.config,
            os.environ,
            disable_auth=args.disable_auth,
            listen=args.listen,
            port=args.port,
        )
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    from heketipy import logctx

    logctx.configure(
        logctx.level_number(settings.glusterfs.loglevel), settings.heketipy.log_format
    )
    if not settings.auth_enabled:
        logctx.announce(AUTH_DISABLED_WARNING, settings.heketipy.log_format, sys.stderr)
    announce = None
    if args.config is None:
        scheme = "https" if settings.enable_tls else "http"
        announce = (
            f"heketipy is serving {scheme}://{settings.listen}:{settings.port}\n"
            f"  executor: {settings.glusterfs.executor}, database: {settings.glusterfs.db}\n"
            f"  admin user: admin, admin key: {settings.admin_key}\n"
            f"  try: curl {scheme}://{settings.listen}:{settings.port}/hello"
        )
    from heketipy.api.listen import ListenError
    from heketipy.ha.factory import LeadershipConfigError
    from heketipy.server import LeadershipLost, serve
    from heketipy.store.marker import RefusedDatabase
    from heketipy.store.sqlite import StoreError

    try:
        asyncio.run(serve(settings, announce=announce, init_db=args.init_db))
    except LeadershipLost as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        # At once: a thread stuck on a hung database mount must not keep the process alive.
        os._exit(EXIT_LEADERSHIP_LOST)
    except (ListenError, StoreError, RefusedDatabase, LeadershipConfigError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
