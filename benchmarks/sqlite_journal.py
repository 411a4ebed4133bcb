"""Measures what one durable SQLite commit costs per journal mode, the way heketipy's store
opens its database (locking_mode=EXCLUSIVE, synchronous=FULL), to choose the journal mode.

    python -m benchmarks.sqlite_journal [--dir DIR] [--commits N] [--out FILE]

Run it with ``--dir`` on a Gluster FUSE mount to measure the production case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time

MODES = ("WAL", "DELETE", "TRUNCATE")


def measure(directory: str, mode: str, commits: int) -> dict[str, float]:
    path = os.path.join(directory, f"bench-{mode}.db")
    for suffix in ("", "-wal", "-journal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute(f"PRAGMA journal_mode={mode}")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE volumes (id TEXT PRIMARY KEY, cluster_id TEXT, data TEXT)")
    payload = json.dumps({"size": 1, "bricks": ["x" * 32] * 3, "pad": "y" * 600})
    latencies = []
    for i in range(commits):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO volumes VALUES (?, ?, ?)", (f"{i:032x}", "c" * 32, payload))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - started) * 1000)
    conn.close()
    latencies.sort()
    return {
        "mean_ms": round(statistics.fmean(latencies), 3),
        "p50_ms": round(latencies[len(latencies) // 2], 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="heketipy-journal-")
    os.makedirs(directory, exist_ok=True)
    results = {mode: measure(directory, mode, args.commits) for mode in MODES}
    report = {
        "machine": f"{platform.platform()} {os.cpu_count()} cpus",
        "directory": directory,
        "commits": args.commits,
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
