"""RemoteExecutor against a FakeRunner that records argv and replays canned outputs.

Concurrency is asserted by the order of recorded events (gates hold a command open), never
by time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from heketipy.config import SshExecSettings
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import (
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    DeviceNotAvailable,
    VolumeDoesNotExist,
    VolumeRequest,
)
from heketipy.executors.commands import CommandOptions
from heketipy.executors.commands_common import unwrap
from heketipy.executors.remote import UMOUNT_BUSY_DELAYS_S, RemoteExecutor
from heketipy.executors.runner import CommandResult

DATA = Path(__file__).resolve().parents[1] / "data" / "gluster"
DEV = "0123456789abcdef0123456789abcdef"
B1, C1 = "b1" + "0" * 30, "c1" + "0" * 30  # brick ids
VG = f"vg_{DEV}"


def data(name: str) -> str:
    return (DATA / name).read_text()


@dataclass
class Rule:
    pattern: str
    results: list[tuple[int, str, str]]
    host: str | None = None
    gate: asyncio.Event | None = None


@dataclass
class FakeRunner:
    """Matches each command line against rules (first match wins, results replay in order, the
    last one repeats); unmatched commands succeed with empty output."""

    rules: list[Rule] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    closed: bool = False

    def on(
        self,
        pattern: str,
        *results: tuple[int, str, str],
        host: str | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.rules.append(Rule(pattern, list(results) or [(0, "", "")], host, gate))

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        assert all(isinstance(word, str) for word in argv)
        line = " ".join(argv)
        self.calls.append((host, line))
        self.events.append(("start", host, line))
        result = (0, "", "")
        for rule in self.rules:
            if rule.pattern in line and rule.host in (None, host):
                if rule.gate is not None:
                    await rule.gate.wait()
                result = rule.results.pop(0) if len(rule.results) > 1 else rule.results[0]
                break
        await asyncio.sleep(0)
        self.events.append(("end", host, line))
        return CommandResult(tuple(argv), *result)

    async def close(self) -> None:
        self.closed = True

    def lines(self, host: str | None = None) -> list[str]:
        return [line for h, line in self.calls if host in (None, h)]


def executor(runner: FakeRunner, **settings) -> tuple[RemoteExecutor, list[float]]:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    remote = RemoteExecutor(runner, SshExecSettings(**settings), name="ssh", sleep=fake_sleep)
    return remote, sleeps


def brick(**overrides) -> BrickRequest:
    values = dict(
        device_id=DEV, brick_id=B1, tp_name=f"tp_{B1}", lv_name=f"brick_{B1}",
        tp_size_kib=2048, size_kib=2000, pool_metadata_kib=16,
    )  # fmt: skip
    values.update(overrides)
    return BrickRequest(**values)


def programs(lines: list[str]) -> list[str]:
    """A readable step list: program plus LVM/gluster sub-command."""
    steps = []
    for line in lines:
        words = unwrap(line.split())
        if words[0].endswith("lvm"):
            steps.append(f"lvm {words[1]}")
        elif words[0] == "gluster":
            steps.append(" ".join(w for w in words[1:] if not w.startswith("--")))
        else:
            steps.append(words[0])
    return steps


NOT_FOUND = (5, "", f'  Failed to find logical volume "{VG}/x"\n')
MISSING_VG_REPORT = (5, "", f'  Volume group "{VG}" not found\n')


# -- devices ---------------------------------------------------------------------------------


async def test_device_setup_runs_upstream_batch_and_parses_real_output():
    runner = FakeRunner()
    runner.on("pvs -o", (5, "", "  Failed to find physical volume \"/dev/loop0\".\n"),
              (0, data("lvm/pvs.json"), data("lvm/pvs.err")))  # fmt: skip
    runner.on("udevadm", (0, "disk/by-id/wwn-1 disk/by-id/lvm-pv-uuid-x", ""))
    runner.on("vgdisplay", (0, data("lvm/vgdisplay.out"), data("lvm/vgdisplay.err")))
    remote, _ = executor(runner)
    info = await remote.device_setup("n1", "/dev/loop0", DEV, destroy_data=True)
    assert programs(runner.lines()) == [
        "lvm pvs", "wipefs", "lvm pvcreate", "lvm vgcreate", "lvm pvs", "/usr/bin/udevadm",
        "lvm vgdisplay",
    ]  # fmt: skip
    assert info.total_kib == info.free_kib == 479 * 4096 and info.used_kib == 0
    assert info.pv_uuid == "Nnz7uK-T3PV-Wtam-cnPG-kiXA-M3y4-epmcf6"
    assert info.paths == ("/dev/loop0", "/dev/disk/by-id/wwn-1")


async def test_device_setup_replay_returns_existing_info():
    runner = FakeRunner()
    runner.on("pvs -o", (0, data("lvm/pvs.json"), ""))
    runner.on("vgdisplay", (0, data("lvm/vgdisplay.out"), ""))
    remote, _ = executor(runner)
    info = await remote.device_setup("n1", "/dev/loop0", DEV, destroy_data=False)
    assert "lvm pvcreate" not in programs(runner.lines()) and info.extent_kib == 4096


async def test_device_setup_refused_device_is_not_available():
    runner = FakeRunner()
    runner.on("pvs -o", (5, "", "  Failed to find physical volume\n"))
    runner.on("pvcreate", (5, "", '  Can\'t initialize physical volume "/dev/sdb" of volume group "vg_x" without -ff\n'))  # fmt: skip
    remote, _ = executor(runner)
    with pytest.raises(DeviceNotAvailable) as caught:
        await remote.device_setup("n1", "/dev/sdb", DEV, destroy_data=False)
    assert caught.value.node == "n1" and caught.value.exit_code == 5
    assert "without -ff" in caught.value.stderr and "vgcreate" not in " ".join(runner.lines())


async def test_device_setup_failure_after_vgcreate_tears_down():
    runner = FakeRunner()
    runner.on("pvs -o", (5, "", "no pv\n"), (0, data("lvm/pvs.json"), ""))
    runner.on("vgs -o", (0, data("lvm/vgs.json"), ""))
    runner.on("vgdisplay", (5, "", "  boom\n"))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError):
        await remote.device_setup("n1", "/dev/loop0", DEV, destroy_data=False)
    assert programs(runner.lines())[-4:] == ["lvm vgs", "lvm vgremove", "lvm pvremove", "rmdir"]


async def test_device_teardown_tolerates_missing_vg_and_pv():
    runner = FakeRunner()
    runner.on("vgs -o", MISSING_VG_REPORT)
    runner.on("pvremove", (5, "", "  No PV found on device /dev/sdb.\n"))
    remote, _ = executor(runner)
    await remote.device_teardown("n1", "/dev/sdb", DEV)
    assert "lvm vgremove" not in programs(runner.lines())


# -- bricks ----------------------------------------------------------------------------------


async def test_brick_create_full_sequence_with_gid_and_storage_name():
    runner = FakeRunner()
    remote, _ = executor(runner, xfs_su=64, xfs_sw=2)
    remote.register_node(["n1.manage"], ["n1.storage"])
    address = await remote.brick_create("n1.manage", brick(gid=2000))
    assert address == BrickAddress("n1.storage", brick().path)
    # Upstream's six commands per brick: no pre-checks on the first pass.
    assert programs(runner.lines()) == [
        "mkdir", "lvm lvcreate", "mkfs.xfs", "awk", "mount", "install",
    ]  # fmt: skip
    lines = runner.lines()
    assert "--size 2048K" in lines[1] and "--thin --virtualsize 307200K" in lines[1]
    assert f"--addtag heketi-device-{DEV}" in lines[1] and f"--addtag heketi-brick-{B1}" in lines[1]
    assert "-d su=64,sw=2" in lines[2]
    assert lines[-1].endswith(f"install -d -g 2000 -m 2775 {brick().path}")


EXISTS = (5, "", f'  Logical Volume "tp_{B1}" already exists in volume group "{VG}"\n')


async def test_brick_create_replay_skips_done_steps():
    lvs = data("lvm/lvs_bricks.json").replace("brick_aa", f"brick_{B1}").replace("tp_aa", f"tp_{B1}")
    runner = FakeRunner()
    runner.on("lvcreate", EXISTS)
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs, ""))
    runner.on("blkid", (0, "xfs\n", ""))
    runner.on("mount -o", (32, "", "mount: /m: already mounted\n"))
    runner.on("mountpoint", (0, "", ""))
    remote, _ = executor(runner)
    await remote.brick_create("n1", brick())
    assert programs(runner.lines()) == [
        "mkdir", "lvm lvcreate", "lvm lvs", "blkid", "awk", "mount", "mountpoint", "mkdir",
    ]  # fmt: skip


async def test_brick_create_replay_with_only_the_pool_makes_the_lv_in_it():
    lvs = data("lvm/lvs_bricks.json").replace("brick_aa", "brick_other").replace("tp_aa", f"tp_{B1}")
    runner = FakeRunner()
    runner.on("--size 2048K", EXISTS)
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs, ""))
    remote, _ = executor(runner)
    await remote.brick_create("n1", brick())
    steps = programs(runner.lines())
    assert steps == ["mkdir", "lvm lvcreate", "lvm lvs", "lvm lvcreate", "mkfs.xfs", "awk", "mount", "mkdir"]
    assert "--size" not in runner.lines()[3] and f"tp_{B1}" in runner.lines()[3]


async def test_brick_create_lvcreate_failure_is_raised_when_the_lvs_are_not_there():
    runner = FakeRunner()
    runner.on("lvcreate", (5, "", "  Volume group has insufficient free space\n"))
    runner.on("lvs --reportformat=json -o lv_name", (0, data("lvm/lvs_empty.json"), ""))
    runner.on("thin_count", NOT_FOUND)
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_create("n1", brick())
    assert "insufficient free space" in caught.value.stderr
    assert programs(runner.lines())[:3] == ["mkdir", "lvm lvcreate", "lvm lvs"]


async def test_brick_create_failure_destroys_what_it_made():
    runner = FakeRunner()
    runner.on("lvs --reportformat=json -o lv_name", (0, data("lvm/lvs_empty.json"), ""))
    runner.on("mountpoint", (1, "", ""))
    runner.on("mount -o", (32, "", "mount: wrong fs type\n"))
    runner.on("thin_count", (0, "  0\n", ""))
    runner.on("umount", (32, "", "umount: not mounted.\n"))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_create("n1", brick())
    assert unwrap(caught.value.argv)[0] == "mount" and "wrong fs type" in caught.value.stderr
    steps = programs(runner.lines())
    assert steps[steps.index("mount") + 1 :] == [
        "mountpoint", "umount", "mountpoint", "sed", "lvm lvremove", "lvm lvs", "lvm lvremove", "rmdir",
    ]  # fmt: skip


async def test_brick_destroy_reclaims_when_pool_empty():
    runner = FakeRunner()
    runner.on("thin_count", (0, "    0\n", "  File descriptor 9 (/dev/null) leaked on lvm invocation.\n"))  # fmt: skip
    remote, _ = executor(runner)
    assert await remote.brick_destroy("n1", brick()) is True
    assert programs(runner.lines()) == [
        "umount", "sed", "lvm lvremove", "lvm lvs", "lvm lvremove", "rmdir",
    ]  # fmt: skip
    assert runner.lines()[4].endswith(f"{VG}/tp_{B1}")


async def test_brick_destroy_of_missing_brick_succeeds_without_reclaim(caplog):
    caplog.set_level(logging.INFO, logger="heketipy")
    runner = FakeRunner()
    runner.on("umount", (32, "", "umount: /x: no mount point specified.\n"))
    runner.on("mountpoint", (32, "", ""))
    runner.on("lvremove", NOT_FOUND)
    runner.on("thin_count", NOT_FOUND)
    runner.on("lvs --reportformat=json -o lv_name", (0, data("lvm/lvs_empty.json"), ""))
    remote, _ = executor(runner)
    assert await remote.brick_destroy("n1", brick()) is False
    # Probes answering "not there" are expected here, not failed commands worth a warning.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_brick_adopt_tags_writes_fstab_and_mounts_only_when_unmounted():
    runner = FakeRunner()
    runner.on("mountpoint", (0, "", ""), (32, "", ""))
    remote, _ = executor(runner)
    clone_brick = brick(brick_id=C1, lv_name=f"brick_{C1}")
    await remote.brick_adopt("n1", clone_brick)  # gluster mounted it already
    assert programs(runner.lines()) == ["lvm lvchange", "awk", "mountpoint"]
    assert runner.lines()[0].endswith(
        f"--addtag heketi-device-{DEV} --addtag heketi-brick-{C1} {VG}/brick_{C1}"
    )
    assert f"/dev/mapper/{VG}-brick_{C1} {clone_brick.mount_path} xfs" in runner.lines()[1]
    runner.calls.clear()
    await remote.brick_adopt("n1", clone_brick)  # a replay after the mount went away
    assert programs(runner.lines()) == ["lvm lvchange", "awk", "mountpoint", "mkdir", "mount"]


async def test_brick_destroy_keeps_shared_pool():
    runner = FakeRunner()
    runner.on("thin_count", (0, "  1\n", ""))
    remote, _ = executor(runner)
    assert await remote.brick_destroy("n1", brick()) is False
    assert programs(runner.lines()).count("lvm lvremove") == 1


async def test_brick_destroy_busy_mount_fails_before_lvm_but_after_fstab():
    runner = FakeRunner()
    runner.on("umount", (32, "", "umount: target is busy.\n"))
    runner.on("mountpoint", (0, "", ""))
    remote, sleeps = executor(runner, debug_umount_failures=True)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_destroy("n1", brick())
    assert "target is busy" in str(caught.value)
    assert sleeps == list(UMOUNT_BUSY_DELAYS_S)
    assert programs(runner.lines()) == ["umount"] * 6 + ["mountpoint", "lsof", "sed"]


async def test_brick_destroy_waits_for_a_brick_process_still_leaving_its_mount():
    """A stopped volume's glusterfsd can hold its mount a moment longer: umount is retried."""
    runner = FakeRunner()
    busy = (32, "", "umount: /var/lib/heketi/mounts/x: target is busy.\n")
    runner.on("umount", busy, busy, (0, "", ""))
    runner.on("thin_count", (0, "  0\n", ""))
    remote, sleeps = executor(runner)
    assert await remote.brick_destroy("n1", brick()) is True
    assert sleeps == [0.25, 0.5]
    assert programs(runner.lines()) == [
        "umount", "umount", "umount", "sed", "lvm lvremove", "lvm lvs", "lvm lvremove", "rmdir",
    ]  # fmt: skip


