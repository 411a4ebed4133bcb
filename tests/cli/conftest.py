"""Fixtures for the CLI tests: a live heketipy server and an in-process heketipy-cli runner."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from heketipy.cli.main import run as run_cli
from tests.support.server import ADMIN_KEY, ServerProcess, running_server

MOCK_ENV = {"HEKETI_MOCK_DEVICE_SIZE_GB": "500"}

THREE_NODES = {"clusters": [{"nodes": [
    {"node": {"hostnames": {"manage": [f"node{i}.example.test"], "storage": [f"10.0.0.{i}"]},
              "zone": i}, "devices": ["/dev/sdb", {"name": "/dev/sdc", "tags": {"speed": "fast"}}]}
    for i in (1, 2, 3)
]}]}


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(server: ServerProcess, *argv: str, env: dict[str, str] | None = None,
        tty_err: bool = False) -> CliResult:
    """heketipy-cli in-process, configured through the environment like a user would."""
    full_env = {"HEKETI_CLI_SERVER": server.base_url, "HEKETI_CLI_USER": "admin",
                "HEKETI_CLI_KEY": ADMIN_KEY, "HEKETIPY_CLI_CONFIRM_PAUSE_SECONDS": "0",
                **(env or {})}
    out = io.StringIO()
    err: io.StringIO = TtyStringIO() if tty_err else io.StringIO()
    code = run_cli(list(argv), full_env, out, err)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path, env=MOCK_ENV) as process:
        yield process


@pytest.fixture
def topology_file(tmp_path: Path) -> Path:
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(THREE_NODES))
    return path
