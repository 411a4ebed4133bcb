"""Node command builders (exact argv per config knob), hostile inputs, and parsers on
captured real output (tests/data/gluster)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from heketipy.domain.errors import InvalidRequest
from heketipy.executors import commands
from heketipy.executors.base import (
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    NodeInventory,
    VolumeRequest,
)
from heketipy.executors.commands import CommandOptions, UnsafeArgument
from heketipy.executors.commands import gluster as g
from heketipy.executors.commands import lvm as l

DATA = Path(__file__).resolve().parents[1] / "data" / "gluster"
DEV = "0123456789abcdef0123456789abcdef"
VG = f"vg_{DEV}"
LVM = "/usr/sbin/lvm"
DEFAULT = CommandOptions()


def data(name: str) -> str:
    return (DATA / name).read_text()


def brick(**overrides) -> BrickRequest:
    values = dict(
        device_id=DEV, brick_id="b1000000000000000000000000000000", tp_name="tp_b1000000000000000000000000000000", lv_name="brick_b1000000000000000000000000000000",
        tp_size_kib=2048, size_kib=2000, pool_metadata_kib=16,
    )  # fmt: skip
    values.update(overrides)
    return BrickRequest(**values)


# -- settings ----------------------------------------------------------------------------------


def test_options_from_settings_reads_every_knob():
    from heketipy.config import SshExecSettings

    settings = SshExecSettings(
        sudo=True, lvm_wrapper="/usr/sbin/exec-on-host --", fstab="/etc/heketi/fstab",
        mountopts="rw,noatime", backup_lvm_metadata=True, gluster_cli_timeout=120,
        pv_data_alignment="1M", vg_physicalextentsize="8M", lv_chunksize="512K",
        xfs_sw=4, xfs_su=128, block_prealloc="no", snapshot_limit=14,
    )  # fmt: skip
    options = CommandOptions.from_settings(settings)
    assert options.sudo and options.lvm_wrapper == ("/usr/sbin/exec-on-host", "--")
    assert options.fstab == "/etc/heketi/fstab" and options.gluster_cli_timeout == 120
    assert (options.xfs_sw, options.xfs_su, options.snapshot_limit) == (4, 128, 14)
    assert CommandOptions.from_settings(settings, sudo=False).sudo is False


def test_every_option_is_a_settings_key():
    from dataclasses import fields

    from heketipy.config import ExecCommonSettings

    assert {f.name for f in fields(CommandOptions)} <= set(ExecCommonSettings.model_fields)


def test_options_default_to_the_configs_defaults():
    from heketipy.config import KubeExecSettings, SshExecSettings

    assert CommandOptions.from_settings(SshExecSettings()) == DEFAULT
    assert CommandOptions.from_settings(KubeExecSettings()) == DEFAULT


def test_bad_prealloc_falls_back_to_full_and_bad_knobs_are_refused():
    # The config refuses such a value at load; options built directly get upstream's fallback.
    assert CommandOptions(block_prealloc="x; rm").block_prealloc == "full"
    assert CommandOptions(block_prealloc="no").block_prealloc == "no"
    with pytest.raises(UnsafeArgument):
        CommandOptions(mountopts="rw;reboot")
    with pytest.raises(UnsafeArgument):
        CommandOptions(fstab="/etc/../etc/fstab")


def test_sudo_wraps_the_whole_command():
    argv = l.pvcreate(DEFAULT, "/dev/sdb")
    assert commands.with_sudo(argv, True) == ["sudo", "-n", "--", *argv]
    assert commands.with_sudo(argv, False) == argv


# -- device builders ----------------------------------------------------------------------------


def test_device_setup_commands_default_and_configured():
    assert l.wipefs("/dev/sdb") == ["wipefs", "--all", "/dev/sdb"]
    assert l.pvcreate(DEFAULT, "/dev/sdb") == [
        LVM, "pvcreate", "-qq", "--metadatasize=128M", "--dataalignment=256K", "/dev/sdb",
    ]  # fmt: skip
    assert l.vgcreate(DEFAULT, DEV, "/dev/sdb") == [
        LVM, "vgcreate", "-qq", "--physicalextentsize=4M", "--autobackup=n", VG, "/dev/sdb",
    ]  # fmt: skip
    tuned = CommandOptions(
        pv_data_alignment="1M", vg_physicalextentsize="8M", backup_lvm_metadata=True,
        lvm_wrapper=("/usr/sbin/exec-on-host",),
    )  # fmt: skip
    assert l.pvcreate(tuned, "/dev/sdb")[:3] == ["/usr/sbin/exec-on-host", LVM, "pvcreate"]
    assert "--dataalignment=1M" in l.pvcreate(tuned, "/dev/sdb")
    assert l.vgcreate(tuned, DEV, "/dev/sdb")[4:6] == ["--physicalextentsize=8M", "--autobackup=y"]
    assert l.vgdisplay(DEFAULT, DEV) == [LVM, "vgdisplay", "-c", VG]
    assert l.pvs_json(DEFAULT, "/dev/sdb") == [
        LVM, "pvs", "-o", "pv_name,pv_uuid,vg_name", "--reportformat=json", "/dev/sdb",
    ]  # fmt: skip
    assert l.udev_symlinks("/dev/sdb") == [
        "/usr/bin/udevadm", "info", "--query=symlink", "--name=/dev/sdb",
    ]  # fmt: skip
    assert l.vgremove(DEFAULT, DEV) == [LVM, "vgremove", "-qq", VG]
    assert l.pvremove(DEFAULT, "/dev/sdb") == [LVM, "pvremove", "-qq", "/dev/sdb"]


# -- brick builders ----------------------------------------------------------------------------


def test_thin_pool_and_lv_carry_heketi_tags():
    # One lvcreate makes the pool (--size) and its thin LV (--virtualsize), as upstream does.
    assert l.thin_lv_create(DEFAULT, brick(), with_pool=True) == [
        LVM, "lvcreate", "-qq", "--autobackup=n",
        "--poolmetadatasize", "16K", "--chunksize", "256K", "--size", "2048K",
        "--thin", "--virtualsize", "307200K",
        "--addtag", f"heketi-device-{DEV}", "--addtag", "heketi-brick-b1000000000000000000000000000000",
        "--name", "brick_b1000000000000000000000000000000", f"{VG}/tp_b1000000000000000000000000000000",
    ]  # fmt: skip
    # A replay whose pool survived makes only the LV in it.
    assert l.thin_lv_create(DEFAULT, brick(), with_pool=False) == [
        LVM, "lvcreate", "-qq", "--autobackup=n", "--thin", "--virtualsize", "307200K",
        "--addtag", f"heketi-device-{DEV}", "--addtag", "heketi-brick-b1000000000000000000000000000000",
        "--name", "brick_b1000000000000000000000000000000", f"{VG}/tp_b1000000000000000000000000000000",
    ]  # fmt: skip


def test_small_bricks_get_a_virtual_size_mkfs_xfs_accepts():
    # A 2000 KiB brick (arbiters are often 16 MiB) is below xfsprogs' 300 MiB minimum.
    assert l.thin_lv_virtual_kib(brick()) == 300 * 1024
    big = dataclasses.replace(brick(), size_kib=5 * 1024 * 1024, tp_size_kib=5 * 1024 * 1024)
    argv = l.thin_lv_create(DEFAULT, big, with_pool=True)
    assert argv[argv.index("--virtualsize") + 1] == f"{5 * 1024 * 1024}K"


def test_chunk_size_knob_applies_to_normal_bricks_only():
    tuned = CommandOptions(lv_chunksize="1M", backup_lvm_metadata=True)
    normal = l.thin_lv_create(tuned, brick(), with_pool=True)
    assert normal[normal.index("--chunksize") + 1] == "1M" and "--autobackup=y" in normal
    arbiter = l.thin_lv_create(tuned, brick(arbiter=True), with_pool=True)
    assert arbiter[arbiter.index("--chunksize") + 1] == "256K"


def test_brick_sizes_are_checked():
    with pytest.raises(UnsafeArgument):
        l.thin_lv_create(DEFAULT, brick(size_kib=4096), with_pool=True)
    with pytest.raises(UnsafeArgument):
        l.thin_lv_create(DEFAULT, brick(size_kib=0), with_pool=False)


def test_mkfs_variants():
    dev = l.brick_device(brick())
    assert dev == f"/dev/mapper/{VG}-brick_b1000000000000000000000000000000"
    assert l.mkfs_xfs(DEFAULT, dev) == ["mkfs.xfs", "-i", "size=512", "-n", "size=8192", dev]
    striped = CommandOptions(xfs_su=128, xfs_sw=4)
    assert l.mkfs_xfs(striped, dev) == [
        "mkfs.xfs", "-i", "size=512", "-d", "su=128,sw=4", "-n", "size=8192", dev,
    ]  # fmt: skip
    assert l.mkfs_xfs(CommandOptions(xfs_su=128), dev) == l.mkfs_xfs(DEFAULT, dev)
    assert l.mkfs_xfs(striped, dev, arbiter=True) == [
        "mkfs.xfs", "-i", "maxpct=100", "-n", "size=8192", dev,
    ]  # fmt: skip


def test_dm_path_doubles_hyphens():
    assert l.dm_path("vg_a-b", "lv-1") == "/dev/mapper/vg_a--b-lv--1"


def test_mount_fstab_and_ownership_commands():
    b = brick(gid=2001)
    dev, mnt = l.brick_device(b), b.mount_path
    custom = CommandOptions(mountopts="rw,noatime", fstab="/etc/heketi/fstab")
    assert l.mount(custom, dev, mnt) == ["mount", "-o", "rw,noatime", dev, mnt]
    assert l.fstab_add(custom, dev, mnt) == [
        "awk", l.FSTAB_APPEND_AWK, f"{dev} {mnt} xfs rw,noatime 1 2", "/etc/heketi/fstab",
    ]  # fmt: skip
    assert l.fstab_remove(custom, mnt)[:3] == ["sed", "-i.save", "-e"]
    assert l.fstab_remove(custom, mnt)[-1] == "/etc/heketi/fstab"
    # mkdir + chown :gid + chmod 2775 in one command; no gid: a plain directory.
    assert l.brick_dir_create(b.path, 2001) == ["install", "-d", "-g", "2001", "-m", "2775", b.path]
    assert l.brick_dir_create(b.path, 0) == ["mkdir", "-p", b.path]
    assert l.lvremove(DEFAULT, DEV, "brick_b1000000000000000000000000000000") == [
        LVM, "lvremove", "--autobackup=n", "-f", f"{VG}/brick_b1000000000000000000000000000000",
    ]  # fmt: skip
    assert l.thin_count(DEFAULT, DEV, "tp_b1000000000000000000000000000000") == [
        LVM, "lvs", "--noheadings", "--options=thin_count", f"{VG}/tp_b1000000000000000000000000000000",
    ]  # fmt: skip


# -- gluster builders --------------------------------------------------------------------------


def bricks(n: int) -> tuple[BrickAddress, ...]:
    return tuple(BrickAddress(f"n{i % 3}.example.test", f"/b/{i}/brick") for i in range(n))


def words(addresses) -> list[str]:
    return [f"{b.host}:{b.path}" for b in addresses]


GL = ["gluster", "--mode=script", "--timeout=600"]


def test_volume_create_first_set_per_durability():
    rep = VolumeRequest("vol_a", bricks(9), "replicate", replica=3)
    assert g.volume_create(DEFAULT, rep) == [
        *GL, "volume", "create", "vol_a", "replica", "3", *words(bricks(3)),
    ]  # fmt: skip
    arb = VolumeRequest("vol_a", bricks(3), "replicate", replica=3, arbiter=True)
    assert g.volume_create(DEFAULT, arb)[5:10] == ["vol_a", "replica", "3", "arbiter", "1"]
    ec = VolumeRequest("vol_a", bricks(6), "disperse", data=4, redundancy=2)
    assert g.volume_create(DEFAULT, ec) == [
        *GL, "volume", "create", "vol_a", "disperse-data", "4", "redundancy", "2",
        *words(bricks(6)),
    ]  # fmt: skip
    dist = VolumeRequest("vol_a", bricks(2))
    assert g.volume_create(CommandOptions(gluster_cli_timeout=30), dist) == [
        "gluster", "--mode=script", "--timeout=30", "volume", "create", "vol_a",
        *words(bricks(1)),
    ]  # fmt: skip


def test_add_brick_groups_follow_upstream_caps():
    rep = VolumeRequest("v", bricks(36), "replicate", replica=3)
    groups = g.add_brick_groups(rep, rep.bricks[3:])
    assert [len(group) for group in groups] == [15, 15, 3]
    dist = VolumeRequest("v", bricks(20))
    assert [len(x) for x in g.add_brick_groups(dist, dist.bricks[1:])] == [15, 4]
    ec = VolumeRequest("v", bricks(12), "disperse", data=4, redundancy=2)
    assert [len(x) for x in g.add_brick_groups(ec, ec.bricks[6:])] == [6]
    assert g.volume_add_brick(DEFAULT, "v", groups[-1]) == [
        *GL, "volume", "add-brick", "v", *groups[-1],
    ]  # fmt: skip


def test_volume_commands():
    assert g.volume_set(DEFAULT, "v", "performance.rsize  128") == [
        *GL, "volume", "set", "v", "performance.rsize", "128",
    ]  # fmt: skip
    assert g.volume_set(DEFAULT, "v", "group gluster-block")[-2:] == ["group", "gluster-block"]
    assert g.volume_start(DEFAULT, "v") == [*GL, "volume", "start", "v"]
    assert g.volume_stop(DEFAULT, "v") == [*GL, "volume", "stop", "v", "force"]
    assert g.volume_delete(DEFAULT, "v") == [*GL, "volume", "delete", "v"]
    assert g.volume_info(DEFAULT, "v") == [*GL, "volume", "info", "v", "--xml"]
    assert g.volume_info(DEFAULT) == [*GL, "volume", "info", "--xml"]
    assert g.volume_status(DEFAULT, "v") == [*GL, "volume", "status", "v", "--xml"]
    assert g.heal_info(DEFAULT, "v") == [*GL, "volume", "heal", "v", "info", "--xml"]
    assert g.rebalance_start(DEFAULT, "v") == [*GL, "volume", "rebalance", "v", "start"]
    old, new = BrickAddress("h1", "/b/1"), BrickAddress("h2", "/b/2")
    assert g.replace_brick(DEFAULT, "v", old, new) == [
        *GL, "volume", "replace-brick", "v", "h1:/b/1", "h2:/b/2", "commit", "force",
    ]  # fmt: skip
    assert g.peer_probe(DEFAULT, "h2") == [*GL, "peer", "probe", "h2"]
    assert g.peer_detach(DEFAULT, "fe80::1") == [*GL, "peer", "detach", "fe80::1"]
    assert g.snapshot_limit(CommandOptions(snapshot_limit=14)) == [
        *GL, "snapshot", "config", "snap-max-hard-limit", "14",
    ]  # fmt: skip
    assert g.snapshot_create(DEFAULT, "tmpsnap_x", "v") == [
        *GL, "snapshot", "create", "tmpsnap_x", "v", "no-timestamp", "--xml",
    ]  # fmt: skip
    assert g.snapshot_clone(DEFAULT, "c", "s") == [*GL, "snapshot", "clone", "c", "s", "--xml"]


def test_gluster_block_commands():
    request = BlockVolumeRequest("blk", 5, "bhv", ("h1", "h2", "h3"), 2, auth=True)
    assert g.block_create(CommandOptions(block_prealloc="no"), request) == [
        "gluster-block", "create", "bhv/blk", "ha", "2", "auth", "enable", "prealloc", "no",
        "h1,h2,h3", "5GiB", "--json",
    ]  # fmt: skip
    assert g.block_delete("bhv", "blk") == ["gluster-block", "delete", "bhv/blk", "--json"]
    assert g.block_modify_size("bhv", "blk", 9) == [
        "gluster-block", "modify", "bhv/blk", "size", "9GiB", "--json",
    ]  # fmt: skip


# -- hostile inputs ----------------------------------------------------------------------------

HOSTILE = [
    "x;reboot", "$(reboot)", "`reboot`", "a'b", 'a"b', "a\nb", "-rf", "--remote-host=evil",
    "a b", "a|b", "a&b", "a>b", "", "..", "a\\b", "a\0b",
]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_everywhere(value):
    probes = [
        lambda: g.volume_start(DEFAULT, value),
        lambda: g.peer_probe(DEFAULT, value),
        lambda: l.pvcreate(DEFAULT, value),
        lambda: l.vgcreate(DEFAULT, value, "/dev/sdb"),
        lambda: l.thin_lv_create(DEFAULT, brick(brick_id=value), with_pool=True),
        lambda: g.replace_brick(DEFAULT, "v", BrickAddress(value, "/b"), BrickAddress("h", "/b")),
        lambda: g.block_delete("bhv", value),
        lambda: commands.safe_tag(value),
    ]
    for probe in probes:
        with pytest.raises(UnsafeArgument) as caught:
            probe()
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, InvalidRequest)
        assert "Unsafe" in str(caught.value)


@pytest.mark.parametrize("suffix", [";reboot", "$(x)", "`x`", "'", '"', "\n", " x", "/../etc"])
def test_hostile_device_paths_are_refused(suffix):
    with pytest.raises(UnsafeArgument):
        l.pvcreate(DEFAULT, "/dev/sdb" + suffix)


@pytest.mark.parametrize(
    "option", ["a;b c", "key $(x)", "key `x`", "key 'v'", "key\nv", "key -v", "--xml v", " "]
)
def test_hostile_volume_options_are_refused(option):
    with pytest.raises(UnsafeArgument):
        g.volume_set(DEFAULT, "v", option)


def test_reserved_gluster_words_are_not_volume_names():
    with pytest.raises(UnsafeArgument):
        commands.safe_volume_name("force")


def test_legitimate_values_pass():
    assert commands.safe_hostname("under_score.example.test") == "under_score.example.test"
    assert commands.safe_hostname("::1") == "::1"
    assert commands.safe_device_path("/dev/disk/by-path/pci-0000:00:1f.2-ata-1") != ""
    assert g.volume_set(DEFAULT, "v", "auth.allow 10.0.0.1,10.0.0.*")[-1] == "10.0.0.1,10.0.0.*"
    assert g.volume_set(DEFAULT, "v", "ssl.cipher-list HIGH:!SSLv2")[-1] == "HIGH:!SSLv2"


# -- LVM parsers on real output ----------------------------------------------------------------


def test_vgdisplay_c_real_output():
    vg = l.parse_vgdisplay_c(data("lvm/vgdisplay.out"), VG)
    assert (vg.extent_kib, vg.total_extents, vg.allocated_extents, vg.free_extents) == (
        4096, 479, 0, 479,
    )  # fmt: skip
    assert vg.total_kib == vg.free_kib == 479 * 4096 and vg.used_kib == 0


def test_vgdisplay_c_skips_noise_and_other_vgs():
    text = "  WARNING: something odd\n" + data("lvm/vgdisplay.out")
    assert l.parse_vgdisplay_c(text, VG).total_extents == 479
    with pytest.raises(commands.ParseError):
        l.parse_vgdisplay_c(text, "vg_other")


def test_lvm_json_reports_real_output():
    (row,) = l.parse_lvm_report(data("lvm/pvs.json"))
    assert row == {
        "pv_name": "/dev/loop0", "pv_uuid": "Nnz7uK-T3PV-Wtam-cnPG-kiXA-M3y4-epmcf6",
        "vg_name": VG,
    }  # fmt: skip
    assert l.parse_lvm_report(data("lvm/vgs.json"))[0]["pv_name"] == "/dev/loop0"
    assert l.parse_lvm_report(data("lvm/lvs_empty.json")) == []
    assert l.parse_vgs_free(data("lvm/vgs_free.json")) == {VG: 1961984}


def test_lvs_inventory_reads_tags():
    pool, thin = sorted(l.parse_lvs_inventory(data("lvm/lvs_bricks.json")), key=lambda v: v.kind)
    assert thin.kind == "thin-pool" or pool.kind == "thin"
    lv = next(v for v in (pool, thin) if v.kind == "thin")
    assert lv.pool == "tp_aa" and lv.size_kib == 1048576
    assert f"heketi-device-{DEV}" in lv.tags and "heketi-brick-aa" in lv.tags


def test_lvs_inventory_reads_hidden_lvs_the_pmspare_and_thin_pool_fill():
    """``lvs -a`` brackets LVM's own LVs: kept, marked hidden, named without the brackets."""
    argv = l.lvs_inventory(DEFAULT)
    assert argv[argv.index("lvs") + 1] == "-a"
    assert "data_percent" in argv[-1] and "metadata_percent" in argv[-1]
    lvs = l.parse_lvs_inventory(data("lvm/lvs_all_pmspare.json"))
    assert {(v.name, v.hidden) for v in lvs} == {
        ("brick_aa", False), ("tp_aa", False), ("lvol0_pmspare", True), ("tp_aa_tdata", True),
        ("tp_aa_tmeta", True),
    }
    inventory = NodeInventory(vg_free_kib={VG: 0}, lvs=lvs, mounts=(), fstab=(), volumes=())
    assert inventory.pmspare_kib(VG) == 16384 and inventory.pmspare_kib("vg_other") == 0
    assert inventory.thin_pool_usage() == {VG: (0.0005, 0.1094)}


