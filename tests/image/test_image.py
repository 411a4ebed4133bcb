"""The one heketipy image, built the way `make image` builds it (deploy/image/build.sh: a local
Debian base, no registry) and run with deploy/image/podman.sh: the server answers /hello with
its embedded defaults, heketipy-csi runs, and the node plugin's FUSE tools are in it.

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
from collections.abc import Iterator
from pathlib import Path

import pytest

from heketipy.csi import DRIVER_NAME
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


def test_server_answers_hello_from_the_image(image: str, container_name: str) -> None:
    port = free_port()
    # no --config: the embedded defaults (simulator executor, database in the data directory)
    started = subprocess.run(
        [PODMAN, "run", "--detach", "--pull", "never", "--network", "host",
         "--name", container_name, image, "--listen", "127.0.0.1", "--port", str(port)],
        capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + START_TIMEOUT
    answer = None
    while answer is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as response:
                answer = (response.status, response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            state = subprocess.run(
                [PODMAN, "inspect", "--format", "{{.State.Running}}", container_name],
                capture_output=True, text=True, timeout=60)
            if state.stdout.strip() != "true" or time.monotonic() > deadline:
                logs = subprocess.run([PODMAN, "logs", container_name], capture_output=True,
                                      text=True, timeout=60)
                pytest.fail(f"the server did not answer /hello:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)
    status, body = answer
    assert status == 200
    assert "Hello from Heketi" in body
    # the server runs as the image's unprivileged user
    user = subprocess.run([PODMAN, "exec", container_name, "id", "-u"],
                          capture_output=True, text=True, timeout=60)
    assert user.stdout.strip() == "10001"


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
