"""SimulatedNodes as a CommandRunner: the real argv in (built by the command builders), the
node state and the real tools' exit codes and output out, parsed by the real parsers."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from heketipy.domain.errors import NodeCommandError
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import BrickRequest
from heketipy.executors.commands_common import CommandOptions, with_sudo
from heketipy.executors.runner import CommandResult
from heketipy.simulator.runner import SimulatedNodes, command_label
from heketipy.simulator.support import LatencyModel

OPTIONS = CommandOptions()
DEVICE_ID = "0123456789abcdef0123456789abcdef"
VG = f"vg_{DEVICE_ID}"
GIB = 1024 * 1024


def brick(brick_id: str = "b" * 32, size_kib: int = GIB) -> BrickRequest:
    return BrickRequest(
        device_id=DEVICE_ID, brick_id=brick_id, tp_name=f"tp_{brick_id}",
        lv_name=f"brick_{brick_id}", tp_size_kib=size_kib, size_kib=size_kib,
        pool_metadata_kib=8192, gid=2001,
    )  # fmt: skip


async def run(nodes: SimulatedNodes, argv: list[str], host: str = "h1") -> CommandResult:
    return await nodes.run(host, argv, timeout_s=60)


async def ok(nodes: SimulatedNodes, argv: list[str], host: str = "h1") -> str:
    result = await run(nodes, argv, host)
    assert result.exit_code == 0, result
    return result.stdout


async def with_vg(**kwargs: object) -> SimulatedNodes:
    nodes = SimulatedNodes(device_size_gb=10, **kwargs)  # type: ignore[arg-type]
    await ok(nodes, lcmd.pvcreate(OPTIONS, "/dev/sdb"))
    await ok(nodes, lcmd.vgcreate(OPTIONS, DEVICE_ID, "/dev/sdb"))
    return nodes


async def with_brick(request: BrickRequest | None = None) -> tuple[SimulatedNodes, BrickRequest]:
    nodes = await with_vg()
    request = request or brick()
    device = lcmd.brick_device(request)
    for argv in (
        lcmd.mkdir_p(request.mount_path),
        lcmd.thin_lv_create(OPTIONS, request, with_pool=True),
        lcmd.mkfs_xfs(OPTIONS, device),
        lcmd.fstab_add(OPTIONS, device, request.mount_path),
        lcmd.mount(OPTIONS, device, request.mount_path),
        lcmd.brick_dir_create(request.path, request.gid),
    ):
        await ok(nodes, argv)
    return nodes, request


# -- the command line as a shell would take it ------------------------------------------------


async def test_sudo_env_and_the_lvm_wrapper_are_stripped_and_unknown_programs_are_127() -> None:
    wrapper = CommandOptions(lvm_wrapper=("/usr/sbin/exec-on-host", "--"))
    nodes = SimulatedNodes(options=wrapper)
    argv = ["env", "LC_ALL=C", *lcmd.pvcreate(wrapper, "/dev/sdb")]
    assert argv[2:4] == ["/usr/sbin/exec-on-host", "--"]
    await ok(nodes, with_sudo(argv, True))
    assert "/dev/sdb" in nodes.node("h1").pvs

    plain = SimulatedNodes()  # no wrapper configured: the wrapper is an unknown program
    missing = await run(plain, lcmd.pvcreate(wrapper, "/dev/sdb"))
    assert missing.exit_code == 127 and "exec-on-host: command not found" in missing.stderr
    unknown = await run(plain, ["resize2fs", "/dev/sdb"])
    assert (unknown.exit_code, unknown.stdout) == (127, "")
    assert unknown.argv == ("resize2fs", "/dev/sdb")


async def test_an_unreachable_node_fails_in_transport_with_no_exit_code() -> None:
    nodes = SimulatedNodes()
    nodes.set_node_unreachable("h2")
    with pytest.raises(NodeCommandError) as caught:
        await run(nodes, lcmd.read_mounts(), "h2")
    assert caught.value.exit_code is None and "no route to host" in caught.value.stderr
    assert not nodes.trace.events


# -- lvm ---------------------------------------------------------------------------------------


async def test_lvm_reports_are_what_the_parsers_read() -> None:
    nodes = await with_vg()
    rows = lcmd.parse_lvm_report(await ok(nodes, lcmd.pvs_json(OPTIONS, "/dev/sdb")))
    assert rows == [{"pv_name": "/dev/sdb", "pv_uuid": nodes.node("h1").pvs["/dev/sdb"].uuid,
                     "vg_name": VG}]  # fmt: skip
    assert lcmd.parse_lvm_report(await ok(nodes, lcmd.vgs_pv_json(OPTIONS, DEVICE_ID))) == rows
    vg = lcmd.parse_vgdisplay_c(await ok(nodes, lcmd.vgdisplay(OPTIONS, DEVICE_ID)), VG)
    state = nodes.node("h1").vgs[VG]
    assert (vg.extent_kib, vg.total_kib, vg.free_kib) == (4096, state.total_kib, state.total_kib)
    free = lcmd.parse_vgs_free(await ok(nodes, lcmd.vgs_inventory(OPTIONS)))
    assert free == {VG: state.total_kib}


async def test_lvm_failures_have_lvm_exit_codes_and_wording() -> None:
    nodes = await with_vg()
    missing_pv = await run(nodes, lcmd.pvs_json(OPTIONS, "/dev/sdc"))
    assert missing_pv.exit_code == 5
    assert 'Failed to find physical volume "/dev/sdc".' in missing_pv.stderr
    missing_vg = await run(nodes, lcmd.vgdisplay(OPTIONS, "f" * 32))
    assert missing_vg.exit_code == 5 and "not found" in missing_vg.stderr
    again = await run(nodes, lcmd.vgcreate(OPTIONS, DEVICE_ID, "/dev/sdb"))
    assert again.exit_code == 5 and f"A volume group called {VG} already exists" in again.stderr
    bad = await run(nodes, [lcmd.LVM, "lvcreate", "--bogus", VG])
    assert bad.exit_code == 3 and "unrecognized option '--bogus'" in bad.stderr
    no_pv = await run(nodes, lcmd.pvremove(OPTIONS, "/dev/sdz"))
    assert no_pv.exit_code == 5 and "device not found" in no_pv.stderr


async def test_thin_pool_and_thin_lv_are_tagged_counted_and_listed() -> None:
    nodes, request = await with_brick()
    vg = nodes.node("h1").vgs[VG]
    pool, lv = vg.lvs[request.tp_name], vg.lvs[request.lv_name]
    assert pool.kind == "thin-pool" and lv.kind == "thin" and lv.pool == request.tp_name
    assert pool.tags == lv.tags == list(lcmd.brick_tags(request))
    # The pool's data and metadata, and LVM's metadata spare as large as that metadata.
    assert vg.used_kib == request.tp_size_kib + 2 * request.pool_metadata_kib
    count = await ok(nodes, lcmd.thin_count(OPTIONS, DEVICE_ID, request.tp_name))
    assert lcmd.parse_thin_count(count) == 1
    listed = lcmd.parse_lvs_inventory(await ok(nodes, lcmd.lvs_inventory(OPTIONS)))
    assert {(v.name, v.kind, v.pool, v.tags) for v in listed if not v.hidden} == {
        (request.tp_name, "thin-pool", "", tuple(pool.tags)),
        (request.lv_name, "thin", request.tp_name, tuple(lv.tags)),
    }
    assert {v.size_kib for v in listed if v.kind == "thin"} == {lcmd.thin_lv_virtual_kib(request)}


async def test_lvremove_refuses_a_mounted_lv_and_takes_a_pool_with_its_thin_lvs() -> None:
    nodes, request = await with_brick()
    busy = await run(nodes, lcmd.lvremove(OPTIONS, DEVICE_ID, request.lv_name))
    assert busy.exit_code == 5 and "contains a filesystem in use" in busy.stderr
    await ok(nodes, lcmd.umount(request.mount_path))
    await ok(nodes, lcmd.lvremove(OPTIONS, DEVICE_ID, request.tp_name))  # -f: dependents too
    assert nodes.node("h1").vgs[VG].lvs == {}
    gone = await run(nodes, lcmd.lvremove(OPTIONS, DEVICE_ID, request.lv_name))
    assert gone.exit_code == 5 and "Failed to find logical volume" in gone.stderr


async def test_lvcreate_beyond_the_free_space_fails_and_changes_nothing() -> None:
    nodes = await with_vg()
    result = await run(nodes, lcmd.thin_lv_create(OPTIONS, brick(size_kib=20 * GIB), with_pool=True))
    assert result.exit_code == 5 and "insufficient free space" in result.stderr
    assert nodes.node("h1").vgs[VG].lvs == {}


# -- filesystems, mounts, fstab, directories --------------------------------------------------


async def test_mkfs_refuses_an_existing_filesystem_and_blkid_reports_it() -> None:
    nodes, request = await with_brick()
    device = lcmd.brick_device(request)
    assert await ok(nodes, lcmd.filesystem_type(device)) == "xfs\n"
    await ok(nodes, lcmd.umount(request.mount_path))
    again = await run(nodes, lcmd.mkfs_xfs(OPTIONS, device))
    assert again.exit_code == 1 and "appears to contain an existing filesystem" in again.stderr
    assert (await run(nodes, lcmd.filesystem_type("/dev/mapper/nope"))).exit_code == 2


async def test_mount_umount_and_mountpoint_answer_as_util_linux() -> None:
    nodes, request = await with_brick()
    mount_point = request.mount_path
    assert (await run(nodes, lcmd.is_mountpoint(mount_point))).exit_code == 0
    twice = await run(nodes, lcmd.mount(OPTIONS, lcmd.brick_device(request), mount_point))
    assert twice.exit_code == 32 and "already mounted" in twice.stderr
    await ok(nodes, lcmd.umount(mount_point))
    assert (await run(nodes, lcmd.is_mountpoint(mount_point))).exit_code == 32
    not_mounted = await run(nodes, lcmd.umount(mount_point))
    assert not_mounted.exit_code == 32 and "not mounted" in not_mounted.stderr
    assert (await run(nodes, lcmd.is_mountpoint("/nowhere"))).exit_code == 1
    mounts = lcmd.parse_mounts(await ok(nodes, lcmd.read_mounts()))
    assert ("/dev/vda1", "/") in mounts and all(target != mount_point for _, target in mounts)


async def test_brick_directory_lives_in_the_mounted_filesystem_with_its_group() -> None:
    nodes, request = await with_brick()
    lv = nodes.node("h1").vgs[VG].lvs[request.lv_name]
    assert lv.fs_dirs == {"brick": 2001}
    busy = await run(nodes, lcmd.rmdir(request.mount_path))
    assert busy.exit_code == 1 and "Device or resource busy" in busy.stderr
    await ok(nodes, lcmd.umount(request.mount_path))
    # Unmounted, the brick directory is out of sight and the mount point is empty again.
    missing = await run(nodes, ["chmod", "2775", request.path])
    assert missing.exit_code == 1 and "No such file or directory" in missing.stderr
    parent = await run(nodes, lcmd.rmdir(f"{lcmd.MOUNTS_ROOT}/{VG}"))
    assert parent.exit_code == 1 and "Directory not empty" in parent.stderr
    await ok(nodes, lcmd.rmdir(request.mount_path))


async def test_stat_prints_brick_directory_groups_and_fails_on_a_missing_path() -> None:
    nodes, request = await with_brick()
    argv = lcmd.stat_groups([request.path, request.mount_path])
    out = await ok(nodes, with_sudo(["env", "LC_ALL=C", *argv], True))
    assert lcmd.parse_stat_groups(out) == {request.path: 2001, request.mount_path: 0}
    # As coreutils: the missing path on stderr, the others still printed, exit code 1.
    gone = f"{request.mount_path}/gone"
    missing = await run(nodes, lcmd.stat_groups([gone, request.path]))
    assert missing.exit_code == 1
    assert missing.stderr == f"stat: cannot statx '{gone}': No such file or directory\n"
    assert lcmd.parse_stat_groups(missing.stdout) == {request.path: 2001}
    refused = await run(nodes, ["stat", "-c", "%u %n", "--", request.path])
    assert refused.exit_code == 1 and refused.stdout == ""


async def test_fstab_append_is_once_and_removal_takes_exactly_that_mount_point() -> None:
    nodes = SimulatedNodes()
    lines = {
        path: lcmd.fstab_line(OPTIONS, "/dev/mapper/vg-lv", path)
        for path in ("/mnt/b.1", "/mnt/b.10", "/mnt/bx1")
    }
    for path in lines:
        for _ in range(2):
            await ok(nodes, lcmd.fstab_add(OPTIONS, "/dev/mapper/vg-lv", path))
    assert nodes.node("h1").fstab == list(lines.values())
    await ok(nodes, lcmd.fstab_remove(OPTIONS, "/mnt/b.1"))  # '.' must not match 'x'
    assert nodes.node("h1").fstab == [lines["/mnt/b.10"], lines["/mnt/bx1"]]
    assert await ok(nodes, lcmd.read_fstab(OPTIONS)) == "".join(
        line + "\n" for line in nodes.node("h1").fstab
    )


async def test_other_awk_programs_and_sed_scripts_are_refused_untouched() -> None:
    nodes = SimulatedNodes()
    await ok(nodes, lcmd.fstab_add(OPTIONS, "/dev/mapper/vg-lv", "/mnt/b"))
    before = list(nodes.node("h1").fstab)
    for argv in (
        ["awk", "BEGIN { system(\"reboot\") }", "x", OPTIONS.fstab],
        ["sed", "-i.save", "-e", "d", OPTIONS.fstab],
        ["sed", "-i.save", "-e", r"\%/mnt/b%d", OPTIONS.fstab],
        ["cat", "/etc/shadow"],
    ):
        assert (await run(nodes, argv)).exit_code != 0
    assert nodes.node("h1").fstab == before


async def test_systemctl_status_glusterd_follows_the_daemon() -> None:
    nodes = SimulatedNodes()
    assert (await run(nodes, lcmd.glusterd_status())).exit_code == 0
    nodes.set_node_down("h1")
    down = await run(nodes, lcmd.glusterd_status())
    assert down.exit_code == 3 and "inactive (dead)" in down.stdout


# -- faults, latency, persistence ---------------------------------------------------------------


def test_commands_are_labelled_by_program_and_operands() -> None:
    request = brick()
    assert command_label(lcmd.thin_lv_create(OPTIONS, request, with_pool=True)) == (
        f"lvcreate {VG}/{request.tp_name}"
    )
    assert command_label(lcmd.brick_dir_create("/b", 2000)) == "install /b"
    assert command_label(lcmd.mount(OPTIONS, "/dev/x", "/m")) == "mount /dev/x /m"
    assert command_label(["gluster", "--mode=script", "volume", "start", "v"]) == (
        "gluster volume start v"
    )


async def test_faults_fail_the_chosen_command_in_the_chosen_way() -> None:
    nodes = await with_vg()
    nodes.faults.fail_nth("lvcreate", 1, node="h1", exit_code=5, stderr="  Aborted")
    failed = await run(nodes, lcmd.thin_lv_create(OPTIONS, brick(), with_pool=True))
    assert (failed.exit_code, failed.stderr) == (5, "  Aborted")
    assert nodes.node("h1").vgs[VG].lvs == {}

    nodes.faults.fail_nth("lvcreate", 1, after=True)  # the effect happens, the reply is lost
    lost = await run(nodes, lcmd.thin_lv_create(OPTIONS, brick(), with_pool=True))
    assert lost.exit_code == 1 and brick().tp_name in nodes.node("h1").vgs[VG].lvs

    nodes.faults.fail_on_node("mkdir", "h1", timeout=True)
    for _ in range(2):
        with pytest.raises(NodeCommandError) as caught:
            await run(nodes, lcmd.mkdir_p("/a"))
        assert caught.value.exit_code is None and "timed out" in caught.value.stderr
    await ok(nodes, lcmd.mkdir_p("/a"), host="h2")  # another node is not affected
    nodes.faults.clear("mkdir")
    await ok(nodes, lcmd.mkdir_p("/a"))


async def test_latency_applies_per_command_and_per_family() -> None:
    latency = LatencyModel.from_mapping({"lvm": 5, "fs": 1, "commands": {"lvm pvs": 0}})
    assert latency.for_command("lvm", "lvcreate vg") == 5
    assert latency.for_command("fs", "mkfs.xfs /dev/x") == 1
    model = LatencyModel.from_mapping({"commands": {"gluster volume": 7, "gluster volume start": 9}})
    assert model.for_command("gluster", "gluster volume start v") == 9  # the longest match
    assert model.for_command("gluster", "gluster volume create v") == 7


async def test_lvm_on_one_vg_is_serialised_and_other_commands_overlap() -> None:
    nodes = await with_vg(latency=LatencyModel(lvm_ms=3, fs_ms=3))
    nodes.trace.clear()
    await asyncio.gather(
        *(run(nodes, lcmd.thin_lv_create(OPTIONS, brick(f"{i:032x}"), with_pool=True)) for i in range(3)),
        *(run(nodes, lcmd.mkdir_p(f"/d{i}")) for i in range(3)),
    )
    events = list(nodes.trace.events)
    lvm_events = [e.phase for e in events if e.family == "lvm"]
    assert lvm_events == ["start", "end"] * 3
    fs_starts = [e.seq for e in events if e.family == "fs" and e.phase == "start"]
    first_fs_end = next(e.seq for e in events if e.family == "fs" and e.phase == "end")
    assert all(seq < first_fs_end for seq in fs_starts)


async def test_every_change_is_on_disk_before_the_command_returns(tmp_path) -> None:
    path = str(tmp_path / "nodes.json")
    nodes = SimulatedNodes(state_path=path)
    await ok(nodes, lcmd.pvcreate(OPTIONS, "/dev/sdb"))
    assert "/dev/sdb" in SimulatedNodes(state_path=path).node("h1").pvs
    await ok(nodes, lcmd.vgcreate(OPTIONS, DEVICE_ID, "/dev/sdb"))
    assert VG in SimulatedNodes(state_path=path).node("h1").vgs


async def _hidden(nodes: SimulatedNodes) -> dict[str, int]:
    listed = lcmd.parse_lvs_inventory(await ok(nodes, lcmd.lvs_inventory(OPTIONS)))
    return {v.name: v.size_kib for v in listed if v.hidden}


async def test_the_pool_metadata_spare_follows_the_largest_pool_metadata_like_lvm() -> None:
    """LVM's hidden ``[lvol0_pmspare]``: made with the VG's first thin pool, as large as the
    largest pool metadata (grown by a larger pool or an ``lvextend --poolmetadatasize``, never
    shrunk), taking VG free space; listed by ``lvs -a`` only; gone with the VG's last pool."""
    nodes, first = await with_brick()
    vg = nodes.node("h1").vgs[VG]
    assert await _hidden(nodes) == {
        "lvol0_pmspare": 8192, f"{first.tp_name}_tdata": GIB, f"{first.tp_name}_tmeta": 8192,
    }
    plain = await ok(nodes, lcmd.json_report(OPTIONS, "lvs", "lv_name", VG))
    assert "pmspare" not in plain and "_tmeta" not in plain
    assert "[lvol0_pmspare]" in await ok(nodes, lcmd.json_report(OPTIONS, "lvs", "lv_name", VG,
                                                                 hidden=True))
    # A second pool with more metadata grows the spare to it.
    second = dataclasses.replace(
        brick("c" * 32), pool_metadata_kib=16384,
    )
    await ok(nodes, lcmd.thin_lv_create(OPTIONS, second, with_pool=True))
    assert (await _hidden(nodes))["lvol0_pmspare"] == 16384
    # The first pool's metadata grows in place past it: the spare follows.
    grown = dataclasses.replace(first, pool_metadata_kib=20480)
    await ok(nodes, lcmd.pool_metadata_extend(OPTIONS, grown))
    assert (await _hidden(nodes))["lvol0_pmspare"] == 20480
    assert vg.used_kib == 2 * GIB + 20480 + 16384 + 20480
    # Removing the largest pool does not shrink it; removing the last pool removes it.
    await ok(nodes, lcmd.umount(first.mount_path))
    await ok(nodes, lcmd.lvremove(OPTIONS, DEVICE_ID, first.tp_name))
    assert (await _hidden(nodes))["lvol0_pmspare"] == 20480
    await ok(nodes, lcmd.lvremove(OPTIONS, DEVICE_ID, second.tp_name))
    assert await _hidden(nodes) == {} and vg.used_kib == 0


async def test_a_pool_without_room_for_the_spare_is_refused_and_leaves_nothing() -> None:
    nodes = await with_vg()
    vg = nodes.node("h1").vgs[VG]
    free = vg.free_kib
    # Data and metadata fit exactly, the spare does not.
    tight = dataclasses.replace(brick(), tp_size_kib=free - 8192)
    refused = await run(nodes, lcmd.thin_lv_create(OPTIONS, tight, with_pool=True))
    assert refused.exit_code == 5 and "insufficient free space" in refused.stderr
    assert vg.lvs == {} and vg.pmspare_kib == 0 and vg.free_kib == free
    fits = dataclasses.replace(brick(), tp_size_kib=free - 2 * 8192)
    await ok(nodes, lcmd.thin_lv_create(OPTIONS, fits, with_pool=True))
    assert vg.free_kib == 0
