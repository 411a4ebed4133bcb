"""Block volume operations: create (choosing or auto-creating a block hosting volume), delete
and expand, each journaled and rolled back on failure.

Accounting (internals 1.12): a block hosting volume (BHV) keeps ``block_free_gib``; creating a
block volume debits it in ``plan`` (so concurrent creates never overbook a BHV), deleting
credits it at finalize, expanding debits the delta in ``plan`` and credits it back on failure.
Invariant: ``BHV size = sum(block volume sizes) + free + reserved``.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from heketipy.domain import placement as pl
from heketipy.domain.entities import BlockVolume, Volume, new_id
from heketipy.domain.errors import TARGET_IN_USE, Busy, OperationFailed
from heketipy.domain.state import State, Transaction
from heketipy.domain.units import bhv_usable_gib
from heketipy.executors.base import BlockVolumeRequest
from heketipy.operations import placement_view as pv
from heketipy.operations import volumes as vol
from heketipy.operations.runtime import Operation, Runtime

CREATE_PREFIX = "Failed to allocate new block volume"
DELETE_PREFIX = "Failed to set up block volume delete"
EXPAND_PREFIX = "Failed to allocate block volume expansion"
AUTO_CREATE_DISABLED = (
    "Block Hosting Volume Creation is disabled. Create a Block hosting volume and try again."
)
INSUFFICIENT_HOSTS = "insufficient block hosts online"
BHV_DURABILITY_ECHO = {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}}
UNRESTRICTED = ""


def too_small_text(bhv_size_gib: int, size_gib: int) -> str:
    return (
        "The size configured for automatic creation of block hosting volumes "
        f"({bhv_size_gib}) is too small to host the requested block volume of size {size_gib}. "
        f"The available size on this block hosting volume, minus overhead, is "
        f"{bhv_usable_gib(bhv_size_gib)}. Please create a sufficiently large block hosting "
        "volume manually."
    )


@dataclass
class BlockVolumeSpec:
    """A validated block volume create request."""

    size_gib: int
    name: str = ""
    cluster_ids: tuple[str, ...] = ()
    hacount: int = 0
    auth: bool = False


# -- shared helpers -----------------------------------------------------------------------------


def block_clusters(state: State, requested: tuple[str, ...]) -> list[str]:
    """Candidate clusters that allow block volumes; raises with upstream's reason when none."""
    candidates = [c for c in requested if c in state.clusters] or sorted(state.clusters)
    request = pl.ClusterRequest(kind="block", max_volumes_per_cluster=-1)
    try:
        eligible = pl.select_clusters(pv.cluster_views(state, candidates), request)
    except pl.PlacementError as error:
        raise pv.allocation_failed(CREATE_PREFIX, error) from error
    return [c.id for c in eligible]


def hosts_bhv(state: State, bhv: Volume, size_gib: int, name: str) -> bool:
    """Whether ``bhv`` may receive a new block volume of that size and name."""
    if not bhv.block or bhv.pending_op or bhv.block_restriction != UNRESTRICTED:
        return False
    if bhv.block_free_gib < size_gib:
        return False
    return all(
        state.blockvolumes[b].name != name for b in state.bhv_blockvolumes.get(bhv.id, ())
    )


def has_new_pending_bhv(state: State, cluster_ids: list[str]) -> bool:
    """A BHV is still being created by a running (not stale, not failed) operation."""
    for cluster_id in cluster_ids:
        for volume_id in state.cluster_volumes.get(cluster_id, ()):
            volume = state.volumes[volume_id]
            if volume.block and volume.pending_op:
                record = state.operations.get(volume.pending_op)
                if record is None or record.status == "":
                    return True
    return False


def busy_with(state: State, blockvolume_id: str) -> bool:
    """An expand journaled for this block volume (expand does not hide it, so it is not in
    ``pending_op``); the pending operations are few, bounded by the throttle."""
    return any(
        record.data.get("blockvolume") == blockvolume_id for record in state.operations.values()
    )


async def exec_host(rt: Runtime, cluster_id: str) -> str:
    """The first online node (in id order) whose glusterd answers: where gluster-block runs."""
    last_error: Exception | None = None
    for node_id in rt.state.node_ids(cluster_id):
        node = rt.state.nodes[node_id]
        if node.state != "online":
            continue
        try:
            await rt.executor.glusterd_check(node.manage_host)
            return node.manage_host
        except Exception as exc:  # noqa: BLE001 - try the next node
            last_error = exc
    if last_error is not None:
        raise last_error
    raise OperationFailed(f"No online nodes in cluster {cluster_id}")


