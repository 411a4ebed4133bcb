"""``heketipy-csi``: the command line of the CSI driver.

    heketipy-csi --endpoint unix:///csi/csi.sock --mode controller|node|all --node-id NAME
                 --heketi-url URL --heketi-user USER --heketi-secret-file FILE

The server, user and key fall back to ``HEKETI_CLI_SERVER``, ``HEKETI_CLI_USER`` and
``HEKETI_CLI_KEY`` as for heketi-cli; ``--endpoint`` to ``CSI_ENDPOINT`` and ``--node-id`` to
``NODE_ID`` (what Kubernetes manifests usually pass). The secret is read from a file so it
never shows in the process list, and is never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from heketipy.csi import DRIVER_NAME
from heketipy.csi.identity import driver_version
from heketipy.csi.server import MODES, DriverConfig, serve, socket_path_of

DEFAULT_SERVER = "http://localhost:8080"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="heketipy-csi",
        description=f"CSI driver {DRIVER_NAME}: GlusterFS volumes provisioned by heketipy",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--endpoint", default=os.environ.get("CSI_ENDPOINT", ""),
                   help="unix:///PATH of the socket to serve (env CSI_ENDPOINT)")
    p.add_argument("--mode", choices=MODES, default="all",
                   help="services to run: controller, node or all (default all)")
    p.add_argument("--node-id", default=os.environ.get("NODE_ID", ""),
                   help="this node's name, required for node and all modes (env NODE_ID)")
    p.add_argument("--heketi-url", default=os.environ.get("HEKETI_CLI_SERVER", DEFAULT_SERVER),
                   help="heketipy server URL (env HEKETI_CLI_SERVER)")
    p.add_argument("--heketi-user", default=os.environ.get("HEKETI_CLI_USER", "admin"),
                   help="JWT user (env HEKETI_CLI_USER, default admin)")
    p.add_argument("--heketi-secret-file", default="",
                   help="file holding the JWT key (else env HEKETI_CLI_KEY)")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    return p


def config_from(args: argparse.Namespace) -> DriverConfig:
    """The validated configuration; ValueError names what is wrong."""
    if not args.endpoint:
        raise ValueError("--endpoint (or CSI_ENDPOINT) is required")
    socket_path = socket_path_of(args.endpoint)
    if args.mode in ("node", "all") and not args.node_id:
        raise ValueError(f"--node-id (or NODE_ID) is required in {args.mode} mode")
    if args.heketi_secret_file:
        try:
            with open(args.heketi_secret_file, encoding="utf-8") as handle:
                secret = handle.read().strip()
        except OSError as exc:
            raise ValueError(f"--heketi-secret-file: {exc.strerror}: {exc.filename}") from None
    else:
        secret = os.environ.get("HEKETI_CLI_KEY", "")
    return DriverConfig(
        socket_path=socket_path, mode=args.mode, node_id=args.node_id,
        heketi_url=args.heketi_url, heketi_user=args.heketi_user, heketi_secret=secret,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.version:
        print(f"heketipy-csi {driver_version()} ({DRIVER_NAME})")
        return 0
    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"heketipy-csi: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.log_level != "debug":
        # One line per RPC is the driver's log; httpx would add one per HTTP request.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
