"""Exact cases for the placement engine: space formula, halving, tags, zones, arbiter, errors."""

from __future__ import annotations

import pytest

from heketipy.domain.placement import (
    AllClustersFailedError,
    ClusterNotEligibleError,
    ClusterRequest,
    ClusterView,
    DeviceView,
    InvalidTagRuleError,
    MaxBricksError,
    MinimumBrickSizeError,
    NodeView,
    NoNodesError,
    NoOnlineDevicesError,
    NoReplacementError,
    NoSpaceError,
    PlacedBrick,
    PlacementPolicy,
    VolumeShape,
    allocate_in_clusters,
    allocate_volume,
    arbiter_brick_kib,
    brick_sizes,
    replacement_brick,
    select_clusters,
)
from heketipy.domain.space import device_charge_kib, fits, space_needed
from heketipy.domain.tags import ArbiterRole, arbiter_role, merge_tags, parse_tag_rule

GIB = 1024 * 1024
MOCK_DEVICE_KIB = 500 * GIB  # upstream mock devices: 500 GiB
REPLICA_3 = VolumeShape("replicate", replica=3)
DEFAULTS = PlacementPolicy()


def make_node(
    index: int,
    zone: int | None = None,
    *,
    free_kib: int = MOCK_DEVICE_KIB,
    devices: int = 1,
    tags: dict[str, str] | None = None,
    device_tags: dict[str, str] | None = None,
    online: bool = True,
) -> NodeView:
    node_id = f"node{index:02d}"
    node_tags = tags or {}
    return NodeView(
        id=node_id,
        zone=index if zone is None else zone,
        online=online,
        tags=node_tags,
        devices=tuple(
            DeviceView(
                id=f"{node_id}-dev{d}",
                node_id=node_id,
                free_kib=free_kib,
                tags=merge_tags(node_tags, device_tags or {}),
            )
            for d in range(devices)
        ),
    )


def nodes_in_zones(*zones: int, **kwargs) -> list[NodeView]:
    return [make_node(i + 1, zone, **kwargs) for i, zone in enumerate(zones)]


# ---------------------------------------------------------------- space formula


@pytest.mark.parametrize(
    ("brick_kib", "factor", "expected"),
    [
        (1 * GIB, 1.0, (1048576, 8192)),
        (5 * GIB, 1.0, (5242880, 28672)),
        (10 * GIB, 1.5, (15728640, 81920)),
        (100 * GIB, 1.0, (104857600, 524288)),
        (100 * GIB, 1.5, (157286400, 786432)),
        (4096 * GIB, 1.0, (4294967296, 16777216)),  # metadata capped at 16 GiB
        (1638400, 1.0, (1638400, 8192)),  # 100 GiB arbiter brick
    ],
)
def test_space_needed_matches_upstream_figures(brick_kib, factor, expected):
    assert space_needed(brick_kib, factor) == expected
    assert device_charge_kib(brick_kib, factor) == sum(expected)


def test_space_needed_rounds_up_to_the_device_extent():
    assert space_needed(1000, 1.0, extent_kib=1024) == (1024, 1024)


def test_fit_is_strict():
    charge = device_charge_kib(GIB)
    assert fits(charge + 1, charge)
    assert not fits(charge, charge)


def test_a_device_with_exactly_the_charge_free_gets_no_brick():
    charge = device_charge_kib(GIB)
    nodes = [make_node(1, free_kib=charge)]
    with pytest.raises(MinimumBrickSizeError):
        allocate_volume(1, VolumeShape("none"), DEFAULTS, nodes, seed=0)
    nodes = [make_node(1, free_kib=charge + 1)]
    allocation = allocate_volume(1, VolumeShape("none"), DEFAULTS, nodes, seed=0)
    assert allocation.bricks[0].charge_kib == charge


def test_brick_plan_carries_pool_sizes_with_snapshot_factor():
    policy = PlacementPolicy(snapshot_factor=1.5)
    allocation = allocate_volume(10, VolumeShape("none"), policy, [make_node(1)], seed=0)
    (brick,) = allocation.bricks
    assert (brick.size_kib, brick.tp_size_kib, brick.pool_metadata_kib) == (
        10 * GIB,
        15728640,
        81920,
    )


