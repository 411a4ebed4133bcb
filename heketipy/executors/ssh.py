"""The SSH transport: a ``CommandRunner`` that runs argv lists on storage nodes with asyncssh.

Owns connections, not commands: ``RemoteExecutor`` decides *what* to run; this module decides
*how* it reaches a node.

* One persistent SSH connection per node (opened on first use, re-opened after a failure),
  many exec channels on it; a per-node ``asyncio.Semaphore`` of
  ``heketipy.node_command_concurrency`` bounds concurrent channels (OpenSSH's ``MaxSessions``
  is 10 by default, so the default limit stays below it).
* Authentication by public key only (``sshexec.keyfile``, ``user``, ``port``); no agent, no
  password, no ``~/.ssh/config``.
* Host keys are verified against ``sshexec.known_hosts`` (a path, or several separated by ``:``
  or ``,``), else ``$SSH_KNOWN_HOSTS``, else ``~/.ssh/known_hosts``. Checking is off only when
  ``sshexec.host_key_checking`` is false, and that is logged as a warning.
* Every argv word is quoted with ``shlex.quote`` (the remote side runs it through the login
  shell); with ``sudo`` the whole command runs under ``sudo -n``, not just its first word
  (``apply_sudo=False`` leaves that to the caller, e.g. ``RemoteExecutor``).
* Per-command timeout (``heketipy.node_command_timeout_s``; gluster CLI commands get
  ``gluster_cli_timeout`` plus a minute if that is longer): the remote process gets SIGKILL and a ``NodeCommandError`` with
  ``exit_code=None`` is raised. A non-zero exit is returned as a ``CommandResult``.
  ``RemoteExecutor`` logs failures; this module logs each command at debug.
* asyncssh still supports DSA keys, so importing it trips cryptography's DSA deprecation
  warning on every start; exactly that warning, from asyncssh, is filtered out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import time
import warnings
from collections.abc import Sequence
from typing import Any

from heketipy.config import (
    DEFAULT_NODE_COMMAND_CONCURRENCY,
    DEFAULT_NODE_COMMAND_TIMEOUT_S,
    SshExecSettings,
)
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.commands_common import unwrap
from heketipy.executors.runner import CommandResult, NodeSlots, log_command

# cryptography's CryptographyDeprecationWarning is a UserWarning; matching its text and the
# asyncssh modules that trip it leaves every other warning alone.
warnings.filterwarnings(
    "ignore", message=r"DSA is deprecated", category=UserWarning, module=r"asyncssh(\.|$)"
)

try:
    import asyncssh  # noqa: E402 - after the filter that keeps its import quiet
except ModuleNotFoundError as exc:  # the optional extra is missing: say which one
    raise ModuleNotFoundError(
        "the ssh executor needs asyncssh: pip install 'heketipy[ssh]'", name=exc.name
    ) from exc

log = logging.getLogger("heketipy.executors.ssh")

DEFAULT_CONNECT_TIMEOUT_S = 30.0
KEEPALIVE_INTERVAL_S = 30.0


def quote_argv(argv: Sequence[str], *, sudo: bool = False) -> str:
    """The remote command line: every word quoted, so nothing in it is shell syntax."""
    if not argv:
        raise ValueError("empty argv")
    words = [shlex.quote(str(word)) for word in argv]
    if sudo:
        # -n: never prompt for a password (there is no terminal); "--" ends sudo's options so
        # the command cannot be mistaken for one.
        words = ["sudo", "-n", "--", *words]
    return " ".join(words)


def known_hosts_paths(configured: str, environ: dict[str, str] | None = None) -> list[str]:
    """The known_hosts files to verify against: the setting, else $SSH_KNOWN_HOSTS, else ~."""
    environ = dict(os.environ) if environ is None else environ
    source = configured or environ.get("SSH_KNOWN_HOSTS", "")
    if source:
        return [path for path in source.replace(",", ":").split(":") if path]
    return [os.path.expanduser("~/.ssh/known_hosts")]


def _exit_code(process: asyncssh.SSHClientProcess[Any]) -> int:
    if process.exit_status is not None and process.exit_status >= 0:
        return process.exit_status
    if process.exit_signal:
        name = process.exit_signal[0]
        signum = getattr(signal, f"SIG{name}", None)
        return 128 + int(signum) if signum is not None else 255
    return 255


class SshRunner:
    """``CommandRunner`` over SSH; see the module docstring for the behaviour."""

    def __init__(
        self,
        settings: SshExecSettings | None = None,
        *,
        node_command_concurrency: int = DEFAULT_NODE_COMMAND_CONCURRENCY,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        default_timeout_s: float = DEFAULT_NODE_COMMAND_TIMEOUT_S,
        apply_sudo: bool | None = None,
    ) -> None:
        settings = settings if settings is not None else SshExecSettings()
        self.keyfile = settings.keyfile
        self.user = settings.user
        self.port = int(settings.port)
        # RemoteExecutor adds "sudo" itself; the factory then passes apply_sudo=False so the
        # runner does not add a second one (an argv already starting with sudo is left alone).
        self.sudo = settings.sudo if apply_sudo is None else apply_sudo
        self.gluster_cli_timeout_s = settings.gluster_cli_timeout
        self.host_key_checking = settings.host_key_checking
        self.known_hosts = settings.known_hosts
        self.node_command_concurrency = node_command_concurrency
        self.connect_timeout_s = connect_timeout_s
        self.default_timeout_s = default_timeout_s
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._connect_locks: dict[str, asyncio.Lock] = {}
        self._sessions = NodeSlots(node_command_concurrency)
        self._client_keys: list[asyncssh.SSHKey] | None = None
        self._warned_unchecked = False
        self._closed = False

    # -- public API -----------------------------------------------------------------------------

    def command_line(self, argv: Sequence[str]) -> str:
        """What is sent to the node for ``argv`` (exposed for tests and logs)."""
        return quote_argv(argv, sudo=self.sudo and not (argv and argv[0] == "sudo"))

    def timeout_for(self, argv: Sequence[str]) -> float:
        """Default per-command timeout: gluster CLI gets its own timeout plus a minute."""
        tool = unwrap(argv)  # RemoteExecutor's "sudo -n --" and "env LC_ALL=C" come first
        if tool and os.path.basename(tool[0]) == "gluster":
            return float(max(self.default_timeout_s, self.gluster_cli_timeout_s + 60))
        return self.default_timeout_s

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        argv = tuple(str(word) for word in argv)
        command = self.command_line(argv)
        limit = self.timeout_for(argv) if timeout_s is None else timeout_s
        async with self._sessions(host):
            started = time.monotonic()
            process = await self._start(host, argv, command)
            try:
                stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=limit)
            except TimeoutError:
                await self._kill(process)
                raise NodeCommandError(
                    host, argv, None, f"SSH command timeout after {limit:g}s"
                ) from None
            except (asyncssh.Error, OSError) as exc:
                self._forget(host)
                raise NodeCommandError(host, argv, None, f"SSH connection lost: {exc}") from None
            finally:
                process.close()
            elapsed_ms = (time.monotonic() - started) * 1000
        result = CommandResult(
            argv=argv,
            exit_code=_exit_code(process),
            stdout=str(stdout or ""),
            stderr=str(stderr or ""),
        )
        # The words as the node ran them (sudo included), not the quoted line.
        log_command(host, shlex.split(command), result.exit_code, elapsed_ms)
        return result

    async def close(self) -> None:
        self._closed = True
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(asyncssh.Error, OSError):  # closing anyway
                await connection.wait_closed()

    # -- internals ------------------------------------------------------------------------------

    async def _start(
        self, host: str, argv: tuple[str, ...], command: str
    ) -> asyncssh.SSHClientProcess[Any]:
        # A stale connection shows up when the channel is opened; the command has not started
        # then, so one retry on a fresh connection is safe.
        for attempt in (1, 2):
            connection = await self._connection(host, argv)
            try:
                return await connection.create_process(
                    command, encoding="utf-8", errors="replace", stdin=asyncssh.DEVNULL
                )
            except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, OSError) as exc:
                self._forget(host, connection)
                if attempt == 2:
                    raise NodeCommandError(
                        host, argv, None, f"SSH session failed: {exc}"
                    ) from None
                log.info("ssh reconnecting host=%s after: %s", host, exc)
            except asyncssh.Error as exc:
                self._forget(host, connection)
                raise NodeCommandError(host, argv, None, f"SSH session failed: {exc}") from None
        raise AssertionError("unreachable")

    async def _connection(
        self, host: str, argv: tuple[str, ...]
    ) -> asyncssh.SSHClientConnection:
        if self._closed:
            raise NodeCommandError(host, argv, None, "SSH runner is closed")
        connection = self._connections.get(host)
        if connection is not None and not connection.is_closed():
            return connection
        lock = self._connect_locks.setdefault(host, asyncio.Lock())
        async with lock:
            connection = self._connections.get(host)
            if connection is not None and not connection.is_closed():
                return connection
            connection = await self._connect(host, argv)
            self._connections[host] = connection
            return connection

    async def _connect(self, host: str, argv: tuple[str, ...]) -> asyncssh.SSHClientConnection:
        keys = self._load_client_keys(host, argv)
        try:
            return await asyncssh.connect(
                host,
                port=self.port,
                username=self.user,
                client_keys=keys,
                known_hosts=self._known_hosts_option(),
                config=None,
                agent_path=None,
                preferred_auth="publickey",
                password_auth=False,
                kbdint_auth=False,
                connect_timeout=self.connect_timeout_s,
                keepalive_interval=KEEPALIVE_INTERVAL_S,
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise NodeCommandError(
                host, argv, None, f"SSH host key of {host} not verified: {exc}"
            ) from None
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            text = str(exc) or type(exc).__name__
            raise NodeCommandError(
                host, argv, None, f"Unable to connect to {host}:{self.port}: {text}"
            ) from None

    def _load_client_keys(self, host: str, argv: tuple[str, ...]) -> list[asyncssh.SSHKey]:
        if self._client_keys is None:
            if not self.keyfile:
                raise NodeCommandError(
                    host, argv, None, "Missing ssh private key file in configuration"
                )
            try:
                self._client_keys = [asyncssh.read_private_key(self.keyfile)]
            except (OSError, asyncssh.KeyImportError) as exc:
                raise NodeCommandError(
                    host, argv, None, f"Unable to read ssh key {self.keyfile}: {exc}"
                ) from None
        return self._client_keys

    def _known_hosts_option(self) -> Any:
        if not self.host_key_checking:
            if not self._warned_unchecked:
                self._warned_unchecked = True
                log.warning(
                    "sshexec.host_key_checking is false: SSH host keys are NOT verified"
                )
            return None
        paths = [path for path in known_hosts_paths(self.known_hosts) if os.path.exists(path)]
        # An empty list trusts nothing: with no known_hosts file every connection is refused.
        return paths or ([], [], [])

    def _forget(self, host: str, connection: asyncssh.SSHClientConnection | None = None) -> None:
        current = self._connections.get(host)
        if current is not None and (connection is None or current is connection):
            del self._connections[host]
            current.close()

    @staticmethod
    async def _kill(process: asyncssh.SSHClientProcess[Any]) -> None:
        # Best effort: the channel is closed right after anyway.
        with contextlib.suppress(asyncssh.Error, OSError, ValueError):
            process.send_signal("KILL")
