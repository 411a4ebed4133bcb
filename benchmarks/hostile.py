"""Hostile request bodies against a fresh server: how slow does ``/hello`` get meanwhile?

    python -m benchmarks.hostile [--bodies 3] [--body-mb 14] [--out FILE]

Each scenario sends ``--bodies`` concurrent user-role ``POST /volumes`` requests of
``--body-mb`` MB each while a liveness prober opens a new connection for ``GET /hello``
every ``--probe-interval-ms`` (as the kubelet does), and records the worst and typical
``/hello`` latency during the attack next to a quiet baseline. Scenarios:

* ``options``: a valid JSON document carrying a huge ``glustervolumeoptions`` list (the
  parser, the Go-like decoder and the per-option checks see every element);
* ``syntax``: the same document cut short (the exact Go-syntax-error scanner runs over it);
* ``options-chunked``: the ``options`` body with ``Transfer-Encoding: chunked`` (no
  ``Content-Length`` for the server to refuse up front);
* ``at-cap``: ``--at-cap-bodies`` concurrent bodies just under the default 64 KiB cap that
  are as costly to decode as such a body gets: one-character options, cut short so the exact
  Go-syntax-error scanner runs (``--body-mb`` does not apply).

The server has no clusters: whatever it accepts ends in a synchronous error, so the run
measures the request edge (reading, parsing, validating), not volume creation.
Results: ``FILE`` (JSON) and ``FILE`` with ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.report import machine
from benchmarks.server_process import USER_KEY, start_server
from benchmarks.stats import summary
from heketipy.client.token import make_token

SCENARIOS = ("options", "syntax", "options-chunked", "at-cap")
AT_CAP_BYTES = 64 * 1024 - 1
_OPTION = '"performance.quick-read off"'
_WRITE_CHUNK = 256 * 1024


@dataclass
class Options:
    bodies: int = 3
    body_mb: float = 14.0
    probe_interval_ms: float = 20.0
    baseline_s: float = 2.0
    request_timeout_s: float = 120.0
    at_cap_bodies: int = 30
    scenarios: tuple[str, ...] = SCENARIOS


def hostile_body(size_bytes: int, *, truncated: bool, option: str = _OPTION) -> bytes:
    """A volume create whose option list fills ``size_bytes``; ``truncated`` drops the end."""
    head = b'{"size":1,"glustervolumeoptions":['
    count = max(1, (size_bytes - len(head) - 2) // (len(option) + 1))
    body = head + ",".join([option] * count).encode() + b"]}"
    return body[:-2] if truncated else body


def _request_head(host: str, token: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /volumes HTTP/1.1\r\nHost: {host}\r\nAuthorization: bearer {token}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
    ).encode()


async def _read_status(reader: asyncio.StreamReader) -> str:
    line = await reader.readline()
    return line.decode(errors="replace").split(" ", 2)[1] if line.count(b" ") >= 2 else "no reply"


async def send_hostile(host: str, port: int, body: bytes, *, chunked: bool,
                       timeout_s: float) -> dict[str, Any]:
    """One user-role POST /volumes with ``body``; what the server answered and when."""
    started = time.perf_counter()
    token = make_token("user", USER_KEY, "POST", "/volumes")
    reader, writer = await asyncio.open_connection(host, port)
    outcome = "no reply"
    sent = 0
    try:
        async with asyncio.timeout(timeout_s):
            writer.write(_request_head(f"{host}:{port}", token, None if chunked else len(body)))
            try:
                for offset in range(0, len(body), _WRITE_CHUNK):
                    piece = body[offset:offset + _WRITE_CHUNK]
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    await writer.drain()
                    sent += len(piece)
                if chunked:
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
            except ConnectionError:
                pass  # the server stopped reading and closed: its answer may still be readable
            try:
                outcome = await _read_status(reader)
            except ConnectionError as exc:
                outcome = f"connection {type(exc).__name__}"
    except TimeoutError:
        outcome = "timeout"
    finally:
        writer.close()
    return {"status": outcome, "sent_bytes": sent,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}


async def probe_hello(host: str, port: int) -> float:
    """One liveness probe on a new connection; milliseconds until the full reply."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET /hello HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        reply = await reader.read()
        if not reply.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"/hello answered {reply[:60]!r}")
    finally:
        writer.close()
    return (time.perf_counter() - started) * 1000


async def _probe_until(host: str, port: int, stop: asyncio.Event,
                       interval_s: float) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        latencies.append(await probe_hello(host, port))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    return latencies