# -- gluster volumes -------------------------------------------------------------------------


def volume(n: int = 6, **kw) -> VolumeRequest:
    bricks = tuple(BrickAddress(f"s{i % 3}", f"/b/{i}/brick") for i in range(n))
    return VolumeRequest(
        "vol_x", bricks, "replicate", replica=3, options=("performance.rsize 128", "user.heketi.id abc"), **kw
    )  # fmt: skip


async def test_volume_create_sequence():
    runner = FakeRunner()
    remote, _ = executor(runner)
    await remote.volume_create("n1", volume())
    assert programs(runner.lines()) == [
        "volume create vol_x replica 3 s0:/b/0/brick s1:/b/1/brick s2:/b/2/brick",
        "volume add-brick vol_x s0:/b/3/brick s1:/b/4/brick s2:/b/5/brick",
        "volume set vol_x performance.rsize 128",
        "volume set vol_x user.heketi.id abc",
        "volume start vol_x",
    ]


async def test_gluster_lock_conflict_is_retried_with_backoff():
    runner = FakeRunner()
    locked = (1, "", data("volume_create_locked.txt"))
    runner.on("volume create", locked, locked, (0, "volume create: vol_x: success", ""))
    remote, sleeps = executor(runner)
    await remote.volume_create("n1", volume(3))
    creates = [step for step in programs(runner.lines()) if step.startswith("volume create")]
    assert creates == ["volume create vol_x replica 3 s0:/b/0/brick s1:/b/1/brick s2:/b/2/brick"] * 3
    assert sleeps == [0.5, 1.0]


