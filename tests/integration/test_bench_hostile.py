"""The hostile-body benchmark end to end at a toy size, so it cannot rot: what the server
answered each hostile request and that the prober ran, never how fast anything was."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.hostile import Options, parse_args, run


def test_hostile_bodies_are_refused_and_the_prober_runs(tmp_path: Path) -> None:
    options = Options(bodies=2, body_mb=0.2, at_cap_bodies=2, baseline_s=0.1,
                      probe_interval_ms=10)
    out = tmp_path / "hostile.json"
    results = run(options, out, "smoke")

    statuses = {row["scenario"]: [r["status"] for r in row["hostile_replies"]]
                for row in results["scenarios"]}
    # 0.2 MB is over the 64 KiB cap: refused whole, chunked or not; the at-cap bodies are
    # read and refused by the decoder.
    assert statuses == {"options": ["413", "413"], "syntax": ["413", "413"],
                        "options-chunked": ["413", "413"], "at-cap": ["422", "422"]}
    assert results["baseline_hello"]["n"] >= 1
    assert all(row["hello"]["n"] >= 1 for row in results["scenarios"])
    assert json.loads(out.read_text())["scenarios"] == results["scenarios"]
    assert "| at-cap | 422 in " in out.with_suffix(".md").read_text()


def test_command_line_defaults_follow_the_issue() -> None:
    options, out = parse_args([])
    assert (options.bodies, options.body_mb, out) == (3, 14.0, None)
    assert options.scenarios == ("options", "syntax", "options-chunked", "at-cap")