async def run_scenario(host: str, port: int, scenario: str, options: Options) -> dict[str, Any]:
    bodies = options.bodies
    if scenario == "at-cap":
        body = hostile_body(AT_CAP_BYTES, truncated=True, option='"a"')
        bodies = options.at_cap_bodies
    else:
        body = hostile_body(int(options.body_mb * 1_000_000), truncated=scenario == "syntax")
    chunked = scenario.endswith("-chunked")
    stop = asyncio.Event()
    prober = asyncio.create_task(
        _probe_until(host, port, stop, options.probe_interval_ms / 1000))
    await asyncio.sleep(options.probe_interval_ms / 1000)  # the prober is running first
    started = time.perf_counter()
    replies = await asyncio.gather(*(
        send_hostile(host, port, body, chunked=chunked, timeout_s=options.request_timeout_s)
        for _ in range(bodies)))
    attack_ms = (time.perf_counter() - started) * 1000
    await asyncio.sleep(0.5)  # let the server finish whatever it still does
    stop.set()
    latencies = await prober
    return {"scenario": scenario, "body_bytes": len(body), "attack_wall_ms": round(attack_ms, 1),
            "hostile_replies": replies, "hello": summary(latencies)}


async def run_all(base_url: str, options: Options) -> dict[str, Any]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
    stop = asyncio.Event()
    baseline_task = asyncio.create_task(
        _probe_until(host, port, stop, options.probe_interval_ms / 1000))
    await asyncio.sleep(options.baseline_s)
    stop.set()
    baseline = summary(await baseline_task)
    scenarios = [await run_scenario(host, port, name, options) for name in options.scenarios]
    return {"baseline_hello": baseline, "scenarios": scenarios}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    o = results["options"]
    lines = [
        "# Hostile bodies vs. the liveness probe",
        "",
        f"`{results['command']}`, commit {m['commit']}, {m['date']}; {m['cpus']} CPUs "
        f"({m['cpu_model']}), Python {m['python']}.",
        "",
        f"{o['bodies']} concurrent user-role `POST /volumes` of {o['body_mb']} MB each; "
        f"`GET /hello` on a new connection every {o['probe_interval_ms']} ms.",
        "",
        f"Quiet baseline: `/hello` p50 {results['baseline_hello'].get('p50_ms')} ms, "
        f"worst {results['baseline_hello'].get('max_ms')} ms.",
        "",
        "| scenario | hostile replies (status, ms) | `/hello` probes | p50 ms | worst ms |",
        "|---|---|---|---|---|",
    ]
    for row in results["scenarios"]:
        replies = _replies_text(row["hostile_replies"])
        hello = row["hello"]
        lines.append(f"| {row['scenario']} | {replies} | {hello.get('n')} | "
                     f"{hello.get('p50_ms')} | **{hello.get('max_ms')}** |")
    return "\n".join(lines) + "\n"


def _replies_text(replies: list[dict[str, Any]]) -> str:
    if len(replies) <= 3:
        return ", ".join(f"{r['status']} in {r['elapsed_ms']:.0f}" for r in replies)
    statuses = sorted({r["status"] for r in replies})
    slowest = max(r["elapsed_ms"] for r in replies)
    return f"{len(replies)} x {'/'.join(statuses)}, slowest in {slowest:.0f}"


def run(options: Options, out: Path | None, command: str = "") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="heketipy-hostile-") as directory:
        server = start_server(Path(directory), "mock", {})
        try:
            measured = asyncio.run(run_all(server.base_url, options))
        finally:
            server.stop()
    results = {"command": command, "machine": machine(), "options": asdict(options), **measured}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(results))
    return results


def parse_args(argv: list[str]) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=3)
    parser.add_argument("--body-mb", type=float, default=14.0)
    parser.add_argument("--at-cap-bodies", type=int, default=30)
    parser.add_argument("--probe-interval-ms", type=float, default=20.0)
    parser.add_argument("--baseline-s", type=float, default=2.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file (+ .md)")
    args = parser.parse_args(argv)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return Options(bodies=args.bodies, body_mb=args.body_mb, at_cap_bodies=args.at_cap_bodies,
                   probe_interval_ms=args.probe_interval_ms, baseline_s=args.baseline_s,
                   scenarios=scenarios), args.out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, out = parse_args(argv)
    results = run(options, out, "python -m benchmarks.hostile " + " ".join(argv))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