async def test_gluster_lock_conflict_gives_up_eventually():
    runner = FakeRunner()
    runner.on("volume start", (1, "", "volume start: vol_x: failed: Locking failed on s2.\n"))
    remote, sleeps = executor(runner)
    remote.lock_retries = 3
    with pytest.raises(NodeCommandError) as caught:
        await remote.volume_create("n1", volume(3))
    assert "Locking failed" in caught.value.stderr and sleeps == [0.5, 1.0, 2.0]
    assert programs(runner.lines()).count("volume start vol_x") == 4


async def until(condition, limit: int = 1000) -> None:
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def test_one_gluster_transaction_at_a_time_per_pool_lvm_concurrent_across_nodes():
    runner = FakeRunner()
    gate = asyncio.Event()
    runner.on("volume start vol_a", gate=gate)
    runner.on("lvs --reportformat=json -o lv_name", (0, data("lvm/lvs_empty.json"), ""))
    runner.on("mountpoint", (1, "", ""))
    remote, _ = executor(runner)
    for i in (1, 2, 3):
        remote.register_node([f"n{i}"], [f"s{i}"])
    await remote.peer_probe("n1", "s2")  # n1 and n2 form one pool; n3 is a pool of its own
    assert remote.pool_of("n2") == remote.pool_of("s1") != remote.pool_of("n3")

    one_brick = VolumeRequest("vol_a", (BrickAddress("s1", "/b/a"),))
    held = asyncio.create_task(remote.volume_create("n1", one_brick))
    await until(lambda: ("start", "n1", runner.lines()[-1]) in runner.events
                and "volume start vol_a" in runner.lines()[-1])  # fmt: skip
    same_pool = asyncio.create_task(remote.volume_destroy("n2", "vol_b"))
    other_pool = asyncio.create_task(remote.volume_destroy("n3", "vol_c"))
    lvm_same_pool_node = asyncio.create_task(remote.brick_create("n2", brick()))
    await asyncio.gather(other_pool, lvm_same_pool_node)
    # vol_a's transaction is still open: the other pool's gluster work and n2's LVM/XFS work
    # went ahead, but nothing of vol_b (same pool) has been sent.
    assert not held.done()
    assert any("vol_c" in line for line in runner.lines("n3"))
    assert any(line.startswith("chmod") or "mkfs.xfs" in line for line in runner.lines("n2"))
    assert not any("vol_b" in line for line in runner.lines())

    gate.set()
    await asyncio.gather(held, same_pool)
    vol_a_started = next(
        i for i, e in enumerate(runner.events) if e[0] == "end" and "start vol_a" in e[2]
    )
    vol_b_first = next(i for i, e in enumerate(runner.events) if "vol_b" in e[2])
    assert vol_a_started < vol_b_first