def test_lvs_inventory_has_one_entry_per_lv_when_lvm_prints_one_row_per_segment():
    """Real LVM (the VM tier, after an in-place expand) prints an extended LV once per segment,
    because ``segtype`` is a segment field: the spare counts once, not twice."""
    lvs = l.parse_lvs_inventory(data("lvm/lvs_all_segments.json"))
    assert sorted(v.name for v in lvs) == [
        "brick_aa", "lvol0_pmspare", "tp_aa", "tp_aa_tdata", "tp_aa_tmeta",
    ]
    inventory = NodeInventory(vg_free_kib={VG: 0}, lvs=lvs, mounts=(), fstab=(), volumes=())
    assert inventory.pmspare_kib(VG) == 16384


def test_stderr_noise_is_removed_and_not_found_detected():
    assert commands.clean_stderr(data("lvm/vgcreate.err")) == ""
    cleaned = commands.clean_stderr(data("lvm/lvremove_missing.err"))
    assert cleaned == f'Failed to find logical volume "{VG}/brick_x"'
    assert l.lv_names(DEFAULT, DEV)[-1] == VG and "--reportformat=json" in l.vg_names(DEFAULT)
    # The noise goes, the real error stays.
    assert commands.clean_stderr(data("lvm/lvcreate.err")).splitlines() == [
        "striped: Required device-mapper target(s) not detected in your kernel.",
        "Run `lvcreate --help' for more information.",
    ]