# ---------------------------------------------------------------- halving


def test_halving_starts_at_one_set_until_brick_exceeds_max():
    assert next(brick_sizes(100, REPLICA_3, DEFAULTS)) == (1, 100 * GIB)
    assert next(brick_sizes(5 * 1024, REPLICA_3, DEFAULTS)) == (2, 2560 * GIB)
    small_max = PlacementPolicy(brick_max_kib=8 * GIB)
    assert next(brick_sizes(400, VolumeShape("none"), small_max)) == (64, 6400 * 1024)


def test_halving_sequence_and_minimum_brick_error():
    sizes = brick_sizes(100, REPLICA_3, DEFAULTS)
    assert [next(sizes) for _ in range(7)] == [
        (1, 100 * GIB),
        (2, 50 * GIB),
        (4, 25 * GIB),
        (8, 12.5 * GIB),
        (16, 6.25 * GIB),
        (32, 3.125 * GIB),
        (64, 1638400),
    ]
    with pytest.raises(MinimumBrickSizeError) as caught:
        next(sizes)
    assert str(caught.value) == "Minimum brick size limit reached.  Out of space."


def test_disperse_brick_is_set_share_divided_by_data():
    disperse = VolumeShape("disperse", data=4, redundancy=2)
    sizes = brick_sizes(8, disperse, DEFAULTS)
    assert next(sizes) == (1, 2 * GIB)
    assert next(sizes) == (2, 1 * GIB)
    eight_three = VolumeShape("disperse", data=8, redundancy=3)
    assert next(brick_sizes(200, eight_three, DEFAULTS)) == (1, 25 * GIB)


def test_disperse_4_2_places_six_bricks_of_a_quarter():
    disperse = VolumeShape("disperse", data=4, redundancy=2)
    allocation = allocate_volume(8, disperse, DEFAULTS, nodes_in_zones(1, 2, 3, 4, 5, 6), seed=0)
    assert len(allocation.sets) == 1
    assert [b.size_kib for b in allocation.bricks] == [2 * GIB] * 6
    assert len({b.node_id for b in allocation.bricks}) == 6


def test_no_space_doubles_the_sets():
    # Each device holds one 2 GiB brick but not one 4 GiB brick: 4 GiB replica 2 on four
    # nodes needs two sets of 2 GiB.
    free = device_charge_kib(2 * GIB) + 1
    nodes = nodes_in_zones(1, 2, 3, 4, free_kib=free)
    allocation = allocate_volume(4, VolumeShape("replicate", replica=2), DEFAULTS, nodes, seed=3)
    assert allocation.brick_size_kib == 2 * GIB
    assert len(allocation.sets) == 2
    assert [a.placed for a in allocation.attempts] == [False, True]
    assert "at 1 set of 4194304 KiB bricks" in allocation.attempts[0].explanation


def test_out_of_space_ends_in_minimum_brick_error_with_explanation():
    nodes = nodes_in_zones(1, 2, free_kib=GIB)
    with pytest.raises(MinimumBrickSizeError) as caught:
        allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0)
    error = caught.value
    assert error.upstream_text == "Minimum brick size limit reached.  Out of space."
    assert "replica 3 needs 3 nodes" in error.explanation
    assert "below the minimum of 1048576 KiB" in error.explanation


def test_max_bricks_counts_existing_bricks():
    policy = PlacementPolicy(brick_max_kib=8 * GIB)
    with pytest.raises(MaxBricksError) as caught:
        allocate_volume(400, VolumeShape("none"), policy, [make_node(1)], halving="expand")
    assert str(caught.value) == "Maximum number of bricks reached."
    assert "64 sets of 1 bricks plus 0 existing" in caught.value.explanation
    # 2 sets of 3 fit under 32 alone, but not with 27 existing bricks.
    roomy = nodes_in_zones(1, 2, 3, free_kib=6000 * GIB)
    with pytest.raises(MaxBricksError):
        allocate_volume(5000, REPLICA_3, DEFAULTS, roomy, existing_bricks=27, seed=0)
    allocation = allocate_volume(5000, REPLICA_3, DEFAULTS, roomy, existing_bricks=26, seed=0)
    assert len(allocation.bricks) == 6


