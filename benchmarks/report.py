"""Benchmark results -> the machine description, the target verdicts and the markdown table."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    cpu_model = ""
    memory_mb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "memory_mb": memory_mb,
        "python": sys.version.split()[0],
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def rewrite(json_path: Path) -> None:
    """Recompute the verdicts and the markdown of a stored result (after a report change)."""
    import json

    results = json.loads(json_path.read_text())
    results["targets"] = targets(results)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    json_path.with_suffix(".md").write_text(markdown(results))


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the measured figure and whether it is met."""
    rows: list[dict[str, Any]] = []
    phases = results["phases"]
    fill = phases.get("fill", {})
    bands = [b for b in fill.get("bands", []) if b.get("server_cpu_ms_per_create") is not None]
    if bands:
        first, last = bands[0]["server_cpu_ms_per_create"], bands[-1]["server_cpu_ms_per_create"]
        worst = max(b["server_cpu_ms_per_create"] for b in bands)
        rows.append({"target": "server CPU per create <= 10 ms (every band)",
                     "measured": f"worst band {worst} ms", "ok": worst <= 10})
        # CPU time is read in 10 ms clock ticks: a tiny band (the smoke test's) may show 0.
        ratio = f"{last / first:.2f}x" if first else "first band below the clock tick"
        rows.append({"target": "CPU per create flat: last band <= 1.5x first band",
                     "measured": f"{first} ms -> {last} ms ({ratio})",
                     "ok": last <= 1.5 * first})
    conc = phases.get("concurrent")
    if conc:
        rows.append({"target": f"{conc['count']} creates at concurrency {conc['concurrency']}: "
                               "zero 429s, zero failures",
                     "measured": f"{conc['throttled_429']} x 429, {conc['errors']} failures, "
                                 f"{conc['wall_s']} s wall, p99 {conc['latency'].get('p99_ms')} ms",
                     "ok": conc["throttled_429"] == 0 and conc["errors"] == 0})
    listings = phases.get("listings", {})
    if listings:
        top = max(listings, key=int)
        p50 = listings[top]["get_volumes"]["p50_ms"]
        rows.append({"target": "GET /volumes p50 <= 50 ms at 10,000 volumes",
                     "measured": f"{p50} ms at {top} volumes", "ok": p50 <= 50 if int(top) >= 10000
                     else None})
    if bands:
        rss = bands[-1]["rss_mb"]
        rows.append({"target": "RSS <= 200 MB at 10,000 volumes",
                     "measured": f"{rss} MB at {bands[-1]['to']} volumes",
                     "ok": rss <= 200 if bands[-1]["to"] >= 10000 else None})
    for run in phases.get("mixed", []):
        after = run["after"]
        clean = (after["volumes_left_behind"] == 0 and after["volumes_lost"] == 0
                 and after["db_check_inconsistencies"] == 0 and after["device_space_back"])
        rows.append({
            "target": f"mixed load >= 80 cycles/s, 0 errors, 0 429s, clean after "
                      f"(poll {run['poll_interval_ms']:g} ms)",
            "measured": f"{run['cycles_per_s']} cycles/s, {run['errors']} errors, "
                        f"{run['throttled_429']} x 429, clean afterwards: {clean}",
            "ok": run["cycles_per_s"] >= 80 and run["errors"] == 0
            and run["throttled_429"] == 0 and clean,
        })
    if results["options"]["executor"] != "mock":
        for row in rows:  # the issue sets these targets for the mock executor only
            row["ok"] = None
    crit = phases.get("critical_path")
    if crit:
        rows.append({"target": "100 concurrent creates within 1.3x of the critical-path bound",
                     "measured": f"{crit['wall_s'] * 1000:.0f} ms / {crit['bound_ms']:.0f} ms "
                                 f"= {crit['ratio']:.3f}",
                     "ok": crit["ratio"] <= 1.3})
    return rows


