"""Replays every recorded heketi-cli run (tests/data/golden/cli/*.json) with heketipy-cli
against a live heketipy server; see tests/cli/cli_replay.py for the rules."""

from __future__ import annotations

import socket

import pytest

from tests.cli.cli_replay import CLI_DIR, replay_cli_file

pytestmark = pytest.mark.golden

CLI_FILES = sorted(CLI_DIR.glob("*.json"))
# The longest replays (about 5 s and more each): marked ``slow``.
SLOW_GROUPS = frozenset({"server", "volume", "device", "node", "blockvolume", "cluster"})


def test_every_recorded_group_is_replayed() -> None:
    assert len(CLI_FILES) == 11
    assert {path.stem for path in CLI_FILES} >= SLOW_GROUPS


def default_server_port_taken() -> bool:
    """global.json records heketi-cli's default server (localhost:8080) refusing connections;
    a developer's `make run` listening there would answer instead."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 8080)) == 0


@pytest.mark.parametrize("path", [
    pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if path.stem in SLOW_GROUPS else [])
    for path in CLI_FILES
])
async def test_golden_cli(path) -> None:  # noqa: ANN001
    if path.stem == "global" and default_server_port_taken():
        pytest.skip("something listens on 127.0.0.1:8080 (heketi-cli's default server)")
    result = await replay_cli_file(path)
    assert result.compared > 0
    assert not result.mismatches, result.report()