async def test_volume_info_missing_despite_exit_zero():
    runner = FakeRunner()
    runner.on("volume info", (0, data("volume_info_missing.xml"), ""))
    remote, _ = executor(runner)
    with pytest.raises(VolumeDoesNotExist) as caught:
        await remote.volume_info("n1", "nosuch")
    assert str(caught.value).endswith("Volume does not exist")


async def test_volume_destroy_missing_volume_raises_does_not_exist():
    runner = FakeRunner()
    runner.on("volume stop", (1, "", "volume stop: nosuch: failed: Volume nosuch does not exist\n"))
    runner.on("volume delete", (1, "", data("volume_delete_missing.txt")))
    runner.on("volume info", (0, data("volume_info_missing.xml"), ""))
    remote, _ = executor(runner)
    with pytest.raises(VolumeDoesNotExist):
        await remote.volume_destroy("n1", "nosuch")


async def test_glusterd_down_is_a_node_error_with_details():
    runner = FakeRunner()
    runner.on("volume info", (1, "", data("glusterd_down.txt")))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.volumes_info("n1")
    error = caught.value
    assert error.node == "n1" and error.exit_code == 1 and unwrap(error.argv)[0] == "gluster"
    assert "gluster daemon is operational" in error.stderr


async def test_glusterd_check_falls_back_without_systemd():
    runner = FakeRunner()
    runner.on("systemctl", (1, "", "System has not been booted with systemd as init system (PID 1).\n"))  # fmt: skip
    runner.on("peer status", (0, data("peer_status.xml"), ""))
    remote, _ = executor(runner)
    await remote.glusterd_check("n1")
    runner.rules[1].results = [(1, "", data("glusterd_down.txt"))]
    with pytest.raises(NodeCommandError):
        await remote.glusterd_check("n1")


