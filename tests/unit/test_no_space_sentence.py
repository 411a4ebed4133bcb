"""A "No space" answer leads with one readable sentence (what was asked, the most free space
found, why it does not fit), then the detail (issue 10, item 15). Heketi's `No space` stays
the prefix clients match on."""

from __future__ import annotations

from heketipy.domain.placement import (
    AllClustersFailedError,
    NoSpaceError,
    PlacementPolicy,
    VolumeShape,
    allocate_in_clusters,
)
from tests.unit.test_placement import DEFAULTS, GIB, REPLICA_3, cluster, nodes_in_zones


def _no_space(*args, **kwargs) -> str:  # noqa: ANN002, ANN003
    try:
        allocate_in_clusters(*args, **kwargs)
    except NoSpaceError as error:
        assert error.upstream_text == "No space"
        return str(error)
    raise AssertionError("placement succeeded")


def test_too_few_nodes_says_so_first() -> None:
    text = _no_space([cluster("aa", nodes=nodes_in_zones(1, 2))], 2, REPLICA_3, DEFAULTS)
    assert text.startswith(
        "No space: A volume of 2 GiB (replica 3) does not fit: each brick set needs 3 nodes"
        " with a usable device, and only 2 nodes have one (the most free space on one device"
        " is 500 GiB). Detail: cluster aa: replica 3 needs 3 nodes per brick set")


def test_strict_zones_count_zones() -> None:
    policy = PlacementPolicy(zone_checking="strict")
    text = _no_space([cluster("aa", nodes=nodes_in_zones(1, 1, 2))], 1, REPLICA_3, policy)
    assert text.startswith(
        "No space: A volume of 1 GiB (replica 3) does not fit: each brick set needs 3 nodes"
        " in different zones with a usable device, and only 2 zones have one")


def test_brick_limit_names_the_largest_free_space() -> None:
    text = _no_space([cluster("aa")], 100000, REPLICA_3, DEFAULTS)
    assert text.startswith(
        "No space: A volume of 100000 GiB (replica 3) does not fit: the most free space on one"
        " usable device is 500 GiB (1500 GiB on all 3), and bricks small enough to fit would"
        " take more than the 32 bricks a volume may have. Detail: cluster aa: ")


def test_minimum_brick_size_reached() -> None:
    small = nodes_in_zones(1, free_kib=GIB // 2)
    text = _no_space([cluster("aa", nodes=small)], 4, VolumeShape("none"), DEFAULTS)
    assert text.startswith(
        "No space: A volume of 4 GiB (distribute) does not fit: the most free space on one"
        " usable device is 0.5 GiB (0.5 GiB on all 1), and even bricks of the minimum size,"
        " 1 GiB, find no device with room. Detail: cluster aa: ")


def test_no_usable_device() -> None:
    policy = PlacementPolicy(device_tag_match="disk=ssd")
    text = _no_space([cluster("aa")], 1, REPLICA_3, policy)
    assert text.startswith(
        "No space: A volume of 1 GiB (replica 3) does not fit: no device is usable (online,"
        " on an online node, and matching the volume's tag rule). Detail: cluster aa: ")


def test_each_cluster_line_leads_with_its_sentence() -> None:
    clusters = [cluster("aa", nodes=nodes_in_zones(1, 2)), cluster("bb", nodes=[])]
    try:
        allocate_in_clusters(clusters, 2, REPLICA_3, DEFAULTS)
    except AllClustersFailedError as error:
        (cid, failure), _ = error.failures
        assert cid == "aa"
        assert str(failure).startswith("No space: A volume of 2 GiB (replica 3) does not fit: ")
    else:
        raise AssertionError("placement succeeded")
