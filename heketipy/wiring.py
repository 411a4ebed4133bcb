"""Composition root of the node side: the executor ``glusterfs.executor`` names.

``simulator`` is ``RemoteExecutor`` over ``SimulatedNodes`` (the production orchestration on
simulated nodes); every other kind is built by ``heketipy.executors.factory``. This module sits
above both ``heketipy.executors`` and ``heketipy.simulator`` so neither imports the other's
builder.
"""

from __future__ import annotations

from heketipy.config.settings import Settings
from heketipy.executors import factory
from heketipy.executors.base import Executor
from heketipy.executors.commands_common import CommandOptions
from heketipy.executors.remote import RemoteExecutor
from heketipy.simulator.runner import SimulatedNodes
from heketipy.simulator.support import FaultInjector, LatencyModel


class SimulatorExecutor(RemoteExecutor):
    """``RemoteExecutor`` over ``SimulatedNodes``; a node's registered storage names also reach
    the simulated network's name service, as DNS makes them resolve to real nodes (glusterd
    on a peer must know which node ``peer probe 10.0.0.3`` means)."""

    def __init__(self, nodes: SimulatedNodes, options: CommandOptions) -> None:
        super().__init__(nodes, options, name="simulator", use_sudo=False)
        self.nodes = nodes

    def register_node(self, manage: list[str], storage: list[str]) -> None:
        super().register_node(manage, storage)
        for name in storage if manage else ():
            self.nodes.register_storage_host(manage[0], name)


def create_executor(settings: Settings) -> Executor:
    if settings.glusterfs.executor == "simulator":
        return simulator_executor(settings)
    return factory.create_executor(settings)


def simulator_executor(settings: Settings) -> SimulatorExecutor:
    simulator = settings.heketipy.simulator
    options = CommandOptions()
    nodes = SimulatedNodes(
        # load_settings fills the default "<glusterfs.db>.simulator.json" in.
        state_path=simulator.state_file or settings.glusterfs.db + ".simulator.json",
        device_size_gb=simulator.device_size_gb,
        latency=LatencyModel.from_mapping(simulator.latency_ms.model_dump()),
        faults=FaultInjector(simulator.faults),
        options=options,
    )
    return SimulatorExecutor(nodes, options)