def _latency(row: dict[str, Any]) -> str:
    if not row or not row.get("n"):
        return "-"
    return f"{row['mean_ms']} / {row['p50_ms']} / {row['p99_ms']}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    o = results["options"]
    p = results["phases"]
    lines = [
        f"# heketipy benchmark: {o['executor']} executor, {o['volumes']} volumes",
        "",
        f"Machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['memory_mb']} MB RAM, "
        f"{m['platform']}, Python {m['python']}; commit {m['commit']}; {m['date']}.",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Topology: 6 nodes in 3 zones x 4 devices of 1 TiB. Clients sign a fresh JWT per "
        f"request and poll /queue every {o['poll_interval_ms']:g} ms (heketi-cli: 400 ms); "
        f"the fill polls every {o['fill_poll_ms']:g} ms. Fill volumes are 1 GiB replica "
        f"{o['fill_replica']}. Latency model: {o['latency_ms'] if o['executor'] == 'simulator' else 'none (mock)'}.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for row in results["targets"]:
        lines.append(f"| {row['target']} | {row['measured']} | {_verdict(row['ok'])} |")
    lines += ["", "## Creates and deletes", "",
              "| phase | count | concurrency | poll ms | wall s | ops/s | 429s | errors | "
              "latency mean / p50 / p99 ms | server CPU ms/op |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("sequential", "concurrent", "critical_path", "deletes"):
        row = p.get(name)
        if not row:
            continue
        done = row.get("created", row.get("deleted", 0))
        cpu = row.get("server_cpu_ms_per_create", row.get("server_cpu_ms_per_delete"))
        rate = round(done / row["wall_s"], 2) if row["wall_s"] else 0
        lines.append(f"| {name} | {row['count']} | {row['concurrency']} | "
                     f"{row['poll_interval_ms']:g} | {row['wall_s']} | {rate} | "
                     f"{row['throttled_429']} | {row['errors']} | {_latency(row['latency'])} | "
                     f"{cpu} |")
    crit = p.get("critical_path")
    if crit:
        lines += ["", f"Critical-path bound: {crit['arithmetic']}. Measured "
                  f"{crit['wall_s'] * 1000:.0f} ms, ratio {crit['ratio']:.3f}."]
    bands = p.get("fill", {}).get("bands", [])
    if bands:
        lines += ["", "## Fill (per band)", "",
                  "| volumes | created | creates/s | server CPU ms/create | RSS MB | 429s | errors |",
                  "|---|---|---|---|---|---|---|"]
        for b in bands:
            lines.append(f"| {b['from']}-{b['to']} | {b['created']} | {b['creates_per_s']} | "
                         f"{b['server_cpu_ms_per_create']} | {b['rss_mb']} | "
                         f"{b['throttled_429']} | {b['errors']} |")
    listings = p.get("listings", {})
    if listings:
        lines += ["", "## Listing latency (mean / p50 / p99 ms; server CPU ms per request)", "",
                  "| volumes | GET /volumes | GET /clusters/{id} | GET /volumes/{id} | "
                  "topology info (requests, total ms) |",
                  "|---|---|---|---|---|"]
        for count in sorted(listings, key=int):
            row = listings[count]

            def cell(name: str, row: dict[str, Any] = row) -> str:
                item = row[name]
                return f"{_latency(item)}; {item.get('server_cpu_ms_per_request', '-')}"

            topo = row["topology_info"]
            lines.append(f"| {count} | {cell('get_volumes')} | {cell('get_cluster')} | "
                         f"{cell('get_volume')} | {topo['requests']} req, {topo['total_ms']} ms |")
    for run in p.get("mixed", []):
        after = run["after"]
        lines += ["", f"## Mixed load: {run['clients']} clients, {run['duration_s']:g} s, "
                  f"poll {run['poll_interval_ms']:g} ms, {run['volumes_present']} volumes present",
                  "",
                  f"{run['cycles']} cycles in {run['elapsed_s']} s = **{run['cycles_per_s']} "
                  f"cycles/s**; errors {run['errors']}; 429s {run['throttled_429']}; server CPU "
                  f"{run['server_cpu_ms_per_cycle']} ms/cycle (load generator "
                  f"{run.get('client_cpu_ms_per_cycle')} ms/cycle). Afterwards: "
                  f"{after['volumes_left_behind']} volumes left behind, {after['volumes_lost']} "
                  f"lost, /db/check inconsistencies {after['db_check_inconsistencies']}, all "
                  f"device space back: {after['device_space_back']}.",
                  "", "| step | mean / p50 / p99 ms |", "|---|---|"]
        for step, row in run["steps"].items():
            lines.append(f"| {step} | {_latency(row)} |")
    lines.append("")
    return "\n".join(lines)
