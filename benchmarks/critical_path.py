"""The critical-path lower bound of N concurrent volume creates under the simulator's latency model.

The issue defines the bound as the serialized gluster commands of all volumes (glusterd's
cluster lock admits one command per trusted pool at a time) plus one volume's parallel brick
work (the bricks of one volume are created concurrently on different nodes, so one brick's
command chain). The command counts are not hard-coded: they are read from the simulator's own
command trace for one volume, run here in-process with zero latency, so the bound follows the
command batch the server really issues.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from heketipy.domain.units import KIB_PER_GIB
from heketipy.executors.base import BrickRequest, VolumeRequest
from heketipy.executors.commands_common import CommandOptions
from heketipy.executors.remote import RemoteExecutor
from heketipy.simulator.runner import SimulatedNodes
from heketipy.simulator.support import LatencyModel


def _started(nodes: SimulatedNodes) -> Counter[str]:
    return Counter(e.family for e in nodes.trace.events if e.phase == "start")


async def _count_commands(replica: int, size_gib: int) -> dict[str, Any]:
    # The server's own path: RemoteExecutor's command batches, on simulated nodes.
    nodes = SimulatedNodes(state_path=None, latency=LatencyModel())
    executor = RemoteExecutor(nodes, CommandOptions(), name="simulator", use_sudo=False)
    hosts = [f"cp-node{i}" for i in range(replica)]
    storage = [f"10.9.0.{index + 1}" for index in range(replica)]
    for index, host in enumerate(hosts):
        nodes.register_storage_host(host, storage[index])
        executor.register_node([host], [storage[index]])
        await executor.device_setup(host, "/dev/sdb", f"{index:032x}", destroy_data=False)
    for index in range(1, replica):
        await executor.peer_probe(hosts[0], storage[index])
    nodes.trace.clear()
    per_brick: list[Counter[str]] = []
    addresses = []
    for index, host in enumerate(hosts):
        before = _started(nodes)
        brick_id = f"{index + 100:032x}"
        request = BrickRequest(
            device_id=f"{index:032x}", brick_id=brick_id, tp_name=f"tp_{brick_id}",
            lv_name=f"brick_{brick_id}", tp_size_kib=size_gib * KIB_PER_GIB,
            size_kib=size_gib * KIB_PER_GIB, pool_metadata_kib=8192,
        )
        addresses.append(await executor.brick_create(host, request))
        per_brick.append(_started(nodes) - before)
    before = _started(nodes)
    await executor.volume_create(hosts[0], VolumeRequest(
        name="vol_cp", bricks=tuple(addresses), durability="replicate", replica=replica,
        # The server tags every volume it creates with its id (one more `volume set`).
        options=(f"user.heketi.id {0:032x}",),
    ))
    volume = _started(nodes) - before
    return {"per_brick": [dict(c) for c in per_brick], "volume": dict(volume)}


def lower_bound(creates: int, latency_ms: dict[str, float], replica: int = 3,
                size_gib: int = 1) -> dict[str, Any]:
    """The bound in milliseconds, with its arithmetic spelled out (no event loop running)."""
    return asyncio.run(lower_bound_async(creates, latency_ms, replica, size_gib))


async def lower_bound_async(creates: int, latency_ms: dict[str, float], replica: int = 3,
                            size_gib: int = 1) -> dict[str, Any]:
    """``lower_bound`` from inside a running event loop."""
    counts = await _count_commands(replica, size_gib)
    lvm_ms = float(latency_ms.get("lvm", 0))
    fs_ms = float(latency_ms.get("fs", 0))
    gluster_ms = float(latency_ms.get("gluster", 0))
    brick_chain_ms = max(
        c.get("lvm", 0) * lvm_ms + c.get("fs", 0) * fs_ms + c.get("gluster", 0) * gluster_ms
        for c in counts["per_brick"]
    )
    brick = counts["per_brick"][0]
    gluster_per_volume = counts["volume"].get("gluster", 0)
    serialized_ms = creates * gluster_per_volume * gluster_ms
    bound_ms = serialized_ms + brick_chain_ms
    arithmetic = (
        f"{creates} volumes x {gluster_per_volume} gluster commands x {gluster_ms:g} ms "
        f"= {serialized_ms:g} ms (serialized on the pool's glusterd lock) "
        f"+ one brick chain ({brick.get('lvm', 0)} LVM x {lvm_ms:g} ms + "
        f"{brick.get('fs', 0)} fs x {fs_ms:g} ms = {brick_chain_ms:g} ms) "
        f"= {bound_ms:g} ms"
    )
    return {
        "creates": creates,
        "commands": counts,
        "serialized_gluster_ms": serialized_ms,
        "brick_chain_ms": brick_chain_ms,
        "bound_ms": bound_ms,
        "arithmetic": arithmetic,
    }
