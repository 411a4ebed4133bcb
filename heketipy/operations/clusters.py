"""Cluster commands: create, delete and the file/block flags. Synchronous (Heketi answers them
directly, never through /queue) and never throttled: they touch only the database."""

from __future__ import annotations

from heketipy.domain.entities import Cluster, new_id
from heketipy.domain.errors import Conflict
from heketipy.domain.state import Transaction
from heketipy.operations.runtime import Runtime


async def create_cluster(rt: Runtime, *, file: bool, block: bool) -> Cluster:
    cluster = Cluster(id=new_id(), file=file, block=block)
    await rt.apply(lambda tx: tx.add(cluster))
    return cluster


async def delete_cluster(rt: Runtime, cluster: Cluster) -> None:
    state = rt.state
    if (
        state.cluster_nodes.get(cluster.id)
        or state.cluster_volumes.get(cluster.id)
        or state.cluster_blockvolumes.get(cluster.id)
    ):
        raise Conflict(
            f"Unable to delete cluster [{cluster.id}] because it contains volumes and/or nodes"
        )
    await rt.apply(lambda tx: tx.delete(cluster))


async def set_cluster_flags(rt: Runtime, cluster: Cluster, *, file: bool, block: bool) -> None:
    def mutate(tx: Transaction) -> None:
        tx.touch(cluster)
        cluster.file = file
        cluster.block = block

    await rt.apply(mutate)