# ---------------------------------------------------------------- sets, nodes, zones


def test_replica_3_needs_three_nodes():
    with pytest.raises(MinimumBrickSizeError) as caught:
        allocate_volume(2, REPLICA_3, DEFAULTS, [make_node(1, devices=3), make_node(2)], seed=0)
    assert "2 nodes" in caught.value.explanation


def test_bricks_of_a_set_are_on_distinct_nodes_even_without_zone_checking():
    nodes = nodes_in_zones(1, 1, 1, devices=4)
    allocation = allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0)
    assert len({b.node_id for b in allocation.bricks}) == 3


def test_strict_zones_need_distinct_zones():
    nodes = nodes_in_zones(1, 1, 2, 2)
    assert allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0)
    strict = PlacementPolicy(zone_checking="strict")
    with pytest.raises(MinimumBrickSizeError) as caught:
        allocate_volume(2, REPLICA_3, strict, nodes, seed=0)
    assert "replica 3 needs 3 nodes in distinct zones" in caught.value.explanation
    allocation = allocate_volume(2, REPLICA_3, strict, nodes_in_zones(1, 1, 2, 3), seed=0)
    assert len({int(b.node_id[-2:]) for b in allocation.bricks}) == 3
    zones = {n.id: n.zone for n in nodes_in_zones(1, 1, 2, 3)}
    assert len({zones[b.node_id] for b in allocation.bricks}) == 3


def test_unknown_zone_checking_value_behaves_as_none():
    policy = PlacementPolicy(zone_checking="bogus")
    assert allocate_volume(2, REPLICA_3, policy, nodes_in_zones(1, 1, 2, 2), seed=0)


def test_offline_nodes_and_devices_get_no_bricks():
    nodes = nodes_in_zones(1, 2, 3, 4)
    nodes[0] = make_node(1, online=False)
    offline_device = (
        nodes[1]
        .devices[0]
        .__class__(id="node02-dev0", node_id="node02", free_kib=MOCK_DEVICE_KIB, online=False)
    )
    nodes[1] = NodeView(id="node02", zone=2, devices=(offline_device,))
    with pytest.raises(MinimumBrickSizeError):
        allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0)
    allocation = allocate_volume(2, VolumeShape("replicate", replica=2), DEFAULTS, nodes, seed=0)
    assert {b.node_id for b in allocation.bricks} == {"node03", "node04"}


def test_sets_spread_over_all_nodes():
    nodes = nodes_in_zones(1, 1, 2, 2, 3, 3)
    for seed in range(5):
        policy = PlacementPolicy(zone_checking="strict", brick_max_kib=GIB)
        allocation = allocate_volume(8, REPLICA_3, policy, nodes, seed=seed)
        assert len(allocation.sets) == 8
        assert {b.node_id for b in allocation.bricks} == {n.id for n in nodes}


def test_same_seed_same_plan():
    nodes = nodes_in_zones(1, 2, 3, 1, 2, 3, devices=2)
    first = allocate_volume(100, REPLICA_3, DEFAULTS, nodes, seed=42)
    assert first == allocate_volume(100, REPLICA_3, DEFAULTS, nodes, seed=42)


def test_distribute_volume_sets_have_one_brick():
    policy = PlacementPolicy(brick_max_kib=8 * GIB)
    allocation = allocate_volume(20, VolumeShape("none"), policy, [make_node(1)], seed=0)
    assert [len(s) for s in allocation.sets] == [1, 1, 1, 1]
    assert [(b.set_index, b.position) for b in allocation.bricks] == [(i, 0) for i in range(4)]


def test_charges_sum_per_device():
    policy = PlacementPolicy(brick_max_kib=8 * GIB)
    allocation = allocate_volume(20, VolumeShape("none"), policy, [make_node(1)], seed=0)
    assert allocation.charges_kib() == {"node01-dev0": 4 * device_charge_kib(5 * GIB)}


# ---------------------------------------------------------------- tags


