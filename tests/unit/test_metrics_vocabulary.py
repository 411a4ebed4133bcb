"""The bounded label vocabularies of heketipy's metrics, and the pieces that feed them: node
command names, failure labels, the thin-pool report, placement refusal reasons, the commit
hook, the drift scan setting and the leader gauge."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heketipy.config import DEFAULT_DRIFT_SCAN_INTERVAL_S, Settings, SshExecSettings
from heketipy.config.glusterfs import GlusterfsSettings
from heketipy.domain import placement as pl
from heketipy.domain.errors import NodeCommandError, OperationFailed
from heketipy.domain.state import State
from heketipy.executors import commands_gluster as gcmd
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import NodeInventory
from heketipy.executors.command_names import command_name, failure_label
from heketipy.executors.commands import CommandOptions
from heketipy.executors.commands_common import with_locale, with_sudo
from heketipy.executors.remote import RemoteExecutor
from heketipy.executors.runner import CommandResult
from heketipy.operations.metrics import RuntimeMetrics, refusal_reason

HOSTILE = ("evil", 'ev"il', "ev\nil", "lvcreate", "volume", "create")


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/usr/sbin/lvm", "lvcreate", "-qq", "--name", "evil"], "lvcreate"),
        (["sudo", "-n", "--", "env", "LC_ALL=C", "/usr/sbin/lvm", "lvs", "vg_x"], "lvs"),
        (["env", "LC_ALL=C", "mkfs.xfs", "-i", "size=512", "/dev/evil"], "mkfs.xfs"),
        (["gluster", "--mode=script", "--timeout=600", "volume", "create", "evil"],
         "gluster volume create"),
        (["gluster", "--mode=script", "peer", "probe", "evilhost"], "gluster peer probe"),
        (["gluster", "snapshot", "clone", "a", "b", "--xml"], "gluster snapshot clone"),
        (["gluster-block", "delete", "bhv/evil", "--json"], "gluster-block delete"),
        (["systemctl", "status", "glusterd"], "systemctl"),
        # An lvm_wrapper in front of lvm: skipped.
        (["nsenter", "-t", "1", "/usr/sbin/lvm", "vgcreate", "vg_x"], "vgcreate"),
        # Outside the vocabulary: a tool, a subcommand, or a user word where one belongs.
        (["/usr/sbin/lvm", "evil"], "other"),
        (["gluster", "volume", "evil", "create"], "other"),
        (["gluster", "evil", "create"], "other"),
        (["gluster-block", "evil"], "other"),
        (["evil", "lvcreate"], "lvcreate"),  # a wrapper word, then the tool
        (["curl", "http://evil"], "other"),
        ([], "other"),
    ],
)
def test_command_name_comes_from_the_vocabulary(argv: list[str], name: str) -> None:
    assert command_name(argv) == name


def test_command_names_of_every_builder_are_known_and_never_user_words() -> None:
    options = CommandOptions()
    argvs: list[Sequence[str]] = [
        lcmd.lvs_inventory(options), lcmd.vgs_inventory(options), lcmd.glusterd_status(), gcmd.volume_start(options, "evilvol"),
        gcmd.volume_stop(options, "evilvol"), gcmd.volume_delete(options, "evilvol"),
        gcmd.peer_probe(options, "evilhost"), gcmd.peer_detach(options, "evilhost"),
        gcmd.snapshot_delete(options, "evilsnap"), gcmd.peer_status(options),
    ]  # fmt: skip
    names = [command_name(with_sudo(with_locale(argv), True)) for argv in argvs]
    assert names == [
        "lvs", "vgs", "systemctl", "gluster volume start", "gluster volume stop",
        "gluster volume delete", "gluster peer probe", "gluster peer detach",
        "gluster snapshot delete", "gluster peer status",
    ]  # fmt: skip
    assert not [n for n in names if "evil" in n]


async def test_every_command_a_brick_lifecycle_runs_has_a_name_in_the_vocabulary() -> None:
    """Create (gid: install -d), grow in place, undo a growth, grow the filesystem, destroy:
    every argv RemoteExecutor sends is named from the vocabulary, none is ``other``."""
    from heketipy.executors.base import BrickRequest
    from heketipy.simulator.runner import SimulatedNodes
    from heketipy.wiring import SimulatorExecutor

    nodes = SimulatedNodes(device_size_gb=10)
    sent: list[Sequence[str]] = []

    class Recording:
        async def run(
            self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
        ) -> CommandResult:
            sent.append(argv)
            return await nodes.run(host, argv, timeout_s=timeout_s)

        async def close(self) -> None:
            await nodes.close()

    remote = SimulatorExecutor(nodes, CommandOptions())
    remote.runner = Recording()
    remote.register_node(["n1"], ["10.0.0.1"])
    device = "d" * 32
    await remote.device_setup("n1", "/dev/sdb", device, destroy_data=False)
    brick = BrickRequest(
        device_id=device, brick_id="b" * 32, tp_name="tp_" + "b" * 32, lv_name="brick_" + "b" * 32,
        tp_size_kib=1024 * 1024, size_kib=1024 * 1024, pool_metadata_kib=8192, gid=2000,
    )  # fmt: skip
    await remote.brick_create("n1", brick)
    grown = BrickRequest(**{**brick.__dict__, "tp_size_kib": 2 * 1024 * 1024,
                            "size_kib": 2 * 1024 * 1024})
    await remote.brick_extend("n1", grown)
    await remote.brick_extend_undo("n1", brick)
    await remote.brick_extend("n1", grown)
    await remote.brick_grow_filesystem("n1", grown)
    await remote.brick_destroy("n1", grown)
    unnamed = [argv for argv in sent if command_name(argv) == "other"]
    assert not unnamed, unnamed
    assert {"install", "lvreduce", "xfs_growfs"} <= {command_name(argv) for argv in sent}


def test_failure_label() -> None:
    assert failure_label(5) == "5"
    assert failure_label(None, "SSH command timeout after 10s") == "timeout"
    assert failure_label(None, "command timed out on node1: lvs") == "timeout"
    assert failure_label(None, "dial tcp node1:22: connect: no route to host") == "unreachable"


# -- the runner seam ----------------------------------------------------------------------


class ScriptedRunner:
    """Answers each command with the next scripted result: an exit code, or a transport
    failure's text (raised as the transports raise it, without an exit code)."""

    def __init__(self, *answers: int | str) -> None:
        self.answers = list(answers)

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            raise NodeCommandError(host, argv, None, answer)
        return CommandResult(tuple(argv), answer, "", "")

    async def close(self) -> None:
        return None