async def test_volume_expand_adds_only_new_bricks_and_rebalances():
    info = data("volume_info_r3.xml").replace("vol_r3", "vol_x")
    existing = tuple(
        BrickAddress("192.0.2.10", f"/tmp/cap/node/bricks/b{i}/brick") for i in (1, 2, 3)
    )
    new = tuple(BrickAddress(f"s{i}", f"/n/{i}") for i in range(3))
    runner = FakeRunner()
    runner.on("volume info", (0, info, ""))
    runner.on("rebalance", (1, "", "volume rebalance: vol_x: failed: something\n"))
    remote, _ = executor(runner)
    request = VolumeRequest("vol_x", existing + new, "replicate", replica=3)
    await remote.volume_expand("n1", request)
    assert programs(runner.lines()) == [
        "volume info vol_x", "volume add-brick vol_x s0:/n/0 s1:/n/1 s2:/n/2",
        "volume rebalance vol_x start",
    ]  # fmt: skip


async def test_heal_info_and_clone():
    runner = FakeRunner()
    runner.on("heal", (0, data("heal_info_r3.xml"), ""))
    ok = '<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/></cliOutput>'
    runner.on("snapshot", (0, ok, ""))
    runner.on("volume info", (0, data("volume_info_r3.xml").replace("vol_r3", "vol_c"), ""))
    remote, _ = executor(runner)
    assert await remote.heal_info_ok("n1", "vol_r3") is True
    clone = await remote.volume_clone("n1", "vol_r3", "vol_c")
    assert clone.name == "vol_c"
    assert [s.split()[0:2] for s in programs(runner.lines()[1:])] == [
        ["snapshot", "create"], ["snapshot", "activate"], ["snapshot", "clone"],
        ["volume", "start"], ["snapshot", "deactivate"], ["snapshot", "delete"],
        ["volume", "info"],
    ]  # fmt: skip


