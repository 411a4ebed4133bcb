"""Heketi's database dump, consistency check and examiner report, built from a ``State``.

Pure functions, no I/O:

* ``dump(state)``: the JSON document of ``GET /db/dump`` (and ``heketi db export``): one
  dictionary per bucket keyed by id, each entry keyed by Heketi's Go field names.
* ``check(state)``: the report of ``GET /db/check``: per bucket ``{total, pending, ok, notok,
  inconsistencies}`` plus ``totalinconsistencies``.
* ``examine(state, in_flight)``: the document of ``GET /internal/state/examine/gluster`` with
  the Heketi side filled in and the per-node gluster data left at Go's zero values.

Id-keyed dictionaries and id lists are emitted in ascending id order (Heketi's are in raw-id
order, which is the same thing for lowercase hex ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from heketipy.domain.entities import BlockVolume, Brick, Device, Node, PendingOperation, Volume
from heketipy.domain.state import State
from heketipy.models.views import blockvolume_view, device_info, volume_view

# Persisted operation type codes (heketi-internals 4.3).
OPERATION_TYPE_CODES: dict[str, int] = {
    "unknown": 0,
    "create-volume": 1,
    "delete-volume": 2,
    "expand-volume": 3,
    "create-block-volume": 4,
    "delete-block-volume": 5,
    "remove-device": 6,
    "clone-volume": 7,
    "evict-brick": 8,
    "expand-block-volume": 9,
}

# Persisted change codes and the description ``GET /operations/pending/{id}`` shows for each.
# Codes 1 and 2 are confirmed by the recordings; the rest follow Heketi's enumeration order
# (expand-block-volume was added last, like its operation type).
CHANGE_DESCRIPTIONS: dict[int, str] = {
    0: "Unknown",
    1: "Add brick",
    2: "Add volume",
    3: "Delete brick",
    4: "Delete volume",
    5: "Expand volume",
    6: "Add block volume",
    7: "Delete block volume",
    8: "Remove device",
    9: "Clone volume from",
    10: "Snapshot volume",
    11: "Expand volume to",
    12: "Performing child operation",
    13: "Belongs to parent operation",
    14: "Expand block volume",
}
CHANGE_CODES: dict[str, int] = {text: code for code, text in CHANGE_DESCRIPTIONS.items()}

# Which table a change's id refers to, for changes that mark an entity pending.
_PENDING_CHANGE_TABLES: dict[int, str] = {
    1: "brick",
    2: "volume",
    3: "brick",
    4: "volume",
    6: "blockvolume",
    7: "blockvolume",
}

CHECK_BUCKETS = (
    "clusters",
    "volumes",
    "bricks",
    "nodes",
    "devices",
    "blockvolumes",
    "dbattributes",
    "pendingoperations",
)


# -- changes ----------------------------------------------------------------------------------
def change_code(change: dict[str, Any]) -> int:
    """The persisted code of one ``PendingOperation.changes`` item (code or description)."""
    value = change.get("change")
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value in CHANGE_DESCRIPTIONS else 0
    if isinstance(value, str):
        return CHANGE_CODES.get(value, 0)
    return 0


def change_description(change: dict[str, Any]) -> str:
    return CHANGE_DESCRIPTIONS[change_code(change)]


# -- dump -------------------------------------------------------------------------------------
def _pending(op_id: str) -> dict[str, str]:
    return {"Id": op_id}


def _sorted_ids(ids: Iterable[str] | None) -> list[str]:
    return sorted(ids or ())


def _cluster_entry(state: State, cluster_id: str) -> dict[str, Any]:
    cluster = state.clusters[cluster_id]
    # The stored entry links every volume, pending ones included (unlike GET /clusters/{id}).
    return {
        "Info": {
            "id": cluster.id,
            "nodes": _sorted_ids(state.cluster_nodes.get(cluster.id)),
            "volumes": _sorted_ids(state.cluster_volumes.get(cluster.id)),
            "block": cluster.block,
            "file": cluster.file,
            "blockvolumes": _sorted_ids(state.cluster_blockvolumes.get(cluster.id)),
        }
    }


def _volume_entry(state: State, volume: Volume) -> dict[str, Any]:
    info = volume_view(state, volume)
    # The stored VolumeInfo keeps options and bricks beside it, not inside.
    info.pop("glustervolumeoptions", None)
    info.pop("bricks", None)
    return {
        "Info": info,
        "Bricks": _sorted_ids(state.volume_bricks.get(volume.id)),
        "GlusterVolumeOptions": list(volume.options) if volume.options else None,
        "Pending": _pending(volume.pending_op),
    }


def _brick_entry(brick: Brick) -> dict[str, Any]:
    return {
        "Info": {
            "id": brick.id,
            "path": brick.path,
            "device": brick.device_id,
            "node": brick.node_id,
            "volume": brick.volume_id,
            "size": brick.size_kib,
        },
        "TpSize": brick.tp_size_kib,
        "PoolMetadataSize": brick.pool_metadata_kib,
        "Pending": _pending(brick.pending_op),
        "LvmThinPool": brick.tp_name,
        "LvmLv": "",
        "SubType": brick.subtype,
    }


def _node_entry(state: State, node: Node) -> dict[str, Any]:
    info: dict[str, Any] = {
        "zone": node.zone,
        "hostnames": {"manage": list(node.manage), "storage": list(node.storage)},
        "cluster": node.cluster_id,
    }
    if node.tags:
        info["tags"] = dict(sorted(node.tags.items()))
    info["id"] = node.id
    return {"State": node.state, "Info": info, "Devices": state.device_ids(node.id)}


def _device_entry(state: State, device: Device) -> dict[str, Any]:
    return {
        "State": device.state,
        "Info": device_info(device),
        "Bricks": state.brick_ids_of_device(device.id),
        "NodeId": device.node_id,
        "ExtentSize": device.extent_kib,
    }


def _blockvolume_entry(state: State, bv: BlockVolume) -> dict[str, Any]:
    return {"Info": blockvolume_view(state, bv), "Pending": _pending(bv.pending_op)}


def _operation_entry(record: PendingOperation) -> dict[str, Any]:
    return {
        "Id": record.id,
        "Timestamp": record.timestamp,
        "Type": OPERATION_TYPE_CODES.get(record.type_name, 0),
        "Actions": [
            {"Change": change_code(c), "Id": c.get("id", ""), "Delta": c.get("delta")}
            for c in record.changes
        ],
        "Status": record.status,
    }


def dump(state: State) -> dict[str, Any]:
    """The whole database as Heketi's dump JSON (``GET /db/dump``)."""
    return {
        "clusterentries": {cid: _cluster_entry(state, cid) for cid in sorted(state.clusters)},
        "volumeentries": {
            vid: _volume_entry(state, state.volumes[vid]) for vid in sorted(state.volumes)
        },
        "brickentries": {bid: _brick_entry(state.bricks[bid]) for bid in sorted(state.bricks)},
        "nodeentries": {nid: _node_entry(state, state.nodes[nid]) for nid in sorted(state.nodes)},
        "deviceentries": {
            did: _device_entry(state, state.devices[did]) for did in sorted(state.devices)
        },
        "blockvolumeentries": {
            bid: _blockvolume_entry(state, state.blockvolumes[bid])
            for bid in sorted(state.blockvolumes)
        },
        "dbattributeentries": {
            key: {"Key": key, "Value": value} for key, value in sorted(state.attributes.items())
        },
        "pendingoperations": {
            oid: _operation_entry(state.operations[oid]) for oid in sorted(state.operations)
        },
    }


