"""SshRunner against an in-process asyncssh server on 127.0.0.1 (and, as a second node, on
127.0.0.2 with the same port and state).

The fake server never runs a shell: it splits the received command line with ``shlex`` and
interprets a tiny vocabulary (``argv``, ``fail``, ``sleep``, ``hold``), so the tests see exactly what a
remote shell would have received as words.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from heketipy.config import (
    DEFAULT_NODE_COMMAND_CONCURRENCY,
    GlusterfsSettings,
    HeketipySettings,
    Settings,
    SshExecSettings,
)
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.remote import RemoteExecutor
from heketipy.executors.ssh import SshRunner, known_hosts_paths, quote_argv
from heketipy.wiring import create_executor

SECOND_NODE = "127.0.0.2"

HOSTILE_WORDS = [
    "vol; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "it's",
    'say "hi"',
    "line1\nline2",
    "-rf",
    "",
    "*",
    "a b\tc",
    "\\",
]


@dataclass
class FakeNodeState:
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    signals: list[str] = field(default_factory=list)
    live: list[asyncssh.SSHServerConnection] = field(default_factory=list)
    # Per node (the address a command arrived on): commands running now, and at most.
    active_on: Counter[str] = field(default_factory=Counter)
    peak_on: Counter[str] = field(default_factory=Counter)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # ends every "hold"


@dataclass
class FakeNode:
    port: int
    host_key: asyncssh.SSHKey
    state: FakeNodeState
    keyfile: str
    known_hosts: str


async def _handle(process: asyncssh.SSHServerProcess, state: FakeNodeState) -> None:
    command = process.command or ""
    node = process.get_extra_info("sockname")[0]
    state.commands.append(command)
    state.active += 1
    state.max_active = max(state.max_active, state.active)
    state.active_on[node] += 1
    state.peak_on[node] = max(state.peak_on[node], state.active_on[node])
    try:
        words = shlex.split(command)
        if words[:3] == ["sudo", "-n", "--"]:
            words = words[3:]
        verb = words[0] if words else ""
        if verb == "argv":
            process.stdout.write(json.dumps(words[1:]))
            process.exit(0)
        elif verb == "fail":
            process.stderr.write(words[2] + "\n")
            process.exit(int(words[1]))
        elif verb == "sleep":
            # Signals arrive as exceptions on stdin reads (stdin itself is at EOF at once).
            deadline = asyncio.get_running_loop().time() + float(words[1])
            while asyncio.get_running_loop().time() < deadline:
                try:
                    await process.stdin.read()
                except asyncssh.SignalReceived as exc:
                    state.signals.append(exc.signal)
                    return
                await asyncio.sleep(0.01)
            process.stdout.write("slept\n")
            process.exit(0)
        elif verb == "hold":  # runs until the test sets state.released
            await state.released.wait()
            process.exit(0)
        else:
            process.stderr.write(f"unknown command {verb}\n")
            process.exit(127)
    finally:
        state.active -= 1
        state.active_on[node] -= 1


@pytest.fixture
async def fake_node(tmp_path: Path) -> AsyncIterator[FakeNode]:
    state = FakeNodeState()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    keyfile = tmp_path / "id_ed25519"
    client_key.write_private_key(str(keyfile))

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            state.connections += 1
            state.live.append(conn)

    server = await asyncssh.create_server(
        Server,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        process_factory=lambda process: _handle(process, state),
    )
    port = server.sockets[0].getsockname()[1]
    # A second node: same keys, state and port, another address.
    second = await asyncssh.create_server(
        Server,
        SECOND_NODE,
        port,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        process_factory=lambda process: _handle(process, state),
    )
    known_hosts = tmp_path / "known_hosts"
    public = host_key.export_public_key().decode().strip()
    known_hosts.write_text(f"[127.0.0.1]:{port},[{SECOND_NODE}]:{port} {public}\n")
    yield FakeNode(port, host_key, state, str(keyfile), str(known_hosts))
    state.released.set()
    for listener in (server, second):
        listener.close()
        await listener.wait_closed()


def _sshexec(node: FakeNode, **overrides: object) -> SshExecSettings:
    settings = {
        "keyfile": node.keyfile,
        "user": "heketi",
        "port": str(node.port),
        "known_hosts": node.known_hosts,
        **overrides,
    }
    return SshExecSettings.model_validate(settings)


def _runner(
    node: FakeNode,
    *,
    node_command_concurrency: int = DEFAULT_NODE_COMMAND_CONCURRENCY,
    **overrides: object,
) -> SshRunner:
    return SshRunner(_sshexec(node, **overrides), node_command_concurrency=node_command_concurrency)


def _configured_runner(node: FakeNode, **heketipy: object) -> SshRunner:
    """The runner of the ssh executor the server builds from heketi.json's settings."""
    settings = Settings(
        auth_enabled=False,
        glusterfs=GlusterfsSettings(executor="ssh", sshexec=_sshexec(node)),
        heketipy=HeketipySettings.model_validate(heketipy),
    )
    executor = create_executor(settings)
    assert isinstance(executor, RemoteExecutor) and isinstance(executor.runner, SshRunner)
    return executor.runner