async def choose_hosts(rt: Runtime, cluster_id: str, hacount: int) -> list[str]:
    """Storage hosts for a block volume: all of them, or ``hacount`` random healthy ones."""
    node_ids = rt.state.node_ids(cluster_id)
    if hacount <= 0 or hacount > len(node_ids):
        return [rt.state.nodes[n].storage_host for n in node_ids]
    shuffled = list(node_ids)
    random.shuffle(shuffled)
    chosen: list[str] = []
    for node_id in shuffled:
        node = rt.state.nodes[node_id]
        if node.state != "online":
            continue
        try:
            await rt.executor.glusterd_check(node.manage_host)
        except Exception:  # noqa: BLE001 - an unhealthy host is simply not chosen
            continue
        chosen.append(node.storage_host)
        if len(chosen) == hacount:
            return chosen
    raise OperationFailed(INSUFFICIENT_HOSTS)


# -- create ---------------------------------------------------------------------------------------


class CreateBlockVolume(Operation):
    type_name = "create-block-volume"

    def __init__(self, rt: Runtime, spec: BlockVolumeSpec) -> None:
        super().__init__(rt)
        self.spec = spec
        self.blockvolume_id = new_id()
        self.bhv_id = ""
        self.bhv_created = False

    def load(self, record: Any) -> None:
        self.blockvolume_id = record.data["blockvolume"]
        self.bhv_id = record.data["bhv"]
        self.bhv_created = bool(record.data.get("bhv_created"))
        self.spec = BlockVolumeSpec(size_gib=int(record.data.get("size", 0)))

    # plan ----------------------------------------------------------------------------------------
    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        spec = self.spec
        name = spec.name or f"blockvol_{self.blockvolume_id}"
        cluster_ids = block_clusters(state, spec.cluster_ids)
        candidates = [
            state.volumes[v]
            for cluster_id in cluster_ids
            for v in sorted(state.cluster_volumes.get(cluster_id, ()))
            if hosts_bhv(state, state.volumes[v], spec.size_gib, name)
        ]
        if candidates:
            bhv = random.choice(candidates)
            self.record = self._new_record(tx)
        else:
            bhv = self._plan_new_bhv(tx, cluster_ids)
        self.bhv_id = bhv.id
        assert self.record is not None
        self.record.data["bhv"] = bhv.id
        self.record.data["bhv_created"] = self.bhv_created
        tx.touch(bhv).block_free_gib -= spec.size_gib
        hosts_available = len(state.node_ids(bhv.cluster_id))
        hacount = spec.hacount if 0 < spec.hacount <= hosts_available else hosts_available
        tx.add(
            BlockVolume(
                id=self.blockvolume_id,
                name=name,
                cluster_id=bhv.cluster_id,
                bhv_id=bhv.id,
                size_gib=spec.size_gib,
                hacount=hacount,
                auth=spec.auth,
                pending_op=self.record.id,
            )
        )
        self.record.changes.append(
            {"change": "Add block volume", "id": self.blockvolume_id, "delta": 0}
        )

    def _new_record(self, tx: Transaction) -> Any:
        return self.rt.new_record(
            tx,
            self.type_name,
            blockvolume=self.blockvolume_id,
            size=self.spec.size_gib,
            hacount=self.spec.hacount,
            auth=self.spec.auth,
        )

    def _plan_new_bhv(self, tx: Transaction, cluster_ids: list[str]) -> Volume:
        """No BHV has room: auto-create one inside this operation (internals 1.12)."""
        state = self.rt.state
        settings = self.rt.settings.glusterfs
        bhv_size = settings.block_hosting_volume_size
        if self.spec.size_gib > bhv_usable_gib(bhv_size):
            raise OperationFailed(f"{CREATE_PREFIX}: {too_small_text(bhv_size, self.spec.size_gib)}")
        if has_new_pending_bhv(state, cluster_ids):
            raise Busy()
        if not settings.auto_create_block_hosting_volume:
            raise OperationFailed(f"{CREATE_PREFIX}: {AUTO_CREATE_DISABLED}")
        spec = vol.VolumeSpec(
            size_gib=bhv_size,
            name="",
            cluster_ids=cluster_ids,
            durability_echo=copy.deepcopy(BHV_DURABILITY_ECHO),
            durability="replicate",
            replica=3,
            data=0,
            redundancy=0,
            gid=0,
            request_options=[],
            block=True,
            snapshot_enable=False,
            snapshot_factor=1.0,
        )
        creator = vol.CreateVolume(self.rt, spec)
        try:
            creator.plan(tx)
        except OperationFailed as exc:
            reason = exc.text.split(": ", 1)[1] if ": " in exc.text else exc.text
            raise OperationFailed(f"{CREATE_PREFIX}: {reason}") from exc
        # One journal record for the whole operation: adopt the BHV's changes and pending marks.
        self.record = self._new_record(tx)
        child = creator.record
        assert child is not None
        self.record.changes = list(child.changes)
        bhv = state.volumes[creator.volume_id]
        bhv.pending_op = self.record.id
        for brick in state.bricks_of_volume(bhv.id):
            brick.pending_op = self.record.id
        tx.delete(child)
        self.bhv_created = True
        return bhv

    # execute -------------------------------------------------------------------------------------
    async def execute(self) -> None:
        rt = self.rt
        state = rt.state
        if self.bhv_created:
            bhv = state.volumes[self.bhv_id]
            bricks = state.bricks_of_volume(bhv.id)
            await vol.create_bricks(rt, bricks, bhv.gid)
            await rt.step_done(self.record, "bricks")
            await rt.executor.volume_create(
                vol.gluster_host(rt, bricks), vol.volume_request(state, bhv, bricks)
            )
            await rt.step_done(self.record, "volume")
        bv = state.blockvolumes[self.blockvolume_id]
        bhv = state.volumes[self.bhv_id]
        hosts = await choose_hosts(rt, bv.cluster_id, bv.hacount)
        host = await exec_host(rt, bv.cluster_id)
        info = await rt.executor.block_volume_create(
            host,
            BlockVolumeRequest(
                name=bv.name,
                size_gib=bv.size_gib,
                bhv_name=bhv.name,
                hosts=tuple(hosts),
                hacount=len(hosts),
                auth=bv.auth,
            ),
        )

        def store_info(tx: Transaction) -> None:
            # Persisted before finalize so a restart in "finalizing" still knows the target.
            target = tx.touch(bv)
            target.hosts = list(info.hosts or hosts)
            target.hacount = len(target.hosts)
            target.iqn = info.iqn
            target.username = info.username
            target.password = info.password
            target.usable_size_gib = info.usable_size_gib or bv.size_gib
            if self.record is not None:
                tx.touch(self.record).done_steps.append("block")

        await rt.apply(store_info)

    def finalize(self, tx: Transaction) -> str | None:
        state = self.rt.state
        bv = tx.touch(state.blockvolumes[self.blockvolume_id])
        bv.pending_op = ""
        if not bv.usable_size_gib:
            bv.usable_size_gib = bv.size_gib
        self.settle(tx, vol.volume_and_bricks(state, self.bhv_id) if self.bhv_created else [])
        return f"/blockvolumes/{bv.id}"

    # roll back ---------------------------------------------------------------------------------
    async def undo_steps(self) -> None:
        rt = self.rt
        state = rt.state
        bv = state.blockvolumes.get(self.blockvolume_id)
        bhv = state.volumes.get(self.bhv_id)
        if bv is not None and bhv is not None:
            try:
                host = await exec_host(rt, bv.cluster_id)
                await rt.executor.block_volume_destroy(host, bhv.name, bv.name)
            except Exception:
                # Destroying a BHV this operation created removes the block volume with it.
                if not self.bhv_created:
                    raise
        if self.bhv_created and bhv is not None:
            await vol.destroy_gluster_volume(rt, bhv)
            await vol.destroy_bricks(rt, state.bricks_of_volume(bhv.id), bhv.gid)

    def release(self, tx: Transaction) -> None:
        state = self.rt.state
        bv = state.blockvolumes.get(self.blockvolume_id)
        bhv = state.volumes.get(self.bhv_id)
        if bv is not None:
            if bhv is not None and not self.bhv_created:
                tx.touch(bhv).block_free_gib += bv.size_gib
            tx.delete(bv)
        if self.bhv_created and bhv is not None:
            vol.release_bricks(tx, state, state.bricks_of_volume(bhv.id))
            tx.delete(bhv)
        self.drop_record(tx)


