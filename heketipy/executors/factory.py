"""Build the executors of this package named by ``glusterfs.executor``: mock, ssh, kubernetes.

The simulator lives above this package (``heketipy.simulator`` runs beneath a
``RemoteExecutor``), so the composition root ``heketipy.wiring`` builds it and hands every other
kind to ``create_executor`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from heketipy.executors.base import Executor
from heketipy.executors.mock import MockExecutor

if TYPE_CHECKING:
    from heketipy.config.settings import Settings


class NodeCommandLimits(TypedDict):
    """The runners' keyword arguments for the ``heketipy.node_command_*`` settings."""

    node_command_concurrency: int
    default_timeout_s: float


def node_command_limits(settings: Settings) -> NodeCommandLimits:
    """What every remote transport (ssh, kubernetes) bounds its commands with: per node, how
    many run at once; each one, how long it may take."""
    return {
        "node_command_concurrency": settings.heketipy.node_command_concurrency,
        "default_timeout_s": settings.heketipy.node_command_timeout_s,
    }


def create_executor(settings: Settings) -> Executor:
    glusterfs = settings.glusterfs
    kind = glusterfs.executor
    if kind == "mock":
        return MockExecutor(
            device_size_gb=glusterfs.mock_device_size_gb,
            latency_ms=settings.heketipy.mock_latency_ms,
        )
    if kind in ("ssh", "inject/ssh"):
        # Imported lazily: asyncssh is an optional dependency (the [ssh] extra).
        from heketipy.executors.remote import RemoteExecutor
        from heketipy.executors.ssh import SshRunner

        sshexec = glusterfs.sshexec
        # RemoteExecutor puts sudo in front of whole commands itself.
        runner = SshRunner(sshexec, apply_sudo=False, **node_command_limits(settings))
        return RemoteExecutor(runner, sshexec, name="ssh")
    if kind == "kubernetes":
        # Imported lazily: the kubernetes client is an optional dependency (the [kube] extra).
        from heketipy.executors.kube import KubeRunner
        from heketipy.executors.remote import RemoteExecutor

        kubeexec = glusterfs.kubeexec
        return RemoteExecutor(
            KubeRunner(kubeexec, **node_command_limits(settings)),
            kubeexec,
            name="kubernetes",
            use_sudo=False,
        )
    if kind == "inject/mock":
        raise RuntimeError(f"executor {kind} is not supported: use mock or simulator faults")
    raise RuntimeError(f"invalid executor: {kind} (the simulator is built by heketipy.wiring)")