class Recorder:
    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str, str]] = []

    def command_ran(self, host: str, command: str, seconds: float) -> None:
        self.ran.append((host, command))

    def command_failed(self, host: str, command: str, failure: str) -> None:
        self.failed.append((host, command, failure))


async def test_remote_executor_reports_commands_and_failures_to_its_observer() -> None:
    runner = ScriptedRunner(0, 1, "SSH command timeout after 600s")
    remote = RemoteExecutor(runner, SshExecSettings(), name="ssh")
    recorder = Recorder()
    remote.observe_commands(recorder)
    await remote.peer_probe("node1", "evilhost")
    for _ in range(2):
        with pytest.raises(NodeCommandError):
            await remote.peer_probe("node1", "evilhost")
    assert recorder.ran == [("node1", "gluster peer probe")] * 3
    assert recorder.failed == [
        ("node1", "gluster peer probe", "1"), ("node1", "gluster peer probe", "timeout")
    ]


# -- thin pools ---------------------------------------------------------------------------


def test_thin_pool_usage_is_the_fullest_pool_of_each_vg() -> None:
    """The drift scan's one ``lvs`` report per node carries the thin-pool fill too."""
    report = {"report": [{"lv": [
        {"vg_name": "vg_a", "lv_name": "tp_1", "segtype": "thin-pool",
         "data_percent": "12.50", "metadata_percent": "80.00"},
        {"vg_name": "vg_a", "lv_name": "tp_2", "segtype": "thin-pool",
         "data_percent": "90.00", "metadata_percent": "3.10"},
        {"vg_name": "vg_a", "lv_name": "brick_1", "segtype": "thin",
         "data_percent": "99.00", "metadata_percent": ""},
        {"vg_name": "vg_b", "lv_name": "tp_3", "segtype": "thin-pool",
         "data_percent": "", "metadata_percent": ""},
    ]}]}  # fmt: skip
    lvs = lcmd.parse_lvs_inventory("  " + json.dumps(report))
    inventory = NodeInventory(vg_free_kib={}, lvs=lvs, mounts=(), fstab=(), volumes=())
    assert inventory.thin_pool_usage() == {"vg_a": (0.9, 0.8), "vg_b": (0.0, 0.0)}
    with pytest.raises(lcmd.ParseError):
        lcmd.parse_lvs_inventory(json.dumps({"report": [{"lv": [
            {"vg_name": "vg_a", "segtype": "thin-pool", "data_percent": "x"}]}]}))


