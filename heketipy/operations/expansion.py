"""Volume expansion in place (issue 14 item 2): grow every brick instead of adding a set.

``heketipy.volume_expansion`` chooses how ``POST /volumes/{id}/expand`` grows a volume:
``add-brick`` (Heketi's behaviour: ``volumes.ExpandVolume``), ``in-place`` (``ExpandInPlace``
here; "No space" when a device lacks room) or ``auto`` (in place when every device has room,
else add-brick). No distribute set is added and no rebalance runs, so a single file can grow
past the old brick size.

The journaled steps, and why each ends consistent:

1. plan (one transaction): the grown sizes (``domain.expansion``), each brick's new thin-pool and
   metadata sizes recorded on the brick and their difference debited from its device; every brick
   is marked pending (drift leaves it alone). The journal keeps the old and new sizes.
2. ``extended``: on every brick, in parallel, ``lvextend`` of the pool's data, of its metadata and
   of the thin LV, each only where the node has less (absolute sizes: a replay is a no-op).
3. step ``extended`` (then phase ``finalizing``) is journaled *before* the first ``xfs_growfs``:
   from then on the operation only goes forward (XFS cannot shrink, so a thin LV under a grown filesystem must never be
   reduced); a failure leaves it marked failed and recovery (a restart, or ``/operations``
   cleanup) re-runs the idempotent steps and finishes it.
4. ``grown``: ``xfs_growfs -d`` on every brick's mount, in parallel.
5. finalize: the bricks take their new size, the volume its new size (a block-hosting volume's
   free and reserved space as add-brick splits them).

Rolling back (a failure, or a crash, before step 3): each thin LV is reduced back to its old
size (safe: no filesystem grew). A thin pool cannot be reduced (LVM refuses), so the database
records each pool's data and metadata sizes as the node reports them: a pool that grew stays
charged to its device, exactly what the VG shows, and a later expansion reuses it.
"""

from __future__ import annotations

import logging
from typing import Any

from heketipy.domain import expansion as ex
from heketipy.domain import placement as pl
from heketipy.domain.entities import BRICK_ARBITER, Brick, Volume
from heketipy.domain.errors import OperationFailed
from heketipy.domain.state import State, Transaction
from heketipy.executors.base import BrickRequest
from heketipy.operations import placement_view as pv
from heketipy.operations.runtime import Operation, Runtime
from heketipy.operations.volumes import (
    EXPAND_FAILED,
    ExpandVolume,
    add_volume_size,
    brick_host,
    brick_request,
    idle_bricks,
)

log = logging.getLogger(__name__)


def own_pool(state: State, brick: Brick) -> bool:
    """Whether ``brick`` is alone in a thin pool heketipy made for it (a clone's brick, or a
    source sharing its pool with a clone, is not grown in place)."""
    if brick.served_path or brick.charge_kib <= 0:
        return False
    return not any(
        other != brick.id and state.bricks[other].tp_name == brick.tp_name
        for other in state.brick_ids_of_device(brick.device_id)
    )


def plan_in_place(rt: Runtime, volume: Volume, expand_gib: int) -> list[ex.BrickGrowth]:
    """The growth of every brick of ``volume``; ``pl.NoSpaceError`` when in place is not
    possible (a device without room or offline, a brick above the maximum, a shared pool)."""
    state = rt.state
    bricks = state.bricks_of_volume(volume.id)
    shared = [b.id for b in bricks if not own_pool(state, b)]
    if shared:
        raise pl.NoSpaceError(
            f"bricks {', '.join(shared)} share a thin pool with a clone or snapshot",
            summary="in-place expansion needs every brick alone in its thin pool.",
        )
    devices = {}
    for view in pv.node_views(state, volume.cluster_id, rt.down_nodes):
        for device in view.devices:
            devices[device.id] = ex.DeviceRoom(
                device.id, device.free_kib, device.extent_kib, view.online and device.online
            )
    now = {
        b.id: pl.BrickPlan(
            node_id=b.node_id, device_id=b.device_id, size_kib=b.size_kib,
            tp_size_kib=b.tp_size_kib, pool_metadata_kib=b.pool_metadata_kib,
            arbiter=b.subtype == BRICK_ARBITER, set_index=b.set_index, position=b.position,
        )
        for b in bricks
    }  # fmt: skip
    policy = pv.policy_for(rt.settings, volume.options, volume.snapshot_factor)
    return ex.plan_growth(now, devices, volume.size_gib, expand_gib, policy)


def _sized(request: BrickRequest, sizes: list[int]) -> BrickRequest:
    size, tp, metadata = sizes
    return BrickRequest(**{
        **request.__dict__, "size_kib": size, "tp_size_kib": tp, "pool_metadata_kib": metadata,
    })


