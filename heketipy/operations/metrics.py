"""heketipy's own Prometheus series (``heketipy_*``), one registry per ``Runtime``.

Heketi's ``heketi_*`` gauges stay hand-rendered by ``api.metrics``: prometheus_client writes
sample values with Python's float repr (``1.0``) where Heketi's Go client writes ``1``, so
those series could not stay byte-exact through it. Everything here uses prometheus_client's
registry and text exposition; each ``Runtime`` owns a registry of its own, so many servers
in one process (the tests) never share a series.

Every label value is bounded and never user input: operation type names, node/device/cluster
ids, route templates, the command vocabulary of ``executors.command_names``, and the fixed
vocabularies below. Families (names and labels are a contract with deploy/monitoring):

- ``heketipy_operation_duration_seconds{type,outcome}``: from ``Runtime.start`` (planning,
  waiting in the queue, execution) to the end; ``heketipy_operations_started_total{type}``
  (accepted: planned and queued), ``heketipy_operations_finished_total{type,outcome}`` with
  ``outcome`` one of ``OUTCOMES``: ``succeeded``; ``rolled_back`` (failed, and everything it
  did was undone); ``failed`` (failed and could not be undone, or unjournaled work failed).
  Work interrupted by a shutdown is not finished: the journal resumes it at the next start.
- ``heketipy_node_command_duration_seconds{command,node}``,
  ``heketipy_node_command_failures_total{command,node,exit_code}``: ``node`` is the node id
  (``unregistered`` for a host that is not yet a node, e.g. during node add).
- ``heketipy_http_requests_total{route,method,status}``,
  ``heketipy_http_request_duration_seconds{route,method}``, ``heketipy_http_throttled_total``.
- ``heketipy_queue_waiting_requests``, ``heketipy_queue_capacity_requests``,
  ``heketipy_operations_in_flight``.
- ``heketipy_placement_refusals_total{reason}`` with ``reason`` from ``REFUSAL_REASONS``.
- ``heketipy_device_{size,used,free}_bytes{cluster,node,device}`` and
  ``heketipy_device_thinpool_{data,metadata}_used_ratio{cluster,node,device}``.
- ``heketipy_db_commit_duration_seconds``, ``heketipy_db_commit_batch_size``.
- ``heketipy_drift_objects{kind,problem}``, ``heketipy_drift_last_scan_timestamp_seconds``.
- ``heketipy_leader``: 1 while this server is the active one, 0 on a standby.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from heketipy.domain import placement as pl
from heketipy.domain.state import State
from heketipy.domain.units import BYTES_PER_KIB

# ``<name>_created`` samples would double every counter and histogram for a timestamp nobody
# graphs; the setting is process-wide, and this module is the only user of the library.
disable_created_metrics()

OUTCOMES = ("succeeded", "failed", "rolled_back")
UNREGISTERED_NODE = "unregistered"
UNMATCHED_ROUTE = "unmatched"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"

# The "No space" family and its neighbours: placement's refusal -> reason label.
REFUSAL_REASONS: tuple[tuple[type[pl.PlacementError], str], ...] = (
    (pl.NoSpaceError, "no_space"),
    (pl.MinimumBrickSizeError, "minimum_brick_size"),
    (pl.MaxBricksError, "max_bricks"),
    (pl.NoNodesError, "no_nodes"),
    (pl.NoOnlineDevicesError, "no_online_devices"),
    (pl.NoReplacementError, "no_replacement"),
    (pl.ClusterNotEligibleError, "cluster_not_eligible"),
    (pl.AllClustersFailedError, "all_clusters_failed"),
    (pl.InvalidTagRuleError, "invalid_tag_rule"),
)

# Seconds: node commands and requests take milliseconds to minutes (gluster's CLI timeout);
# operations seconds to an hour; commits milliseconds (local disk) to seconds (FUSE).
# Node commands get fewer buckets: they are labelled per node, so they are the most series.
COMMAND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300)
REQUEST_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
OPERATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

DEVICE_LABELS = ("cluster", "node", "device")


def refusal_reason(error: BaseException) -> str | None:
    """The reason label of a placement refusal (``error`` or what it was raised from)."""
    cause = error if isinstance(error, pl.PlacementError) else error.__cause__
    if not isinstance(cause, pl.PlacementError):
        return None
    for kind, reason in REFUSAL_REASONS:
        if isinstance(cause, kind):
            return reason
    return OTHER


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER


LEADER_HELP = "1 while this server is the active one, 0 on a standby"


def not_leading_exposition() -> str:
    """What a server that is not the active one (a standby, one taking over, one fenced)
    serves on ``/metrics``: ``heketipy_leader 0`` alone. It has no state to report, and
    answering keeps its scrape target up (``HeketipyDown`` is for a dead server)."""
    registry = CollectorRegistry(auto_describe=False)
    Gauge("heketipy_leader", LEADER_HELP, registry=registry).set(0)
    return generate_latest(registry).decode()


class RuntimeMetrics:
    """The registry of one server and its ``heketipy_*`` families."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        counter, gauge, histogram = self._counter, self._gauge, self._histogram
        self.operation_duration = histogram(
            "operation_duration_seconds", "Time from accepting an operation to its end",
            ("type", "outcome"), OPERATION_BUCKETS,
        )  # fmt: skip
        self.operations_started = counter(
            "operations_started", "Operations accepted (planned and queued)", ("type",)
        )
        self.operations_finished = counter(
            "operations_finished", "Operations ended, by type and outcome", ("type", "outcome")
        )
        self.command_duration = histogram(
            "node_command_duration_seconds", "Duration of commands run on nodes",
            ("command", "node"), COMMAND_BUCKETS,
        )  # fmt: skip
        self.command_failures = counter(
            "node_command_failures", "Node commands that failed, by exit code (or timeout)",
            ("command", "node", "exit_code"),
        )  # fmt: skip
        self.http_requests = counter(
            "http_requests", "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"),
        )  # fmt: skip
        self.http_duration = histogram(
            "http_request_duration_seconds", "HTTP request duration by route template",
            ("route", "method"), REQUEST_BUCKETS,
        )  # fmt: skip
        self.http_throttled = counter("http_throttled", "Requests refused with 429 (queue full)")
        self.queue_waiting = gauge("queue_waiting_requests", "Operations waiting for a slot")
        # What "queue nearly full" is measured against (deploy/monitoring's alert and dashboard).
        self.queue_capacity = gauge(
            "queue_capacity_requests", "Places in the wait queue (heketipy.wait_queue_size)"
        )
        self.operations_in_flight = gauge("operations_in_flight", "Operations executing now")
        self.placement_refusals = counter(
            "placement_refusals", "Requests placement refused, by reason", ("reason",)
        )
        self.device_gauges = {
            name: gauge(f"device_{name}", text, DEVICE_LABELS)
            for name, text in (
                ("size_bytes", "Size of the device's storage in bytes"),
                ("used_bytes", "Bytes of the device allocated to bricks"),
                ("free_bytes", "Bytes of the device free for bricks"),
                ("thinpool_data_used_ratio",
                 "Data use (0..1) of the device's fullest thin pool, from the drift scan"),
                ("thinpool_metadata_used_ratio",
                 "Metadata use (0..1) of the device's fullest thin pool, from the drift scan"),
            )
        }  # fmt: skip
        self.commit_duration = histogram(
            "db_commit_duration_seconds", "Duration of one database group commit", (),
            COMMIT_BUCKETS,
        )  # fmt: skip
        self.commit_batch = histogram(
            "db_commit_batch_size", "Transactions written by one group commit", (), BATCH_BUCKETS
        )
        self.drift_objects = gauge(
            "drift_objects", "Objects the last drift scan found, by kind and problem",
            ("kind", "problem"),
        )  # fmt: skip
        self.drift_last_scan = gauge(
            "drift_last_scan_timestamp_seconds", "When the last drift scan ended"
        )
        self.leader = gauge("leader", LEADER_HELP)
        # device id -> (data, metadata) thin-pool use, as the last scan read it
        self.thin_pools: dict[str, tuple[float, float]] = {}

    def _counter(self, name: str, text: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(f"heketipy_{name}", text, labels, registry=self.registry)

    def _gauge(self, name: str, text: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(f"heketipy_{name}", text, labels, registry=self.registry)

    def _histogram(
        self, name: str, text: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        return Histogram(f"heketipy_{name}", text, labels, buckets=buckets, registry=self.registry)

    # -- events ---------------------------------------------------------------------------
    def operation_started(self, type_name: str) -> None:
        self.operations_started.labels(type_name).inc()

    def operation_finished(self, type_name: str, outcome: str, seconds: float) -> None:
        self.operations_finished.labels(type_name, outcome).inc()
        self.operation_duration.labels(type_name, outcome).observe(seconds)

    def node_commands(self, state: State) -> NodeCommandMetrics:
        """The executor's ``CommandObserver``: labels nodes by their id in ``state``."""
        return NodeCommandMetrics(self, state)

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method_label(method)
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route, method).observe(seconds)
        if status == 429:
            self.http_throttled.inc()

    def placement_refused(self, error: BaseException) -> None:
        reason = refusal_reason(error)
        if reason is not None:
            self.placement_refusals.labels(reason).inc()

    def db_commit(self, seconds: float, transactions: int) -> None:
        self.commit_duration.observe(seconds)
        self.commit_batch.observe(transactions)

    def set_leader(self, active: bool) -> None:
        """The HA hook: 1 while this server serves as the active one, 0 on a standby."""
        self.leader.set(1 if active else 0)

    def drift_scanned(
        self,
        findings: Iterable[tuple[str, str]],
        thin_pools: Mapping[str, tuple[float, float]],
        timestamp_s: float,
    ) -> None:
        """A drift scan's result: (kind, problem) of each finding and the thin-pool use per
        device id; series of kinds no longer found read 0, so alerts resolve."""
        counts: dict[tuple[str, str], int] = {}
        for key in findings:
            counts[key] = counts.get(key, 0) + 1
        for labels in list(self._drift_keys()):
            self.drift_objects.labels(*labels).set(0)
        for (kind, problem), count in counts.items():
            self.drift_objects.labels(kind, problem).set(count)
        self.thin_pools = dict(thin_pools)
        self.drift_last_scan.set(timestamp_s)

    def _drift_keys(self) -> list[tuple[str, ...]]:
        return [
            tuple(sample.labels[name] for name in ("kind", "problem"))
            for metric in self.drift_objects.collect()
            for sample in metric.samples
        ]

    # -- exposition -----------------------------------------------------------------------
    def _refresh_devices(self, state: State) -> None:
        for gauge in self.device_gauges.values():
            gauge.clear()
        for device in state.devices.values():
            node = state.nodes.get(device.node_id)
            labels = (node.cluster_id if node else "", device.node_id, device.id)
            gauges = self.device_gauges
            gauges["size_bytes"].labels(*labels).set(device.total_kib * BYTES_PER_KIB)
            gauges["used_bytes"].labels(*labels).set(device.used_kib * BYTES_PER_KIB)
            gauges["free_bytes"].labels(*labels).set(device.free_kib * BYTES_PER_KIB)
            if device.id in self.thin_pools:
                data, metadata = self.thin_pools[device.id]
                gauges["thinpool_data_used_ratio"].labels(*labels).set(data)
                gauges["thinpool_metadata_used_ratio"].labels(*labels).set(metadata)

    def render(self, state: State, waiting: int) -> str:
        """The ``heketipy_*`` exposition text; state-derived gauges are read now."""
        self.queue_waiting.set(waiting)
        self._refresh_devices(state)
        return generate_latest(self.registry).decode()


class NodeCommandMetrics:
    """A ``runner.CommandObserver``: node commands by name and node id (a host that is no
    node yet, e.g. during node add, is ``unregistered``)."""

    def __init__(self, metrics: RuntimeMetrics, state: State) -> None:
        self.metrics = metrics
        self.state = state

    def _node(self, host: str) -> str:
        return self.state.hostnames.get(host, UNREGISTERED_NODE)

    def command_ran(self, host: str, command: str, seconds: float) -> None:
        self.metrics.command_duration.labels(command, self._node(host)).observe(seconds)

    def command_failed(self, host: str, command: str, failure: str) -> None:
        self.metrics.command_failures.labels(command, self._node(host), failure).inc()
