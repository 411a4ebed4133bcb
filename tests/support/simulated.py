"""Reach the simulated nodes beneath an executor built for ``glusterfs.executor: simulator``."""

from __future__ import annotations

from typing import Any

from heketipy.executors.remote import RemoteExecutor
from heketipy.simulator.runner import SimulatedNodes
from heketipy.simulator.state import VolumeGroup


def nodes_of(executor: Any) -> SimulatedNodes:
    """The ``SimulatedNodes`` a simulator executor (``RemoteExecutor``) runs its commands on."""
    assert isinstance(executor, RemoteExecutor), executor
    assert isinstance(executor.runner, SimulatedNodes), executor.runner
    return executor.runner


def charged_space_kib(vg: VolumeGroup) -> tuple[int, int]:
    """A simulated VG's (free, used) as the database counts them: LVM's pool metadata spare
    (``lvol0_pmspare``) is charged to no device, by Heketi nor by heketipy, so it counts free."""
    return vg.free_kib + vg.pmspare_kib, vg.used_kib - vg.pmspare_kib