def test_tag_rule_parsing():
    assert str(parse_tag_rule("disk=ssd")) == "disk=ssd"
    rule = parse_tag_rule("disk!=ssd")
    assert rule is not None and rule.negated and (rule.key, rule.value) == ("disk", "ssd")
    greedy = parse_tag_rule("a=b=c")
    assert greedy is not None and (greedy.key, greedy.value, greedy.negated) == ("a=b", "c", False)
    # `.-_` is a character range: upper case and `/:;<=>?@[\]^` are allowed, `!` is not.
    assert parse_tag_rule("K/Z=V@1") is not None
    # `=` is inside the range too, so `k==` reads as key `k`, value `=`.
    assert parse_tag_rule("k==").value == "="
    for bad in ("bogus", "k=", "=v", "k!v", "k=v\n", "k =v", "a!b=c!"):
        assert parse_tag_rule(bad) is None, bad


def test_tag_rule_matching_on_merged_tags():
    eq = parse_tag_rule("disk=ssd")
    ne = parse_tag_rule("disk!=ssd")
    assert eq.matches({"disk": "ssd"}) and not eq.matches({})
    assert ne.matches({}) and ne.matches({"disk": "hdd"}) and not ne.matches({"disk": "ssd"})
    assert merge_tags({"disk": "ssd", "rack": "a"}, {"disk": "hdd"}) == {"disk": "hdd", "rack": "a"}


def test_tag_match_filters_devices():
    nodes = [
        make_node(1, 1, device_tags={"disk": "ssd"}),
        make_node(2, 1, device_tags={"disk": "ssd"}),
        make_node(3, 2, device_tags={"disk": "ssd"}),
        make_node(4, 2, device_tags={"disk": "hdd"}),
    ]
    allocation = allocate_volume(
        2, REPLICA_3, PlacementPolicy(device_tag_match="disk=ssd"), nodes, seed=0
    )
    assert {b.node_id for b in allocation.bricks} == {"node01", "node02", "node03"}
    with pytest.raises(MinimumBrickSizeError) as caught:
        allocate_volume(2, REPLICA_3, PlacementPolicy(device_tag_match="disk!=ssd"), nodes)
    assert "tag disk!=ssd: 1 device on 1 node in 1 zone" in caught.value.explanation


def test_device_tag_overrides_node_tag():
    nodes = [
        make_node(1, tags={"disk": "ssd"}),
        make_node(2, tags={"disk": "ssd"}),
        make_node(3, tags={"disk": "ssd"}),
        make_node(4, tags={"disk": "ssd"}, device_tags={"disk": "hdd"}),
    ]
    policy = PlacementPolicy(device_tag_match="disk!=hdd")
    allocation = allocate_volume(2, REPLICA_3, policy, nodes, seed=0)
    assert "node04" not in {b.node_id for b in allocation.bricks}


def test_malformed_tag_rule():
    with pytest.raises(InvalidTagRuleError) as caught:
        allocate_volume(2, REPLICA_3, PlacementPolicy(device_tag_match="bogus"), nodes_in_zones(1))
    assert str(caught.value) == "Invalid tag match rule: bogus"
    assert caught.value.upstream_text == "Invalid tag match rule: bogus"
    assert (
        caught.value.allocation_text == "Invalid tag matching rule: Invalid tag match rule: bogus"
    )


# ---------------------------------------------------------------- arbiter


def test_arbiter_brick_size():
    assert arbiter_brick_kib(100 * GIB, 64) == 1638400
    assert arbiter_brick_kib(10 * GIB, 64) == 163840
    assert arbiter_brick_kib(10 * GIB, 1024) == 16384  # 16 MiB floor
    with pytest.raises(NoSpaceError):
        arbiter_brick_kib(32, 64)


def test_arbiter_roles():
    assert arbiter_role({}) is ArbiterRole.SUPPORTED
    assert arbiter_role({"arbiter": "bogus"}) is ArbiterRole.SUPPORTED
    assert arbiter_role({"arbiter": "required"}) is ArbiterRole.REQUIRED
    assert arbiter_role({"arbiter": "disabled"}) is ArbiterRole.DISABLED


ARBITER_3 = VolumeShape("replicate", replica=3, arbiter=True)


