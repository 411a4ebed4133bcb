"""``heketipy.node_command_concurrency`` and ``heketipy.node_command_timeout_s``: the remote
executors' per-node concurrency and per-command timeout, as heketi.json sets them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heketipy.config import (
    DEFAULT_NODE_COMMAND_CONCURRENCY,
    DEFAULT_NODE_COMMAND_TIMEOUT_S,
    ConfigError,
    HeketipySettings,
    load_settings,
)
from heketipy.executors.runner import NodeSlots


def _heketipy(tmp_path: Path, **values: Any) -> HeketipySettings:
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps({
        "use_auth": False,
        "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db")},
        "heketipy": {"data_dir": str(tmp_path), **values},
    }))  # fmt: skip
    return load_settings(str(path), {}).heketipy


def test_defaults_are_the_named_constants(tmp_path: Path) -> None:
    heketipy = _heketipy(tmp_path)
    assert heketipy.node_command_concurrency == DEFAULT_NODE_COMMAND_CONCURRENCY == 8
    assert heketipy.node_command_timeout_s == DEFAULT_NODE_COMMAND_TIMEOUT_S == 600


def test_values_are_read(tmp_path: Path) -> None:
    heketipy = _heketipy(tmp_path, Node_Command_Concurrency=3, node_command_timeout_s=0.5)
    assert (heketipy.node_command_concurrency, heketipy.node_command_timeout_s) == (3, 0.5)
    assert _heketipy(tmp_path, node_command_timeout_s=90).node_command_timeout_s == 90.0


@pytest.mark.parametrize(("values", "text"), [
    ({"node_command_concurrency": 0}, "node_command_concurrency: must be >= 1 (got 0)"),
    ({"node_command_concurrency": -2}, "node_command_concurrency: must be >= 1 (got -2)"),
    ({"node_command_concurrency": "8"}, "node_command_concurrency: must be an integer (got '8')"),
    ({"node_command_concurrency": 2.5}, "node_command_concurrency: must be an integer (got 2.5)"),
    ({"node_command_timeout_s": 0}, "node_command_timeout_s: must be > 0.0 (got 0)"),
    ({"node_command_timeout_s": -1}, "node_command_timeout_s: must be > 0.0 (got -1)"),
    ({"node_command_timeout_s": "5"}, "node_command_timeout_s: must be a number (got '5')"),
])  # fmt: skip
def test_bad_values_are_one_line_naming_the_key(
    tmp_path: Path, values: dict[str, Any], text: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _heketipy(tmp_path, **values)
    assert str(caught.value) == f"invalid configuration: heketipy.{text}"


def test_node_slots_are_per_host_and_refuse_no_slot() -> None:
    slots = NodeSlots(2)
    assert slots("n1") is slots("n1") is not slots("n2")
    with pytest.raises(ValueError, match="must be >= 1"):
        NodeSlots(0)