def test_quote_argv_makes_every_word_inert() -> None:
    line = quote_argv(["gluster", *HOSTILE_WORDS])
    assert shlex.split(line) == ["gluster", *HOSTILE_WORDS]


def test_sudo_covers_the_whole_command() -> None:
    line = quote_argv(["lvm", "lvcreate", "a b"], sudo=True)
    assert shlex.split(line) == ["sudo", "-n", "--", "lvm", "lvcreate", "a b"]


def test_defaults_follow_upstream() -> None:
    runner = SshRunner(SshExecSettings(keyfile="/k"))
    assert (runner.user, runner.port, runner.sudo) == ("heketi", 22, False)
    assert runner.gluster_cli_timeout_s == 600
    assert runner.host_key_checking is True
    assert runner.timeout_for(["gluster", "volume", "info"]) == 660
    assert runner.timeout_for(["lvm", "lvs"]) == 600
    assert runner.timeout_for(["sudo", "-n", "--", "env", "LC_ALL=C", "gluster", "x"]) == 660


def test_known_hosts_sources() -> None:
    assert known_hosts_paths("/a:/b", {}) == ["/a", "/b"]
    assert known_hosts_paths("", {"SSH_KNOWN_HOSTS": "/c,/d"}) == ["/c", "/d"]
    assert known_hosts_paths("", {})[0].endswith("/.ssh/known_hosts")


async def test_hostile_argv_arrives_as_the_same_words(fake_node: FakeNode) -> None:
    runner = _runner(fake_node)
    try:
        result = await runner.run("127.0.0.1", ["argv", *HOSTILE_WORDS])
    finally:
        await runner.close()
    assert result.ok
    assert json.loads(result.stdout) == HOSTILE_WORDS


async def test_sudo_setting_prefixes_the_remote_line(fake_node: FakeNode) -> None:
    runner = _runner(fake_node, sudo=True)
    try:
        result = await runner.run("127.0.0.1", ["argv", "x"])
    finally:
        await runner.close()
    assert json.loads(result.stdout) == ["x"]
    assert fake_node.state.commands[-1].startswith("sudo -n -- ")


def test_sudo_is_not_doubled_and_can_be_left_to_the_caller() -> None:
    runner = SshRunner(SshExecSettings(keyfile="/k", sudo=True))
    assert runner.command_line(["sudo", "-n", "--", "lvm"]) == "sudo -n -- lvm"
    assert runner.command_line(["lvm"]) == "sudo -n -- lvm"
    unwrapped = SshRunner(SshExecSettings(keyfile="/k", sudo=True), apply_sudo=False)
    assert unwrapped.command_line(["lvm"]) == "lvm"


async def test_non_zero_exit_is_returned_with_stderr(fake_node: FakeNode) -> None:
    runner = _runner(fake_node)
    try:
        result = await runner.run("127.0.0.1", ["fail", "5", "Volume group not found"])
    finally:
        await runner.close()
    assert not result.ok
    assert result.exit_code == 5
    assert "Volume group not found" in result.stderr
    assert result.argv == ("fail", "5", "Volume group not found")


async def test_one_connection_is_reused(fake_node: FakeNode) -> None:
    runner = _runner(fake_node)
    try:
        results = await asyncio.gather(
            *(runner.run("127.0.0.1", ["argv", str(i)]) for i in range(6))
        )
        await runner.run("127.0.0.1", ["argv", "again"])
    finally:
        await runner.close()
    assert all(result.ok for result in results)
    assert fake_node.state.connections == 1


async def test_reconnects_after_the_connection_drops(fake_node: FakeNode) -> None:
    runner = _runner(fake_node)
    try:
        assert (await runner.run("127.0.0.1", ["argv", "1"])).ok
        for connection in fake_node.state.live:
            connection.close()
        await asyncio.sleep(0.05)
        assert (await runner.run("127.0.0.1", ["argv", "2"])).ok
    finally:
        await runner.close()
    assert fake_node.state.connections == 2


async def test_concurrency_per_node_is_bounded(fake_node: FakeNode) -> None:
    runner = _runner(fake_node, node_command_concurrency=2)
    try:
        results = await asyncio.gather(
            *(runner.run("127.0.0.1", ["sleep", "0.05"]) for _ in range(6))
        )
    finally:
        await runner.close()
    assert all(result.stdout == "slept\n" for result in results)
    assert fake_node.state.max_active <= 2


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_node_command_concurrency_bounds_one_node_and_not_the_others(
    fake_node: FakeNode,
) -> None:
    runner = _configured_runner(fake_node, node_command_concurrency=2)
    state = fake_node.state
    try:
        held = [asyncio.create_task(runner.run("127.0.0.1", ["hold"])) for _ in range(5)]
        await _until(lambda: state.active_on["127.0.0.1"] == 2, "two commands run on the node")
        # The busy node's other three wait for a slot; another node's command runs meanwhile.
        other = await runner.run(SECOND_NODE, ["argv", "other node"])
        assert json.loads(other.stdout) == ["other node"]
        assert state.active_on["127.0.0.1"] == 2
        assert state.commands.count("hold") == 2
        state.released.set()
        results = await asyncio.gather(*held)
    finally:
        state.released.set()
        await runner.close()
    assert [result.exit_code for result in results] == [0] * 5
    assert state.peak_on["127.0.0.1"] == 2