def arbiter_nodes(*roles: str) -> list[NodeView]:
    return [make_node(i + 1, tags={"arbiter": role}) for i, role in enumerate(roles)]


def test_arbiter_goes_to_required_node_at_index_2():
    nodes = arbiter_nodes("disabled", "disabled", "required")
    allocation = allocate_volume(10, ARBITER_3, DEFAULTS, nodes, seed=0)
    (brick_set,) = allocation.sets
    assert [b.position for b in brick_set] == [0, 1, 2]
    arbiter = brick_set[2]
    assert arbiter.arbiter and arbiter.node_id == "node03" and arbiter.size_kib == 163840
    assert [b.size_kib for b in brick_set[:2]] == [10 * GIB, 10 * GIB]
    assert {b.node_id for b in brick_set[:2]} == {"node01", "node02"}
    assert not any(b.arbiter for b in brick_set[:2])


def test_arbiter_average_file_size_and_snapshot_factor():
    nodes = arbiter_nodes("disabled", "disabled", "required")
    policy = PlacementPolicy(average_file_size_kib=1024, snapshot_factor=1.5)
    arbiter = allocate_volume(10, ARBITER_3, policy, nodes, seed=0).sets[0][2]
    assert arbiter.size_kib == 16384
    assert arbiter.tp_size_kib == space_needed(16384, 1.5)[0]


def test_supported_devices_host_either_kind():
    allocation = allocate_volume(2, ARBITER_3, DEFAULTS, arbiter_nodes("supported", "", "x"))
    assert sum(b.arbiter for b in allocation.bricks) == 1


def test_arbiter_fails_when_no_node_may_hold_it():
    with pytest.raises(MinimumBrickSizeError) as caught:
        allocate_volume(2, ARBITER_3, DEFAULTS, arbiter_nodes("disabled", "disabled", "disabled"))
    assert "arbiter brick at position 2" in caught.value.explanation


def test_arbiter_fails_when_every_node_requires_arbiter():
    nodes = arbiter_nodes("required", "required", "required")
    with pytest.raises(MinimumBrickSizeError):
        allocate_volume(2, ARBITER_3, DEFAULTS, nodes)
    # A volume without the arbiter option ignores the tags.
    assert allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0)


def test_arbiter_with_replica_2_is_plain_replica_2_avoiding_required_nodes():
    nodes = arbiter_nodes("disabled", "disabled", "required")
    shape = VolumeShape("replicate", replica=2, arbiter=True)
    allocation = allocate_volume(2, shape, DEFAULTS, nodes, seed=0)
    assert {b.node_id for b in allocation.bricks} == {"node01", "node02"}
    assert not any(b.arbiter for b in allocation.bricks)
    assert {b.size_kib for b in allocation.bricks} == {2 * GIB}


# ---------------------------------------------------------------- clusters


def cluster(cid: str, *, file=True, block=False, names=(), count=0, nodes=None) -> ClusterView:
    return ClusterView(
        id=cid,
        file=file,
        block=block,
        volume_names=frozenset(names),
        volume_count=count,
        nodes=tuple(nodes_in_zones(1, 2, 3) if nodes is None else nodes),
    )


def test_select_clusters_orders_by_id_or_request():
    clusters = [cluster("bb"), cluster("aa"), cluster("cc")]
    assert [c.id for c in select_clusters(clusters, ClusterRequest("file"))] == ["aa", "bb", "cc"]
    request = ClusterRequest("file", cluster_ids=("cc", "aa"))
    assert [c.id for c in select_clusters(clusters, request)] == ["cc", "aa"]


def test_select_clusters_single_reason_is_returned_as_is():
    with pytest.raises(ClusterNotEligibleError) as caught:
        select_clusters([cluster("aa", count=2)], ClusterRequest("file", max_volumes_per_cluster=2))
    assert caught.value.upstream_text == "Cluster has 2 volumes and limit is 2"
    with pytest.raises(ClusterNotEligibleError) as caught:
        select_clusters([cluster("aa", file=False)], ClusterRequest("file"))
    assert caught.value.upstream_text == "Cluster has disabled all volume types"
    with pytest.raises(ClusterNotEligibleError) as caught:
        select_clusters([cluster("aa")], ClusterRequest("block"))
    assert caught.value.upstream_text == "Cluster does not support requested volume type"