# -- check ------------------------------------------------------------------------------------
class _Bucket:
    """Counts of one bucket of the check report."""

    def __init__(self) -> None:
        self.total = 0
        self.pending = 0
        self.ok = 0
        self.notok = 0
        self.inconsistencies: list[str] = []

    def record(self, problems: list[str], pending: bool = False) -> None:
        self.total += 1
        self.pending += int(pending)
        if problems:
            self.notok += 1
            self.inconsistencies.extend(problems)
        else:
            self.ok += 1

    def report(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "pending": self.pending,
            "ok": self.ok,
            "notok": self.notok,
            # Go's nil slice: null when there is nothing to report.
            "inconsistencies": list(self.inconsistencies) or None,
        }


def _pending_problems(state: State, kind: str, entity_id: str, op_id: str) -> list[str]:
    if op_id and op_id not in state.operations:
        return [f"{kind} {entity_id} unknown pending operation {op_id}"]
    return []


def _linked_children(
    kind: str,
    parent_id: str,
    children: Iterable[str],
    table: dict[str, Any],
    child_kind: str,
    back_link: str,
) -> list[str]:
    """Problems of an index entry: every child listed under the parent exists and points back."""
    problems = []
    for child_id in sorted(children):
        child = table.get(child_id)
        if child is None:
            problems.append(f"{kind} {parent_id} unknown {child_kind} {child_id}")
        elif getattr(child, back_link) != parent_id:
            problems.append(
                f"{kind} {parent_id} lists {child_kind} {child_id} "
                f"which belongs to {getattr(child, back_link)}"
            )
    return problems


