"""The transport seam below real executors: run one argv on one node.

``RemoteExecutor`` (executors/remote.py) implements the ``Executor`` protocol with the pure
argv builders and parsers of ``executors/commands.py`` on top of a ``CommandRunner``; the SSH
(``ssh.py``) and Kubernetes pod-exec (``kube.py``) transports implement ``CommandRunner``.
A runner never goes through a shell: the argv is passed as a list (SSH quotes each word with
``shlex.quote`` because the remote side has a shell; Kubernetes exec takes the list as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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
