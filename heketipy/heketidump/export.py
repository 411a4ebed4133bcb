"""The Heketi dump document and the examiner report, built from a ``State``.

Pure functions, no I/O:

* ``dump(state)``: the JSON document of ``GET /db/dump`` (and ``heketi db export``): one
  dictionary per bucket keyed by id, each entry keyed by Heketi's Go field names.
* ``examine(state, in_flight)``: the document of ``GET /internal/state/examine/gluster`` with
  the Heketi side filled in and the per-node gluster data left at Go's zero values.

Id-keyed dictionaries and id lists are emitted in ascending id order (Heketi's are in raw-id
order, which is the same thing for lowercase hex ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from heketipy.domain.changes import change_code
from heketipy.domain.entities import BlockVolume, Brick, Device, Node, PendingOperation, Volume
from heketipy.domain.state import State
from heketipy.models.views import (
    blockvolume_view,
    brick_view,
    device_info,
    node_info,
    volume_view,
)

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
        "Info": brick_view(brick),
        "TpSize": brick.tp_size_kib,
        "PoolMetadataSize": brick.pool_metadata_kib,
        "Pending": _pending(brick.pending_op),
        "LvmThinPool": brick.tp_name,
        "LvmLv": "",
        "SubType": brick.subtype,
    }


def _node_entry(state: State, node: Node) -> dict[str, Any]:
    return {"State": node.state, "Info": node_info(node), "Devices": state.device_ids(node.id)}


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
