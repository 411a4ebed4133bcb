"""The markdown table of the testbed benchmark (``benchmarks/on_testbed.py``): medians per
``node_command_concurrency`` value, the glusterd bound and ratio per phase, the issue's targets,
and the per-command timings behind them."""

from __future__ import annotations

import statistics
from typing import Any

RATIO_TARGET = 1.3  # issue 14: N concurrent creates within 1.3x of the glusterd bound
UPSTREAM_COMMANDS_PER_BRICK = 6  # Heketi: mkdir, lvcreate, mkfs.xfs, fstab, mount, brick dir


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def _label(node_concurrency: int | None) -> str:
    return "server default" if node_concurrency is None else str(node_concurrency)


def _by_setting(results: dict[str, Any]) -> dict[int | None, list[dict[str, Any]]]:
    grouped: dict[int | None, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        grouped.setdefault(run["node_concurrency"], []).append(run["phases"])
    return grouped


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per node concurrency value: medians over its runs."""
    rows = []
    for setting, runs in _by_setting(results).items():
        row: dict[str, Any] = {
            "node_concurrency": setting,
            "runs": len(runs),
            "topology_load_s": _median([r["topology_load_s"] for r in runs]),
            "sequential_create_s": _median([r["sequential"]["median_create_s"] for r in runs]),
            "expand_s": _median([r["expand"]["wall_s"] for r in runs]),
            "deletes_s": _median([r["deletes"]["wall_s"] for r in runs]),
            "deletes_ratio": _median([r["deletes"]["ratio"] for r in runs]),
        }
        for count in runs[0]["concurrent"]:
            phases = [r["concurrent"][count] for r in runs]
            row[f"creates_{count}"] = {
                "wall_s": _median([p["wall_s"] for p in phases]),
                "bound_s": _median([p["glusterd_bound_s"] for p in phases]),
                "ratio": _median([p["ratio"] for p in phases]),
                "ratio_with_first_bricks": _median(
                    [p.get("ratio_with_first_bricks", p["ratio"]) for p in phases]),
            }
        rows.append(row)
    return rows


def _commands_table(title: str, commands: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{title}:", "", "| command | count | mean ms | max ms | total ms |",
             "|---|---|---|---|---|"]
    lines += [f"| `{name}` | {v['count']} | {v['mean_ms']} | {v['max_ms']} | {v['total_ms']} |"
              for name, v in commands.items()]
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    executor = results["options"]["executor"]
    testbed = results["testbed"]
    machine = results["machine"]
    rows = summary_rows(results)
    counts = [key.removeprefix("creates_") for key in rows[0] if key.startswith("creates_")]
    lines = [
        f"# heketipy on the namespace testbed, {executor} executor",
        "",
        f"`{results['command']}`",
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_mb']} MB, "
        f"Python {machine['python']}, commit {machine['commit']}, {machine['date']}. Testbed: "
        f"{testbed['nodes']} nodes x {testbed['devices_per_node']} devices of "
        f"{testbed['device_size_gb']} GiB (real glusterd, XFS and LVM tools; thin LVs on the "
        "shim's loop images), one trusted pool, all on this machine. Volumes: 1 GiB replica 3. "
        "Times are wall seconds from the request to the final /queue answer.",
        "",
        "The glusterd bound of a phase is the sum of its gluster command durations: one pool runs "
        "them one at a time, so no schedule can beat it. `+bricks` adds the part of a single "
        "create glusterd cannot overlap (its own bricks, API and journal).",
        "",
        "| node_command_concurrency | runs | topology load | sequential create (median) | "
        + " | ".join(f"{n} concurrent creates: wall / bound / ratio (+bricks)" for n in counts)
        + " | expand | concurrent deletes (ratio) |",
        "|---" * (6 + len(counts)) + "|",
    ]
    for row in rows:
        cells = [_label(row["node_concurrency"]), str(row["runs"]), f"{row['topology_load_s']}",
                 f"{row['sequential_create_s']}"]
        for n in counts:
            c = row[f"creates_{n}"]
            cells.append(f"{c['wall_s']} / {c['bound_s']} / **{c['ratio']}** "
                         f"({c['ratio_with_first_bricks']})")
        cells += [f"{row['expand_s']}", f"{row['deletes_s']} ({row['deletes_ratio']})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Targets", ""]
    for row in rows:
        for n in counts:
            ratio = row[f"creates_{n}"]["ratio"]
            verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
            lines.append(f"- {verdict}: {n} concurrent creates within {RATIO_TARGET}x of the "
                         f"glusterd bound (node_command_concurrency "
                         f"{_label(row['node_concurrency'])}): {ratio}")
    first = results["runs"][0]["phases"]
    per_brick = first["sequential"]["node_commands_per_brick"]
    verdict = "met" if per_brick <= UPSTREAM_COMMANDS_PER_BRICK else "MISSED"
    lines += [
        f"- {verdict}: at most Heketi's {UPSTREAM_COMMANDS_PER_BRICK} node commands per brick: "
        f"{per_brick} (and {first['sequential']['gluster_commands_per_volume']} gluster "
        "commands per volume)",
        "- after every run: drift clean "
        f"{all(r['phases']['after']['drift_clean'] for r in results['runs'])}, pending "
        f"operations {sum(r['phases']['after']['pending_operations'] for r in results['runs'])}",
        "",
        f"## Node commands (first run, node_command_concurrency "
        f"{_label(results['runs'][0]['node_concurrency'])})",
        "",
    ]
    lines += [
        "| phase | wall s | glusterd bound s | ratio | node commands | machine CPU busy | "
        "heketipy server CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    phases = {"sequential creates": first["sequential"],
              **{f"{n} concurrent creates": first["concurrent"][n] for n in counts},
              "expand": first["expand"], "concurrent deletes": first["deletes"]}
    for name, phase in phases.items():
        lines.append(
            f"| {name} | {phase['wall_s']} | {phase['glusterd_bound_s']} | {phase['ratio']} | "
            f"{phase['node_commands']} | {phase['machine_busy_pct']} % | "
            f"{phase['server_cpu_s']} |")
    lines.append("")
    lines += _commands_table(
        f"Sequential creates ({first['sequential']['volumes']})", first["sequential"]["commands"])
    largest = counts[-1]
    lines += _commands_table(f"{largest} concurrent creates",
                             first["concurrent"][largest]["commands"])
    lines += _commands_table(f"Expand ({first['expand']['mode']})", first["expand"]["commands"])
    lines += _commands_table(f"{first['deletes']['volumes']} concurrent deletes",
                             first["deletes"]["commands"])
    return "\n".join(lines)