# -- placement refusals, commits, drift, leader -------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (pl.NoSpaceError("no device has room"), "no_space"),
        (pl.MinimumBrickSizeError(), "minimum_brick_size"),
        (pl.MaxBricksError(), "max_bricks"),
        (pl.NoNodesError(), "no_nodes"),
        (pl.NoOnlineDevicesError(), "no_online_devices"),
        (pl.ClusterNotEligibleError([("c1", "evil reason")]), "cluster_not_eligible"),
        (pl.InvalidTagRuleError("evil"), "invalid_tag_rule"),
    ],
)
def test_refusal_reason_from_the_error_or_its_cause(error: pl.PlacementError, reason: str) -> None:
    assert refusal_reason(error) == reason
    try:
        raise OperationFailed(f"Failed to allocate new volume: {error}") from error
    except OperationFailed as wrapped:
        assert refusal_reason(wrapped) == reason
    assert refusal_reason(OperationFailed("evil")) is None


def families(metrics: RuntimeMetrics, state: State | None = None) -> dict[str, list]:
    text = metrics.render(state or State(), 0)
    return {
        family.name: [(dict(s.labels), s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_commit_hook_leader_and_drift_gauges() -> None:
    metrics = RuntimeMetrics()
    metrics.db_commit(0.002, 3)
    metrics.db_commit(0.001, 1)
    metrics.set_leader(False)
    metrics.drift_scanned([("brick-lv", "orphaned"), ("brick-lv", "orphaned")], {}, 1700.0)
    found = families(metrics)
    batch = dict((name, value) for name, value in [
        (labels.get("le", "sum"), value) for labels, value in found["heketipy_db_commit_batch_size"]
    ])  # fmt: skip
    assert batch["1.0"] == 1 and batch["4.0"] == 2 and batch["sum"] == 4
    assert found["heketipy_leader"] == [({}, 0.0)]
    assert found["heketipy_drift_objects"] == [({"kind": "brick-lv", "problem": "orphaned"}, 2)]
    metrics.set_leader(True)
    metrics.drift_scanned([], {}, 1800.0)
    found = families(metrics)
    assert found["heketipy_leader"] == [({}, 1.0)]
    assert found["heketipy_drift_objects"] == [({"kind": "brick-lv", "problem": "orphaned"}, 0)]
    assert found["heketipy_drift_last_scan_timestamp_seconds"] == [({}, 1800.0)]


def test_two_runtimes_never_share_a_series() -> None:
    first, second = RuntimeMetrics(), RuntimeMetrics()
    first.operation_started("create-volume")
    assert families(first)["heketipy_operations_started"] == [
        ({"type": "create-volume"}, 1.0)
    ]
    assert families(second)["heketipy_operations_started"] == []


def test_drift_scan_interval_defaults_by_executor() -> None:
    def settings(executor: str, **heketipy: float) -> Settings:
        return Settings(
            auth_enabled=False, glusterfs=GlusterfsSettings(executor=executor),
            heketipy={"drift_scan_interval_s": heketipy["interval"]} if heketipy else {},
        )  # fmt: skip

    assert settings("mock").drift_scan_every_s == 0
    assert settings("simulator").drift_scan_every_s == DEFAULT_DRIFT_SCAN_INTERVAL_S
    assert settings("kubernetes").drift_scan_every_s == DEFAULT_DRIFT_SCAN_INTERVAL_S
    assert settings("mock", interval=30).drift_scan_every_s == 30
    assert settings("kubernetes", interval=0).drift_scan_every_s == 0
