"""Brick eviction: replace one brick of a volume by a new one elsewhere (brick evict, and
the brick moves of device and node removal)."""

from __future__ import annotations

import contextlib

from heketipy.domain import placement as pl
from heketipy.domain.entities import BRICK_ARBITER, Brick, Device
from heketipy.domain.errors import TARGET_IN_USE, OperationFailed
from heketipy.domain.state import Transaction
from heketipy.executors.base import BrickAddress
from heketipy.operations import placement_view as pv
from heketipy.operations.replica_sets import ensure_verified, unverified_text
from heketipy.operations.runtime import Operation, Runtime, Unjournaled
from heketipy.operations.volumes import (
    brick_from_plan,
    brick_host,
    brick_request,
    debit,
    release_bricks,
)

EVICT_FAILED = "Failed to set up brick eviction"


class EvictBrick(Operation):
    """Create a replacement, ``replace-brick`` in gluster, then destroy the old brick."""

    type_name = "evict-brick"
    journal_fields = {"old_id": "old", "new_id": "new"}

    def __init__(self, rt: Runtime, brick: Brick, prefix: str = EVICT_FAILED):
        super().__init__(rt)
        self.old_id = brick.id
        self.new_id = ""
        self.prefix = prefix

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        old = state.bricks[self.old_id]
        volume = state.volumes[old.volume_id]
        siblings = state.bricks_of_volume(volume.id)
        if volume.pending_op or any(b.pending_op for b in siblings):
            raise OperationFailed(f"{self.prefix}: {TARGET_IN_USE}")
        if not volume.sets_verified:  # ``evict`` reads them first; never plan from a guess
            raise OperationFailed(f"{self.prefix}: {unverified_text(volume, 'not read yet')}")
        set_bricks = [b for b in siblings if b.set_index == old.set_index]

        def placed(b: Brick) -> pl.PlacedBrick:
            return pl.PlacedBrick(
                node_id=b.node_id,
                device_id=b.device_id,
                zone=state.nodes[b.node_id].zone,
                size_kib=b.size_kib,
                position=b.position,
                arbiter=b.subtype == BRICK_ARBITER,
            )

        policy = pv.policy_for(self.rt.settings, volume.options, volume.snapshot_factor)
        try:
            plan = pl.replacement_brick(
                placed(old),
                [placed(b) for b in set_bricks],
                pv.shape_for(volume),
                policy,
                pv.node_views(state, volume.cluster_id, self.rt.down_nodes),
                set_index=old.set_index,
            )
        except pl.PlacementError as error:
            raise OperationFailed(str(error)) from error
        self.record = self.rt.new_record(tx, self.type_name, old=old.id)
        # The placement sized and positioned the replacement like the old brick.
        new = brick_from_plan(
            volume.id, plan, self.record.id, set_index=old.set_index, subtype=old.subtype
        )
        self.new_id = new.id
        self.record.data["new"] = new.id
        tx.add(new)
        debit(tx, state, [new])
        tx.touch(old).pending_op = self.record.id
        self.record.changes = [
            {"change": "Add brick", "id": new.id, "delta": 0},
            {"change": "Delete brick", "id": old.id, "delta": 0},
        ]

    async def execute(self) -> None:
        state = self.rt.state
        old = state.bricks[self.old_id]
        new = state.bricks[self.new_id]
        volume = state.volumes[old.volume_id]
        await self.rt.executor.brick_create(
            brick_host(state, new), brick_request(state, new, volume.gid)
        )
        await self.rt.step_done(self.record, "new-brick")
        await self.rt.executor.volume_replace_brick(
            brick_host(state, new),
            volume.name,
            BrickAddress(state.nodes[old.node_id].storage_host, old.path),
            BrickAddress(state.nodes[new.node_id].storage_host, new.path),
        )
        await self.rt.step_done(self.record, "replaced")
        assert self.record is not None  # plan() journals the replacement before execute()
        await self.rt.set_phase(self.record, "finalizing")  # gluster now uses the new brick
        # The old device may be gone (that is often why it is evicted): forget it anyway.
        with contextlib.suppress(Exception):
            await self.rt.executor.brick_destroy(
                brick_host(state, old), brick_request(state, old, volume.gid)
            )

    def finalize(self, tx: Transaction) -> str | None:
        self._keep_one(tx, drop=self.old_id, keep=self.new_id)
        return None

    async def recovery_direction(self) -> str:
        """Forward when gluster already uses the replacement brick."""
        state = self.rt.state
        new = state.bricks.get(self.new_id)
        if new is None or new.volume_id not in state.volumes:
            return "back"
        volume = state.volumes[new.volume_id]
        try:
            info = await self.rt.executor.volume_info(brick_host(state, new), volume.name)
        except Exception:  # noqa: BLE001 - no answer: undoing is the safe default
            return "back"
        address = (state.nodes[new.node_id].storage_host, new.path)
        return "forward" if address in {(b.host, b.path) for b in info.bricks} else "back"

    async def complete(self) -> None:
        state = self.rt.state
        old = state.bricks.get(self.old_id)
        if old is not None and old.node_id in state.nodes:
            volume = state.volumes[old.volume_id]
            with contextlib.suppress(Exception):
                await self.rt.executor.brick_destroy(
                    brick_host(state, old), brick_request(state, old, volume.gid)
                )

    async def undo_steps(self) -> None:
        state = self.rt.state
        new = state.bricks.get(self.new_id)
        if new is not None:
            volume = state.volumes[new.volume_id]
            await self.rt.executor.brick_destroy(
                brick_host(state, new), brick_request(state, new, volume.gid)
            )

    def release(self, tx: Transaction) -> None:
        self._keep_one(tx, drop=self.new_id, keep=self.old_id)

    def _keep_one(self, tx: Transaction, drop: str, keep: str) -> None:
        """Finalize keeps the new brick, release the old one: the other brick's space returns."""
        state = self.rt.state
        if drop in state.bricks:
            release_bricks(tx, state, [state.bricks[drop]])
        self.settle(tx, [state.bricks[keep]] if keep in state.bricks else [])


