"""Replays every recorded heketi-cli run (tests/data/golden/cli/*.json) with heketipy-cli
against a live heketipy server; see tests/cli/cli_replay.py for the rules."""

from __future__ import annotations

import socket

import pytest

from tests.cli.cli_replay import CLI_DIR, replay_cli_file

pytestmark = pytest.mark.golden

CLI_FILES = sorted(CLI_DIR.glob("*.json"))


def test_every_recorded_group_is_replayed() -> None:
    assert len(CLI_FILES) == 11


def default_server_port_taken() -> bool:
    """global.json records heketi-cli's default server (localhost:8080) refusing connections;
    a developer's `make run` listening there would answer instead."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 8080)) == 0


@pytest.mark.parametrize("path", CLI_FILES, ids=[p.stem for p in CLI_FILES])
async def test_golden_cli(path) -> None:  # noqa: ANN001
    if path.stem == "global" and default_server_port_taken():
        pytest.skip("something listens on 127.0.0.1:8080 (heketi-cli's default server)")
    result = await replay_cli_file(path)
    assert result.compared > 0
    assert not result.mismatches, result.report()