def test_small_parsers():
    assert l.parse_thin_count("    2\n") == 2 and l.parse_thin_count("") == 0
    assert l.parse_udev_symlinks(
        "disk/by-id/wwn-0x5 disk/by-id/lvm-pv-uuid-abc disk/by-path/pci-1", "/dev/sdb"
    ) == ("/dev/sdb", "/dev/disk/by-id/wwn-0x5", "/dev/disk/by-path/pci-1")
    mounts = "/dev/mapper/vg_a-brick_1 /var/lib/heketi/mounts/vg_a/brick\\0401 xfs rw 0 0\n"
    assert l.parse_mounts(mounts) == [
        ("/dev/mapper/vg_a-brick_1", "/var/lib/heketi/mounts/vg_a/brick 1"),
    ]  # fmt: skip
    fstab = "# /var/lib/heketi/mounts/x\n/dev/x /var/lib/heketi/mounts/vg_a/brick_1 xfs rw 1 2\n"
    assert l.fstab_entries_under(fstab) == (
        "/dev/x /var/lib/heketi/mounts/vg_a/brick_1 xfs rw 1 2",
    )  # fmt: skip


# -- gluster parsers on real output ------------------------------------------------------------


def test_volume_info_real_mixed_text_bricks():
    (volume,) = g.parse_volume_info(data("volume_info_r3.xml"))
    assert volume.name == "vol_r3" and volume.status == "Started"
    assert volume.id == "466b8d35-0359-465d-8c0d-17ed4697d7a5"
    assert [b.path for b in volume.bricks] == [
        f"/tmp/cap/node/bricks/b{i}/brick" for i in (1, 2, 3)
    ]
    assert {b.host for b in volume.bricks} == {"192.0.2.10"}
    assert volume.options["user.heketi.id"] == "0123456789abcdef0123456789abcdef"
    assert g.parse_cli_status(data("volume_info_r3.xml")).ok


