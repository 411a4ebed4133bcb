"""Reach the simulated nodes beneath an executor built for ``glusterfs.executor: simulator``."""

from __future__ import annotations

from typing import Any

from heketipy.executors.remote import RemoteExecutor
from heketipy.simulator.runner import SimulatedNodes


def nodes_of(executor: Any) -> SimulatedNodes:
    """The ``SimulatedNodes`` a simulator executor (``RemoteExecutor``) runs its commands on."""
    assert isinstance(executor, RemoteExecutor), executor
    assert isinstance(executor.runner, SimulatedNodes), executor.runner
    return executor.runner
