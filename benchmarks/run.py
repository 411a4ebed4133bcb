"""The benchmark command: one fresh server, every phase of issue 6, JSON + markdown results.

    python -m benchmarks.run --executor mock|simulator --volumes N --concurrency C --out FILE
    python -m benchmarks.run --executor ssh|kubernetes --testbed [...]   (benchmarks/on_testbed.py)

Phases, in order: topology (6 nodes in 3 zones x 4 devices of 1 TiB); (simulator) the
critical-path run of 100 concurrent creates on the empty cluster; sequential creates; listing
at 200 volumes; concurrent creates; the fill to N volumes in bands of 1,000 with listing at 1,000 and N;
deletes; the mixed load (at the heketi-cli poll interval and at a short one, 50 ms).
``--out`` names the JSON file; the markdown table is written beside it (``.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import phases, testbed_report
from benchmarks.client import BenchClient
from benchmarks.critical_path import lower_bound_async
from benchmarks.on_testbed import OnTestbedOptions, run_testbed_benchmark
from benchmarks.report import machine, markdown, targets
from benchmarks.server_process import ADMIN_KEY, start_server
from tests.e2e.testbed import Testbed

DEFAULT_LATENCY_MS = {"lvm": 20.0, "fs": 20.0, "gluster": 150.0}
ALL_PHASES = ("critical_path", "sequential", "concurrent", "fill", "deletes", "mixed")


@dataclass
class Options:
    executor: str = "mock"
    volumes: int = 10000
    concurrency: int = 32
    poll_interval_ms: float = 400.0
    fill_poll_ms: float = 400.0
    fill_replica: int = 2
    sequential: int = 200
    concurrent: int = 200
    critical_path_creates: int = 100
    deletes: int = 200
    band_size: int = 1000
    listing_at: tuple[int, ...] = (200, 1000, 10000)
    listing_samples: int = 20
    mixed_clients: int = 32
    mixed_duration_s: float = 20.0
    mixed_poll_ms: tuple[float, ...] = (400.0, 50.0)
    latency_ms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LATENCY_MS))
    skip: tuple[str, ...] = ()
    profile: str = ""  # a cProfile output file for the server process, "" for none


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_phases(options: Options, base_url: str, server: Any,
                     log: Any = _log) -> dict[str, Any]:
    results: dict[str, Any] = {}
    wanted = [p for p in ALL_PHASES if p not in options.skip]
    if options.executor != "simulator":
        wanted = [p for p in wanted if p != "critical_path"]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = BenchClient(base_url, ADMIN_KEY, session,
                             poll_interval_s=options.poll_interval_ms / 1000)
        bench = phases.Bench(client, server)
        results["topology"] = await phases.setup_topology(bench)
        results["rss_mb_empty"] = round(server.rss_mb(), 1)
        log(f"topology ready; server rss {results['rss_mb_empty']} MB")
        listings: dict[str, Any] = {}
        results["listings"] = listings
        fill_poll_s = options.fill_poll_ms / 1000

        async def listing_if_due() -> None:
            count = len(bench.volume_ids)
            if count in options.listing_at and str(count) not in listings:
                listings[str(count)] = await phases.measure_listing(bench, options.listing_samples)
                log(f"listing at {count}: GET /volumes p50 "
                    f"{listings[str(count)]['get_volumes']['p50_ms']} ms")

        if "critical_path" in wanted:
            bound = await lower_bound_async(options.critical_path_creates, options.latency_ms)
            crit = await phases.create_volumes(
                bench, options.critical_path_creates, options.critical_path_creates)
            crit.update({k: bound[k] for k in ("bound_ms", "arithmetic", "commands")})
            crit["ratio"] = round(crit["wall_s"] * 1000 / bound["bound_ms"], 4)
            results["critical_path"] = crit
            log(f"critical path: {crit['wall_s']} s vs bound {bound['bound_ms']} ms "
                f"= {crit['ratio']}")
        if "sequential" in wanted:
            results["sequential"] = await phases.create_volumes(bench, options.sequential, 1)
            log(f"sequential: {results['sequential']['latency']}")
            await listing_if_due()
        if "concurrent" in wanted:
            results["concurrent"] = await phases.create_volumes(
                bench, options.concurrent, options.concurrency)
            log(f"concurrent: {results['concurrent']['wall_s']} s, "
                f"{results['concurrent']['throttled_429']} x 429")
            await listing_if_due()
        if "fill" in wanted and len(bench.volume_ids) < options.volumes:
            filled = await phases.fill(
                bench, options.volumes, options.concurrency, options.band_size,
                options.fill_replica, fill_poll_s,
                tuple(p for p in options.listing_at if p > len(bench.volume_ids)),
                options.listing_samples, log)
            results["fill"] = {"bands": filled["bands"]}
            listings.update(filled["listings"])
        await listing_if_due()
        if "deletes" in wanted:
            count = min(options.deletes, len(bench.volume_ids))
            results["deletes"] = await phases.delete_volumes(bench, count, options.concurrency)
            log(f"deletes: {results['deletes']['wall_s']} s")
        if "mixed" in wanted:
            results["mixed"] = []
            for poll_ms in options.mixed_poll_ms:
                run = await phases.mixed(bench, options.mixed_clients, options.mixed_duration_s,
                                         poll_ms / 1000)
                results["mixed"].append(run)
                log(f"mixed (poll {poll_ms} ms): {run['cycles_per_s']} cycles/s, "
                    f"{run['errors']} errors, after {run['after']}")
        results["rss_mb_end"] = round(server.rss_mb(), 1)
        results["wire"] = client.counters.snapshot()
    return results


def run_benchmark(options: Options, out: Path | None = None, command: str = "",
                  log: Any = _log) -> dict[str, Any]:
    """Start a fresh server on a temporary database, run the phases, write the results."""
    with tempfile.TemporaryDirectory(prefix="heketipy-bench-") as directory:
        server = start_server(Path(directory), options.executor, options.latency_ms,
                              profile_to=Path(options.profile).resolve() if options.profile else None)
        log(f"server pid {server.pid} at {server.base_url} ({options.executor})")
        try:
            measured = asyncio.run(run_phases(options, server.base_url, server, log))
        except BaseException:
            log(f"server log tail:\n{server.log_path.read_text()[-3000:]}")
            raise
        finally:
            server.stop()
    options_view = asdict(options)
    results: dict[str, Any] = {
        "command": command,
        "machine": machine(),
        "options": options_view,
        "phases": measured,
    }
    results["targets"] = targets(results)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(results))
        log(f"wrote {out} and {out.with_suffix('.md')}")
    return results


def run_on_testbed(options: OnTestbedOptions, out: Path, command: str,
                   bed: Testbed | None = None) -> dict[str, Any]:
    """The testbed benchmark (on ``bed``, else one brought up for it): its JSON and the
    markdown beside it."""
    results: dict[str, Any] = {
        "command": command, "machine": machine(),
        "options": {k: v for k, v in asdict(options).items() if k != "log"},
    }  # fmt: skip
    results.update(run_testbed_benchmark(options, bed))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(testbed_report.markdown(results) + "\n")
    options.log(f"wrote {out} and {out.with_suffix('.md')}")
    return results


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def parse_args(argv: list[str]) -> tuple[Options | OnTestbedOptions, Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=("mock", "simulator", "ssh", "kubernetes"),
                        default="mock", help="ssh and kubernetes need --testbed")
    parser.add_argument("--testbed", action="store_true",
                        help="run on the namespace testbed (real glusterd; benchmarks/on_testbed.py)")
    parser.add_argument("--volumes", type=int, default=10000, help="fill target N")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON result file (default benchmarks/results/<executor>-<N>.json)")
    parser.add_argument("--poll-interval-ms", type=float, default=400.0,
                        help="client /queue poll interval (heketi-cli: 400)")
    parser.add_argument("--fill-poll-ms", type=float, default=400.0,
                        help="poll interval of the fill phase")
    parser.add_argument("--fill-replica", type=int, default=2,
                        help="replica count of fill volumes (10,000 x replica 3 x 1 GiB needs "
                             "30 TiB, more than the 24 TiB topology)")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--critical-path-creates", type=int, default=100)
    parser.add_argument("--deletes", type=int, default=200)
    parser.add_argument("--band-size", type=int, default=1000)
    parser.add_argument("--listing-at", default="200,1000,10000",
                        help="volume counts at which listing latency is measured (N is added)")
    parser.add_argument("--listing-samples", type=int, default=20)
    parser.add_argument("--mixed-clients", type=int, default=32)
    parser.add_argument("--mixed-duration-s", type=float, default=20.0)
    parser.add_argument("--mixed-poll-ms", default="400,50",
                        help="poll intervals the mixed phase runs with, one run each")
    parser.add_argument("--latency-ms", default=json.dumps(DEFAULT_LATENCY_MS),
                        help='simulator latency model, JSON like {"lvm": 20, "fs": 20, '
                             '"gluster": 150}')
    parser.add_argument("--skip", default="", help=f"phases to skip, of {','.join(ALL_PHASES)}")
    parser.add_argument("--profile", default="",
                        help="run the server under cProfile and write its profile here "
                             "(slows the server: measure without it)")
    testbed = parser.add_argument_group("--testbed", "options of the testbed benchmark")
    testbed.add_argument("--sequential-creates", type=int, default=3)
    testbed.add_argument("--concurrent-creates", default="1,5,10",
                         help="N of each concurrent-create phase")
    testbed.add_argument("--node-concurrency", default="",
                         help="heketipy.node_command_concurrency values, one server each "
                              "(default: the server's default)")
    testbed.add_argument("--expansion", default="in-place",
                         help="heketipy.volume_expansion of the expand phase")
    testbed.add_argument("--runs", type=int, default=1,
                         help="repetitions of each node concurrency value, alternating")
    args = parser.parse_args(argv)
    if args.executor in ("ssh", "kubernetes") or args.testbed:
        if not args.testbed or args.executor not in ("ssh", "kubernetes"):
            parser.error("the ssh and kubernetes executors run only with --testbed, and "
                         "--testbed only with them")
        def counts(text: str, flag: str) -> tuple[int, ...]:
            words = [w.strip() for w in text.split(",") if w.strip()]
            if not all(w.isdigit() and int(w) > 0 for w in words):
                parser.error(f"{flag} takes positive integers separated by commas (got {text!r})")
            return tuple(int(w) for w in words)

        return OnTestbedOptions(
            executor=args.executor, sequential=args.sequential_creates,
            concurrent=counts(args.concurrent_creates, "--concurrent-creates"),
            node_concurrency=counts(args.node_concurrency, "--node-concurrency") or (None,),
            expansion=args.expansion, runs=args.runs, log=_log,
        ), args.out or Path("benchmarks/results") / f"testbed-{args.executor}.json"  # fmt: skip
    listing = {int(x) for x in _floats(args.listing_at) if x <= args.volumes} | {args.volumes}
    options = Options(
        executor=args.executor, volumes=args.volumes, concurrency=args.concurrency,
        poll_interval_ms=args.poll_interval_ms, fill_poll_ms=args.fill_poll_ms,
        fill_replica=args.fill_replica, sequential=args.sequential, concurrent=args.concurrent,
        critical_path_creates=args.critical_path_creates, deletes=args.deletes,
        band_size=args.band_size, listing_at=tuple(sorted(listing)),
        listing_samples=args.listing_samples, mixed_clients=args.mixed_clients,
        mixed_duration_s=args.mixed_duration_s, mixed_poll_ms=_floats(args.mixed_poll_ms),
        latency_ms={k: float(v) for k, v in json.loads(args.latency_ms).items()},
        skip=tuple(s.strip() for s in args.skip.split(",") if s.strip()),
        profile=args.profile,
    )
    out = args.out or Path("benchmarks/results") / f"{args.executor}-{args.volumes}.json"
    return options, out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, out = parse_args(argv)
    command = "python -m benchmarks.run " + shlex.join(argv)
    if isinstance(options, OnTestbedOptions):
        run_on_testbed(options, out, command)
        print(out.with_suffix(".md").read_text())
        return 0
    results = run_benchmark(options, out, command)
    for row in results["targets"]:
        verdict = "n/a" if row["ok"] is None else ("met" if row["ok"] else "MISSED")
        print(f"{verdict:7} {row['target']}: {row['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