def test_volume_info_all_and_arbiter_flags():
    volumes = g.parse_volume_info(data("volume_info_all.xml"))
    assert sorted(v.name for v in volumes) == ["vol_arb", "vol_dist", "vol_r3"]
    arb = next(v for v in volumes if v.name == "vol_arb")
    assert arb.status == "Created" and len(arb.bricks) == 3
    assert g.parse_volume_info(data("volume_info_none.xml")) == []


def test_volume_info_of_missing_volume_fails_despite_exit_zero():
    status = g.parse_cli_status(data("volume_info_missing.xml"))
    assert not status.ok and status.op_errstr == "Volume does not exist"
    assert status.op_errno == g.EG_NOVOL == g.cli_errno(data("volume_info_missing.xml"))
    assert g.cli_errno(data("volume_delete_missing.txt")) == 0  # plain output has no errno


def test_volume_status_real_with_self_heal_daemon():
    rows = g.parse_volume_status(data("volume_status_r3.xml"))
    bricks = [r for r in rows if not r.daemon]
    daemons = [r for r in rows if r.daemon]
    assert len(bricks) == 3 and all(r.online and r.port.isdigit() for r in bricks)
    assert [d.host for d in daemons] == ["Self-heal Daemon"] and daemons[0].path == "localhost"


