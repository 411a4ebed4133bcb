"""Where a volume create's server time goes, per band of volumes: timed sections, no profiler.

    python -m benchmarks.sections --volumes 10000 [--band-size 1000] [--concurrency 32]

Runs the real aiohttp app (``heketipy.server.build``, mock executor, SQLite in a temporary
directory) inside this process and drives it over 127.0.0.1 with the benchmark client, after
wrapping chosen synchronous server functions with timers of the calling thread's CPU time
(``time.thread_time``: immune to other processes and to GIL hand-offs). Sections nest (``plan``
contains ``cluster_views`` contains ``volume_names``); each figure is milliseconds per create
in that band, over all calls made during the band (requests, polls and operations alike).
cProfile inflates pure-Python byte-level code many times over; these timers do not.
``process_cpu_ms_per_create`` is this whole process (server and client together).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks import phases
from benchmarks.client import BenchClient
from benchmarks.server_process import (
    ADMIN_KEY,
    DEVICE_SIZE_GB,
    process_cpu_seconds,
    process_rss_mb,
    write_config,
)

TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            TOTALS[name] += time.thread_time() - started
            CALLS[name] += 1

    return wrapper


def _patch(owner: Any, attribute: str, name: str) -> None:
    raw = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
    if isinstance(raw, staticmethod):
        setattr(owner, attribute, staticmethod(_timed(name, raw.__func__)))
    else:
        setattr(owner, attribute, _timed(name, raw))


def instrument() -> list[str]:
    """Wrap the sections; returns their names. Must run before the app is built."""
    from heketipy.api import auth, responses, routes_volumes
    from heketipy.domain import placement
    from heketipy.domain.state import State, Transaction
    from heketipy.gocompat import json_encode
    from heketipy.operations import placement_view, volumes
    from heketipy.store.sqlite import Store

    targets = [
        (auth, "authenticate", "auth.authenticate (api/auth.py)"),
        (volumes.CreateVolume, "plan", "CreateVolume.plan (operations/volumes.py)"),
        (placement_view, "cluster_views", "placement_view.cluster_views"),
        (State, "volume_names", "State.volume_names (domain/state.py)"),
        (placement, "allocate_in_clusters", "placement.allocate_in_clusters"),
        (volumes.CreateVolume, "finalize", "CreateVolume.finalize"),
        (Transaction, "_remember", "Transaction._remember deepcopy (domain/state.py)"),
        (Transaction, "changes", "Transaction.changes"),
        (Store, "_encode", "Store._encode to_record+json (store/sqlite.py)"),
        (Store, "_write_batch", "Store._write_batch (sqlite thread)"),
        (json_encode, "dumps", "json_encode.dumps (gocompat/json_encode.py)"),
        (routes_volumes, "volume_view", "views.volume_view"),
    ]
    del responses  # imported so json_encode.dumps is looked up through the module at call time
    for owner, attribute, name in targets:
        _patch(owner, attribute, name)
    return [name for _owner, _attribute, name in targets]


class _SelfProbe:
    def cpu_seconds(self) -> float:
        return process_cpu_seconds(os.getpid())

    def rss_mb(self) -> float:
        return process_rss_mb(os.getpid())


async def _run(volumes: int, band_size: int, concurrency: int, replica: int, poll_ms: float,
               directory: Path) -> list[dict[str, Any]]:
    names = instrument()
    from heketipy.config import load_settings
    from heketipy.server import build

    config = write_config(directory, "mock", {})
    settings = load_settings(str(config), {"HEKETI_MOCK_DEVICE_SIZE_GB": str(DEVICE_SIZE_GB)})
    app = build(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rows: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            client = BenchClient(f"http://127.0.0.1:{port}", ADMIN_KEY, session,
                                 poll_interval_s=poll_ms / 1000)
            bench = phases.Bench(client, _SelfProbe())
            await phases.setup_topology(bench)
            while len(bench.volume_ids) < volumes:
                start = len(bench.volume_ids)
                TOTALS.clear()
                CALLS.clear()
                result = await phases.create_volumes(
                    bench, min(band_size, volumes - start), concurrency, replica=replica)
                created = result["created"] or 1
                row = {"from": start, "to": len(bench.volume_ids),
                       "process_cpu_ms_per_create": result["server_cpu_ms_per_create"],
                       "creates_per_s": result["creates_per_s"],
                       "rss_mb": round(process_rss_mb(os.getpid()), 1),
                       "sections_ms_per_create": {
                           n: round(TOTALS[n] * 1000 / created, 3) for n in names},
                       "calls_per_create": {n: round(CALLS[n] / created, 2) for n in names}}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sections", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=2000)
    parser.add_argument("--band-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--replica", type=int, default=2)
    parser.add_argument("--poll-interval-ms", type=float, default=400.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="heketipy-sections-") as directory:
        rows = asyncio.run(_run(args.volumes, args.band_size, args.concurrency, args.replica,
                                args.poll_interval_ms, Path(directory)))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
