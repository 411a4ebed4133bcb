"""The testbed benchmark's arithmetic and report (benchmarks/on_testbed.py, testbed_report.py)
on made-up phases: the glusterd bound is the sum of gluster command durations, the ratio and
the verdicts follow from it, and the command line routes ssh/kubernetes to the testbed."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.on_testbed import OnTestbedOptions, gluster_serial_s
from benchmarks.run import parse_args
from benchmarks.testbed_report import markdown, summary_rows
from tests.e2e.testbed import NodeCommand, node_commands, summarize

LOG = "\n".join([
    '2026-12-06 07:38:53,745 DEBUG heketipy.executors.commands op=- node command node=10.0.0.1 argv="sudo -n -- env LC_ALL=C gluster '
    '--mode=script volume create vol_a replica 3 b1 b2 b3" exit=0 ms=300.0',
    '2026-12-06 07:38:53,745 DEBUG heketipy.executors.commands op=- node command node=10.0.0.1 argv="env LC_ALL=C gluster --mode=script '
    'volume start vol_a" exit=0 ms=700.0',
    '2026-12-06 07:38:53,745 DEBUG heketipy.executors.commands op=- node command node=10.0.0.2 argv="env LC_ALL=C lvm lvcreate -q x" '
    'exit=0 ms=250.0',
    '2026-12-06 07:38:53,745 DEBUG heketipy.executors.commands op=- node command node=10.0.0.3 argv="env LC_ALL=C mkdir -p /m" exit=0 '
    'ms=10.0',
    "2026-12-06 07:38:53,745 INFO heketipy.api op=- request method=GET path=/hello",
])  # fmt: skip


def test_node_commands_are_named_with_their_node() -> None:
    assert node_commands(LOG) == [
        NodeCommand("10.0.0.1", "gluster volume create", 300.0),
        NodeCommand("10.0.0.1", "gluster volume start", 700.0),
        NodeCommand("10.0.0.2", "lvm lvcreate", 250.0),
        NodeCommand("10.0.0.3", "mkdir", 10.0),
    ]


def test_the_glusterd_bound_adds_up_gluster_commands_only() -> None:
    commands = node_commands(LOG)
    assert gluster_serial_s(commands) == pytest.approx(1.0)
    table = summarize(commands)
    assert list(table) == ["gluster volume start", "gluster volume create", "lvm lvcreate",
                           "mkdir"]  # slowest total first
    assert table["lvm lvcreate"] == {"count": 1, "mean_ms": 250.0, "max_ms": 250.0,
                                     "total_ms": 250.0}


def _phase(wall: float, bound: float, **extra: Any) -> dict[str, Any]:
    return {"wall_s": wall, "glusterd_bound_s": bound, "ratio": round(wall / bound, 3) if bound else None,
            "node_commands": 10, "gluster_commands": 2, "commands": {},
            "machine_busy_pct": 50.0, "server_cpu_s": 0.1, **extra}


def _run(setting: int | None, wall_10: float) -> dict[str, Any]:
    sequential = _phase(6.0, 4.0, volumes=3, median_create_s=2.0,
                        node_commands_per_brick=6.0, gluster_commands_per_volume=3.0)
    return {"run": 0, "node_concurrency": setting, "phases": {
        "topology_load_s": 2.5, "sequential": sequential,
        "concurrent": {"1": _phase(1.5, 1.0), "10": _phase(wall_10, 10.0)},
        "expand": _phase(0.7, 0.0, mode="in-place"),
        "deletes": _phase(20.0, 19.0, volumes=14),
        "after": {"drift_clean": True, "pending_operations": 0},
    }}  # fmt: skip


def _results() -> dict[str, Any]:
    return {
        "command": "python -m benchmarks.run --executor ssh --testbed",
        "machine": {"cpus": 2, "cpu_model": "x", "memory_mb": 1, "python": "3.11",
                    "commit": "abc", "date": "today"},
        "options": {"executor": "ssh"},
        "testbed": {"nodes": 3, "devices_per_node": 2, "device_size_gb": 16, "up_s": 8.0},
        "runs": [_run(2, 12.0), _run(8, 14.0), _run(2, 12.4)],
    }  # fmt: skip


def test_summary_takes_medians_per_node_concurrency() -> None:
    rows = {row["node_concurrency"]: row for row in summary_rows(_results())}
    assert rows[2]["runs"] == 2 and rows[8]["runs"] == 1
    assert rows[2]["creates_10"] == {"wall_s": 12.2, "bound_s": 10.0, "ratio": 1.22,
                                     "ratio_with_first_bricks": 1.22}
    assert rows[8]["creates_10"]["ratio"] == 1.4


def test_report_gives_bound_ratio_and_verdicts() -> None:
    text = markdown(_results())
    assert "| 2 | 2 | 2.5 | 2.0 | 1.5 / 1.0 / **1.5** (1.5) | 12.2 / 10.0 / **1.22** (1.22)" in text
    assert ("- met: 10 concurrent creates within 1.3x of the glusterd bound "
            "(node_command_concurrency 2): 1.22") in text
    assert ("- MISSED: 10 concurrent creates within 1.3x of the glusterd bound "
            "(node_command_concurrency 8): 1.4") in text
    assert "- met: at most Heketi's 6 node commands per brick: 6.0" in text
    header, separator = [line for line in text.splitlines() if line.startswith("| node_comm")
                         or line.startswith("|---|---|---|---|---|---|---|---")][:2]
    assert header.count("|") == separator.count("|")


def test_command_line_routes_remote_executors_to_the_testbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    options, out = parse_args(["--executor", "kubernetes", "--testbed", "--node-concurrency",
                               "2,8", "--concurrent-creates", "1,5"])
    assert isinstance(options, OnTestbedOptions)
    assert (options.executor, options.node_concurrency, options.concurrent) == (
        "kubernetes", (2, 8), (1, 5))
    assert out.name == "testbed-kubernetes.json"
    for argv in (["--executor", "ssh"], ["--executor", "mock", "--testbed"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert "only with --testbed" in capsys.readouterr().err
    for bad in ("0", "2.5", "x", "1,-2"):
        with pytest.raises(SystemExit):
            parse_args(["--executor", "ssh", "--testbed", "--node-concurrency", bad])
        assert "--node-concurrency takes positive integers" in capsys.readouterr().err
