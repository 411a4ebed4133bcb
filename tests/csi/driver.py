"""Test support for heketipy-csi: a heketipy server (simulator executor) with a three-node
topology, a heketipy-csi process on a unix socket, and the gRPC stubs to talk to it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from heketipy.third_party.csi_spec import csi_pb2 as pb
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc
from tests.support.server import ADMIN_KEY

GIB = 1 << 30
SIMULATOR = {"simulator": {"device_size_gb": 100, "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0}}}
MOUNT = pb.VolumeCapability(
    mount=pb.VolumeCapability.MountVolume(),
    access_mode=pb.VolumeCapability.AccessMode(
        mode=pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
    ),
)
BLOCK = pb.VolumeCapability(
    block=pb.VolumeCapability.BlockVolume(),
    access_mode=pb.VolumeCapability.AccessMode(
        mode=pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    ),
)


@dataclass
class Driver:
    socket_path: str
    process: subprocess.Popen[bytes]
    log_path: Path
    channel: grpc.Channel
    identity: pb_grpc.IdentityStub
    controller: pb_grpc.ControllerStub
    node: pb_grpc.NodeStub

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode


@contextmanager
def running_driver(heketi_url: str, *, mode: str = "controller", secret: str = ADMIN_KEY,
                   launcher: Sequence[str] = (), node_id: str = "node-a") -> Iterator[Driver]:
    """``launcher`` is put before the driver's argv (the e2e tier runs it under ``nsenter``,
    which execs it: the process is the driver itself)."""
    # A short directory: a unix socket path must fit in 108 bytes, pytest's tmp_path may not.
    directory = tempfile.mkdtemp(prefix="hkcsi-")
    socket_path = os.path.join(directory, "csi.sock")
    secret_file = Path(directory, "secret")
    secret_file.write_text(secret + "\n")
    log_path = Path(directory, "driver.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [*launcher, sys.executable, "-m", "heketipy.csi.main",
             "--endpoint", f"unix://{socket_path}",
             "--mode", mode, "--node-id", node_id, "--heketi-url", heketi_url,
             "--heketi-user", "admin", "--heketi-secret-file", str(secret_file)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
        )
    channel = grpc.insecure_channel(f"unix:{socket_path}")
    driver = Driver(socket_path, process, log_path, channel, pb_grpc.IdentityStub(channel),
                    pb_grpc.ControllerStub(channel), pb_grpc.NodeStub(channel))
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        except grpc.FutureTimeoutError:
            raise RuntimeError(f"driver did not start:\n{driver.log()}") from None
        yield driver
    finally:
        driver.stop()
        shutil.rmtree(directory, ignore_errors=True)


def create_request(name: str, *, required: int = GIB, limit: int = 0,
                   parameters: dict[str, str] | None = None,
                   capabilities: tuple[pb.VolumeCapability, ...] = (MOUNT,)
                   ) -> pb.CreateVolumeRequest:
    return pb.CreateVolumeRequest(
        name=name,
        capacity_range=pb.CapacityRange(required_bytes=required, limit_bytes=limit),
        volume_capabilities=list(capabilities),
        parameters=parameters or {},
    )
