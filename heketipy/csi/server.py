"""The heketipy-csi process: the grpc.aio server on a unix socket with the services of the
chosen mode, the heketipy client they share, and a clean stop on SIGTERM/SIGINT (in-flight
RPCs get a grace period, the socket file is removed); as PID 1 in node mode, the reaper of the
glusterfs clients' zombies (csi.reaper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
from dataclasses import dataclass

import grpc

from heketipy.client import AsyncHeketiClient
from heketipy.csi.controller import ControllerService
from heketipy.csi.identity import IdentityService
from heketipy.csi.node import NodeService
from heketipy.csi.reaper import needs_reaper, reap_periodically
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc

log = logging.getLogger("heketipy.csi")

MODES = ("controller", "node", "all")
STOP_GRACE_S = 10.0
# Creates wait for heketipy's /queue; the CO's own deadline is what bounds an RPC.
HEKETI_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DriverConfig:
    socket_path: str
    mode: str
    node_id: str
    heketi_url: str
    heketi_user: str
    heketi_secret: str

    def __repr__(self) -> str:  # never show the secret
        return (f"DriverConfig(socket_path={self.socket_path!r}, mode={self.mode!r}, "
                f"node_id={self.node_id!r}, heketi_url={self.heketi_url!r}, "
                f"heketi_user={self.heketi_user!r})")


def socket_path_of(endpoint: str) -> str:
    """``unix:///abs/path`` or ``unix:/abs/path`` -> ``/abs/path``."""
    if endpoint.startswith("unix://"):
        path = endpoint[len("unix://"):]
    elif endpoint.startswith("unix:"):
        path = endpoint[len("unix:"):]
    else:
        raise ValueError(f"endpoint {endpoint!r}: only unix:///PATH sockets are served")
    if not path.startswith("/"):
        raise ValueError(f"endpoint {endpoint!r}: the socket path must be absolute")
    return path


def _remove_stale_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)


def build_server(config: DriverConfig, client: AsyncHeketiClient) -> grpc.aio.Server:
    server = grpc.aio.server()
    controller = config.mode in ("controller", "all")
    pb_grpc.add_IdentityServicer_to_server(IdentityService(client, controller=controller), server)
    if controller:
        pb_grpc.add_ControllerServicer_to_server(ControllerService(client), server)
    if config.mode in ("node", "all"):
        pb_grpc.add_NodeServicer_to_server(NodeService(client, config.node_id), server)
    return server


async def serve(config: DriverConfig, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    os.makedirs(os.path.dirname(config.socket_path) or "/", exist_ok=True)
    _remove_stale_socket(config.socket_path)
    client = AsyncHeketiClient(config.heketi_url, config.heketi_user, config.heketi_secret,
                               timeout_s=HEKETI_TIMEOUT_S)
    server = build_server(config, client)
    server.add_insecure_port("unix:" + config.socket_path)
    reaper = (asyncio.create_task(reap_periodically())
              if needs_reaper(config.mode, os.getpid()) else None)
    try:
        await server.start()
        log.info("heketipy-csi serving %s mode on unix:%s (heketipy %s, node %s)",
                 config.mode, config.socket_path, config.heketi_url, config.node_id or "-")
        await stop.wait()
        log.info("stopping: %gs grace for in-flight RPCs", STOP_GRACE_S)
        await server.stop(STOP_GRACE_S)
    finally:
        if reaper is not None:
            reaper.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await client.aclose()
        _remove_stale_socket(config.socket_path)
    log.info("stopped")