# -- delete ---------------------------------------------------------------------------------------


class DeleteBlockVolume(Operation):
    type_name = "delete-block-volume"
    journal_fields = {"blockvolume_id": "blockvolume"}

    def __init__(self, rt: Runtime, blockvolume: BlockVolume) -> None:
        super().__init__(rt)
        self.blockvolume_id = blockvolume.id

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        bv = state.blockvolumes[self.blockvolume_id]
        if bv.pending_op or busy_with(state, bv.id):
            raise OperationFailed(f"{DELETE_PREFIX}: {TARGET_IN_USE}")
        self.record = self.rt.new_record(tx, self.type_name, blockvolume=bv.id)
        tx.touch(bv).pending_op = self.record.id
        self.record.changes = [{"change": "Delete block volume", "id": bv.id, "delta": 0}]

    async def execute(self) -> None:
        state = self.rt.state
        bv = state.blockvolumes[self.blockvolume_id]
        bhv = state.volumes.get(bv.bhv_id)
        if bhv is not None:
            host = await exec_host(self.rt, bv.cluster_id)
            await self.rt.executor.block_volume_destroy(host, bhv.name, bv.name)
        await self.rt.step_done(self.record, "block")

    def finalize(self, tx: Transaction) -> str | None:
        state = self.rt.state
        bv = state.blockvolumes.get(self.blockvolume_id)
        if bv is not None:
            bhv = state.volumes.get(bv.bhv_id)
            if bhv is not None:
                tx.touch(bhv).block_free_gib += bv.size_gib
            tx.delete(bv)
        self.drop_record(tx)
        return None

    async def undo_steps(self) -> None:
        """A failed gluster-block delete leaves the block volume in place, visible again; a
        retried delete finishes the job (gluster-block delete of a missing volume succeeds)."""

    def release(self, tx: Transaction) -> None:
        state = self.rt.state
        bv = state.blockvolumes.get(self.blockvolume_id)
        self.settle(tx, [bv] if bv is not None else [])


