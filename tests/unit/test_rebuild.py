"""The pieces of ``heketipy db rebuild`` below the command: what is parsed from node output
(captured ``volume info``, gluster-block JSON, ``stat``), the argv that reads it, and the
inversions of the create-time formulas (snapshot factor, volume size, options)."""

from __future__ import annotations

import pytest

from heketipy.config.glusterfs import GlusterfsSettings
from heketipy.config.settings import Settings
from heketipy.domain.errors import NodeCommandError
from heketipy.domain.space import space_needed
from heketipy.executors import commands_gluster as gcmd
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import GlusterVolume
from heketipy.executors.commands_common import UnsafeArgument
from heketipy.rebuild.reconstruct import (
    OPTION_GROUPS,
    _snapshot_factor,
    is_block_hosting,
    volume_id_of,
    volume_options,
)
from tests.unit.test_remote_executor import FakeRunner, data, executor

VOLUME_ID = "0123456789abcdef0123456789abcdef"


def settings(pre: str = "", post: str = "", block: str = "group gluster-block") -> Settings:
    return Settings(auth_enabled=False, glusterfs=GlusterfsSettings(
        executor="simulator", pre_request_volume_options=pre, post_request_volume_options=post,
        block_hosting_volume_options=block,
    ))  # fmt: skip


def test_volume_info_carries_the_layout_glusterd_reports() -> None:
    volumes = {v.name: v for v in gcmd.parse_volume_info(data("volume_info_all.xml"))}
    arbiter = volumes["vol_arb"]
    assert (arbiter.type, arbiter.replica, arbiter.arbiter) == ("Replicate", 3, 1)
    assert volumes["vol_r3"].arbiter == 0 and volumes["vol_r3"].replica == 3
    assert volumes["vol_dist"].type == "Distribute"
    assert (volumes["vol_dist"].disperse, volumes["vol_dist"].redundancy) == (0, 0)


def test_block_list_and_info_as_heketi_reads_them() -> None:
    assert gcmd.parse_block_list({"blocks": ["b1", "b2"], "RESULT": "SUCCESS"}) == ("b1", "b2")
    assert gcmd.parse_block_list({"RESULT": "SUCCESS"}) == ()
    info = gcmd.parse_block_info({
        "NAME": "b1", "VOLUME": "bhv", "GBID": "6b3e-01", "SIZE": "2.0 GiB", "HA": 2,
        "PASSWORD": "pw", "EXPORTED ON": ["10.0.0.1", "10.0.0.2"],
    })  # fmt: skip
    assert info.iqn == "iqn.2016-12.org.gluster-block:6b3e-01"
    assert (info.size_gib, info.usable_size_gib, info.hosts) == (2, 2, ("10.0.0.1", "10.0.0.2"))
    assert (info.username, info.password) == ("6b3e-01", "pw")
    plain = gcmd.parse_block_info({"NAME": "b2", "GBID": "g", "SIZE": "1 GiB", "PASSWORD": ""})
    assert (plain.username, plain.password, plain.hosts) == ("", "", ())
    with pytest.raises(lcmd.ParseError):
        gcmd.parse_block_info({"NAME": "b3", "SIZE": "1 GiB"})


def test_brick_directory_groups_are_read_with_stat() -> None:
    paths = ["/var/lib/heketi/mounts/vg_a/brick_b/brick", "/run/gluster/snaps/x/brick1/brick"]
    assert lcmd.stat_groups(paths) == ["stat", "-c", "%g %n", "--", *paths]
    assert lcmd.parse_stat_groups(f"2000 {paths[0]}\n0 {paths[1]}\n") == {
        paths[0]: 2000, paths[1]: 0,
    }
    for hostile in (["relative/brick"], ["/x/../etc"], ["/x; rm -rf /"], []):
        with pytest.raises(UnsafeArgument):
            lcmd.stat_groups(hostile)
    with pytest.raises(lcmd.ParseError):
        lcmd.parse_stat_groups("stat: cannot statx '/x': No such file or directory\n")


