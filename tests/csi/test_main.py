"""The heketipy-csi command line: flags, HEKETI_CLI_* fallbacks, refusals, --version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from heketipy.csi import DRIVER_NAME
from heketipy.csi.main import config_from, main, parser
from heketipy.csi.server import socket_path_of


def test_version_names_the_driver() -> None:
    out = subprocess.run([sys.executable, "-m", "heketipy.csi.main", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("heketipy-csi ") and DRIVER_NAME in out


def test_flags_win_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("HEKETI_CLI_SERVER", "http://env:8080")
    monkeypatch.setenv("HEKETI_CLI_KEY", "envkey")
    args = parser().parse_args([
        "--endpoint", "unix:///run/csi/csi.sock", "--mode", "controller",
        "--heketi-url", "http://flag:8080", "--heketi-user", "ops",
        "--heketi-secret-file", str(secret),
    ])
    config = config_from(args)
    assert (config.socket_path, config.mode) == ("/run/csi/csi.sock", "controller")
    assert (config.heketi_url, config.heketi_user, config.heketi_secret) == (
        "http://flag:8080", "ops", "s3cret")
    assert "s3cret" not in repr(config)


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEKETI_CLI_SERVER", "http://env:8080")
    monkeypatch.setenv("HEKETI_CLI_USER", "envuser")
    monkeypatch.setenv("HEKETI_CLI_KEY", "envkey")
    monkeypatch.setenv("CSI_ENDPOINT", "unix:/csi/csi.sock")
    monkeypatch.setenv("NODE_ID", "worker-1")
    config = config_from(parser().parse_args([]))
    assert (config.heketi_url, config.heketi_user, config.heketi_secret) == (
        "http://env:8080", "envuser", "envkey")
    assert (config.socket_path, config.node_id, config.mode) == ("/csi/csi.sock", "worker-1", "all")


@pytest.mark.parametrize("argv", [
    [],                                                           # no endpoint
    ["--endpoint", "tcp://127.0.0.1:10000", "--node-id", "n"],     # not a unix socket
    ["--endpoint", "unix://relative.sock", "--node-id", "n"],      # not absolute
    ["--endpoint", "unix:///csi.sock", "--mode", "node"],          # node mode needs --node-id
    ["--endpoint", "unix:///csi.sock", "--mode", "controller",
     "--heketi-secret-file", "{tmp}/missing-key"],                # in the test's directory
])
def test_bad_command_lines_exit_2(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("CSI_ENDPOINT", "NODE_ID"):
        monkeypatch.delenv(name, raising=False)
    assert main([word.replace("{tmp}", str(tmp_path)) for word in argv]) == 2
    assert capsys.readouterr().err.startswith("heketipy-csi: ")


def test_socket_paths() -> None:
    assert socket_path_of("unix:///var/lib/csi/sockets/pluginproxy/csi.sock") == (
        "/var/lib/csi/sockets/pluginproxy/csi.sock")
    assert socket_path_of("unix:/csi/csi.sock") == "/csi/csi.sock"
