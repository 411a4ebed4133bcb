"""`heketipy-cli server metrics`: a short human summary of the server's ``/metrics``.

Reads the exposition with prometheus_client's text parser and prints heketipy's own series
(``heketipy_*``, see heketipy/operations/metrics.py): leadership, queue depth and operations in
flight, operations by type and outcome with p50/p95 from their histograms, failing node
commands, the slowest node commands, the fullest devices, placement refusals, database commits
and the last drift scan. Percentiles are estimated from the histogram buckets as Prometheus'
``histogram_quantile`` does: linear within the bucket the rank falls in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]

FULLEST_DEVICES = 5
SLOWEST_COMMANDS = 5


@dataclass
class Histogram:
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    count: float = 0.0

    def quantile(self, q: float) -> float | None:
        """Prometheus' ``histogram_quantile``; None without observations. A rank in the +Inf
        bucket answers the highest finite bound."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        finite = [b for b in sorted(self.buckets) if not math.isinf(b)]
        for bound in finite:
            cumulative = self.buckets[bound]
            if cumulative >= rank:
                width = cumulative - lower_count
                if width <= 0:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / width
            lower_bound, lower_count = bound, cumulative
        return finite[-1] if finite else None


@dataclass
class Scrape:
    """The samples of one exposition: plain values and histograms, by name and labels."""

    values: dict[str, dict[Labels, float]] = field(default_factory=dict)
    histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=dict)

    def value(self, name: str, default: float = 0.0) -> float:
        return self.values.get(name, {}).get((), default)

    def rows(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(labels), value) for labels, value in self.values.get(name, {}).items()]


def parse(text: str) -> Scrape:
    from prometheus_client.parser import text_string_to_metric_families

    scrape = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if family.type == "histogram" and sample.name.endswith(("_bucket", "_count")):
                le = labels.pop("le", None)
                key = tuple(sorted(labels.items()))
                histogram = scrape.histograms.setdefault(family.name, {}).setdefault(
                    key, Histogram()
                )
                if le is not None:
                    histogram.buckets[float(le)] = sample.value
                else:
                    histogram.count = sample.value
                continue
            scrape.values.setdefault(sample.name, {})[tuple(sorted(labels.items()))] = (
                sample.value
            )
    return scrape


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def _table(header: Iterable[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    all_rows = [list(header), *rows]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(all_rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in all_rows
    ]


def _count(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _operations(scrape: Scrape) -> list[str]:
    finished = scrape.rows("heketipy_operations_finished_total")
    if not finished:
        return ["Operations: none finished"]
    durations = scrape.histograms.get("heketipy_operation_duration_seconds", {})
    rows = []
    for labels, count in sorted(finished, key=lambda r: (r[0]["type"], r[0]["outcome"])):
        histogram = durations.get(tuple(sorted(labels.items())), Histogram())
        rows.append([labels["type"], labels["outcome"], _count(count),
                     _seconds(histogram.quantile(0.5)), _seconds(histogram.quantile(0.95))])
    return ["Operations:", *_table(["TYPE", "OUTCOME", "COUNT", "P50", "P95"], rows)]


def _node_commands(scrape: Scrape) -> list[str]:
    failures = scrape.rows("heketipy_node_command_failures_total")
    lines = []
    if failures:
        rows = [
            [labels["command"], labels["node"], labels["exit_code"], _count(count)]
            for labels, count in sorted(failures, key=lambda r: (-r[1], sorted(r[0].items())))
        ]
        lines += ["Failing node commands:",
                  *_table(["COMMAND", "NODE", "EXIT", "COUNT"], rows)]
    else:
        lines.append("Failing node commands: none")
    durations = scrape.histograms.get("heketipy_node_command_duration_seconds", {})
    slowest = sorted(
        ((dict(labels), h) for labels, h in durations.items() if h.count),
        key=lambda item: -(item[1].quantile(0.95) or 0),
    )[:SLOWEST_COMMANDS]
    if slowest:
        rows = [[labels["command"], labels["node"], _count(h.count),
                 _seconds(h.quantile(0.5)), _seconds(h.quantile(0.95))]
                for labels, h in slowest]
        lines += ["Slowest node commands:",
                  *_table(["COMMAND", "NODE", "COUNT", "P50", "P95"], rows)]
    return lines


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _devices(scrape: Scrape) -> list[str]:
    sizes = scrape.values.get("heketipy_device_size_bytes", {})
    if not sizes:
        return ["Devices: none"]
    used = scrape.values.get("heketipy_device_used_bytes", {})
    data = scrape.values.get("heketipy_device_thinpool_data_used_ratio", {})
    metadata = scrape.values.get("heketipy_device_thinpool_metadata_used_ratio", {})

    def fill(key: Labels) -> float:
        return used.get(key, 0.0) / sizes[key] if sizes[key] else 0.0

    rows = []
    for key in sorted(sizes, key=lambda k: (-fill(k), k))[:FULLEST_DEVICES]:
        labels = dict(key)
        rows.append([labels["device"], labels["node"], _percent(fill(key)),
                     f"{sizes[key] / 2**30:.1f}", _percent(data.get(key)),
                     _percent(metadata.get(key))])
    return [f"Fullest devices ({len(rows)} of {len(sizes)}):",
            *_table(["DEVICE", "NODE", "USED", "SIZE GiB", "THINPOOL DATA", "METADATA"], rows)]


def _drift(scrape: Scrape, now_s: float) -> list[str]:
    last = scrape.value("heketipy_drift_last_scan_timestamp_seconds")
    if not last:
        return ["Drift: no scan yet (heketipy.drift_scan_interval_s)"]
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last))
    found = [
        f"{labels['kind']} {labels['problem']}: {_count(count)}"
        for labels, count in sorted(scrape.rows("heketipy_drift_objects"),
                                    key=lambda r: sorted(r[0].items()))
        if count
    ]
    ago = max(0, int(now_s - last))
    return [f"Drift: last scan {when} ({ago}s ago): " + ("; ".join(found) or "none found")]


def summary(text: str, now_s: float | None = None) -> str:
    """The summary of the exposition ``text``."""
    scrape = parse(text)
    if not any(name.startswith("heketipy_") for name in (*scrape.values, *scrape.histograms)):
        return "The server exposes no heketipy metrics (is it Heketi rather than heketipy?)\n"
    leader = scrape.values.get("heketipy_leader", {}).get(())
    leader_text = "-" if leader is None else "active" if leader == 1 else "standby"
    refusals = [
        f"{labels['reason']}: {_count(count)}"
        for labels, count in sorted(scrape.rows("heketipy_placement_refusals_total"),
                                    key=lambda r: r[0]["reason"])
    ]
    commits = scrape.histograms.get("heketipy_db_commit_duration_seconds", {}).get((), Histogram())
    lines = [
        f"Server: {leader_text}",
        f"Queue: {_count(scrape.value('heketipy_queue_waiting_requests'))} waiting, "
        f"{_count(scrape.value('heketipy_operations_in_flight'))} in flight, "
        f"{_count(scrape.value('heketipy_http_throttled_total'))} refused with 429",
        *_operations(scrape),
        *_node_commands(scrape),
        *_devices(scrape),
        "Placement refusals: " + ("; ".join(refusals) or "none"),
        f"Database commits: {_count(commits.count)}, p50 {_seconds(commits.quantile(0.5))}, "
        f"p95 {_seconds(commits.quantile(0.95))}",
        *_drift(scrape, time.time() if now_s is None else now_s),
    ]
    return "\n".join(lines) + "\n"
