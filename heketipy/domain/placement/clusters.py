"""Cluster selection: which clusters may take a volume, and first fit over them (contract 9.1).

Owns the cluster view and request, upstream's reasons for skipping a cluster, and the first
fit that records each cluster's failure and raises one error or AllClustersFailedError.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from heketipy.domain.placement.errors import (
    AllClustersFailedError,
    ClusterNotEligibleError,
    MaxBricksError,
    MinimumBrickSizeError,
    NoNodesError,
    NoOnlineDevicesError,
    NoSpaceError,
    PlacementError,
)
from heketipy.domain.placement.snapshot import (
    Allocation,
    NodeView,
    PlacementPolicy,
    VolumeKind,
    VolumeShape,
)
from heketipy.domain.placement.volume import allocate_volume


@dataclass(frozen=True)
class ClusterView:
    """A cluster as cluster selection sees it (contract 9.1)."""

    id: str
    file: bool
    block: bool
    volume_names: Container[str] = frozenset()  # membership only (a live view is fine)
    volume_count: int = 0
    nodes: tuple[NodeView, ...] = ()


@dataclass(frozen=True)
class ClusterRequest:
    """What the volume asks of a cluster.

    `max_volumes_per_cluster` < 0 means unlimited (pass -1 when looking up existing block
    hosting volumes, which upstream does not limit). `cluster_ids` is the request's list in
    its order; empty means every cluster in id order.
    """

    kind: VolumeKind
    name: str | None = None
    max_volumes_per_cluster: int = 1000
    cluster_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterAllocation:
    cluster_id: str
    allocation: Allocation


def cluster_ineligibility(cluster: ClusterView, request: ClusterRequest) -> str | None:
    """Upstream's reason for skipping a cluster, or None when it may be tried."""
    if not cluster.file and not cluster.block:
        return "Cluster has disabled all volume types"
    allowed = cluster.block if request.kind == "block" else cluster.file
    if not allowed:
        return "Cluster does not support requested volume type"
    if request.name is not None and request.name in cluster.volume_names:
        return f"Volume name '{request.name}' already in use"
    limit = request.max_volumes_per_cluster
    if limit >= 0 and cluster.volume_count >= limit:
        return f"Cluster has {cluster.volume_count} volumes and limit is {limit}"
    return None


def select_clusters(
    clusters: Sequence[ClusterView], request: ClusterRequest
) -> tuple[ClusterView, ...]:
    """Return the clusters to try, in order; raise when none is eligible.

    Requested ids that are unknown are skipped: the REST layer answers `Cluster id <id> not
    found` before placement. Raises ClusterNotEligibleError, or NoSpaceError when there was
    no candidate at all.
    """
    by_id = {cluster.id: cluster for cluster in clusters}
    if request.cluster_ids:
        candidates = [by_id[cid] for cid in request.cluster_ids if cid in by_id]
    else:
        candidates = [by_id[cid] for cid in sorted(by_id)]
    eligible: list[ClusterView] = []
    reasons: list[tuple[str, str]] = []
    for cluster in candidates:
        reason = cluster_ineligibility(cluster, request)
        if reason is None:
            eligible.append(cluster)
        else:
            reasons.append((cluster.id, reason))
    if eligible:
        return tuple(eligible)
    if reasons:
        raise ClusterNotEligibleError(reasons)
    raise NoSpaceError("there is no cluster to place the volume in")


_SPACE_ERRORS = (NoSpaceError, MaxBricksError, MinimumBrickSizeError)


def allocate_in_clusters(
    clusters: Sequence[ClusterView],
    size_gib: int,
    shape: VolumeShape,
    policy: PlacementPolicy,
    *,
    seed: int | None = None,
) -> ClusterAllocation:
    """First fit over the clusters `select_clusters` returned (internals 1.3 step 3).

    Space failures (no space, brick limit, minimum brick size) are recorded as `No space`;
    `No nodes in cluster` and `No online storage devices in cluster` are recorded as they
    are; any other error (an invalid tag rule) aborts at once. One failure is raised as is,
    several as AllClustersFailedError.
    """
    failures: list[tuple[str, PlacementError]] = []
    for cluster in clusters:
        try:
            allocation = allocate_volume(size_gib, shape, policy, cluster.nodes, seed=seed)
        except _SPACE_ERRORS as error:
            failures.append(
                (cluster.id, NoSpaceError(_space_explanation(error), summary=error.summary))
            )
        except (NoNodesError, NoOnlineDevicesError) as error:
            failures.append((cluster.id, error))
        else:
            return ClusterAllocation(cluster.id, allocation)
    if not failures:
        raise NoSpaceError("there is no cluster to place the volume in")
    if len(failures) == 1:
        cluster_id, only = failures[0]
        if isinstance(only, NoSpaceError):
            raise NoSpaceError(f"cluster {cluster_id}: {only.explanation}", only.summary)
        raise only
    raise AllClustersFailedError(failures)


def _space_explanation(error: PlacementError) -> str:
    # The size-limit errors already explain themselves; their bare text adds nothing here.
    return error.explanation or error.upstream_text