def _check_clusters(state: State) -> _Bucket:
    bucket = _Bucket()
    for cid in sorted(state.clusters):
        problems = _linked_children(
            "Cluster", cid, state.cluster_nodes.get(cid, ()), state.nodes, "node", "cluster_id"
        )
        problems += _linked_children(
            "Cluster", cid, state.cluster_volumes.get(cid, ()), state.volumes, "volume",
            "cluster_id",
        )
        problems += _linked_children(
            "Cluster", cid, state.cluster_blockvolumes.get(cid, ()), state.blockvolumes,
            "block volume", "cluster_id",
        )
        bucket.record(problems)
    return bucket


def _check_nodes(state: State) -> _Bucket:
    bucket = _Bucket()
    for nid in sorted(state.nodes):
        node = state.nodes[nid]
        problems = []
        if node.cluster_id not in state.clusters:
            problems.append(f"Node {nid} unknown cluster {node.cluster_id}")
        problems += _linked_children(
            "Node", nid, state.node_devices.get(nid, ()), state.devices, "device", "node_id"
        )
        bucket.record(problems)
    return bucket


def _check_devices(state: State) -> _Bucket:
    bucket = _Bucket()
    for did in sorted(state.devices):
        device = state.devices[did]
        problems = []
        if device.node_id not in state.nodes:
            problems.append(f"Device {did} unknown node {device.node_id}")
        brick_ids = state.device_bricks.get(did, ())
        problems += _linked_children("Device", did, brick_ids, state.bricks, "brick", "device_id")
        if device.total_kib != device.free_kib + device.used_kib:
            problems.append(
                f"Device {did} total size {device.total_kib} != free {device.free_kib}"
                f" + used {device.used_kib}"
            )
        charged = sum(state.bricks[b].charge_kib for b in brick_ids if b in state.bricks)
        if device.used_kib != charged:
            problems.append(
                f"Device {did} used size {device.used_kib} != size of its bricks {charged}"
            )
        bucket.record(problems)
    return bucket


def _check_bricks(state: State) -> _Bucket:
    bucket = _Bucket()
    for bid in sorted(state.bricks):
        brick = state.bricks[bid]
        problems = []
        if brick.volume_id not in state.volumes:
            problems.append(f"Brick {bid} unknown volume {brick.volume_id}")
        device = state.devices.get(brick.device_id)
        if device is None:
            problems.append(f"Brick {bid} unknown device {brick.device_id}")
        if brick.node_id not in state.nodes:
            problems.append(f"Brick {bid} unknown node {brick.node_id}")
        elif device is not None and device.node_id != brick.node_id:
            problems.append(
                f"Brick {bid} node {brick.node_id} differs from node {device.node_id}"
                f" of device {device.id}"
            )
        problems += _pending_problems(state, "Brick", bid, brick.pending_op)
        bucket.record(problems, pending=bool(brick.pending_op))
    return bucket


def _check_volumes(state: State) -> _Bucket:
    bucket = _Bucket()
    for vid in sorted(state.volumes):
        volume = state.volumes[vid]
        problems = []
        if volume.cluster_id not in state.clusters:
            problems.append(f"Volume {vid} unknown cluster {volume.cluster_id}")
        problems += _linked_children(
            "Volume", vid, state.volume_bricks.get(vid, ()), state.bricks, "brick", "volume_id"
        )
        if volume.block:
            hosted = state.bhv_blockvolumes.get(vid, ())
            hosted_gib = sum(
                state.blockvolumes[b].size_gib for b in hosted if b in state.blockvolumes
            )
            used_gib = volume.size_gib - volume.block_free_gib - volume.block_reserved_gib
            if used_gib != hosted_gib:
                problems.append(
                    f"Block hosting volume {vid} size {volume.size_gib} - free"
                    f" {volume.block_free_gib} - reserved {volume.block_reserved_gib}"
                    f" != size of its block volumes {hosted_gib}"
                )
        problems += _pending_problems(state, "Volume", vid, volume.pending_op)
        bucket.record(problems, pending=bool(volume.pending_op))
    return bucket


def _check_blockvolumes(state: State) -> _Bucket:
    bucket = _Bucket()
    for bid in sorted(state.blockvolumes):
        bv = state.blockvolumes[bid]
        problems = []
        if bv.cluster_id not in state.clusters:
            problems.append(f"Block volume {bid} unknown cluster {bv.cluster_id}")
        hosting = state.volumes.get(bv.bhv_id)
        if hosting is None:
            problems.append(f"Block volume {bid} unknown block hosting volume {bv.bhv_id}")
        elif not hosting.block:
            problems.append(f"Block volume {bid} hosted by volume {bv.bhv_id} without block")
        problems += _pending_problems(state, "Block volume", bid, bv.pending_op)
        bucket.record(problems, pending=bool(bv.pending_op))
    return bucket


