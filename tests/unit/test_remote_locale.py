"""RemoteExecutor is locale-proof: every node command runs under ``env LC_ALL=C``, and every
decision that reads a failed command goes by exit codes and structured output (LVM JSON
reports, ``blkid`` exit 2, ``mountpoint -q``, gluster ``--xml`` ``opErrno``, gluster-block's
``errCode``), so a node answering in German still gets the right decision.

The runner fakes here answer with German texts on purpose: none of these decisions may depend
on English wording.
"""

from __future__ import annotations

import json
import logging

import pytest

from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import VolumeDoesNotExist
from heketipy.executors.commands_common import LOCALE_PREFIX, unwrap
from tests.unit.test_remote_executor import (
    B1,
    DEV,
    VG,
    FakeRunner,
    brick,
    data,
    executor,
    programs,
)

LVM_FAILED = 5  # LVM's ECMD_FAILED: every failed lvm command, "not found" included
GERMAN_LV_MISSING = (LVM_FAILED, "", f"  Logisches Volume »{VG}/brick_{B1}« nicht gefunden\n")
GERMAN_VG_MISSING = (LVM_FAILED, "", f"  Datenträgergruppe »{VG}« nicht gefunden\n")
GERMAN_PV_MISSING = (LVM_FAILED, "", "  Kein PV auf Gerät /dev/sdb gefunden.\n")
GERMAN_LVM_BUSY = (LVM_FAILED, "", "  Logisches Volume wird verwendet.\n")
NO_VGS = json.dumps({"report": [{"vg": []}]})
ONLY_OUR_VG = json.dumps({"report": [{"vg": [{"vg_name": VG}]}]})
NO_LVS = json.dumps({"report": [{"lv": []}]})


def lvs_with(*names: str) -> str:
    """An ``lvs --reportformat=json -o lv_name`` report."""
    return json.dumps({"report": [{"lv": [{"lv_name": name} for name in names]}]})


def gluster_xml(op_errno: int, errstr: str) -> str:
    return (
        "<cliOutput><opRet>-1</opRet>"
        f"<opErrno>{op_errno}</opErrno><opErrstr>{errstr}</opErrstr></cliOutput>"
    )


# -- the prefix --------------------------------------------------------------------------------


async def test_every_node_command_runs_under_lc_all_c() -> None:
    runner = FakeRunner()
    runner.on("lvs --reportformat=json -o lv_name", (0, data("lvm/lvs_empty.json"), ""))
    runner.on("mountpoint", (32, "", ""))
    runner.on("volume info", (0, data("volume_info_r3.xml"), ""))
    remote, _ = executor(runner)
    await remote.brick_create("n1", brick(gid=2000))
    await remote.brick_destroy("n1", brick())
    await remote.volume_info("n1", "vol_r3")
    await remote.glusterd_check("n1")
    assert runner.lines()
    assert all(line.startswith("env LC_ALL=C ") for line in runner.lines())


async def test_sudo_comes_first_then_the_locale() -> None:
    runner = FakeRunner()
    remote, _ = executor(runner, sudo=True)
    await remote.volume_destroy("n1", "v")
    assert runner.lines()
    assert all(line.startswith("sudo -n -- env LC_ALL=C ") for line in runner.lines())


def test_unwrap_strips_sudo_and_locale_only() -> None:
    tool = ["/usr/sbin/lvm", "lvs"]
    assert unwrap(["sudo", "-n", "--", *LOCALE_PREFIX, *tool]) == tool
    assert unwrap([*LOCALE_PREFIX, *tool]) == tool
    assert unwrap(tool) == tool
    assert unwrap(["env", "LC_ALL=de_DE.UTF-8", *tool])[0] == "env"  # not ours: left alone


# -- LVM: exit 5 for every failure, so absence is read from JSON reports ------------------------


async def test_brick_create_on_a_vg_that_lvm_reports_missing_in_german() -> None:
    """``lvcreate`` fails in German; the VG listing (JSON) says the VG is not there: the
    create's own error is raised, whatever its language."""
    runner = FakeRunner()
    runner.on("lvcreate", GERMAN_VG_MISSING)
    runner.on("lvs --reportformat=json -o lv_name", GERMAN_VG_MISSING)
    runner.on("vgs --reportformat=json -o vg_name", (0, NO_VGS, ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_create("n1", brick())
    assert caught.value.exit_code == LVM_FAILED and "lvcreate" in caught.value.argv
    assert programs(runner.lines())[:4] == ["mkdir", "lvm lvcreate", "lvm lvs", "lvm vgs"]


async def test_brick_create_replay_is_read_from_json_reports_not_german_text() -> None:
    """``lvcreate`` fails (in German) because the brick's LVs are there from an earlier run:
    the JSON listing, not the message, says so, and the replay goes on."""
    lvs = json.dumps({"report": [{"lv": [{"lv_name": f"tp_{B1}"}, {"lv_name": f"brick_{B1}"}]}]})
    runner = FakeRunner()
    runner.on("lvcreate", (LVM_FAILED, "", f"  Logisches Volume »tp_{B1}« existiert bereits\n"))
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs, ""))
    runner.on("blkid", (0, "xfs\n", ""))
    remote, _ = executor(runner)
    await remote.brick_create("n1", brick())
    assert programs(runner.lines()) == ["mkdir", "lvm lvcreate", "lvm lvs", "blkid", "awk", "mount", "mkdir"]