def test_select_clusters_several_reasons():
    clusters = [
        cluster("aa", names=("twin",)),
        cluster("bb", file=False, block=True),
        cluster("cc", file=False),
    ]
    with pytest.raises(ClusterNotEligibleError) as caught:
        select_clusters(clusters, ClusterRequest("file", name="twin"))
    assert caught.value.upstream_text == (
        "No eligible cluster for volume\n"
        "Cluster aa: Volume name 'twin' already in use\n"
        "Cluster bb: Cluster does not support requested volume type\n"
        "Cluster cc: Cluster has disabled all volume types"
    )


def test_select_clusters_limits():
    request = ClusterRequest("file", max_volumes_per_cluster=-1)
    assert select_clusters([cluster("aa", count=5000)], request)
    with pytest.raises(NoSpaceError) as caught:
        select_clusters([], ClusterRequest("file"))
    assert caught.value.upstream_text == "No space"


def test_allocate_in_clusters_first_fit():
    clusters = [cluster("aa", nodes=nodes_in_zones(1, 2)), cluster("bb")]
    result = allocate_in_clusters(clusters, 2, REPLICA_3, DEFAULTS, seed=0)
    assert result.cluster_id == "bb"
    assert len(result.allocation.bricks) == 3


def test_allocate_in_clusters_single_failure_texts():
    with pytest.raises(NoNodesError) as caught:
        allocate_in_clusters([cluster("aa", nodes=[])], 1, VolumeShape("none"), DEFAULTS)
    assert str(caught.value) == "No nodes in cluster"
    bare = [NodeView(id="n1", zone=1)]
    with pytest.raises(NoOnlineDevicesError) as caught:
        allocate_in_clusters([cluster("aa", nodes=bare)], 1, VolumeShape("none"), DEFAULTS)
    assert str(caught.value) == "No online storage devices in cluster"
    with pytest.raises(NoSpaceError) as caught:
        allocate_in_clusters([cluster("aa", nodes=nodes_in_zones(1, 2))], 2, REPLICA_3, DEFAULTS)
    assert caught.value.upstream_text == "No space"
    assert str(caught.value).startswith("No space: A volume of 2 GiB (replica 3) does not fit")
    assert " Detail: cluster aa: replica 3 needs 3 nodes" in str(caught.value)


def test_allocate_in_clusters_maps_brick_limit_to_no_space():
    with pytest.raises(NoSpaceError):
        allocate_in_clusters([cluster("aa")], 100000, REPLICA_3, DEFAULTS)


def test_allocate_in_clusters_several_failures():
    clusters = [cluster("aa", nodes=nodes_in_zones(1, 2)), cluster("bb", nodes=[])]
    with pytest.raises(AllClustersFailedError) as caught:
        allocate_in_clusters(clusters, 2, REPLICA_3, DEFAULTS)
    assert caught.value.upstream_text == (
        "Unable to create volume on any cluster:\nCluster aa: No space\nCluster bb: No nodes in cluster"
    )
    assert "cluster aa: replica 3 needs 3 nodes" in caught.value.explanation


def test_allocate_in_clusters_aborts_on_invalid_tag_rule():
    clusters = [cluster("aa"), cluster("bb")]
    with pytest.raises(InvalidTagRuleError):
        allocate_in_clusters(clusters, 2, REPLICA_3, PlacementPolicy(device_tag_match="x"))


# ---------------------------------------------------------------- replacement


def placed(brick, zone_of) -> PlacedBrick:
    return PlacedBrick(
        node_id=brick.node_id,
        device_id=brick.device_id,
        zone=zone_of[brick.node_id],
        size_kib=brick.size_kib,
        position=brick.position,
        arbiter=brick.arbiter,
    )


def test_replacement_avoids_other_bricks_nodes_and_the_old_device():
    nodes = nodes_in_zones(1, 2, 3, 4, devices=2)
    zone_of = {n.id: n.zone for n in nodes}
    (brick_set,) = allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0).sets
    set_bricks = [placed(b, zone_of) for b in brick_set]
    old = set_bricks[1]
    new = replacement_brick(old, set_bricks, REPLICA_3, DEFAULTS, nodes, seed=1)
    assert new.device_id != old.device_id
    assert new.node_id not in {b.node_id for b in set_bricks if b is not old}
    assert (new.size_kib, new.position) == (old.size_kib, old.position)