async def test_remote_executor_reads_recovery_facts() -> None:
    runner = FakeRunner()
    runner.on("stat -c", (0, "2000 /m/a/brick\n2000 /m/b/brick\n", ""))
    runner.on("gluster-block list bhv", (0, '{"blocks":["b1"],"RESULT":"SUCCESS"}', ""))
    runner.on("gluster-block info bhv/b1", (0, '{"NAME":"b1","GBID":"g1","SIZE":"3.0 GiB",'
                                               '"HA":1,"PASSWORD":"","EXPORTED ON":["h1"]}', ""))
    remote, _ = executor(runner)
    facts = await remote.recovery_facts("h1", ("/m/a/brick", "/m/b/brick"), ("bhv",))
    assert facts.brick_gids == {"/m/a/brick": 2000, "/m/b/brick": 2000}
    (block,) = facts.block_volumes["bhv"]
    assert (block.name, block.size_gib, block.hosts) == ("b1", 3, ("h1",))
    assert runner.lines() == [
        "env LC_ALL=C stat -c %g %n -- /m/a/brick /m/b/brick",
        "env LC_ALL=C gluster-block list bhv --json",
        "env LC_ALL=C gluster-block info bhv/b1 --json",
    ]


async def test_remote_executor_recovery_facts_fail_on_a_failed_block_list() -> None:
    runner = FakeRunner()
    runner.on("gluster-block list", (2, '{"RESULT":"FAIL","errMsg":"volume bhv does not exist"}', ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError, match="volume bhv does not exist"):
        await remote.recovery_facts("h1", (), ("bhv",))


@pytest.mark.parametrize("factor", [1.0, 1.1, 1.25, 1.5, 2, 2.7, 3.33, 10, 47.5])
@pytest.mark.parametrize("brick_kib", [1048576, 349525, 5 * 1048576, 32768])
def test_snapshot_factor_comes_back_from_pool_over_brick(factor: float, brick_kib: int) -> None:
    pool_kib = space_needed(brick_kib, factor)[0]
    found = _snapshot_factor([(brick_kib, pool_kib, 4096)])
    assert found is not None
    # The same pools: a factor indistinguishable on the nodes gives the same database.
    assert space_needed(brick_kib, found)[0] == pool_kib
    if brick_kib >= 1048576:
        assert found == factor


def test_volume_ids_come_from_the_option_or_the_name() -> None:
    assert volume_id_of(GlusterVolume("x", options={"user.heketi.id": VOLUME_ID})) == VOLUME_ID
    assert volume_id_of(GlusterVolume(f"vol_{VOLUME_ID}")) == VOLUME_ID
    assert volume_id_of(GlusterVolume("theirs")) == ""
    assert volume_id_of(GlusterVolume("x", options={"user.heketi.id": VOLUME_ID.upper()})) == ""


def test_options_are_what_the_request_added_between_the_configured_ones() -> None:
    listed = {  # newest first, as glusterd lists them
        "user.heketi.id": VOLUME_ID, "b": "2", "a": "1", "pre.key": "p",
        "cluster.granular-entry-heal": "on", "nfs.disable": "on",
    }
    volume = GlusterVolume("v", options=listed)
    # In the order they were set; the configured ones in their place (Go's Split of "" too).
    assert volume_options(volume, settings(), block=False) == ["", "pre.key p", "a 1", "b 2", ""]
    assert volume_options(volume, settings(pre="pre.key p"), block=False) == [
        "pre.key p", "a 1", "b 2", "",
    ]


def test_block_hosting_is_told_by_the_group_or_its_expansion() -> None:
    assert is_block_hosting(GlusterVolume("v", options={"group": "gluster-block"}), settings())
    # A real glusterd lists what the group file sets instead of the group.
    expanded = GlusterVolume("v", options=dict(OPTION_GROUPS["gluster-block"]))
    assert is_block_hosting(expanded, settings())
    assert not is_block_hosting(GlusterVolume("v", options={"features.shard": "on"}), settings())
    assert is_block_hosting(
        GlusterVolume("v", options={"features.shard": "on"}), settings(block="features.shard on")
    )


async def test_a_node_without_gluster_block_has_no_block_volumes() -> None:
    runner = FakeRunner()
    # env (every node command runs as ``env LC_ALL=C <tool>``) exits 127 for a missing program.
    runner.on("gluster-block list", (127, "", "env: 'gluster-block': No such file or directory"))
    remote, _ = executor(runner)
    facts = await remote.recovery_facts("h1", (), ("bhv",))
    assert facts.block_volumes == {"bhv": ()}
    assert runner.lines() == ["env LC_ALL=C gluster-block list bhv --json"]
