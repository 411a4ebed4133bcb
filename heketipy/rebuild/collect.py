"""The reading half of a rebuild: every fact ``reconstruct`` needs, through the ``Executor``.

Per topology node: ``node_inventory`` (VGs, LVs with tags and sizes, mounts, fstab, the gluster
volumes of its pool), ``device_info`` of each ``vg_<id>``, then ``recovery_facts``: the group of
each brick directory gluster lists on it and, on the first node of each cluster, the block
volumes of the block-hosting volumes. Nothing on the nodes is changed. A node that cannot be
read stops the rebuild (``RebuildError`` naming every such node).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from heketipy.config.settings import Settings
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.base import DeviceInfo, Executor, NodeInventory
from heketipy.executors.commands_lvm import ParseError
from heketipy.rebuild.facts import NodeFacts, RebuildError
from heketipy.rebuild.reconstruct import (
    VG_NAME,
    TopologyNodeEntry,
    is_block_hosting,
    volume_id_of,
)

_T = TypeVar("_T")


async def _inventory(
    executor: Executor, host: str
) -> tuple[NodeInventory, dict[str, DeviceInfo]]:
    inventory = await executor.node_inventory(host)
    devices: dict[str, DeviceInfo] = {}
    for vg in sorted(inventory.vg_free_kib):
        match = VG_NAME.fullmatch(vg)
        if match:
            devices[match.group(1)] = await executor.device_info(host, "", match.group(1))
    return inventory, devices


async def _each(
    entries: list[TopologyNodeEntry],
    call: Callable[[TopologyNodeEntry], Awaitable[_T]],
    what: str,
) -> list[_T]:
    results = await asyncio.gather(*(call(e) for e in entries), return_exceptions=True)
    failures = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, (NodeCommandError, ParseError, OSError)):
            failures.append(f"node {entry.manage[0]}: {what}: {result}")
        elif isinstance(result, BaseException):
            raise result
    if failures:
        raise RebuildError("cannot read every node; nothing was written:\n  " + "\n  ".join(failures))
    return [r for r in results if not isinstance(r, BaseException)]


async def collect(
    executor: Executor, entries: list[TopologyNodeEntry], settings: Settings
) -> dict[str, NodeFacts]:
    """The facts of every topology node, keyed by its first manage hostname."""
    for entry in entries:
        executor.register_node(list(entry.manage), list(entry.storage))
    read = await _each(entries, lambda e: _inventory(executor, e.manage[0]), "inventory")
    entry_of_host = {h: e for e in entries for h in (*e.manage, *e.storage)}
    paths: dict[str, list[str]] = defaultdict(list)
    bhvs: dict[str, set[str]] = defaultdict(set)
    first_of_cluster: dict[int, str] = {}
    for entry in entries:
        first_of_cluster.setdefault(entry.cluster_index, entry.manage[0])
    for entry, (inventory, _devices) in zip(entries, read, strict=True):
        for volume in inventory.volumes:
            if not volume_id_of(volume):
                continue
            for brick in volume.bricks:
                owner = entry_of_host.get(brick.host)
                if owner is not None and brick.path not in paths[owner.manage[0]]:
                    paths[owner.manage[0]].append(brick.path)
            if is_block_hosting(volume, settings):
                bhvs[first_of_cluster[entry.cluster_index]].add(volume.name)
    recovered = await _each(
        entries,
        lambda e: executor.recovery_facts(
            e.manage[0], tuple(paths[e.manage[0]]), tuple(sorted(bhvs[e.manage[0]]))
        ),
        "brick directories and block volumes",
    )
    return {
        entry.manage[0]: NodeFacts(entry.manage[0], inventory, devices, recovery)
        for entry, (inventory, devices), recovery in zip(entries, read, recovered, strict=True)
    }