# -- expand ---------------------------------------------------------------------------------------


class ExpandBlockVolume(Operation):
    type_name = "expand-block-volume"

    def __init__(self, rt: Runtime, blockvolume: BlockVolume, new_size_gib: int) -> None:
        super().__init__(rt)
        self.blockvolume_id = blockvolume.id
        self.new_size_gib = new_size_gib
        self.delta_gib = 0

    def load(self, record: Any) -> None:
        self.blockvolume_id = record.data["blockvolume"]
        self.new_size_gib = int(record.data["new_size"])
        self.delta_gib = int(record.data["delta"])

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        bv = state.blockvolumes[self.blockvolume_id]
        bhv = state.volumes.get(bv.bhv_id)
        if bv.pending_op or busy_with(state, bv.id) or bhv is None or bhv.pending_op:
            raise OperationFailed(f"{EXPAND_PREFIX}: {TARGET_IN_USE}")
        new = self.new_size_gib
        if new < bv.size_gib:
            raise OperationFailed(
                f"{EXPAND_PREFIX}: Requested new-size {new} is less than current block volume "
                f"size {bv.size_gib}, shrinking is not allowed."
            )
        # Equal sizes are refused only when the usable size agrees (nothing left to finish).
        if new == bv.size_gib and bv.usable_size_gib == bv.size_gib:
            raise OperationFailed(
                f"{EXPAND_PREFIX}: Requested new-size {new} is same as current block volume "
                f"size {bv.size_gib}, nothing to be done."
            )
        self.delta_gib = new - bv.size_gib
        if self.delta_gib > bhv.block_free_gib:
            raise OperationFailed(f"{EXPAND_PREFIX}: No space")
        self.record = self.rt.new_record(
            tx, self.type_name, blockvolume=bv.id, new_size=new, delta=self.delta_gib
        )
        tx.touch(bhv).block_free_gib -= self.delta_gib
        self.record.changes = [
            {"change": "Expand block volume", "id": bv.id, "delta": self.delta_gib}
        ]

    async def execute(self) -> None:
        state = self.rt.state
        bv = state.blockvolumes[self.blockvolume_id]
        bhv = state.volumes[bv.bhv_id]
        host = await exec_host(self.rt, bv.cluster_id)
        await self.rt.executor.block_volume_expand(host, bhv.name, bv.name, self.new_size_gib)
        await self.rt.step_done(self.record, "block")

    def finalize(self, tx: Transaction) -> str | None:
        state = self.rt.state
        bv = tx.touch(state.blockvolumes[self.blockvolume_id])
        bv.size_gib = self.new_size_gib
        bv.usable_size_gib = self.new_size_gib
        self.drop_record(tx)
        return f"/blockvolumes/{bv.id}"

    def release(self, tx: Transaction) -> None:
        # Without a gluster-block info call the size on the node is unknown: the reserved delta
        # goes back to the BHV and the recorded size stays; a retried expand re-runs the
        # (idempotent) modify with the same target size.
        state = self.rt.state
        bv = state.blockvolumes.get(self.blockvolume_id)
        bhv = state.volumes.get(bv.bhv_id) if bv is not None else None
        if bhv is not None:
            tx.touch(bhv).block_free_gib += self.delta_gib
        self.drop_record(tx)


# -- the API's block volume commands: each returns the /queue id of the work it started -------
async def create_block_volume(rt: Runtime, spec: BlockVolumeSpec) -> str:
    vol.check_clusters(rt, spec.cluster_ids)
    return await rt.start(CreateBlockVolume(rt, spec))


async def delete_block_volume(rt: Runtime, blockvolume: BlockVolume) -> str:
    return await rt.start(DeleteBlockVolume(rt, blockvolume))


async def expand_block_volume(rt: Runtime, blockvolume: BlockVolume, new_size_gib: int) -> str:
    return await rt.start(ExpandBlockVolume(rt, blockvolume, new_size_gib))
