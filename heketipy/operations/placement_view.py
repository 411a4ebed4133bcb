"""Builds placement's read-only snapshot (``domain.placement`` views) from the live state,
and turns placement failures into Heketi's error texts.
"""

from __future__ import annotations

import contextlib

from heketipy.config import Settings
from heketipy.domain import placement as pl
from heketipy.domain.entities import Volume
from heketipy.domain.errors import OperationFailed
from heketipy.domain.state import State
from heketipy.domain.tags import heketi_options
from heketipy.domain.units import KIB_PER_MIB


def node_views(
    state: State, cluster_id: str, down: set[str] | frozenset[str] = frozenset()
) -> tuple[pl.NodeView, ...]:
    """Placement's snapshot of a cluster; nodes in ``down`` count as offline."""
    views = []
    for node_id in state.node_ids(cluster_id):
        node = state.nodes[node_id]
        devices = []
        for device_id in state.device_ids(node_id):
            device = state.devices[device_id]
            tags = dict(node.tags)
            tags.update(device.tags)
            devices.append(
                pl.DeviceView(
                    id=device.id,
                    node_id=node.id,
                    free_kib=device.free_kib,
                    tags=tags,
                    online=device.state == "online",
                    extent_kib=device.extent_kib or 4096,
                )
            )
        views.append(
            pl.NodeView(
                id=node.id,
                zone=node.zone,
                online=node.state == "online" and node.id not in down,
                devices=tuple(devices),
                tags=dict(node.tags),
            )
        )
    return tuple(views)


def cluster_views(
    state: State, cluster_ids: list[str], down: set[str] | frozenset[str] = frozenset()
) -> list[pl.ClusterView]:
    return [
        pl.ClusterView(
            id=cid,
            file=state.clusters[cid].file,
            block=state.clusters[cid].block,
            volume_names=state.volume_names(cid),
            volume_count=len(state.cluster_volumes.get(cid, ())),
            nodes=node_views(state, cid, down),
        )
        for cid in cluster_ids
    ]


def policy_for(
    settings: Settings, options: list[str], snapshot_factor: float
) -> pl.PlacementPolicy:
    gluster = settings.glusterfs
    heketi = heketi_options(options)
    average = gluster.average_file_size_kb
    if "user.heketi.average-file-size" in heketi:
        with contextlib.suppress(ValueError):
            average = int(heketi["user.heketi.average-file-size"])
    return pl.PlacementPolicy(
        brick_min_kib=gluster.brick_min_size_kib,
        brick_max_kib=gluster.brick_max_size_kib,
        max_bricks_per_volume=gluster.max_bricks_per_volume,
        zone_checking=heketi.get("user.heketi.zone-checking", gluster.zone_checking or "none"),
        average_file_size_kib=average,
        snapshot_factor=snapshot_factor,
        device_tag_match=heketi.get("user.heketi.device-tag-match"),
        min_filesystem_kib=min_filesystem_kib(settings),
    )


# Executors that format real filesystems: their bricks must be big enough for mkfs.xfs.
REAL_EXECUTORS = ("ssh", "inject/ssh", "kube", "kubernetes")
XFS_MIN_KIB = 300 * KIB_PER_MIB


def min_filesystem_kib(settings: Settings) -> int:
    """``heketipy.min_filesystem_mb`` if set, else 300 MiB on real nodes and 0 (Heketi's exact
    arbiter sizing) on the mock and the simulator."""
    configured = settings.heketipy.min_filesystem_mb
    if configured is not None:
        return int(configured) * KIB_PER_MIB
    return XFS_MIN_KIB if settings.glusterfs.executor in REAL_EXECUTORS else 0


def shape_for(volume: Volume) -> pl.VolumeShape:
    return pl.VolumeShape(
        durability=volume.durability,  # type: ignore[arg-type]
        replica=volume.replica,
        data=volume.data,
        redundancy=volume.redundancy,
        arbiter=volume.arbiter,
    )


def failure_text(error: pl.PlacementError) -> str:
    """Heketi's text, with heketipy's explanation after ``No space``."""
    if isinstance(error, pl.AllClustersFailedError):
        lines = [f"Cluster {cid}: {err}" for cid, err in error.failures]
        return "\n".join([pl.AllClustersFailedError.HEADER, *lines])
    if isinstance(error, pl.InvalidTagRuleError):
        return error.allocation_text
    return str(error)


def allocation_failed(prefix: str, error: pl.PlacementError) -> OperationFailed:
    return OperationFailed(f"{prefix}: {failure_text(error)}")