async def test_node_command_timeout_setting_ends_a_hung_command(fake_node: FakeNode) -> None:
    runner = _configured_runner(fake_node, node_command_timeout_s=0.5)
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("127.0.0.1", ["hold"])
    finally:
        await runner.close()
    error = caught.value
    assert (error.node, error.argv, error.exit_code) == ("127.0.0.1", ["hold"], None)
    assert "SSH command timeout after 0.5s" in str(error)
    # gluster CLI commands keep their own, longer bound.
    assert runner.timeout_for(["gluster", "volume", "info"]) == 660


async def test_timeout_kills_the_command_and_raises(fake_node: FakeNode) -> None:
    runner = _runner(fake_node)
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("127.0.0.1", ["sleep", "30"], timeout_s=0.2)
        for _ in range(50):
            if fake_node.state.signals:
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.close()
    error = caught.value
    assert error.exit_code is None
    assert error.node == "127.0.0.1"
    assert error.argv == ["sleep", "30"]
    assert "timeout" in str(error)
    assert fake_node.state.signals == ["KILL"]


async def test_unknown_host_key_is_refused(fake_node: FakeNode, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(
        f"[127.0.0.1]:{fake_node.port} {other.export_public_key().decode().strip()}\n"
    )
    runner = _runner(fake_node, known_hosts=str(wrong))
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("127.0.0.1", ["argv", "x"])
    finally:
        await runner.close()
    assert caught.value.exit_code is None
    assert fake_node.state.commands == []


async def test_missing_known_hosts_file_trusts_nothing(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    runner = _runner(fake_node, known_hosts=str(tmp_path / "absent"))
    try:
        with pytest.raises(NodeCommandError):
            await runner.run("127.0.0.1", ["argv", "x"])
    finally:
        await runner.close()
    assert fake_node.state.commands == []


async def test_unchecked_host_keys_only_when_configured_and_warned(
    fake_node: FakeNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = _runner(fake_node, known_hosts=str(tmp_path / "absent"), host_key_checking=False)
    caplog.set_level(logging.WARNING, logger="heketipy.executors.ssh")
    try:
        assert (await runner.run("127.0.0.1", ["argv", "x"])).ok
    finally:
        await runner.close()
    assert any("NOT verified" in record.getMessage() for record in caplog.records)


async def test_unreachable_node_is_a_structured_error(fake_node: FakeNode) -> None:
    runner = _runner(fake_node, port="1")
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("127.0.0.1", ["lvm", "pvs"])
    finally:
        await runner.close()
    assert caught.value.node == "127.0.0.1"
    assert caught.value.argv == ["lvm", "pvs"]
    assert caught.value.exit_code is None
    assert "Unable to connect" in str(caught.value)


async def test_missing_keyfile_is_reported(fake_node: FakeNode, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing-key")
    runner = _runner(fake_node, keyfile=missing)
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("127.0.0.1", ["argv", "x"])
    finally:
        await runner.close()
    assert missing in str(caught.value)


async def test_each_command_is_logged_by_runner_log_command(
    fake_node: FakeNode, caplog: pytest.LogCaptureFixture
) -> None:
    """The debug line is runner's ``node command`` event (its fields reach the JSON log), and
    the e2e timing parser reads its text form."""
    from heketipy import logctx
    from tests.e2e.testbed import command_timings

    caplog.set_level(logging.DEBUG, logger="heketipy.executors.commands")
    runner = _runner(fake_node, sudo=True)
    try:
        await runner.run("127.0.0.1", ["argv", "two words"])
    finally:
        await runner.close()
    [record] = [r for r in caplog.records if r.getMessage().startswith("node command ")]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["node"] == "127.0.0.1" and fields["exit"] == 0
    assert fields["argv"] == ["sudo", "-n", "--", "argv", "two words"]
    assert isinstance(fields["ms"], float)
    logctx.OperationFilter().filter(record)
    text = logging.Formatter(logctx.FORMAT).format(record)
    assert command_timings(text)["argv"]["count"] == 1
    # RemoteExecutor's locale prefix is not the command either.
    prefixed = text.replace("sudo -n -- argv", "sudo -n -- env LC_ALL=C argv")
    assert prefixed != text and command_timings(prefixed)["argv"]["count"] == 1
