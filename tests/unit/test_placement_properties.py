"""Property tests for placement: set rules, zones, space, and a toy space ledger."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heketipy.domain.placement import (
    Allocation,
    DeviceView,
    MaxBricksError,
    MinimumBrickSizeError,
    NodeView,
    NoOnlineDevicesError,
    PlacementPolicy,
    VolumeShape,
    allocate_volume,
    arbiter_brick_kib,
)
from heketipy.domain.tags import merge_tags, parse_tag_rule
from heketipy.domain.units import set_width

GIB = 1024 * 1024
MIB = 1024
EXPECTED_FAILURES = (MaxBricksError, MinimumBrickSizeError, NoOnlineDevicesError)

shapes = st.one_of(
    st.builds(
        VolumeShape,
        durability=st.just("replicate"),
        replica=st.integers(1, 3),
        arbiter=st.booleans(),
    ),
    st.sampled_from([(2, 1), (4, 2)]).map(
        lambda dr: VolumeShape("disperse", data=dr[0], redundancy=dr[1])
    ),
    st.just(VolumeShape("none")),
)

mostly_true = st.sampled_from([True, True, True, True, False])
tag_values = st.sampled_from([None, "ssd", "ssd", "hdd"])
arbiter_values = st.sampled_from([None, None, "required", "supported", "disabled"])


def _tags(disk: str | None, arbiter: str | None) -> dict[str, str]:
    tags = {}
    if disk is not None:
        tags["disk"] = disk
    if arbiter is not None:
        tags["arbiter"] = arbiter
    return tags


@st.composite
def clusters(draw, *, generous: bool = False) -> list[NodeView]:
    """Random clusters; `generous` ones are mostly online with room, so multi-brick sets fit."""
    node_count = draw(st.integers(3, 7) if generous else st.integers(1, 7))
    device_counts = st.integers(1, 3) if generous else st.integers(0, 3)
    free_sizes = (
        st.integers(4 * GIB, 64 * GIB)
        if generous
        else st.integers(0, 8) | st.integers(GIB, 64 * GIB)
    )
    online = st.sampled_from([True] * 9 + [False]) if generous else mostly_true
    nodes = []
    for n in range(node_count):
        node_id = f"node{n}"
        node_tags = _tags(draw(tag_values), draw(arbiter_values))
        devices = tuple(
            DeviceView(
                id=f"{node_id}-dev{d}",
                node_id=node_id,
                free_kib=draw(free_sizes),
                tags=merge_tags(node_tags, _tags(draw(tag_values), draw(arbiter_values))),
                online=draw(online),
                extent_kib=draw(st.sampled_from([4096, 4096, 1024])),
            )
            for d in range(draw(device_counts))
        )
        nodes.append(
            NodeView(
                id=node_id,
                zone=draw(st.integers(1, 3)),
                online=draw(online),
                devices=devices,
                tags=node_tags,
            )
        )
    return nodes


policies = st.builds(
    PlacementPolicy,
    brick_min_kib=st.sampled_from([256 * MIB, 512 * MIB, GIB]),
    brick_max_kib=st.sampled_from([2 * GIB, 4 * GIB, 4096 * GIB]),
    max_bricks_per_volume=st.sampled_from([8, 32, 64]),
    zone_checking=st.sampled_from(["none", "strict", "bogus"]),
    average_file_size_kib=st.sampled_from([64, 1024]),
    snapshot_factor=st.sampled_from([1.0, 1.5]),
    device_tag_match=st.sampled_from([None, None, "disk=ssd", "disk!=hdd"]),
)


def _check_allocation(
    allocation: Allocation,
    size_gib: int,
    shape: VolumeShape,
    policy: PlacementPolicy,
    nodes: list[NodeView],
) -> None:
    node_by_id = {n.id: n for n in nodes}
    device_by_id = {d.id: d for n in nodes for d in n.devices}
    rule = parse_tag_rule(policy.device_tag_match) if policy.device_tag_match else None
    assert len(allocation.bricks) <= policy.max_bricks_per_volume
    assert policy.brick_min_kib <= allocation.brick_size_kib <= policy.brick_max_kib
    share = size_gib * GIB // len(allocation.sets)
    expected_brick = share // shape.data if shape.durability == "disperse" else share
    assert allocation.brick_size_kib == expected_brick

    for set_index, brick_set in enumerate(allocation.sets):
        assert len(brick_set) == set_width(shape)
        assert [b.position for b in brick_set] == list(range(set_width(shape)))
        assert {b.set_index for b in brick_set} <= {set_index}
        # Bricks of one set are on distinct nodes, always.
        assert len({b.node_id for b in brick_set}) == len(brick_set)
        if policy.zone_checking == "strict":
            zones = [node_by_id[b.node_id].zone for b in brick_set]
            assert len(set(zones)) == len(zones)
        for brick in brick_set:
            device = device_by_id[brick.device_id]
            assert device.node_id == brick.node_id
            assert device.online and node_by_id[brick.node_id].online
            if rule is not None:
                assert rule.matches(device.tags)
            if brick.arbiter:
                assert shape.arbiter and brick.position == 2
                assert brick.size_kib == arbiter_brick_kib(
                    allocation.brick_size_kib, policy.average_file_size_kib
                )
                assert device.tags.get("arbiter") != "disabled"
            else:
                assert brick.size_kib == allocation.brick_size_kib
                if shape.arbiter and shape.durability == "replicate":
                    assert device.tags.get("arbiter") != "required"

    # Never over a device's free space: every debit left the device strictly positive.
    for device_id, charge in allocation.charges_kib().items():
        assert charge < device_by_id[device_id].free_kib


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=clusters() | clusters(generous=True),
    shape=shapes,
    policy=policies,
    size_gib=st.integers(1, 16),
    seed=st.integers(0, 2**32),
)
def test_any_allocation_respects_the_rules(nodes, shape, policy, size_gib, seed):
    try:
        allocation = allocate_volume(size_gib, shape, policy, nodes, seed=seed)
    except EXPECTED_FAILURES as error:
        assert error.upstream_text
        return
    _check_allocation(allocation, size_gib, shape, policy, nodes)
    assert allocation == allocate_volume(size_gib, shape, policy, nodes, seed=seed)


@st.composite
def uniform_clusters(draw) -> list[NodeView]:
    node_count = draw(st.integers(3, 6))
    return [
        NodeView(
            id=f"node{n}",
            zone=n % 3 + 1,
            devices=tuple(
                DeviceView(id=f"node{n}-dev{d}", node_id=f"node{n}", free_kib=64 * GIB)
                for d in range(draw(st.integers(1, 2)))
            ),
        )
        for n in range(node_count)
    ]


@settings(max_examples=200, deadline=None)
@given(
    nodes=uniform_clusters(),
    shape=shapes,
    size_gib=st.integers(1, 8),
)
def test_enough_space_always_places(nodes, shape, size_gib):
    # 3+ nodes in 3 zones with ample room fit any replica <= 3 volume, even under strict zones.
    if set_width(shape) > 3:
        return
    if shape.durability == "disperse":
        size_gib *= shape.data  # the REST layer refuses smaller disperse volumes
    policy = PlacementPolicy(zone_checking="strict")
    allocation = allocate_volume(size_gib, shape, policy, nodes, seed=0)
    assert len(allocation.sets) == 1
    _check_allocation(allocation, size_gib, shape, policy, nodes)


class ToyLedger:
    """Device totals with used/free, as the store keeps them."""

    def __init__(self, nodes: list[NodeView]) -> None:
        self.zones = {n.id: n.zone for n in nodes}
        self.total = {d.id: d.free_kib for n in nodes for d in n.devices}
        self.free = dict(self.total)
        self.used = dict.fromkeys(self.total, 0)
        self.node_of = {d.id: n.id for n in nodes for d in n.devices}

    def snapshot(self) -> list[NodeView]:
        devices_by_node: dict[str, list[DeviceView]] = {n: [] for n in self.zones}
        for device_id, node_id in self.node_of.items():
            devices_by_node[node_id].append(DeviceView(device_id, node_id, self.free[device_id]))
        return [
            NodeView(id=n, zone=z, devices=tuple(devices_by_node[n])) for n, z in self.zones.items()
        ]

    def debit(self, charges: dict[str, int]) -> None:
        for device_id, kib in charges.items():
            self.free[device_id] -= kib
            self.used[device_id] += kib

    def credit(self, charges: dict[str, int]) -> None:
        for device_id, kib in charges.items():
            self.free[device_id] += kib
            self.used[device_id] -= kib


@settings(max_examples=100, deadline=None)
@given(
    nodes=uniform_clusters(),
    steps=st.lists(
        st.tuples(st.booleans(), st.integers(1, 30), shapes, st.integers(0, 1000)),
        min_size=1,
        max_size=25,
    ),
)
def test_ledger_stays_balanced_and_frees_restore_devices(nodes, steps):
    ledger = ToyLedger(nodes)
    policy = PlacementPolicy(brick_max_kib=8 * GIB, snapshot_factor=1.5)
    volumes: list[Allocation] = []
    for allocate, size_gib, shape, pick in steps:
        if allocate or not volumes:
            try:
                allocation = allocate_volume(size_gib, shape, policy, ledger.snapshot(), seed=pick)
            except EXPECTED_FAILURES:
                continue
            charges = allocation.charges_kib()
            assert all(kib < ledger.free[d] for d, kib in charges.items())
            ledger.debit(charges)
            volumes.append(allocation)
        else:
            ledger.credit(volumes.pop(pick % len(volumes)).charges_kib())
        for device_id in ledger.total:
            assert ledger.used[device_id] + ledger.free[device_id] == ledger.total[device_id]
            assert ledger.free[device_id] > 0
    for allocation in volumes:
        ledger.credit(allocation.charges_kib())
    assert ledger.free == ledger.total
    assert set(ledger.used.values()) <= {0}


@settings(max_examples=100, deadline=None)
@given(nodes=clusters(), seed=st.integers(0, 2**16))
def test_replica_sets_spread_bricks_over_nodes(nodes, seed):
    # With bricks capped at 1 GiB, an 8 GiB replica 2 volume is 8 sets; no node may hold
    # more bricks than there are sets (one per set at most).
    policy = PlacementPolicy(brick_max_kib=GIB, max_bricks_per_volume=64)
    try:
        allocation = allocate_volume(
            8, VolumeShape("replicate", replica=2), policy, nodes, seed=seed
        )
    except EXPECTED_FAILURES:
        return
    per_node = Counter(b.node_id for b in allocation.bricks)
    assert max(per_node.values()) <= len(allocation.sets)