async def evict(rt: Runtime, brick: Brick, prefix: str = EVICT_FAILED) -> None:
    """Move ``brick`` elsewhere now, inside the job that asked (device and node removal move
    their bricks one after the other, each one planned only when the previous one is done).

    The replacement is planned from the volume's sets as Gluster has them: an imported
    volume's are read (and recorded) first, or the eviction is refused."""
    await ensure_verified(rt, rt.state.volumes[brick.volume_id], prefix)
    op = EvictBrick(rt, brick, prefix)
    await rt.apply(op.plan)
    await rt.execute(op)


async def evict_brick(rt: Runtime, brick: Brick) -> str:
    """``POST /bricks/to-evict/{id}``: as Heketi, the eviction is planned in the background,
    so even a brick that cannot move is accepted and the /queue answer says why."""

    async def work() -> None:
        await evict(rt, brick)
        return None

    return await rt.start(Unjournaled("evict-brick", work, throttled=True))


async def remove_device_bricks(rt: Runtime, device: Device, *, node_removal: bool) -> None:
    """Move every brick off ``device``, one at a time; stop at the first failure."""
    for brick_id in rt.state.brick_ids_of_device(device.id):
        brick = rt.state.bricks.get(brick_id)
        if brick is None:
            continue
        # Outside the "no device was found" wording below: that is not why it failed.
        await ensure_verified(rt, rt.state.volumes[brick.volume_id], EVICT_FAILED)
        try:
            await evict(rt, brick)
        except OperationFailed as exc:
            if node_removal:
                raise OperationFailed(
                    f"Unable to remove node [{device.node_id}] as no device was found to "
                    f"replace device [{device.id}]"
                ) from exc
            raise OperationFailed(
                f"Unable to delete device [{device.id}] as no device was found to replace it: "
                f"{exc.text}"
            ) from exc