# -- gluster-block, sudo, inventory ----------------------------------------------------------


async def test_block_volume_create_and_delete():
    runner = FakeRunner()
    runner.on("gluster-block create", (0, data("block_create.json"), ""))
    runner.on("gluster-block delete", (2, "", data("block_delete_missing.json")))
    remote, _ = executor(runner, block_prealloc="no")
    info = await remote.block_volume_create(
        "n1", BlockVolumeRequest("blk_x", 5, "bhv", ("s1", "s2", "s3"), 3, auth=True)
    )
    assert info.iqn.startswith("iqn.2016-12.org.gluster-block:") and info.password
    assert info.hosts == ("192.0.2.11", "192.0.2.12", "192.0.2.13")
    assert "prealloc no s1,s2,s3 5GiB --json" in runner.lines()[0]
    await remote.block_volume_destroy("n1", "bhv", "blk_x")  # missing counts as deleted
    runner.rules[0].results = [(255, data("block_create_fail.json"), "")]
    with pytest.raises(NodeCommandError) as caught:
        await remote.block_volume_create(
            "n1", BlockVolumeRequest("blk_y", 5, "bhv", ("s1",), 1)
        )
    assert "Not enough space" in str(caught.value)


async def test_sudo_wraps_every_command():
    runner = FakeRunner()
    remote, _ = executor(runner, sudo=True)
    await remote.brick_destroy("n1", brick())
    await remote.volume_destroy("n1", "v")
    assert runner.lines() and all(line.startswith("sudo -n -- ") for line in runner.lines())
    plain = RemoteExecutor(FakeRunner(), CommandOptions(sudo=True), name="kube", use_sudo=False)
    assert plain.options.sudo is True  # CommandOptions given as is


async def test_hostile_names_never_reach_the_runner():
    runner = FakeRunner()
    remote, _ = executor(runner)
    with pytest.raises(ValueError):
        await remote.volume_destroy("n1", "v; reboot")
    with pytest.raises(ValueError):
        await remote.volume_set_options("n1", "v", ("performance.x $(reboot)",))
    with pytest.raises(ValueError):
        await remote.peer_probe("n1", "`reboot`")
    assert runner.calls == [] or all("reboot" not in line for line in runner.lines())


