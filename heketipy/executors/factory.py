"""Choose and build the executor named by the configuration (``glusterfs.executor``).

The settings object is read only through ``getattr`` with defaults, so this works with any
settings shape that uses these attribute names (``glusterfs.executor``,
``glusterfs.mock_device_size_gb``, ``glusterfs.db``, ``heketipy.mock_latency_ms``,
``heketipy.simulator.{state_file, device_size_gb, latency_ms, faults}``,
``glusterfs.sshexec``, ``glusterfs.kubeexec``); mappings work too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heketipy.executors.base import Executor
from heketipy.executors.mock import MockExecutor
from heketipy.executors.simulator import SimulatorExecutor
from heketipy.simulator.support import LatencyModel

DEFAULT_DB_PATH = "heketi.db"


def _get(source: Any, name: str, default: Any = None) -> Any:
    if source is None:
        return default
    if isinstance(source, Mapping):
        value = source.get(name, default)
    else:
        value = getattr(source, name, default)
    return default if value is None else value


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump()
    return {key: getattr(value, key) for key in ("lvm", "fs", "gluster") if hasattr(value, key)}


def create_executor(settings: Any) -> Executor:
    glusterfs = _get(settings, "glusterfs")
    heketipy = _get(settings, "heketipy")
    kind = str(_get(glusterfs, "executor", "") or "ssh").strip().lower()

    if kind == "mock":
        return MockExecutor(
            device_size_gb=int(_get(glusterfs, "mock_device_size_gb", 500)),
            latency_ms=float(_get(heketipy, "mock_latency_ms", 0)),
        )
    if kind == "simulator":
        simulator = _get(heketipy, "simulator")
        state_file = _get(simulator, "state_file", "") or (
            str(_get(glusterfs, "db", DEFAULT_DB_PATH) or DEFAULT_DB_PATH) + ".simulator.json"
        )
        faults = _as_mapping(_get(simulator, "faults"))
        return SimulatorExecutor(
            state_path=str(state_file),
            device_size_gb=int(_get(simulator, "device_size_gb", 1024)),
            latency=LatencyModel.from_mapping(_as_mapping(_get(simulator, "latency_ms"))),
            faults=faults or None,
        )
    if kind in ("ssh", "inject/ssh"):
        # Imported lazily: asyncssh is an optional dependency (the [ssh] extra).
        from heketipy.executors.remote import RemoteExecutor
        from heketipy.executors.ssh import SshRunner

        sshexec = _get(glusterfs, "sshexec")
        # RemoteExecutor puts sudo in front of whole commands itself.
        return RemoteExecutor(SshRunner(sshexec, apply_sudo=False), sshexec, name="ssh")
    if kind in ("kube", "kubernetes"):
        # Imported lazily: the kubernetes client is an optional dependency (the [kube] extra).
        from heketipy.executors.kube import KubeRunner
        from heketipy.executors.remote import RemoteExecutor

        kubeexec = _get(glusterfs, "kubeexec")
        return RemoteExecutor(KubeRunner(kubeexec), kubeexec, name="kubernetes", use_sudo=False)
    if kind == "inject/mock":
        raise RuntimeError(f"executor {kind} is not supported: use mock or simulator faults")
    raise RuntimeError(f"invalid executor: {kind}")