def test_replacement_may_use_the_old_node():
    nodes = nodes_in_zones(1, 2, 3, devices=2)
    zone_of = {n.id: n.zone for n in nodes}
    (brick_set,) = allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0).sets
    set_bricks = [placed(b, zone_of) for b in brick_set]
    new = replacement_brick(set_bricks[0], set_bricks, REPLICA_3, DEFAULTS, nodes, seed=0)
    assert new.node_id == set_bricks[0].node_id
    assert new.device_id != set_bricks[0].device_id


def test_no_replacement():
    nodes = nodes_in_zones(1, 2, 3)
    zone_of = {n.id: n.zone for n in nodes}
    (brick_set,) = allocate_volume(2, REPLICA_3, DEFAULTS, nodes, seed=0).sets
    set_bricks = [placed(b, zone_of) for b in brick_set]
    with pytest.raises(NoReplacementError) as caught:
        replacement_brick(set_bricks[0], set_bricks, REPLICA_3, DEFAULTS, nodes)
    assert str(caught.value) == "No Replacement was found for resource requested to be removed"
    assert "not the old device: 2 devices" in caught.value.explanation


def test_arbiter_replacement_uses_arbiter_feed_and_excludes_old_zone_under_strict():
    nodes = [
        make_node(1, 1, tags={"arbiter": "disabled"}),
        make_node(2, 2, tags={"arbiter": "disabled"}),
        make_node(3, 3, tags={"arbiter": "required"}),
        make_node(4, 3, tags={"arbiter": "required"}),
    ]
    zone_of = {n.id: n.zone for n in nodes}
    (brick_set,) = allocate_volume(10, ARBITER_3, DEFAULTS, nodes, seed=0).sets
    set_bricks = [placed(b, zone_of) for b in brick_set]
    old = set_bricks[2]
    assert old.arbiter and old.node_id in {"node03", "node04"}
    new = replacement_brick(old, set_bricks, ARBITER_3, DEFAULTS, nodes, seed=0)
    assert new.arbiter and new.size_kib == 163840 and new.position == 2
    assert new.node_id in {"node03", "node04"} and new.node_id != old.node_id
    # The only other arbiter-capable node shares the old arbiter's zone.
    strict = PlacementPolicy(zone_checking="strict")
    with pytest.raises(NoReplacementError):
        replacement_brick(old, set_bricks, ARBITER_3, strict, nodes)
    # A data brick is replaced from the data feed, never onto a `required` node.
    with pytest.raises(NoReplacementError):
        replacement_brick(set_bricks[0], set_bricks, ARBITER_3, DEFAULTS, nodes)


def test_arbiter_bricks_respect_the_filesystem_minimum() -> None:
    # Real nodes: mkfs.xfs refuses filesystems under 300 MiB, so the arbiter brick of a 1 GiB
    # volume (16 MiB by Heketi's formula) is placed at 300 MiB and charged as such.
    from heketipy.domain.placement import (
        DeviceView,
        NodeView,
        PlacementPolicy,
        VolumeShape,
        allocate_volume,
    )

    nodes = [
        NodeView(id=f"n{i}", zone=i, devices=(DeviceView(id=f"d{i}", node_id=f"n{i}",
                                                         free_kib=100 * 1024 * 1024),))
        for i in range(3)
    ]
    shape = VolumeShape(durability="replicate", replica=3, arbiter=True)
    exact = allocate_volume(1, shape, PlacementPolicy(), nodes, seed=1)
    floored = allocate_volume(1, shape, PlacementPolicy(min_filesystem_kib=300 * 1024), nodes, seed=1)
    assert sorted(b.size_kib for b in exact.bricks if b.arbiter) == [16384]
    assert sorted(b.size_kib for b in floored.bricks if b.arbiter) == [300 * 1024]
    assert all(b.size_kib == 1024 * 1024 for b in floored.bricks if not b.arbiter)
