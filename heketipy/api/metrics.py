"""``GET /metrics``: Heketi's ``heketi_*`` gauges in the Prometheus text format (0.0.4).

``render_metrics`` is pure: it reads the state and the operation counters and returns the
exposition text. Families are emitted in name order and samples in label-value order, as the
Go Prometheus client does; label names inside a sample are sorted, and values are formatted
like Go's ``strconv.FormatFloat(v, 'g', -1, 64)``. A family without samples is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heketipy.domain.state import State
from heketipy.domain.units import BYTES_PER_KIB
from heketipy.gocompat.strconv import format_float_g

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Name -> help text, exactly as Heketi registers them.
HELP: dict[str, str] = {
    "heketi_up": "Is heketi running?",
    "heketi_cluster_count": "Number of clusters",
    "heketi_volumes_count": "Number of volumes on cluster",
    "heketi_block_volumes_count": "Number of block volumes on cluster",
    "heketi_nodes_count": "Number of nodes on cluster",
    "heketi_device_count": "Number of devices on host",
    "heketi_device_size": "Total size of the device",
    "heketi_device_free": "Amount of Free space available on the device",
    "heketi_device_used": "Amount of space used on the device",
    "heketi_device_size_bytes": "Total size of the device in bytes",
    "heketi_device_free_bytes": "Amount of Free space available on the device in bytes",
    "heketi_device_used_bytes": "Amount of space used on the device in bytes",
    "heketi_device_brick_count": "Number of bricks on device",
    "heketi_operations_total_count": "Total Number of Operations",
    "heketi_operations_inFlight_count": "Number of in flight Operations",
    "heketi_operations_stale_count": "Number of Stale Operations",
    "heketi_operations_failed_count": "Number of Failed Operations",
    "heketi_operations_new_count": "Number of New Operations",
}

# heketi_operations_<name>_count <- key of the GET /operations document.
OPERATION_FAMILIES: dict[str, str] = {
    "heketi_operations_total_count": "total",
    "heketi_operations_inFlight_count": "in_flight",
    "heketi_operations_stale_count": "stale",
    "heketi_operations_failed_count": "failed",
    "heketi_operations_new_count": "new",
}


@dataclass
class Family:
    name: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def operation_counts(state: State, in_flight_ops: set[str] | frozenset[str]) -> dict[str, int]:
    """The ``GET /operations`` document: counts of the journaled operations by status."""
    counts = {"total": 0, "in_flight": 0, "stale": 0, "failed": 0, "new": 0}
    for record in state.operations.values():
        counts["total"] += 1
        if record.id in in_flight_ops:
            counts["in_flight"] += 1
        if record.status == "stale":
            counts["stale"] += 1
        elif record.status == "failed":
            counts["failed"] += 1
        else:
            counts["new"] += 1
    return counts


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _families(state: State, ops_counts: dict[str, int]) -> list[Family]:
    families = {name: Family(name) for name in HELP}
    families["heketi_up"].add(1)
    families["heketi_cluster_count"].add(len(state.clusters))
    for cid in sorted(state.clusters):
        # Like GET /clusters/{id}: pending volumes and block volumes are not counted.
        families["heketi_volumes_count"].add(len(state.visible_volume_ids(cid)), cluster=cid)
        families["heketi_block_volumes_count"].add(
            len(state.visible_blockvolume_ids(cid)), cluster=cid
        )
        node_ids = state.node_ids(cid)
        families["heketi_nodes_count"].add(len(node_ids), cluster=cid)
        for nid in node_ids:
            node = state.nodes[nid]
            host = {
                "cluster": cid,
                "hostname": node.manage[0] if node.manage else "",
                "storage_hostname": node.storage[0] if node.storage else "",
            }
            device_ids = state.device_ids(nid)
            families["heketi_device_count"].add(len(device_ids), **host)
            for did in device_ids:
                device = state.devices[did]
                labels = dict(host, id=did, device=device.name, pv_uuid=device.pv_uuid)
                families["heketi_device_size"].add(device.total_kib, **labels)
                families["heketi_device_free"].add(device.free_kib, **labels)
                families["heketi_device_used"].add(device.used_kib, **labels)
                families["heketi_device_size_bytes"].add(device.total_kib * BYTES_PER_KIB, **labels)
                families["heketi_device_free_bytes"].add(device.free_kib * BYTES_PER_KIB, **labels)
                families["heketi_device_used_bytes"].add(device.used_kib * BYTES_PER_KIB, **labels)
                families["heketi_device_brick_count"].add(
                    len(state.device_bricks.get(did, ())), **labels
                )
    for name, key in OPERATION_FAMILIES.items():
        families[name].add(ops_counts.get(key, 0))
    return [families[name] for name in sorted(families) if families[name].samples]


def render_metrics(state: State, ops_counts: dict[str, int]) -> str:
    """The ``/metrics`` body: every ``heketi_*`` family with samples, as Heketi emits them."""
    lines: list[str] = []
    for family in _families(state, ops_counts):
        lines.append(f"# HELP {family.name} {_escape_help(HELP[family.name])}")
        lines.append(f"# TYPE {family.name} gauge")
        rendered = []
        for labels, value in family.samples:
            names = sorted(labels)
            label_text = ",".join(f'{n}="{_escape_label(labels[n])}"' for n in names)
            sort_key = tuple(labels[n] for n in names)
            series = f"{family.name}{{{label_text}}}" if labels else family.name
            rendered.append((sort_key, f"{series} {format_float_g(value)}"))
        rendered.sort(key=lambda item: item[0])
        lines.extend(text for _, text in rendered)
    return "\n".join(lines) + "\n"
