"""Replica sets read from Gluster: the only place a volume's set membership is known.

heketipy records each brick's ``set_index``/``position``; for a volume it made they are exact
(it hands Gluster the bricks in set order). A volume imported from a Heketi dump gets a guess
(``Volume.sets_verified`` false), which this module replaces by Gluster's real sets:

* ``verify_unverified`` at start-up (and after ``heketipy db import --config``): every
  unverified volume is read, one ``volume info`` of the pool per cluster, and its sets
  recorded; a volume Gluster cannot answer for stays unverified and is logged;
* ``ensure_verified`` before a brick eviction plans: the volume's sets are read first, or the
  eviction is refused with an error naming the volume. Planning from a guess could put two
  replicas of one real set on one node or zone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from heketipy.config.settings import Settings
from heketipy.domain.entities import BRICK_ARBITER, Volume
from heketipy.domain.errors import OperationFailed
from heketipy.domain.replica_sets import SetsUnreadable, layout_from_gluster
from heketipy.domain.state import Transaction
from heketipy.executors.base import Executor, GlusterVolume
from heketipy.operations.runtime import Runtime
from heketipy.store.sqlite import Store

log = logging.getLogger("heketipy.operations")

_Answer = TypeVar("_Answer")
Layout = dict[str, tuple[int, int]]


def unverified_text(volume: Volume, why: str) -> str:
    return (
        f"replica sets of volume {volume.name} ({volume.id}) are not verified from gluster "
        f"and could not be read from it: {why}"
    )


def _hosts(rt: Runtime, cluster_id: str) -> list[str]:
    """Manage hosts to ask, online nodes first and those the health monitor saw down last."""
    state = rt.state
    nodes = [state.nodes[n] for n in state.node_ids(cluster_id)]
    online = [n for n in nodes if n.state == "online"]
    online.sort(key=lambda n: n.id in rt.down_nodes)
    return [n.manage_host for n in online]


async def _ask_pool(
    rt: Runtime, cluster_id: str, call: Callable[[str], Awaitable[_Answer]]
) -> _Answer:
    """The first answer of a node of the cluster's pool; SetsUnreadable naming every failure."""
    failures = []
    for host in _hosts(rt, cluster_id):
        try:
            return await call(host)
        except Exception as exc:  # noqa: BLE001 - the next node of the pool may answer
            failures.append(f"{host}: {exc}")
    raise SetsUnreadable("; ".join(failures) or "no online node in the cluster")


def _layout(rt: Runtime, volume: Volume, gluster: GlusterVolume | None) -> Layout:
    if gluster is None:
        raise SetsUnreadable(f"gluster has no volume {volume.name}")
    state = rt.state
    bricks = state.bricks_of_volume(volume.id)
    address = {b.id: (state.nodes[b.node_id].storage_host, b.path) for b in bricks}
    return layout_from_gluster(
        [(b.host, b.path) for b in gluster.bricks],
        volume.set_size,
        {where: brick_id for brick_id, where in address.items()},
        [address[b.id] for b in bricks if b.subtype == BRICK_ARBITER],
    )


def _record(rt: Runtime, volume_id: str, layout: Layout) -> Callable[[Transaction], None]:
    """The transaction recording ``layout`` as the volume's sets, if the volume still holds
    exactly those bricks and nothing is changing them."""

    def mutate(tx: Transaction) -> None:
        state = rt.state
        volume = state.volumes.get(volume_id)
        if volume is None:
            raise SetsUnreadable("the volume is gone")
        bricks = state.bricks_of_volume(volume_id)
        if volume.pending_op or any(b.pending_op for b in bricks):
            raise SetsUnreadable("an operation is changing its bricks")
        if {b.id for b in bricks} != set(layout):
            raise SetsUnreadable("its bricks changed while gluster was read")
        for brick in bricks:
            if (brick.set_index, brick.position) != layout[brick.id]:
                tx.touch(brick)
                brick.set_index, brick.position = layout[brick.id]
        tx.touch(volume).sets_verified = True

    return mutate


async def verify_sets(rt: Runtime, volume: Volume) -> None:
    """Read the volume's sets from Gluster and record them; SetsUnreadable if that fails."""

    async def info(host: str) -> GlusterVolume:
        return await rt.executor.volume_info(host, volume.name)

    gluster = await _ask_pool(rt, volume.cluster_id, info)
    await rt.apply(_record(rt, volume.id, _layout(rt, volume, gluster)))
    log.info("replica sets of volume %s (%s) taken from gluster", volume.name, volume.id)


async def ensure_verified(rt: Runtime, volume: Volume, prefix: str) -> None:
    """Before planning from a volume's sets: they are Gluster's, or OperationFailed."""
    if volume.sets_verified:
        return
    try:
        await verify_sets(rt, volume)
    except SetsUnreadable as exc:
        raise OperationFailed(f"{prefix}: {unverified_text(volume, str(exc))}") from exc


async def verify_unverified(rt: Runtime) -> list[str]:
    """Take every unverified volume's sets from Gluster (one ``volume info`` of each cluster's
    pool); returns the ids verified. Volumes Gluster cannot answer for stay unverified."""
    state = rt.state
    waiting: dict[str, list[Volume]] = {}
    for volume_id in sorted(state.volumes):
        volume = state.volumes[volume_id]
        if not volume.sets_verified and not volume.pending_op:
            waiting.setdefault(volume.cluster_id, []).append(volume)
    verified = []
    for cluster_id, volumes in sorted(waiting.items()):

        async def every_volume(host: str) -> list[GlusterVolume]:
            return await rt.executor.volumes_info(host)

        try:
            listed = {g.name: g for g in await _ask_pool(rt, cluster_id, every_volume)}
        except SetsUnreadable as exc:
            log.warning("replica sets of %d volume(s) of cluster %s stay unverified: %s",
                        len(volumes), cluster_id, exc)
            continue
        for volume in volumes:
            try:
                await rt.apply(_record(rt, volume.id, _layout(rt, volume, listed.get(volume.name))))
            except SetsUnreadable as exc:
                log.warning("%s", unverified_text(volume, str(exc)))
                continue
            verified.append(volume.id)
    if verified:
        log.info("replica sets of %d imported volume(s) taken from gluster", len(verified))
    return verified


async def verify_imported_database(
    db_path: str, settings: Settings, executor: Executor
) -> tuple[int, int]:
    """``heketipy db import --config``: take the sets of the database just imported at
    ``db_path`` from Gluster through ``executor`` (started); returns (volumes verified,
    volumes left unverified, which the server's first start tries again)."""
    store = Store(db_path)
    state = await store.open()
    try:
        for node in state.nodes.values():
            executor.register_node(node.manage, node.storage)
        verified = await verify_unverified(Runtime(state, store, executor, settings))
        left = sum(not v.sets_verified for v in state.volumes.values())
    finally:
        await store.close()
    return len(verified), left
