"""Expansion in place, unit level: the growth planning (``domain.expansion``), the argv builders
and parser (``executors.commands_lvm``), the simulated nodes' lvextend/lvreduce/xfs_growfs with
LVM's and xfsprogs' answers, and the ``heketipy.volume_expansion`` setting."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from heketipy.config import ConfigError, load_settings
from heketipy.domain import expansion as ex
from heketipy.domain.errors import NodeCommandError
from heketipy.domain.placement import BrickPlan, NoSpaceError, PlacementPolicy
from heketipy.domain.space import space_needed
from heketipy.executors.commands import CommandOptions, UnsafeArgument
from heketipy.executors.commands import lvm as l
from heketipy.executors.commands_common import unwrap
from tests.support.simulated import nodes_of
from tests.unit.test_commands import VG, brick
from tests.unit.test_simulator import GIB, make_brick, make_cluster, simulated

POLICY = PlacementPolicy(
    brick_min_kib=GIB, brick_max_kib=4096 * GIB, max_bricks_per_volume=32,
    zone_checking="none", average_file_size_kib=64, snapshot_factor=1.0,
    device_tag_match=None, min_filesystem_kib=0,
)  # fmt: skip


def now(device: str, size_kib: int, *, set_index: int = 0, arbiter: bool = False,
        factor: float = 1.0) -> BrickPlan:  # fmt: skip
    tp, metadata = space_needed(size_kib, factor)
    return BrickPlan("n", device, size_kib, tp, metadata, arbiter, set_index, 0)


def room(*devices: str, free: int = 1000 * GIB, usable: bool = True) -> dict[str, ex.DeviceRoom]:
    return {d: ex.DeviceRoom(d, free, 4096, usable) for d in devices}


# -- planning --------------------------------------------------------------------------------


def test_one_set_grows_to_the_new_volume_size_with_its_pool_and_metadata() -> None:
    bricks = {f"b{i}": now(f"d{i}", 10 * GIB) for i in range(3)}
    growth = ex.plan_growth(bricks, room("d0", "d1", "d2"), 10, 5, POLICY)
    tp, metadata = space_needed(15 * GIB)
    assert [g.sizes() for g in growth] == [[15 * GIB, tp, metadata]] * 3
    assert {g.charge_delta_kib for g in growth} == {tp + metadata - bricks["b0"].charge_kib}


def test_sets_of_different_sizes_keep_their_proportions() -> None:
    # 10 GiB made as one set, then +5 GiB added as a second set (add-brick).
    bricks = {"a": now("d0", 10 * GIB), "b": now("d1", 5 * GIB, set_index=1)}
    growth = ex.plan_growth(bricks, room("d0", "d1"), 15, 15, POLICY)
    assert [g.size_kib for g in growth] == [20 * GIB, 10 * GIB]


def test_disperse_bricks_grow_by_the_delta_over_the_data_count() -> None:
    bricks = {f"b{i}": now(f"d{i}", GIB) for i in range(6)}  # 4+2 of a 4 GiB volume
    growth = ex.plan_growth(bricks, room(*[f"d{i}" for i in range(6)]), 4, 4, POLICY)
    assert {g.size_kib for g in growth} == {2 * GIB}


def test_an_arbiter_is_resized_from_its_grown_data_bricks_and_never_shrinks() -> None:
    small = {"a": now("d0", 2 * GIB), "b": now("d1", 2 * GIB), "c": now("d2", 32768, arbiter=True)}
    growth = ex.plan_growth(small, room("d0", "d1", "d2"), 2, 30, POLICY)
    assert [g.size_kib for g in growth] == [32 * GIB, 32 * GIB, 32 * GIB // 64]
    big_arbiter = {**small, "c": now("d2", 4 * GIB, arbiter=True)}
    growth = ex.plan_growth(big_arbiter, room("d0", "d1", "d2"), 2, 1, POLICY)
    assert growth[2].size_kib == 4 * GIB and growth[2].charge_delta_kib == 0


def test_the_snapshot_factor_sizes_the_grown_pool() -> None:
    bricks = {"a": now("d0", 10 * GIB, factor=1.5)}
    policy = dataclasses.replace(POLICY, snapshot_factor=1.5)
    (growth,) = ex.plan_growth(bricks, room("d0"), 10, 10, policy)
    assert (growth.tp_size_kib, growth.pool_metadata_kib) == space_needed(20 * GIB, 1.5)


def test_a_device_fits_only_with_strictly_more_free_than_the_summed_growth() -> None:
    bricks = {"a": now("d0", 10 * GIB), "b": now("d0", 10 * GIB, set_index=1)}
    needed = 2 * (sum(space_needed(15 * GIB)) - bricks["a"].charge_kib)
    assert ex.plan_growth(bricks, room("d0", free=needed + 1), 20, 10, POLICY)
    with pytest.raises(NoSpaceError) as caught:
        ex.plan_growth(bricks, room("d0", free=needed), 20, 10, POLICY)
    assert str(caught.value).startswith("No space: a device lacks room")
    assert f"more than {needed} KiB" in str(caught.value)


def test_an_offline_device_or_a_brick_above_the_maximum_is_no_space() -> None:
    bricks = {"a": now("d0", 10 * GIB)}
    with pytest.raises(NoSpaceError, match="not online"):
        ex.plan_growth(bricks, room("d0", usable=False), 10, 1, POLICY)
    with pytest.raises(NoSpaceError, match="maximum brick size"):
        ex.plan_growth(bricks, room("d0"), 10, 10, dataclasses.replace(POLICY, brick_max_kib=15 * GIB))


# -- builders and parser ---------------------------------------------------------------------


def test_grow_commands_are_exact_absolute_and_wrapped() -> None:
    options = CommandOptions(lvm_wrapper=("/usr/sbin/exec-on-host", "--"))
    b = brick(size_kib=2 * GIB, tp_size_kib=2 * GIB, pool_metadata_kib=12288)
    lvm = ["/usr/sbin/exec-on-host", "--", "/usr/sbin/lvm"]
    tp, lv = f"{VG}/{b.tp_name}", f"{VG}/{b.lv_name}"
    assert l.thin_pool_extend(options, b) == [
        *lvm, "lvextend", "-qq", "--autobackup=n", "--size", f"{2 * GIB}K", tp]
    assert l.pool_metadata_extend(options, b) == [
        *lvm, "lvextend", "-qq", "--autobackup=n", "--poolmetadatasize", "12288K", tp]
    assert l.thin_lv_extend(options, b) == [
        *lvm, "lvextend", "-qq", "--autobackup=n", "--size", f"{2 * GIB}K", lv]
    assert l.thin_lv_reduce(options, b) == [
        *lvm, "lvreduce", "-qq", "-f", "--autobackup=n", "--size", f"{2 * GIB}K", lv]
    assert l.brick_lv_sizes(options, b) == [
        *lvm, "lvs", "--reportformat=json", "--units", "k", "--nosuffix",
        "-o", "lv_name,lv_size,lv_metadata_size", tp, lv]
    assert l.xfs_growfs(b.mount_path) == ["xfs_growfs", "-d", b.mount_path]
    # A small brick's thin LV keeps mkfs.xfs's minimum virtual size, as at create.
    assert l.thin_lv_extend(options, brick())[-3:-1] == ["--size", f"{l.MIN_XFS_KIB}K"]


@pytest.mark.parametrize("field", ["tp_name", "lv_name"])
def test_grow_commands_refuse_hostile_names(field: str) -> None:
    hostile = brick(**{field: "x;rm -rf /"})
    for builder in (l.thin_pool_extend, l.pool_metadata_extend, l.thin_lv_extend,
                    l.thin_lv_reduce, l.brick_lv_sizes):
        with pytest.raises(UnsafeArgument):
            builder(CommandOptions(), hostile)
    with pytest.raises(UnsafeArgument):
        l.xfs_growfs("/mnt/x;reboot")


def test_lv_sizes_parser_reads_lvm_json() -> None:
    stdout = json.dumps({"report": [{"lv": [
        {"lv_name": "tp_x", "lv_size": "2097152.00", "lv_metadata_size": "12288.00"},
        {"lv_name": "brick_x", "lv_size": "2097152.00", "lv_metadata_size": ""},
    ]}]})
    assert l.parse_lv_sizes("  WARNING: noise\n" + stdout) == {
        "tp_x": l.LvSize(2 * GIB, 12288), "brick_x": l.LvSize(2 * GIB, 0)}


# -- the simulated nodes ---------------------------------------------------------------------


async def test_extend_undo_and_grow_on_simulated_nodes() -> None:
    sim = simulated(device_size_gb=100)
    await make_cluster(sim, ("h1",))
    small = make_brick("h1", GIB)
    await sim.brick_create("h1", small)
    big = dataclasses.replace(
        small, size_kib=3 * GIB, tp_size_kib=3 * GIB, pool_metadata_kib=16384
    )
    nodes = nodes_of(sim)
    await sim.brick_extend("h1", big)
    lvs = nodes.snapshot()["nodes"]["h1"]["vgs"][f"vg_{small.device_id}"]["lvs"]
    assert (lvs[small.tp_name]["size_kib"], lvs[small.tp_name]["metadata_kib"]) == (3 * GIB, 16384)
    assert lvs[small.lv_name]["size_kib"] == 3 * GIB
    assert lvs[small.lv_name]["fs_size_kib"] == GIB  # the filesystem has not grown
    nodes.trace.clear()
    await sim.brick_extend("h1", big)  # a replay extends nothing
    assert not [e for e in nodes.trace.events if e.command.startswith("lvextend")]
    # Undo: the thin LV goes back; the pool cannot, and is reported as it is.
    assert await sim.brick_extend_undo("h1", small) == (3 * GIB, 16384)
    lvs = nodes.snapshot()["nodes"]["h1"]["vgs"][f"vg_{small.device_id}"]["lvs"]
    assert lvs[small.lv_name]["size_kib"] == GIB
    await sim.brick_extend("h1", big)
    await sim.brick_grow_filesystem("h1", big)
    await sim.brick_grow_filesystem("h1", big)  # idempotent
    lvs = nodes.snapshot()["nodes"]["h1"]["vgs"][f"vg_{small.device_id}"]["lvs"]
    assert lvs[small.lv_name]["fs_size_kib"] == 3 * GIB
    # Under a grown filesystem the LV is never cut (LVM 2.03.17's fs check).
    with pytest.raises(NodeCommandError) as caught:
        await sim.brick_extend_undo("h1", small)
    assert caught.value.exit_code == 5 and "File system reduce is required" in caught.value.stderr


async def test_simulated_lvm_answers_as_lvm_does() -> None:
    sim = simulated(device_size_gb=10)
    await make_cluster(sim, ("h1",))
    b = make_brick("h1", GIB)
    await sim.brick_create("h1", b)
    nodes = nodes_of(sim)

    async def run(*argv: str) -> tuple[int, str, str]:
        result = await nodes.run("h1", list(argv), timeout_s=10)
        return result.exit_code, result.stdout, result.stderr

    tp, lv = f"vg_{b.device_id}/{b.tp_name}", f"vg_{b.device_id}/{b.lv_name}"
    code, _, err = await run("lvm", "lvextend", "--size", f"{GIB}K", tp)
    assert code == 5 and "matches existing size" in err
    code, _, err = await run("lvm", "lvextend", "--size", f"{20 * GIB}K", tp)
    assert code == 5 and "Insufficient free space" in err
    code, _, err = await run("lvm", "lvreduce", "-f", "--size", "4096K", tp)
    assert code == 5 and "cannot be reduced" in err
    code, _, err = await run("lvm", "lvextend", "--size", "+1G", lv)
    assert code == 3
    code, out, _ = await run("xfs_growfs", "-d", b.mount_path)
    assert code == 0 and "data size unchanged" in out
    code, _, err = await run("xfs_growfs", "-d", "/var/lib/heketi/mounts/nothing")
    assert code == 1 and "is not a mounted XFS filesystem" in err
    assert unwrap(["env", "LC_ALL=C", "xfs_growfs"]) == ["xfs_growfs"]


# -- the setting -----------------------------------------------------------------------------


def _load(tmp_path: Path, value: object) -> str:
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps({
        "jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
        "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db")},
        "heketipy": {"volume_expansion": value, "data_dir": str(tmp_path)},
    }))
    return load_settings(str(path), {}).heketipy.volume_expansion


def test_the_expansion_setting_defaults_to_heketis_add_brick(tmp_path: Path) -> None:
    assert load_settings(None, {}, data_dir=str(tmp_path)).heketipy.volume_expansion == "add-brick"
    assert _load(tmp_path, "") == "add-brick"
    assert _load(tmp_path, "in-place") == "in-place"
    assert _load(tmp_path, "auto") == "auto"
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "grow")
    assert str(caught.value).startswith(
        "invalid configuration: heketipy.volume_expansion: unknown volume expansion mode 'grow'"
    )