def test_heal_info_real_and_brick_down():
    healthy = g.parse_heal_info(data("heal_info_r3.xml"))
    assert len(healthy) == 3 and g.heal_is_clean(healthy)
    down = g.parse_heal_info(data("heal_info_brick_down.xml"))
    assert [b.entries for b in down] == [3, None]
    assert not g.heal_is_clean(down)


def test_peer_status():
    assert g.parse_peer_status(data("peer_status.xml")) == []
    first, second = g.parse_peer_status(data("peer_status_two.xml"))
    assert first.connected and first.hostnames == ("192.0.2.12", "node2.example.test")
    assert not second.connected and second.state == "Peer in Cluster"


def test_transaction_conflict_texts():
    assert g.is_transaction_conflict("", data("volume_create_locked.txt"))
    assert g.is_transaction_conflict("", "Locking failed on n2. Please check log file for details.")
    assert not g.is_transaction_conflict("", data("volume_start_again.txt"))
    locked = "<cliOutput><opRet>-1</opRet><opErrno>30802</opErrno><opErrstr>x</opErrstr></cliOutput>"
    assert g.is_transaction_conflict(locked, "")
    assert not g.is_transaction_conflict("", "")
    other = '{ "RESULT":"FAIL", "errCode":5, "errMsg":"block blk_x doesn\'t exist" }'
    assert g.block_missing(g.parse_block_json(other), "bhv", "blk_x")  # older releases: text


def test_gluster_block_json():
    created = g.parse_block_json(data("block_create.json"))
    assert g.block_failed(created) is None
    assert g.block_portals(created) == ("192.0.2.11", "192.0.2.12", "192.0.2.13")
    missing = g.parse_block_json("", data("block_delete_missing.json"))
    assert g.block_failed(missing) and g.block_missing(missing, "bhv", "blk_x")
    failed = g.parse_block_json(data("block_create_fail.json"))
    assert "Not enough space" in g.block_failed(failed)
    with pytest.raises(commands.ParseError):
        g.parse_block_json("not json", "")
    assert [g.parse_block_size_gib(s) for s in ("5 GiB", "2TiB", "1G", "3.0 GiB")] == [
        5, 2048, 1, 3,
    ]  # fmt: skip
