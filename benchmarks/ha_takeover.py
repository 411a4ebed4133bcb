"""Takeover time of an active/standby pair (heketipy.ha, database-lock leadership).

Each run: two server processes on one database (simulator executor, HA timings of
``tests.support.failover.FAST_HA``), a topology, a burst of concurrent creates against the
active, SIGKILL of the active once some creates were acknowledged; then, on this process's
monotonic clock, SIGKILL to the standby's first 200 on ``/readyz`` and to its first successful
create (202, then the /queue's 303). Every run is also checked like the tests check it
(acknowledged volumes there, no operation left, /db/check and drift clean).

    python -m benchmarks.ha_takeover --runs 3 [--dir /path/for/the/database]
        [--second-dir /another/mount/of/the/same/volume] [--json out.json]

``--dir`` defaults to a temporary directory on local disk; give a Gluster FUSE mount to
measure the database on Gluster (``tests/e2e/test_ha_on_gluster.py`` does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from tests.support.failover import burst_and_kill, check_after_failover, running_pair


def one_run(workdir: Path, db_dir: Path, second_db_dir: Path | None) -> dict[str, Any]:
    """One failover; the database file is new in ``db_dir`` (seen as ``second_db_dir`` by the
    second server when given)."""
    name = f"takeover-{uuid.uuid4().hex[:8]}"
    db = db_dir / name / "heketi.db"
    db.parent.mkdir(parents=True)
    second = (second_db_dir / name / "heketi.db") if second_db_dir else None
    with running_pair(workdir / name, db, second_db_path=second) as (active, standby):
        failover = burst_and_kill(active, standby)
        check_after_failover(standby, failover)
    return {
        "readyz_s": round(failover.readyz_s, 3),
        "first_create_s": round(failover.create_s, 3),
        "acknowledged_before_kill": len(failover.acknowledged),
    }


def measure(runs: int, db_dir: Path, second_db_dir: Path | None = None) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="heketipy-takeover-") as work:
        for _ in range(runs):
            results.append(one_run(Path(work), db_dir, second_db_dir))
    return {
        "runs": results,
        "readyz_s_median": statistics.median(r["readyz_s"] for r in results),
        "first_create_s_median": statistics.median(r["first_create_s"] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="where the database lives (default: local)")
    parser.add_argument("--second-dir", type=Path, help="the same volume through another mount")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="heketipy-takeover-db-") as local:
        report = measure(args.runs, args.dir or Path(local), args.second_dir)
    report["database"] = str(args.dir) if args.dir else "local disk (temporary directory)"
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