async def test_lvs_failure_on_an_existing_vg_is_an_error_whatever_the_language() -> None:
    runner = FakeRunner()
    runner.on("lvcreate", GERMAN_LVM_BUSY)
    runner.on("lvs --reportformat=json -o lv_name", GERMAN_LVM_BUSY)
    runner.on("vgs --reportformat=json -o vg_name", (0, ONLY_OUR_VG, ""))
    runner.on("thin_count", (0, "  1\n", ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_create("n1", brick())
    assert caught.value.exit_code == LVM_FAILED and "lvs" in caught.value.argv
    assert programs(runner.lines()).count("lvm lvcreate") == 1


async def test_brick_destroy_of_a_brick_lvm_calls_missing_in_german() -> None:
    runner = FakeRunner()
    runner.on("umount", (32, "", "umount: /x: nicht eingehängt.\n"))
    runner.on("mountpoint", (32, "", ""))
    runner.on("lvremove", GERMAN_LV_MISSING)
    runner.on("thin_count", GERMAN_LV_MISSING)
    runner.on("lvs --reportformat=json -o lv_name", (0, NO_LVS, ""))
    remote, _ = executor(runner)
    assert await remote.brick_destroy("n1", brick()) is False


async def test_brick_destroy_lvremove_failing_while_the_lv_is_there_is_an_error() -> None:
    runner = FakeRunner()
    runner.on("lvremove", GERMAN_LVM_BUSY)
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs_with(f"brick_{B1}", f"tp_{B1}"), ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_destroy("n1", brick())
    assert caught.value.exit_code == LVM_FAILED and "lvremove" in caught.value.argv
    assert "thin_count" not in " ".join(runner.lines())


async def test_brick_destroy_thin_count_failing_on_a_present_pool_is_an_error() -> None:
    runner = FakeRunner()
    runner.on("thin_count", GERMAN_LVM_BUSY)
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs_with(f"tp_{B1}"), ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError):
        await remote.brick_destroy("n1", brick())


async def test_device_teardown_pv_gone_by_blkid_exit_2() -> None:
    runner = FakeRunner()
    runner.on("vgs -o", GERMAN_VG_MISSING)
    runner.on("pvremove", GERMAN_PV_MISSING)
    runner.on("blkid", (2, "", ""))
    remote, _ = executor(runner)
    await remote.device_teardown("n1", "/dev/sdb", DEV)
    assert programs(runner.lines()) == ["lvm vgs", "lvm pvremove", "blkid", "rmdir"]


async def test_device_teardown_pv_still_there_is_an_error() -> None:
    runner = FakeRunner()
    runner.on("vgs -o", GERMAN_VG_MISSING)
    runner.on("pvremove", (LVM_FAILED, "", "  PV /dev/sdb wird verwendet.\n"))
    runner.on("blkid", (0, "LVM2_member\n", ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.device_teardown("n1", "/dev/sdb", DEV)
    assert "pvremove" in caught.value.argv and caught.value.exit_code == LVM_FAILED


# -- blkid, mountpoint, umount -----------------------------------------------------------------


async def test_replayed_brick_without_filesystem_by_blkid_exit_2_gets_one() -> None:
    lvs = lvs_with(f"brick_{B1}", f"tp_{B1}")
    runner = FakeRunner()
    runner.on("lvcreate", (LVM_FAILED, "", f"  Logisches Volume »tp_{B1}« existiert bereits\n"))
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs, ""))
    runner.on("blkid", (2, "", ""))
    runner.on("mountpoint", (0, "", ""))
    remote, _ = executor(runner)
    await remote.brick_create("n1", brick())
    assert "mkfs.xfs" in programs(runner.lines())


async def test_blkid_failing_otherwise_is_an_error_not_a_reformat() -> None:
    lvs = lvs_with(f"brick_{B1}", f"tp_{B1}")
    runner = FakeRunner()
    runner.on("lvcreate", (LVM_FAILED, "", f"  Logisches Volume »tp_{B1}« existiert bereits\n"))
    runner.on("lvs --reportformat=json -o lv_name", (0, lvs, ""))
    runner.on("blkid", (4, "", "blkid: Zugriff verweigert\n"))
    runner.on("umount", (32, "", ""))
    runner.on("mountpoint", (32, "", ""))
    runner.on("thin_count", (0, "0\n", ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_create("n1", brick())
    assert unwrap(caught.value.argv)[0] == "blkid" and caught.value.exit_code == 4
    assert "mkfs.xfs" not in programs(runner.lines())


async def test_busy_umount_in_german_is_still_an_error() -> None:
    runner = FakeRunner()
    runner.on("umount", (32, "", "umount: /x: Das Ziel wird gerade benutzt.\n"))
    runner.on("mountpoint", (0, "", ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.brick_destroy("n1", brick())
    assert unwrap(caught.value.argv)[0] == "umount"


# -- glusterd health ---------------------------------------------------------------------------


async def test_glusterd_check_without_systemd_in_german_asks_glusterd() -> None:
    runner = FakeRunner()
    runner.on("systemctl", (1, "", "System wurde nicht mit systemd als Init-System gestartet.\n"))
    runner.on("peer status", (0, data("peer_status.xml"), ""))
    remote, _ = executor(runner)
    await remote.glusterd_check("n1")
    assert programs(runner.lines()) == ["systemctl", "peer status"]


async def test_glusterd_check_inactive_unit_is_an_error_by_exit_3() -> None:
    runner = FakeRunner()
    runner.on("systemctl", (3, "● glusterd.service - inaktiv (tot)\n", ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.glusterd_check("n1")
    assert caught.value.exit_code == 3
    assert programs(runner.lines()) == ["systemctl"]


# -- gluster: opErrno, and a structured second look when the CLI only says "failed" ----------


async def test_volume_info_missing_by_op_errno_whatever_the_text() -> None:
    runner = FakeRunner()
    runner.on("volume info", (1, gluster_xml(30806, "Datenträger existiert nicht"), ""))
    remote, _ = executor(runner)
    with pytest.raises(VolumeDoesNotExist):
        await remote.volume_info("n1", "nosuch")


async def test_volume_info_other_failure_is_not_missing() -> None:
    runner = FakeRunner()
    runner.on("volume info", (1, gluster_xml(30800, "Volume nosuch does not exist"), ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.volume_info("n1", "nosuch")
    assert not isinstance(caught.value, VolumeDoesNotExist)


async def test_volume_destroy_of_missing_volume_read_from_volume_info() -> None:
    runner = FakeRunner()
    runner.on("volume stop", (1, "", "volume stop: nosuch: fehlgeschlagen\n"))
    runner.on("volume delete", (1, "", "volume delete: nosuch: fehlgeschlagen\n"))
    runner.on("volume info", (1, gluster_xml(30806, "Datenträger existiert nicht"), ""))
    remote, _ = executor(runner)
    with pytest.raises(VolumeDoesNotExist) as caught:
        await remote.volume_destroy("n1", "nosuch")
    assert "delete" in caught.value.argv  # the failed command is the one reported


async def test_volume_destroy_failing_on_an_existing_volume_is_a_plain_error() -> None:
    runner = FakeRunner()
    runner.on("volume delete", (1, "", "volume delete: vol_r3: fehlgeschlagen\n"))
    runner.on("volume info", (0, data("volume_info_r3.xml"), ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.volume_destroy("n1", "vol_r3")
    assert not isinstance(caught.value, VolumeDoesNotExist)


async def test_lock_conflict_in_xml_is_retried_by_op_errno() -> None:
    runner = FakeRunner()
    busy = (1, gluster_xml(30802, "Eine andere Transaktion läuft"), "")
    ok = "<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/></cliOutput>"
    runner.on("snapshot create", busy, (0, ok, ""))
    remote, sleeps = executor(runner)
    await remote._gluster_xml("n1", ["gluster", "--mode=script", "snapshot", "create", "s", "v"])  # noqa: SLF001
    assert sleeps == [0.5]


# -- gluster-block: errCode ENOENT -------------------------------------------------------------


async def test_block_delete_of_missing_block_by_err_code() -> None:
    runner = FakeRunner()
    reply = '{ "RESULT":"FAIL", "errCode":2, "errMsg":"Block blk_x existiert nicht" }'
    runner.on("gluster-block delete", (2, reply, ""))
    remote, _ = executor(runner)
    await remote.block_volume_destroy("n1", "bhv", "blk_x")


async def test_block_delete_other_failure_is_an_error() -> None:
    runner = FakeRunner()
    reply = '{ "RESULT":"FAIL", "errCode":5, "errMsg":"blk_x: E/A-Fehler" }'
    runner.on("gluster-block delete", (5, reply, ""))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError) as caught:
        await remote.block_volume_destroy("n1", "bhv", "blk_x")
    assert "E/A-Fehler" in str(caught.value)


async def test_destroying_a_gone_volume_warns_about_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy")
    runner = FakeRunner()
    runner.on("volume stop", (1, "", "volume stop: nosuch: fehlgeschlagen\n"))
    runner.on("volume delete", (1, "", "volume delete: nosuch: fehlgeschlagen\n"))
    runner.on("volume info", (1, gluster_xml(30806, "Datenträger existiert nicht"), ""))
    remote, _ = executor(runner)
    with pytest.raises(VolumeDoesNotExist):
        await remote.volume_destroy("n1", "nosuch")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
