"""Log lines below the HTTP edge: event rendering (text and JSON), the failed-node-command line
of both command-running executors, and asyncssh's DSA deprecation warnings kept off stderr."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from heketipy import logctx
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.remote import RemoteExecutor
from tests.unit.test_remote_executor import FakeRunner, executor

COMMANDS_LOGGER = "heketipy.executors.commands"


def _record(message: str, *, fields: dict | None = None, op: str | None = None) -> logging.LogRecord:
    record = logging.LogRecord("heketipy.test", logging.INFO, __file__, 1, message, (), None)
    if fields is not None:
        record.fields = fields
    if op is not None:
        record.op = op
    logctx.OperationFilter().filter(record)
    return record


def test_event_values_are_quoted_so_one_event_stays_one_line() -> None:
    text = logctx.render("x", {
        "plain": "abc", "spaced": "a b", "multi": "line1\nline2", "quote": 'say "hi"',
        "argv": ["lvm", "lvcreate", "--name", "a b"], "none": None, "ms": 1.25, "n": 3,
    })
    assert "\n" not in text
    assert text.startswith("x plain=abc spaced=\"a b\" multi=\"line1\\nline2\" ")
    assert 'quote="say \\"hi\\""' in text
    assert "argv=\"lvm lvcreate --name 'a b'\"" in text
    assert "none=- ms=1.2 n=3" in text or "none=- ms=1.3 n=3" in text


def test_operation_id_comes_from_the_context_unless_given() -> None:
    token = logctx.operation_id.set("a" * 32)
    try:
        assert _record("m").op == "a" * 32
        assert _record("m", op="b" * 32).op == "b" * 32
    finally:
        logctx.operation_id.reset(token)
    assert _record("m").op == "-"


def test_json_formatter_puts_fields_beside_time_level_logger_message() -> None:
    formatter = logctx.JsonFormatter()
    line = formatter.format(_record("step x", fields={"step": "plan", "ms": 1.5}, op="c" * 32))
    document = json.loads(line)
    assert document["level"] == "INFO" and document["logger"] == "heketipy.test"
    assert document["message"] == "step x" and document["op"] == "c" * 32
    assert document["step"] == "plan" and document["ms"] == 1.5
    assert document["time"].endswith("+00:00")
    # Fields never overwrite the envelope; outside an operation op is null.
    clash = json.loads(formatter.format(_record("m", fields={"level": "fake", "message": "x"})))
    assert clash["level"] == "INFO" and clash["message"] == "m" and clash["op"] is None


def test_json_formatter_keeps_a_traceback_on_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "heketipy.test", logging.ERROR, __file__, 1, "crashed", (), sys.exc_info()
        )
    logctx.OperationFilter().filter(record)
    line = logctx.JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records
        if r.name == COMMANDS_LOGGER and r.levelno >= logging.WARNING
    ]


async def test_remote_failed_command_is_one_warning_with_node_argv_exit_stderr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="heketipy")
    runner = FakeRunner()
    runner.on("systemctl", (3, "", "glusterd.service is inactive\n"))
    remote, _ = executor(runner)
    with pytest.raises(NodeCommandError):
        await remote.glusterd_check("n1")
    (failed,) = _failures(caplog)
    assert failed.levelno == logging.WARNING
    assert failed.fields["node"] == "n1"
    assert failed.fields["argv"][-2:] == ["status", "glusterd"]
    assert failed.fields["exit"] == 3
    assert failed.fields["stderr"] == "glusterd.service is inactive"


async def test_remote_unreachable_node_is_logged_once_with_no_exit_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy")

    class Unreachable(FakeRunner):
        async def run(self, host, argv, *, timeout_s=None):  # noqa: ANN001, ANN202
            raise NodeCommandError(host, tuple(argv), None, "Unable to connect to n1:22")

    remote, _ = executor(Unreachable())
    with pytest.raises(NodeCommandError):
        await remote.volume_info("n1", "vol1")
    (failed,) = _failures(caplog)
    assert failed.fields["exit"] is None
    assert failed.fields["stderr"] == "Unable to connect to n1:22"


async def test_simulated_nodes_log_like_real_nodes_each_failure_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from heketipy.executors.commands_common import CommandOptions
    from heketipy.simulator.runner import SimulatedNodes

    caplog.set_level(logging.DEBUG, logger="heketipy")
    nodes = SimulatedNodes()
    simulator = RemoteExecutor(nodes, CommandOptions(), name="simulator", use_sudo=False)
    await simulator.glusterd_check("n1")
    ran = [r for r in caplog.records if r.name == COMMANDS_LOGGER]
    assert [r.levelno for r in ran] == [logging.DEBUG]
    assert ran[0].fields["argv"] == ["env", "LC_ALL=C", "systemctl", "status", "glusterd"]
    assert ran[0].fields["exit"] == 0

    caplog.clear()
    nodes.set_node_down("n1")
    with pytest.raises(NodeCommandError):
        await simulator.glusterd_check("n1")
    (failed,) = _failures(caplog)
    assert (failed.fields["node"], failed.fields["exit"]) == ("n1", 3)

    caplog.clear()
    nodes.faults.fail_nth("pvcreate", 1, node="n1", exit_code=5, stderr="  Device /dev/sdb excluded")
    with pytest.raises(NodeCommandError):
        await simulator.device_setup("n1", "/dev/sdb", "d" * 32, False)
    (failed,) = _failures(caplog)
    assert failed.fields["argv"][:4] == ["env", "LC_ALL=C", "/usr/sbin/lvm", "pvcreate"]
    assert (failed.fields["exit"], failed.fields["stderr"]) == (5, "Device /dev/sdb excluded")