async def test_node_inventory_and_close():
    runner = FakeRunner()
    runner.on("vgs --reportformat=json", (0, data("lvm/vgs_free.json"), ""))
    runner.on("lvs -a --reportformat=json", (0, data("lvm/lvs_all_pmspare.json"), ""))
    mounts = "/dev/mapper/x /var/lib/heketi/mounts/vg_a/brick_aa xfs rw 0 0\nproc /proc proc rw 0 0\n"
    runner.on("/proc/self/mounts", (0, mounts, ""))
    runner.on("cat /etc/fstab", (0, "/dev/mapper/x /var/lib/heketi/mounts/vg_a/brick_aa xfs rw 1 2\n", ""))  # fmt: skip
    runner.on("volume info", (0, data("volume_info_all.xml"), ""))
    remote, _ = executor(runner)
    inventory = await remote.node_inventory("n1")
    assert inventory.vg_free_kib == {VG: 1961984}
    assert {lv.kind for lv in inventory.lvs if not lv.hidden} == {"thin", "thin-pool"}
    assert inventory.pmspare_kib(VG) == 16384
    assert inventory.mounts == ("/var/lib/heketi/mounts/vg_a/brick_aa",)
    assert len(inventory.fstab) == 1 and len(inventory.volumes) == 3
    await remote.close()
    assert runner.closed


# -- the node-command budget -------------------------------------------------------------------


@pytest.mark.parametrize("gid", [0, 2000])
async def test_a_brick_costs_at_most_upstreams_six_node_commands(gid: int):
    """Heketi runs six commands per brick; heketipy's safety checks run only on a failure."""
    from heketipy.simulator.runner import SimulatedNodes
    from heketipy.wiring import SimulatorExecutor

    nodes = SimulatedNodes(device_size_gb=10)
    remote = SimulatorExecutor(nodes, CommandOptions())
    remote.register_node(["n1"], ["10.0.0.1"])
    await remote.device_setup("n1", "/dev/sdb", DEV, destroy_data=False)
    for n in range(3):
        nodes.trace.clear()
        request = brick(brick_id=f"{n:032x}", tp_name=f"tp_{n:032x}", lv_name=f"brick_{n:032x}", gid=gid)
        await remote.brick_create("n1", request)
        starts = [e.command for e in nodes.trace.events if e.phase == "start"]
        assert len(starts) == 6, starts
    inventory = await remote.node_inventory("n1")
    assert len([lv for lv in inventory.lvs if lv.name.startswith("brick_")]) == 3


async def test_a_volume_create_or_expand_sends_no_volume_info_after_its_last_step():
    """Nothing reads a created or expanded volume back: the gluster commands of a create end
    with ``volume start`` (no ``volume info --xml`` under the pool's gluster lock), an expand
    reads the volume once, before it adds bricks (to skip bricks a replayed step added)."""
    from heketipy.simulator.runner import SimulatedNodes
    from heketipy.wiring import SimulatorExecutor

    nodes = SimulatedNodes(device_size_gb=10)
    remote = SimulatorExecutor(nodes, CommandOptions())
    remote.register_node(["n1"], ["10.0.0.1"])
    await remote.device_setup("n1", "/dev/sdb", DEV, destroy_data=False)
    first, second = [
        await remote.brick_create(
            "n1", brick(brick_id=f"{n:032x}", tp_name=f"tp_{n:032x}", lv_name=f"brick_{n:032x}")
        )
        for n in (1, 2)
    ]

    def gluster_commands() -> list[str]:
        # "gluster volume start vol_x" -> "gluster volume start"
        return [
            " ".join(e.command.split()[:3])
            for e in nodes.trace.events
            if e.phase == "start" and e.family == "gluster"
        ]

    nodes.trace.clear()
    assert await remote.volume_create("n1", VolumeRequest("vol_x", (first,))) is None
    assert gluster_commands()[-1] == "gluster volume start"
    assert "gluster volume info" not in gluster_commands()
    nodes.trace.clear()
    assert await remote.volume_expand("n1", VolumeRequest("vol_x", (second,))) is None
    assert gluster_commands()[0] == "gluster volume info"
    assert gluster_commands().count("gluster volume info") == 1
    assert [(b.host, b.path) for b in (await remote.volume_info("n1", "vol_x")).bricks] == [
        (first.host, first.path), (second.host, second.path)
    ]