class ExpandInPlace(Operation):
    """Grow every brick of a volume by lvextend + xfs_growfs; see the module docstring."""

    type_name = "expand-volume-in-place"
    journal_fields = {
        "volume_id": "volume", "expand_gib": "delta", "targets": "grow", "previous": "was",
    }  # fmt: skip

    def __init__(self, rt: Runtime, volume: Volume, expand_gib: int) -> None:
        super().__init__(rt)
        self.volume_id = volume.id
        self.expand_gib = expand_gib
        self.targets: dict[str, list[int]] = {}  # brick id -> [size, thin pool, metadata]
        self.previous: dict[str, list[int]] = {}
        self.observed: dict[str, tuple[int, int]] = {}  # pool sizes the rollback read back

    def load(self, record: Any) -> None:
        super().load(record)
        self.observed = {}

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        volume = state.volumes[self.volume_id]
        bricks = idle_bricks(state, volume, EXPAND_FAILED)
        try:
            growth = plan_in_place(self.rt, volume, self.expand_gib)
        except pl.PlacementError as error:
            raise pv.allocation_failed(EXPAND_FAILED, error) from error
        self.previous = {
            b.id: [b.size_kib, b.tp_size_kib, b.pool_metadata_kib] for b in bricks
        }
        self.targets = {g.brick_id: g.sizes() for g in growth}
        self.record = self.rt.new_record(
            tx, self.type_name, volume=volume.id, delta=self.expand_gib,
            grow=self.targets, was=self.previous,
        )  # fmt: skip
        for brick in bricks:
            touched = tx.touch(brick)
            touched.pending_op = self.record.id
            _, touched.tp_size_kib, touched.pool_metadata_kib = self.targets[brick.id]
        for g in growth:
            device = tx.touch(state.devices[g.device_id])
            device.free_kib -= g.charge_delta_kib
            device.used_kib += g.charge_delta_kib
        self.record.changes = [
            {"change": "Expand volume", "id": volume.id, "delta": self.expand_gib}
        ]

    def _bricks(self) -> list[Brick]:
        return [self.rt.state.bricks[b] for b in self.targets if b in self.rt.state.bricks]

    def _request(self, brick: Brick, sizes: list[int]) -> BrickRequest:
        volume = self.rt.state.volumes[self.volume_id]
        return _sized(brick_request(self.rt.state, brick, volume.gid), sizes)

    async def execute(self) -> None:
        rt = self.rt
        bricks = self._bricks()
        await rt.gather_steps([
            rt.executor.brick_extend(brick_host(rt.state, b), self._request(b, self.targets[b.id]))
            for b in bricks
        ])  # fmt: skip
        await rt.step_done(self.record, "extended")
        assert self.record is not None  # plan() journals the growth before execute()
        await rt.set_phase(self.record, "finalizing")  # from here on: forward only
        await self._grow_filesystems()

    async def _grow_filesystems(self) -> None:
        rt = self.rt
        await rt.gather_steps([
            rt.executor.brick_grow_filesystem(
                brick_host(rt.state, b), self._request(b, self.targets[b.id])
            )
            for b in self._bricks()
        ])  # fmt: skip
        await rt.step_done(self.record, "grown")

    async def complete(self) -> None:
        """Recovered forward (phase ``finalizing``): extend (a no-op where done) and grow."""
        rt = self.rt
        await rt.gather_steps([
            rt.executor.brick_extend(brick_host(rt.state, b), self._request(b, self.targets[b.id]))
            for b in self._bricks()
        ])  # fmt: skip
        await self._grow_filesystems()

    def finalize(self, tx: Transaction) -> str | None:
        state = self.rt.state
        for brick in self._bricks():
            tx.touch(brick).size_kib = self.targets[brick.id][0]
        volume = state.volumes[self.volume_id]
        add_volume_size(tx, volume, self.expand_gib)
        self.settle(tx, self._bricks())
        return f"/volumes/{volume.id}"

    def _forward_only(self) -> bool:
        """Every LV is extended (journaled before the first ``xfs_growfs``): a filesystem may
        have grown, so nothing may shrink any more."""
        return self.record is not None and "extended" in self.record.done_steps

    async def recovery_direction(self) -> str:
        return "forward" if self._forward_only() else "back"

    async def undo_steps(self) -> None:
        if self._forward_only():
            # The runtime marked the phase "rolling-back" already: the journal's steps decide.
            raise OperationFailed(
                f"{EXPAND_FAILED}: the bricks of volume {self.volume_id} are partly grown; "
                "the expansion is completed by recovery (restart or operations cleanup)"
            )
        rt = self.rt
        bricks = self._bricks()
        pools = await rt.gather_steps([
            rt.executor.brick_extend_undo(
                brick_host(rt.state, b), self._request(b, self.previous[b.id])
            )
            for b in bricks
        ])  # fmt: skip
        self.observed = {b.id: pool for b, pool in zip(bricks, pools, strict=True)}

    def release(self, tx: Transaction) -> None:
        """The bricks keep their size; each pool is charged what the node holds (a grown pool
        cannot shrink), and its device the difference from the planned charge."""
        state = self.rt.state
        for brick in self._bricks():
            _, old_tp, old_metadata = self.previous[brick.id]
            tp, metadata = self.observed.get(brick.id, (old_tp, old_metadata))
            difference = tp + metadata - brick.charge_kib
            touched = tx.touch(brick)
            touched.tp_size_kib, touched.pool_metadata_kib = tp, metadata
            device = state.devices.get(brick.device_id)
            if device is not None and difference:
                device = tx.touch(device)
                device.free_kib -= difference
                device.used_kib += difference
        self.settle(tx, self._bricks())


async def expand(rt: Runtime, volume: Volume, expand_gib: int) -> str:
    """Start the expansion ``heketipy.volume_expansion`` asks for; the /queue id."""
    mode = rt.settings.heketipy.volume_expansion
    if mode == "add-brick":
        return await rt.start(ExpandVolume(rt, volume, expand_gib))
    try:
        return await rt.start(ExpandInPlace(rt, volume, expand_gib))
    except OperationFailed as error:
        if mode != "auto" or not error.text.startswith(f"{EXPAND_FAILED}: No space"):
            raise
        log.info("volume %s: no room to grow in place (%s); adding a set", volume.id, error.text)
    return await rt.start(ExpandVolume(rt, volume, expand_gib))
