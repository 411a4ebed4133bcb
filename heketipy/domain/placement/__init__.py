"""Brick placement: which devices get the bricks of a volume, and why a request does not fit.

Owns Heketi's placement rules (internals 1.3-1.11, contract 9.1/9.2 and the section 17
errata): cluster eligibility and first-fit over clusters, the halving loop over brick sizes,
the device ring, the standard and arbiter placers, strict zones, tag rules, the brick limit
and the replacement of one brick. It is a pure function of a snapshot: the caller loads
nodes and devices, calls in, and persists the returned plan.

The work is a pipeline of small named filters over the snapshot, in the spirit of Cinder's
scheduler filters. Static filters (online node, online device, tag rule, arbiter role) run
once; per-brick checks (distinct node, distinct zone, free space) run as each position of a
brick set is filled. Every failure carries an explanation built from how many devices,
nodes and zones each filter left, e.g.::

    No space: cluster <id>: replica 3 needs 3 nodes in distinct zones per brick set, each
    with a device of more than 1056768 KiB free; filters left online: 4 devices on 4 nodes
    in 2 zones, more than 1056768 KiB free: 4 devices on 4 nodes in 2 zones; at 2 sets of
    1048576 KiB bricks, set 1 found no device for its brick at position 2 after placing 2
    of 3; for a volume of 2 GiB, 4 sets would need bricks of 524288 KiB, below the minimum

Errors keep upstream's bare text in `upstream_text` (what the REST layer must answer) and
the explanation in `explanation` (for logs and our own clients).

The package is split by part; callers import from here, which re-exports the public names:

- `errors`: PlacementError and its subclasses, with Heketi's exact texts.
- `snapshot`: the views placement is given and the plans it returns.
- `sizes`: the arbiter brick formula and the halving loop over brick sizes.
- `filters`: the named device filters and the census of what each leaves.
- `placers`: the device ring and the filling of brick sets (standard and arbiter).
- `explanations`: why a set could not be placed, in words and filter counts.
- `volume`: `allocate_volume` (one cluster) and `replacement_brick`.
- `clusters`: cluster eligibility and first fit over clusters.
"""

from __future__ import annotations

from heketipy.domain.placement.clusters import (
    ClusterAllocation,
    ClusterRequest,
    ClusterView,
    allocate_in_clusters,
    cluster_ineligibility,
    select_clusters,
)
from heketipy.domain.placement.errors import (
    AllClustersFailedError,
    ClusterNotEligibleError,
    InvalidTagRuleError,
    MaxBricksError,
    MinimumBrickSizeError,
    NoNodesError,
    NoOnlineDevicesError,
    NoReplacementError,
    NoSpaceError,
    PlacementError,
)
from heketipy.domain.placement.filters import (
    ArbiterRoleFilter,
    Candidate,
    DeviceFilter,
    FreeSpaceFilter,
    NotDeviceFilter,
    OnlineFilter,
    TagMatchFilter,
    census,
    run_filters,
    snapshot_candidates,
)
from heketipy.domain.placement.placers import build_ring
from heketipy.domain.placement.sizes import MIN_ARBITER_BRICK_KIB, arbiter_brick_kib, brick_sizes
from heketipy.domain.placement.snapshot import (
    Allocation,
    Attempt,
    BrickPlan,
    DeviceView,
    Durability,
    FilterStep,
    NodeView,
    PlacementPolicy,
    VolumeKind,
    VolumeShape,
)
from heketipy.domain.placement.volume import PlacedBrick, allocate_volume, replacement_brick
from heketipy.domain.units import KIB_PER_GIB

__all__ = [
    "KIB_PER_GIB",
    "MIN_ARBITER_BRICK_KIB",
    "AllClustersFailedError",
    "Allocation",
    "ArbiterRoleFilter",
    "Attempt",
    "BrickPlan",
    "Candidate",
    "ClusterAllocation",
    "ClusterNotEligibleError",
    "ClusterRequest",
    "ClusterView",
    "DeviceFilter",
    "DeviceView",
    "Durability",
    "FilterStep",
    "FreeSpaceFilter",
    "InvalidTagRuleError",
    "MaxBricksError",
    "MinimumBrickSizeError",
    "NoNodesError",
    "NoOnlineDevicesError",
    "NoReplacementError",
    "NoSpaceError",
    "NodeView",
    "NotDeviceFilter",
    "OnlineFilter",
    "PlacedBrick",
    "PlacementError",
    "PlacementPolicy",
    "TagMatchFilter",
    "VolumeKind",
    "VolumeShape",
    "allocate_in_clusters",
    "allocate_volume",
    "arbiter_brick_kib",
    "brick_sizes",
    "build_ring",
    "census",
    "cluster_ineligibility",
    "replacement_brick",
    "run_filters",
    "select_clusters",
    "snapshot_candidates",
]
