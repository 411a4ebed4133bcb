"""The benchmark harness end to end against a real server, at a toy size, so it cannot rot.

Asserts what the harness reports about correctness (counts, errors, the mixed phase's
afterwards checks, the written files), never how fast anything was.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.critical_path import lower_bound
from benchmarks.run import Options, parse_args, run_benchmark


def test_harness_runs_every_mock_phase(tmp_path: Path) -> None:
    options = Options(
        executor="mock", volumes=8, concurrency=2, poll_interval_ms=20, fill_poll_ms=10,
        sequential=2, concurrent=3, deletes=2, band_size=4, listing_at=(2, 8),
        listing_samples=2, mixed_clients=2, mixed_duration_s=1.0, mixed_poll_ms=(10,),
    )
    out = tmp_path / "results" / "smoke.json"
    results = run_benchmark(options, out, "smoke", log=lambda _message: None)

    phases = results["phases"]
    assert phases["sequential"]["created"] == 2 and phases["sequential"]["errors"] == 0
    assert phases["concurrent"]["created"] == 3 and phases["concurrent"]["throttled_429"] == 0
    bands = phases["fill"]["bands"]
    assert [(b["from"], b["to"]) for b in bands] == [(5, 8)]
    assert set(phases["listings"]) == {"2", "8"}
    topology = phases["listings"]["8"]["topology_info"]
    # GET /clusters, GET /clusters/{id}, 8 volumes, 6 nodes.
    assert topology["requests"] == 1 + 1 + 8 + 6
    assert phases["deletes"]["deleted"] == 2
    (mixed,) = phases["mixed"]
    assert mixed["errors"] == 0 and mixed["cycles"] >= 1
    assert mixed["after"] == {"volumes_left_behind": 0, "volumes_lost": 0,
                              "db_check_inconsistencies": 0, "device_space_back": True}
    assert "critical_path" not in phases  # the mock has no latency model
    assert json.loads(out.read_text())["targets"] == results["targets"]
    assert "## Targets" in out.with_suffix(".md").read_text()


def test_critical_path_bound_counts_the_simulators_commands() -> None:
    bound = lower_bound(10, {"lvm": 1, "fs": 2, "gluster": 100})
    gluster_per_volume = bound["commands"]["volume"]["gluster"]
    brick = bound["commands"]["per_brick"][0]
    assert gluster_per_volume >= 2  # at least volume create and start
    assert bound["bound_ms"] == 10 * gluster_per_volume * 100 + brick["lvm"] * 1 + brick["fs"] * 2


def test_command_line_defaults_follow_the_issue() -> None:
    options, out = parse_args(["--executor", "simulator", "--volumes", "500"])
    assert options.poll_interval_ms == 400
    assert options.concurrency == 32 and options.sequential == 200 and options.deletes == 200
    assert options.listing_at == (200, 500)
    assert options.latency_ms == {"lvm": 20.0, "fs": 20.0, "gluster": 150.0}
    assert out == Path("benchmarks/results/simulator-500.json")


def test_harness_runs_the_simulator_critical_path(tmp_path: Path) -> None:
    options = Options(
        executor="simulator", volumes=4, concurrency=2, poll_interval_ms=10, fill_poll_ms=10,
        sequential=1, concurrent=1, critical_path_creates=2, listing_at=(4,), listing_samples=1,
        latency_ms={"lvm": 0, "fs": 0, "gluster": 1}, skip=("fill", "deletes", "mixed"),
    )
    results = run_benchmark(options, None, "smoke", log=lambda _message: None)
    crit = results["phases"]["critical_path"]
    assert crit["created"] == 2 and crit["errors"] == 0
    assert crit["bound_ms"] > 0 and crit["ratio"] > 0
    assert "gluster commands" in crit["arithmetic"]
    assert set(results["phases"]["listings"]) == {"4"}  # 1 + 1 + 2 volumes