def _check_operations(state: State) -> _Bucket:
    bucket = _Bucket()
    for oid in sorted(state.operations):
        record = state.operations[oid]
        problems = []
        for change in record.changes:
            kind = _PENDING_CHANGE_TABLES.get(change_code(change))
            if kind is None:
                continue
            target_id = str(change.get("id", ""))
            target = state.table(kind).get(target_id)
            label = CHANGE_DESCRIPTIONS[change_code(change)]
            if target is None:
                problems.append(f"Pending operation {oid} ({label}) unknown {kind} {target_id}")
            elif target.pending_op != oid:
                problems.append(
                    f"Pending operation {oid} ({label}) {kind} {target_id} is pending on"
                    f" {target.pending_op or 'nothing'}"
                )
        if record.parent_id and record.parent_id not in state.operations:
            problems.append(f"Pending operation {oid} unknown parent operation {record.parent_id}")
        bucket.record(problems)
    return bucket


def check(state: State) -> dict[str, Any]:
    """The consistency report of ``GET /db/check``; all zeros and nulls on a consistent state."""
    buckets = {
        "clusters": _check_clusters(state),
        "volumes": _check_volumes(state),
        "bricks": _check_bricks(state),
        "nodes": _check_nodes(state),
        "devices": _check_devices(state),
        "blockvolumes": _check_blockvolumes(state),
        # Heketi never evaluates the attributes bucket.
        "dbattributes": _Bucket(),
        "pendingoperations": _check_operations(state),
    }
    report: dict[str, Any] = {name: buckets[name].report() for name in CHECK_BUCKETS}
    report["totalinconsistencies"] = sum(len(b.inconsistencies) for b in buckets.values())
    return report


# -- examine ----------------------------------------------------------------------------------
_XML_NAME = {"Space": "", "Local": ""}


def empty_node_data(node_id: str, volume_names: list[str] | None = None) -> dict[str, Any]:
    """One ``NodesData`` item; gluster/LVM data not collected stay at Go's zero values."""
    names = volume_names or []
    return {
        "NodeHeketiID": node_id,
        "VolumeInfo": {
            "XMLName": dict(_XML_NAME),
            "Volumes": {
                "XMLName": dict(_XML_NAME),
                "Count": len(names),
                "VolumeList": [_gluster_volume(name) for name in names] or None,
            },
        },
        "LVMPVInfo": {"report": None},
        "LVMVGInfo": {"report": None},
        "LVMLVInfo": {"report": None},
        "BricksMountStatus": {"Statuses": None},
        "BlockVolumeNames": None,
    }


def _gluster_volume(name: str) -> dict[str, Any]:
    return {
        "XMLName": dict(_XML_NAME),
        "VolumeName": name,
        "ID": "",
        "Status": 0,
        "StatusStr": "",
        "BrickCount": 0,
        "DistCount": 0,
        "StripeCount": 0,
        "ReplicaCount": 0,
        "ArbiterCount": 0,
        "DisperseCount": 0,
        "RedundancyCount": 0,
        "Type": 0,
        "TypeStr": "",
        "Transport": 0,
        "Bricks": {"XMLName": dict(_XML_NAME), "BrickList": None},
        "OptCount": 0,
        "Options": {"XMLName": dict(_XML_NAME), "OptionList": None},
    }


def examine(
    state: State,
    in_flight: int,
    gluster_volumes: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """``GET /internal/state/examine/gluster``: the dump, a report and per-node gluster data.

    ``gluster_volumes`` maps node id -> the volume names gluster reports on that node; nodes
    missing from it are reported with no volumes. Only names are compared, as Heketi does.
    """
    gluster_volumes = gluster_volumes or {}
    report = [f"OnDemand Examiner invoked while {in_flight} ops are in flight"]
    clusters = []
    for cid in sorted(state.clusters):
        heketi_names = sorted(
            state.volumes[v].name for v in state.cluster_volumes.get(cid, ())
        )
        nodes_data = []
        for nid in state.node_ids(cid):
            names = list(gluster_volumes.get(nid, []))
            if sorted(names) != heketi_names:
                report.append(
                    f"heketi volume list does not match with volume list of node {nid}"
                )
            nodes_data.append(empty_node_data(nid, names))
        clusters.append({"ClusterHeketiID": cid, "NodesData": nodes_data})
    return {"heketidb": dump(state), "report": report, "clusters": clusters}
