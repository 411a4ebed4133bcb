"""The transport seam below real executors: run one argv on one node.

``RemoteExecutor`` (executors/remote.py) implements the ``Executor`` protocol with the pure
argv builders and parsers of ``executors/commands.py`` on top of a ``CommandRunner``; the SSH
(``ssh.py``) and Kubernetes pod-exec (``kube.py``) transports implement ``CommandRunner``.
A runner never goes through a shell: the argv is passed as a list (SSH quotes each word with
``shlex.quote`` because the remote side has a shell; Kubernetes exec takes the list as is).

``NodeSlots`` is the per-node concurrency bound both transports apply.

Also the node-command log lines every executor that runs commands writes (logger
``heketipy.executors.commands``): ``log_failure`` is the one line of a failed command (node,
argv, exit code, stderr), a WARNING unless the failure only says the gluster volume is not
there (INFO: idempotent destroy and rollback paths expect that answer); ``log_command`` is the
DEBUG line of each command run. An argv holds validated names and sizes, never a credential,
so it is logged whole.

``observed_run`` is the one place a node command is timed for the metrics, and
``report_failure`` the one place a failed one is counted (where the executor raises it); both
tell a ``CommandObserver`` the command's bounded name (``command_names.command_name``), never
the argv.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from heketipy import logctx
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import VolumeDoesNotExist
from heketipy.executors.command_names import command_name, failure_label

log = logging.getLogger("heketipy.executors.commands")
E = TypeVar("E", bound=NodeCommandError)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class CommandRunner(Protocol):
    """Runs commands on storage nodes, addressed by their manage hostname."""

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        """Run ``argv`` on ``host``; a non-zero exit is returned, not raised. Transport failures
        (unreachable node, timeout) raise ``heketipy.domain.errors.NodeCommandError`` with
        ``exit_code=None``."""
        ...

    async def close(self) -> None: ...


class NodeSlots:
    """The per-node bound of the transports: one ``asyncio.Semaphore`` of ``limit`` slots per
    host (``heketipy.node_command_concurrency``), so a busy node queues its own commands and
    never those of another node."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"node command concurrency must be >= 1 (got {limit})")
        self.limit = limit
        self._slots: dict[str, asyncio.Semaphore] = {}

    def __call__(self, host: str) -> asyncio.Semaphore:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = asyncio.Semaphore(self.limit)
        return slot


class CommandObserver(Protocol):
    """Told of node commands (the node-command metrics); ``command`` is always a
    ``command_names.command_name``, never the argv itself."""

    def command_ran(self, host: str, command: str, seconds: float) -> None:
        """Every command that ended (any exit code, or a transport failure)."""

    def command_failed(self, host: str, command: str, failure: str) -> None:
        """A command the executor raised as failed; ``failure`` is a ``failure_label``."""


async def observed_run(
    runner: CommandRunner,
    host: str,
    argv: Sequence[str],
    timeout_s: float | None,
    observer: CommandObserver | None,
) -> CommandResult:
    """``runner.run(host, argv)``, timed for ``observer`` (when set) once it ended; a cancelled
    command is not reported."""
    if observer is None:
        return await runner.run(host, argv, timeout_s=timeout_s)
    started = time.perf_counter()
    try:
        return await runner.run(host, argv, timeout_s=timeout_s)
    finally:
        # A transport failure is reported too (the node was asked, and that took time).
        task = asyncio.current_task()
        if task is None or not task.cancelling():
            observer.command_ran(host, command_name(argv), time.perf_counter() - started)


def report_failure(error: E, observer: CommandObserver | None) -> E:
    """Log the failed command ``error`` describes (``log_failure``) and tell ``observer``,
    unless it only says the gluster volume is not there: idempotent destroy and rollback
    paths expect that answer, so it is no failure of the node."""
    log_failure(error)
    if observer is not None and not isinstance(error, VolumeDoesNotExist):
        observer.command_failed(
            error.node, command_name(error.argv), failure_label(error.exit_code, str(error))
        )
    return error


def log_failure(error: E) -> E:
    """Log the failed node command ``error`` describes (``exit=-``: the node was not reached
    or the command timed out) and return ``error`` for raising."""
    logctx.event(
        log,
        logging.INFO if isinstance(error, VolumeDoesNotExist) else logging.WARNING,
        "node command failed",
        node=error.node,
        argv=error.argv,
        exit=error.exit_code,
        stderr=error.stderr.strip(),
    )
    return error


def log_command(host: str, argv: Sequence[str], exit_code: int | None, ms: float) -> None:
    logctx.event(
        log, logging.DEBUG, "node command", node=host, argv=list(argv), exit=exit_code, ms=ms
    )


if TYPE_CHECKING:
    # Conformance, proved by the type checker (`make lint`): each transport implements
    # CommandRunner with compatible signatures (see the same check for executors in base.py).
    from heketipy.executors.kube import KubeRunner
    from heketipy.executors.ssh import SshRunner

    def _ssh_is_a_runner(runner: SshRunner) -> CommandRunner:
        return runner

    def _kube_is_a_runner(runner: KubeRunner) -> CommandRunner:
        return runner
