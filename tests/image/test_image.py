"""The one heketipy image, built the way `make image` builds it (deploy/image/build.sh: a local
Debian base, no registry) and run with deploy/image/podman.sh: the server answers /hello with
its embedded defaults, heketipy-csi runs (and, as deploy/csi's controller runs it, serves CSI
for that server), and the node plugin's FUSE tools are in it.

Needs root (rootful podman, debootstrap); `make test` runs it as root, as CI does. Containers
share the host's network and listen on 127.0.0.1 only; every container started is removed,
also when a test fails."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from heketipy.csi import DRIVER_NAME
from heketipy.third_party.csi_spec import csi_pb2 as pb
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc
from tests.support.server import free_port

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
PODMAN = str(ROOT / "deploy" / "image" / "podman.sh")
BUILD = str(ROOT / "deploy" / "image" / "build.sh")
# The first build makes the Debian base (debootstrap, a few minutes); later ones reuse it.
BUILD_TIMEOUT = 1800
START_TIMEOUT = 60


def project_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


IMAGE = f"localhost/heketipy/heketipy:{project_version()}"


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0:
        pytest.skip("building and running the image needs root (rootful podman, debootstrap)")
    result = subprocess.run([BUILD], env={**os.environ, "IMAGE": IMAGE}, capture_output=True,
                            text=True, timeout=BUILD_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"deploy/image/build.sh failed:\n{output[-4000:]}"
    return IMAGE


@pytest.fixture
def container_name() -> Iterator[str]:
    """A fresh container name, and the container gone afterwards whatever happened."""
    name = f"heketipy-test-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        subprocess.run([PODMAN, "rm", "--force", "--ignore", "--time", "5", name],
                       capture_output=True, timeout=120)


def run(image: str, name: str, *args: str, options: tuple[str, ...] = ()) -> str:
    result = subprocess.run(
        [PODMAN, "run", "--rm", "--pull", "never", "--network", "none", "--name", name,
         *options, image, *args],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stderr[-2000:]}"
    return result.stdout


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)


def logs_of(name: str) -> str:
    result = podman("logs", name, timeout=60)
    return result.stdout + result.stderr


def wait_until(name: str, ready: Callable[[], bool], what: str) -> None:
    """Poll ready() until true; fail with the container's log if it stops or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        running = podman("inspect", "--format", "{{.State.Running}}", name, timeout=60)
        if running.stdout.strip() != "true" or time.monotonic() > deadline:
            pytest.fail(f"{what}:\n{logs_of(name)}")
        time.sleep(0.5)


def hello(port: int) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as response:
            return response.status, response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None


@pytest.fixture(scope="module")
def server(image: str) -> Iterator[tuple[str, int]]:
    """The image's default program, the heketipy server, on 127.0.0.1: (container, port)."""
    name = f"heketipy-test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    try:
        # no --config: the embedded defaults (simulator executor, database in the data directory)
        started = podman("run", "--detach", "--pull", "never", "--network", "host",
                         "--name", name, image, "--listen", "127.0.0.1", "--port", str(port))
        assert started.returncode == 0, started.stderr
        wait_until(name, lambda: hello(port) is not None, "the server did not answer /hello")
        yield name, port
    finally:
        podman("rm", "--force", "--ignore", "--time", "5", name)


def test_server_answers_hello_from_the_image(server: tuple[str, int]) -> None:
    name, port = server
    assert hello(port) == (200, "Hello from Heketi")
    # the server runs as the image's unprivileged user
    assert podman("exec", name, "id", "-u").stdout.strip() == "10001"


def test_controller_as_deployed_serves_csi_for_the_server(
        image: str, server: tuple[str, int], container_name: str, tmp_path: Path) -> None:
    """heketipy-csi --mode=controller as deploy/csi runs it (user 10001, read-only root, the key
    in a file) answers Probe ready through heketipy's /hello, and identifies itself."""
    _, port = server
    sockets = tmp_path / "csi"
    sockets.mkdir()
    sockets.chmod(0o777)  # the container's user creates the socket here
    key = tmp_path / "admin-key"
    key.write_text("not-needed-for-probe\n")
    key.chmod(0o644)
    started = podman(
        "run", "--detach", "--pull", "never", "--network", "host", "--name", container_name,
        "--user", "10001:10001", "--read-only", "--read-only-tmpfs=false",
        "--volume", f"{sockets}:/csi", "--volume", f"{key}:/etc/heketipy-csi/admin-key:ro",
        image, "heketipy-csi", "--endpoint=unix:///csi/csi.sock", "--mode=controller",
        f"--heketi-url=http://127.0.0.1:{port}", "--heketi-user=admin",
        "--heketi-secret-file=/etc/heketipy-csi/admin-key")
    assert started.returncode == 0, started.stderr
    socket = sockets / "csi.sock"
    wait_until(container_name, socket.exists, "heketipy-csi did not create its socket")
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        identity = pb_grpc.IdentityStub(channel)
        info = identity.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=30)
        assert info.name == DRIVER_NAME
        probe = identity.Probe(pb.ProbeRequest(), timeout=30)
        assert probe.ready.value is True


def test_heketipy_csi_runs_from_the_image(image: str, container_name: str) -> None:
    from heketipy.csi.identity import driver_version

    output = run(image, container_name, "heketipy-csi", "--version")
    assert output.strip() == f"heketipy-csi {driver_version()} ({DRIVER_NAME})"


def test_image_carries_the_fuse_mount_tools(image: str, container_name: str) -> None:
    # as the node plugin runs it: root, privileged, with the host's /dev/fuse
    options = ("--user", "0", "--entrypoint", "sh")
    if os.path.exists("/dev/fuse"):
        options += ("--device", "/dev/fuse")
    output = run(image, container_name, "-c",
                 "command -v mount.glusterfs && command -v fusermount3 && glusterfs --version"
                 " && fusermount3 --version && { [ ! -e /dev/fuse ] || [ -c /dev/fuse ]; }"
                 " && echo fuse-ready", options=options)
    lines = output.splitlines()
    assert lines[0].endswith("/mount.glusterfs") and lines[1].endswith("/fusermount3")
    assert any(line.startswith("glusterfs ") for line in lines)
    assert lines[-1] == "fuse-ready"
