"""Expand latency on the namespace testbed: in place (``lvextend`` + ``xfs_growfs``) against
add-brick (a new replica set + ``volume rebalance``), alternating, ``--runs`` of each.

Each run starts a fresh heketipy (SSH executor, ``heketipy.volume_expansion`` set to the mode)
on the testbed's real glusterd and XFS, loads the topology, creates a 1 GiB replica-3 volume,
times ``POST /volumes/{id}/expand`` (1 GiB) from the request to its final ``/queue`` answer,
then deletes the volume and removes the topology. The node commands of the expand come from the
server's debug log. Needs what the e2e tier needs (root, glusterd, sshd; see tests/testbed):

    flock /tmp/heketipy-e2e.lock python -m benchmarks.expand_in_place [--runs 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ssh_config, ssh_env, start_heketi
from tests.e2e.scenario import _created_id, call, load_topology, remove_topology
from tests.e2e.testbed import Testbed, command_timings, missing_requirement

MODES = ("in-place", "add-brick")
RESULTS = Path(__file__).resolve().parent / "results"


def one_run(bed: Testbed, directory: Path, mode: str) -> dict[str, Any]:
    config = ssh_config(bed, directory, volume_expansion=mode)
    api = start_heketi(config, bed, ssh_env(bed))
    try:
        topology = load_topology(api, bed)
        try:
            volume_id = _created_id(call(api, "POST", "/volumes", {
                "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
            }))  # fmt: skip
            log_mark = api.log_path.stat().st_size
            started = time.monotonic()
            reply = call(api, "POST", f"/volumes/{volume_id}/expand", {"expand_size": 1})
            seconds = time.monotonic() - started
            assert reply.status == 303, reply.text
            with open(api.log_path, encoding="utf-8", errors="replace") as handle:
                handle.seek(log_mark)
                commands = command_timings(handle.read())
            volume = api.request("GET", f"/volumes/{volume_id}").json()
            drift = api.request("GET", "/internal/state/drift").json()
            assert call(api, "DELETE", f"/volumes/{volume_id}").status == 204
        finally:
            remove_topology(api, bed, topology)
    finally:
        api.stop()
    return {
        "mode": mode, "expand_s": round(seconds, 2), "bricks": len(volume["bricks"]),
        "size_gib": volume["size"], "drift_clean": drift["clean"], "commands": commands,
    }  # fmt: skip


def report(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# Expand on the namespace testbed: in place vs add-brick",
        "",
        "`python -m benchmarks.expand_in_place` (real glusterd 10 and XFS on the thin-LV shim's",
        "loop images, SSH executor; 1 GiB replica-3 volume expanded by 1 GiB; wall time from the",
        "request to the final /queue answer). Machine shared with other work: read ratios, not",
        "absolute seconds.",
        "",
        "| mode | runs (s) | median (s) | bricks after | drift clean |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        times = [r["expand_s"] for r in mine]
        lines.append(
            f"| {mode} | {', '.join(f'{t:.2f}' for t in times)} | {statistics.median(times):.2f} "
            f"| {sorted({r['bricks'] for r in mine})} | {all(r['drift_clean'] for r in mine)} |"
        )
    lines += ["", "Node commands of the expand (one run of each; count, total ms):", ""]
    for mode in MODES:
        first = next(r for r in runs if r["mode"] == mode)
        parts = [f"`{name}` {v['count']}x {v['total_ms']:.0f}" for name, v in
                 first["commands"].items()]
        lines.append(f"- {mode}: " + ", ".join(parts))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "expand-in-place-testbed.md"))
    args = parser.parse_args()
    reason = missing_requirement()
    if reason:
        raise SystemExit(f"cannot run on this machine: {reason}")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="expand-bench-") as work:
        base = Path(work)
        with Testbed.running(Path("/tmp/heketipy-testbed"), base / "testbed.log") as bed:
            for index in range(args.runs):
                for mode in MODES:
                    directory = base / f"{mode}-{index}"
                    directory.mkdir()
                    runs.append(one_run(bed, directory, mode))
                    print(json.dumps({k: v for k, v in runs[-1].items() if k != "commands"}))
    out = Path(args.out)
    out.write_text(report(runs))
    out.with_suffix(".json").write_text(json.dumps(runs, indent=1) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
