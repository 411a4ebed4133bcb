"""Command line entry point: ``heketipy --config heketi.json [--disable-auth] [--listen H]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from heketipy.config import ConfigError, load_settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="heketipy", description=__doc__)
    parser.add_argument("--config", help="heketi.json configuration file")
    parser.add_argument("--disable-auth", action="store_true", help="ignore JWT authorization")
    parser.add_argument("--listen", help="address to listen on (default from config)")
    parser.add_argument("--port", help="port to listen on (default from config)")
    parser.add_argument(
        "--init-db",
        action="store_true",
        help="create a new, empty database even where one is recorded to have existed",
    )
    parser.add_argument("-v", "--version", action="store_true", help="print the version")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["db"]:
        from heketipy.admin_cli import main as admin_main

        return admin_main(argv)
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
    announce = None
    if args.config is None:
        scheme = "https" if settings.enable_tls else "http"
        announce = (
            f"heketipy is serving {scheme}://{settings.listen}:{settings.port}\n"
            f"  executor: {settings.glusterfs.executor}, database: {settings.glusterfs.db}\n"
            f"  admin user: admin, admin key: {settings.admin_key}\n"
            f"  try: curl {scheme}://{settings.listen}:{settings.port}/hello"
        )
    from heketipy.server import serve
    from heketipy.store.marker import MissingDatabase
    from heketipy.store.sqlite import StoreError

    try:
        asyncio.run(serve(settings, announce=announce, init_db=args.init_db))
    except (StoreError, MissingDatabase) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
