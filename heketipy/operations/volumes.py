"""Volume operations: create, delete, expand, clone (journaled, rolled back on failure) and
the block-hosting restriction; the API's volume commands are the functions at the end."""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from heketipy.domain import placement as pl
from heketipy.domain.entities import (
    BRICK_ARBITER,
    BRICK_NORMAL,
    Brick,
    Volume,
    gluster_layout_uuid,
    new_id,
)
from heketipy.domain.errors import TARGET_IN_USE, Conflict, InvalidRequest, OperationFailed
from heketipy.domain.state import State, Transaction
from heketipy.domain.tags import arbiter_requested
from heketipy.domain.units import KIB_PER_GIB, bhv_reserved_gib, bhv_usable_gib
from heketipy.executors.base import (
    BrickAddress,
    BrickRequest,
    GlusterVolume,
    VolumeDoesNotExist,
    VolumeRequest,
)
from heketipy.operations import named_creates
from heketipy.operations import placement_view as pv
from heketipy.operations.replica_sets import ensure_verified
from heketipy.operations.runtime import Operation, Runtime, Unjournaled

log = logging.getLogger(__name__)

HEKETI_DB_VOLUME = "heketidbstorage"


def split_options(value: str) -> list[str]:
    """Go's strings.Split(value, ","): an empty string gives one empty element."""
    return value.split(",")


def volume_and_bricks(state: State, volume_id: str) -> list[Volume | Brick]:
    """The volume and its bricks (none if the volume is gone): what its operations settle."""
    volume = state.volumes.get(volume_id)
    return [] if volume is None else [volume, *state.bricks_of_volume(volume_id)]


def brick_request(state: State, brick: Brick, gid: int) -> BrickRequest:
    device = state.devices.get(brick.device_id)
    return BrickRequest(
        device_id=brick.device_id,
        brick_id=brick.id,
        tp_name=brick.tp_name,
        lv_name=brick.lv_name,
        tp_size_kib=brick.tp_size_kib,
        size_kib=brick.size_kib,
        pool_metadata_kib=brick.pool_metadata_kib,
        gid=gid,
        arbiter=brick.subtype == BRICK_ARBITER,
        device_name=device.name if device else "",
        mount_dir=brick.mount_path if brick.served_path else "",
    )


def brick_host(state: State, brick: Brick) -> str:
    return state.nodes[brick.node_id].manage_host


def volume_request(state: State, volume: Volume, bricks: list[Brick]) -> VolumeRequest:
    return VolumeRequest(
        name=volume.name,
        bricks=tuple(
            BrickAddress(state.nodes[b.node_id].storage_host, b.path) for b in bricks
        ),
        durability=volume.durability,  # type: ignore[arg-type]
        replica=volume.replica,
        data=volume.data,
        redundancy=volume.redundancy,
        arbiter=volume.arbiter and volume.durability == "replicate" and volume.replica == 3,
        options=tuple(o for o in volume.options if o.strip())
        + (f"user.heketi.id {volume.id}",),
    )


def debit(tx: Transaction, state: State, bricks: list[Brick]) -> None:
    for brick in bricks:
        device = tx.touch(state.devices[brick.device_id])
        device.free_kib -= brick.charge_kib
        device.used_kib += brick.charge_kib


def pool_heir(state: State, brick: Brick, leaving: set[str]) -> Brick | None:
    """A brick staying on the device that lives in ``brick``'s thin pool (a clone's, or the
    source's), or None when ``brick`` is the pool's last user."""
    for other_id in state.brick_ids_of_device(brick.device_id):
        other = state.bricks[other_id]
        if other.id not in leaving and other.tp_name == brick.tp_name:
            return other
    return None


def release_bricks(tx: Transaction, state: State, bricks: list[Brick]) -> None:
    """Delete brick records and give their space back to the devices.

    A thin pool is charged once, to one of the bricks living in it. The node removes the pool
    only with its last thin LV, so while another brick (a clone's snapshot, or the source of a
    clone) still uses it, the charge passes to that brick instead of returning to the device.
    """
    leaving = {brick.id for brick in bricks}
    for brick in bricks:
        heir = pool_heir(state, brick, leaving) if brick.charge_kib else None
        if heir is not None:
            tx.touch(heir)
            heir.tp_size_kib += brick.tp_size_kib
            heir.pool_metadata_kib += brick.pool_metadata_kib
            tx.delete(brick)
            continue
        device = state.devices.get(brick.device_id)
        if device is not None:
            tx.touch(device)
            # A resync may have replaced the accounting with what the node reported; never
            # credit beyond the device's size.
            device.used_kib = max(0, device.used_kib - brick.charge_kib)
            device.free_kib = min(device.total_kib - device.used_kib,
                                  device.free_kib + brick.charge_kib)
        tx.delete(brick)


def bricks_from_plan(
    volume_id: str, allocation: pl.Allocation, op_id: str, first_set: int = 0
) -> list[Brick]:
    return [
        brick_from_plan(
            volume_id, plan, op_id,
            set_index=first_set + plan.set_index,
            subtype=BRICK_ARBITER if plan.arbiter else BRICK_NORMAL,
        )
        for plan in allocation.bricks
    ]


def brick_from_plan(
    volume_id: str, plan: pl.BrickPlan, op_id: str, *, set_index: int, subtype: int
) -> Brick:
    """A new brick record where the placement put it, pending until ``op_id`` finishes."""
    return Brick(
        id=new_id(),
        volume_id=volume_id,
        device_id=plan.device_id,
        node_id=plan.node_id,
        size_kib=plan.size_kib,
        tp_size_kib=plan.tp_size_kib,
        pool_metadata_kib=plan.pool_metadata_kib,
        subtype=subtype,
        pending_op=op_id,
        set_index=set_index,
        position=plan.position,
        tp_id=new_id(),
    )


async def create_bricks(rt: Runtime, bricks: list[Brick], gid: int) -> None:
    await rt.gather_steps(
        [
            rt.executor.brick_create(brick_host(rt.state, b), brick_request(rt.state, b, gid))
            for b in bricks
        ]
    )


async def destroy_bricks(rt: Runtime, bricks: list[Brick], gid: int) -> None:
    await rt.gather_steps(
        [
            rt.executor.brick_destroy(brick_host(rt.state, b), brick_request(rt.state, b, gid))
            for b in bricks
            if b.node_id in rt.state.nodes
        ]
    )


async def destroy_gluster_volume(rt: Runtime, volume: Volume) -> None:
    """Stop and delete the gluster volume, trying each online node of the cluster in turn, the
    volume's brick hosts first. Only a brick host's "does not exist" ends it: a node that
    rejoined its pool while the volume was made does not know the volume until glusterd's
    handshake syncs it, and believing it would destroy the bricks of a running volume."""
    brick_nodes = {b.node_id for b in rt.state.bricks_of_volume(volume.id)}
    online = [n for n in rt.state.node_ids(volume.cluster_id)
              if rt.state.nodes[n].state == "online"]
    last_error: Exception | None = None
    for node_id in sorted(online, key=lambda n: n not in brick_nodes):  # stable: brick hosts first
        try:
            await rt.executor.volume_destroy(rt.state.nodes[node_id].manage_host, volume.name)
            return
        except VolumeDoesNotExist:
            if node_id in brick_nodes or not brick_nodes:
                return
        except Exception as exc:  # noqa: BLE001 - try the next node
            last_error = exc
    if last_error is not None:
        raise last_error


def gluster_host(rt: Runtime, bricks: list[Brick]) -> str:
    return brick_host(rt.state, bricks[0])


async def bricks_then_gluster(
    op: Operation,
    volume: Volume,
    bricks: list[Brick],
    gluster_call: Callable[[str, VolumeRequest], Awaitable[None]],
) -> None:
    """Create ``bricks`` in parallel, then hand them to gluster (create or add-brick); each
    stage is journaled."""
    rt = op.rt
    await create_bricks(rt, bricks, volume.gid)
    await rt.step_done(op.record, "bricks")
    if bricks:
        await gluster_call(gluster_host(rt, bricks), volume_request(rt.state, volume, bricks))
    await rt.step_done(op.record, "volume")


@dataclass
class VolumeSpec:
    """A validated create request, in domain terms."""

    size_gib: int
    name: str
    cluster_ids: list[str]
    durability_echo: dict[str, Any]
    durability: str
    replica: int
    data: int
    redundancy: int
    gid: int
    request_options: list[str]
    block: bool
    snapshot_enable: bool
    snapshot_factor: float
    extra: dict[str, Any] = field(default_factory=dict)


class CreateVolume(Operation):
    type_name = "create-volume"
    journal_fields = {"volume_id": "volume"}

    def __init__(self, rt: Runtime, spec: VolumeSpec) -> None:
        super().__init__(rt)
        self.spec = spec
        self.volume_id = new_id()

    def attempts(self) -> int:
        return int(self.rt.settings.glusterfs.volume_create_attempts)

    def build_volume(self) -> Volume:
        spec = self.spec
        settings = self.rt.settings.glusterfs
        options = split_options(settings.pre_request_volume_options or "")
        if spec.block:
            options += split_options(settings.block_hosting_volume_options or "")
        options += list(spec.request_options)
        options += split_options(settings.post_request_volume_options or "")
        arbiter = arbiter_requested(options)
        volume = Volume(
            id=self.volume_id,
            name=spec.name or f"vol_{self.volume_id}",
            cluster_id="",
            size_gib=spec.size_gib,
            durability_echo=spec.durability_echo,
            durability=spec.durability,
            replica=spec.replica,
            data=spec.data,
            redundancy=spec.redundancy,
            arbiter=arbiter and spec.durability == "replicate",
            gid=spec.gid,
            options=options,
            block=spec.block,
            snapshot_enable=spec.snapshot_enable,
            snapshot_factor=spec.snapshot_factor if spec.snapshot_enable else 1.0,
        )
        if spec.block:
            volume.block_free_gib = bhv_usable_gib(spec.size_gib)
            volume.block_reserved_gib = bhv_reserved_gib(spec.size_gib)
        return volume

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        volume = self.build_volume()
        cluster_ids = self.spec.cluster_ids or sorted(state.clusters)
        request = pl.ClusterRequest(
            kind="block" if volume.block else "file",
            name=volume.name,
            max_volumes_per_cluster=self.rt.settings.glusterfs.max_volumes_per_cluster,
            cluster_ids=tuple(cluster_ids),
        )
        policy = pv.policy_for(self.rt.settings, volume.options, volume.snapshot_factor)
        try:
            views = pv.cluster_views(state, cluster_ids, self.rt.down_nodes)
            candidates = pl.select_clusters(views, request)
            placed = pl.allocate_in_clusters(
                candidates, volume.size_gib, pv.shape_for(volume), policy
            )
        except pl.PlacementError as error:
            raise pv.allocation_failed("Failed to allocate new volume", error) from error
        self.record = self.rt.new_record(tx, self.type_name, volume=volume.id)
        volume.cluster_id = placed.cluster_id
        volume.pending_op = self.record.id
        state.volume_seq += 1
        volume.created_seq = state.volume_seq
        bricks = bricks_from_plan(volume.id, placed.allocation, self.record.id)
        tx.add(volume)
        for brick in bricks:
            tx.add(brick)
        debit(tx, state, bricks)
        self.record.changes = [
            {"change": "Add brick", "id": b.id, "delta": 0} for b in bricks
        ] + [{"change": "Add volume", "id": volume.id, "delta": 0}]

    @property
    def volume(self) -> Volume:
        return self.rt.state.volumes[self.volume_id]

    async def execute(self) -> None:
        volume = self.volume
        bricks = self.rt.state.bricks_of_volume(volume.id)
        await bricks_then_gluster(self, volume, bricks, self.rt.executor.volume_create)

    def finalize(self, tx: Transaction) -> str | None:
        self.settle(tx, volume_and_bricks(self.rt.state, self.volume_id))
        return f"/volumes/{self.volume_id}"

    def ended(self, location: str | None, error: BaseException | None) -> None:
        if self.spec.name:
            named_creates.create_ended(self.rt, self.volume_id, self.spec.name, location, error)

    async def undo_steps(self) -> None:
        volume = self.rt.state.volumes.get(self.volume_id)
        if volume is None:
            return
        await destroy_gluster_volume(self.rt, volume)
        await destroy_bricks(self.rt, self.rt.state.bricks_of_volume(volume.id), volume.gid)

    def release(self, tx: Transaction) -> None:
        volume = self.rt.state.volumes.get(self.volume_id)
        if volume is not None:
            release_bricks(tx, self.rt.state, self.rt.state.bricks_of_volume(volume.id))
            tx.delete(volume)
        self.drop_record(tx)


def idle_bricks(state: State, volume: Volume, prefix: str) -> list[Brick]:
    """The volume's bricks; ``prefix: <target in use>`` while an operation holds the volume or
    one of them."""
    bricks = state.bricks_of_volume(volume.id)
    if volume.pending_op or any(b.pending_op for b in bricks):
        raise OperationFailed(f"{prefix}: {TARGET_IN_USE}")
    return bricks


def check_deletable(state: State, volume: Volume) -> None:
    if volume.name == HEKETI_DB_VOLUME:
        raise Conflict("Cannot delete volume containing the Heketi database")
    if state.bhv_blockvolumes.get(volume.id):
        raise Conflict("Cannot delete a block hosting volume containing block volumes")


class DeleteVolume(Operation):
    type_name = "delete-volume"
    journal_fields = {"volume_id": "volume"}

    def __init__(self, rt: Runtime, volume: Volume) -> None:
        super().__init__(rt)
        self.volume_id = volume.id

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        volume = state.volumes[self.volume_id]
        bricks = idle_bricks(state, volume, "Failed to set up volume delete")
        self.record = self.rt.new_record(tx, self.type_name, volume=volume.id)
        tx.touch(volume).pending_op = self.record.id
        for brick in bricks:
            tx.touch(brick).pending_op = self.record.id
        self.record.changes = [
            {"change": "Delete brick", "id": b.id, "delta": 0} for b in bricks
        ] + [{"change": "Delete volume", "id": volume.id, "delta": 0}]

    async def execute(self) -> None:
        volume = self.rt.state.volumes[self.volume_id]
        await destroy_gluster_volume(self.rt, volume)
        await self.rt.step_done(self.record, "volume")
        await destroy_bricks(self.rt, self.rt.state.bricks_of_volume(volume.id), volume.gid)
        await self.rt.step_done(self.record, "bricks")

    def finalize(self, tx: Transaction) -> str | None:
        volume = self.rt.state.volumes.get(self.volume_id)
        if volume is not None:
            release_bricks(tx, self.rt.state, self.rt.state.bricks_of_volume(volume.id))
            tx.delete(volume)
        self.drop_record(tx)
        return None

    async def recovery_direction(self) -> str:
        # The client was told the delete is under way: finish it rather than resurrect a
        # volume whose gluster side may already be gone.
        return "forward"

    async def complete(self) -> None:
        await self.execute()

    async def undo_steps(self) -> None:
        """A delete that failed half-way cannot be undone on the nodes; the volume stays,
        visible again, and a retried delete finishes the job (every step is idempotent)."""

    def release(self, tx: Transaction) -> None:
        self.settle(tx, volume_and_bricks(self.rt.state, self.volume_id))


EXPAND_FAILED = "Failed to allocate volume expansion"


def add_volume_size(tx: Transaction, volume: Volume, expand_gib: int) -> None:
    """The volume grows by ``expand_gib``; a block-hosting volume's new space is split between
    free and reserved as at create (98 % / 2 %)."""
    volume = tx.touch(volume)
    volume.size_gib += expand_gib
    if volume.block:
        added_free = bhv_usable_gib(expand_gib)
        volume.block_free_gib += added_free
        volume.block_reserved_gib += expand_gib - added_free


class ExpandVolume(Operation):
    type_name = "expand-volume"
    journal_fields = {"volume_id": "volume", "expand_gib": "delta"}

    def __init__(self, rt: Runtime, volume: Volume, expand_gib: int) -> None:
        super().__init__(rt)
        self.volume_id = volume.id
        self.expand_gib = expand_gib

    def new_bricks(self) -> list[Brick]:
        if self.record is None:
            return []
        return [
            b for b in self.rt.state.bricks_of_volume(self.volume_id)
            if b.pending_op == self.record.id
        ]

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        volume = state.volumes[self.volume_id]
        prefix = EXPAND_FAILED
        existing = idle_bricks(state, volume, prefix)
        policy = pv.policy_for(self.rt.settings, volume.options, volume.snapshot_factor)
        try:
            allocation = pl.allocate_volume(
                self.expand_gib,
                pv.shape_for(volume),
                policy,
                pv.node_views(state, volume.cluster_id, self.rt.down_nodes),
                existing_bricks=len(existing),
                halving="expand",
            )
        except pl.PlacementError as error:
            raise pv.allocation_failed(prefix, error) from error
        self.record = self.rt.new_record(
            tx, self.type_name, volume=volume.id, delta=self.expand_gib
        )
        first_set = (max((b.set_index for b in existing), default=-1)) + 1
        bricks = bricks_from_plan(volume.id, allocation, self.record.id, first_set)
        for brick in bricks:
            tx.add(brick)
        debit(tx, state, bricks)
        self.record.changes = [
            {"change": "Add brick", "id": b.id, "delta": 0} for b in bricks
        ] + [{"change": "Expand volume", "id": volume.id, "delta": self.expand_gib}]

    async def execute(self) -> None:
        volume = self.rt.state.volumes[self.volume_id]
        await bricks_then_gluster(
            self, volume, self.new_bricks(), self.rt.executor.volume_expand
        )

    def finalize(self, tx: Transaction) -> str | None:
        volume = self.rt.state.volumes[self.volume_id]
        add_volume_size(tx, volume, self.expand_gib)
        self.settle(tx, self.new_bricks())
        return f"/volumes/{volume.id}"

    async def recovery_direction(self) -> str:
        """Forward when gluster already serves the new bricks (add-brick happened)."""
        volume = self.rt.state.volumes.get(self.volume_id)
        bricks = self.new_bricks()
        if volume is None or not bricks:
            return "back"
        try:
            info = await self.rt.executor.volume_info(gluster_host(self.rt, bricks), volume.name)
        except Exception:  # noqa: BLE001 - no answer: undoing is the safe default
            return "back"
        served = {(b.host, b.path) for b in info.bricks}
        storage = self.rt.state.nodes
        wanted = {(storage[b.node_id].storage_host, b.path) for b in bricks}
        return "forward" if wanted <= served else "back"

    async def undo_steps(self) -> None:
        volume = self.rt.state.volumes.get(self.volume_id)
        if volume is not None:
            await destroy_bricks(self.rt, self.new_bricks(), volume.gid)

    def release(self, tx: Transaction) -> None:
        release_bricks(tx, self.rt.state, self.new_bricks())
        self.drop_record(tx)


_BRICK_IN_LAYOUT = re.compile(r"/vg_([0-9a-f]{32})/brick_([0-9a-f]{32})/brick$")


@dataclass(frozen=True)
class CloneBrick:
    """What gluster made for one planned clone brick: its id, and for gluster's layout its
    path and LV (empty for heketipy's layout, where the id names both)."""

    id: str
    served_path: str = ""
    lv: str = ""


def clone_brick_layout(planned: list[Brick], info: GlusterVolume) -> list[CloneBrick] | None:
    """The bricks gluster made for a clone, in the order of ``planned`` (brick *i* of the
    source maps to brick *i* of the clone), read from their paths: heketipy's layout
    (``/vg_<device>/brick_<id>/brick``) gives the id; gluster's (``/run/gluster/snaps/...``)
    gives path and LV and the planned id stays. None when the paths follow neither layout or do
    not line up with the planned devices."""
    if len(info.bricks) != len(planned):
        return None
    layout = []
    on_node: dict[str, int] = {}  # gluster numbers a clone's LVs per node
    for brick, served in zip(planned, info.bricks, strict=True):
        match = _BRICK_IN_LAYOUT.search(served.path)
        if match is not None and match.group(1) == brick.device_id:
            layout.append(CloneBrick(match.group(2)))
            continue
        volume_uuid = gluster_layout_uuid(served.path)
        if volume_uuid is None:
            return None
        index = on_node[brick.node_id] = on_node.get(brick.node_id, -1) + 1
        layout.append(CloneBrick(brick.id, served.path, f"{volume_uuid}_{index}"))
    ids = [b.id for b in layout]
    return layout if len(set(ids)) == len(ids) else None


def _as_made(brick: Brick, made: CloneBrick) -> Brick:
    return dataclasses.replace(brick, id=made.id, served_path=made.served_path, lv=made.lv)


class CloneVolume(Operation):
    """Snapshot the source and clone it into a new volume whose bricks are thin snapshots in
    the source's thin pools.

    The clone is made first-class: its database bricks take the ids gluster gave them, its
    gluster volume gets its own ``user.heketi.id`` (gluster copies the source's), and each brick
    is adopted (tagged, fstab line, mounted) so drift and brick destroy treat it like any other.
    Clone bricks charge nothing: the pools stay charged to whichever brick holds the charge
    (see ``release_bricks``). After a crash the clone is finished when gluster has it.
    """

    type_name = "clone-volume"

    def __init__(self, rt: Runtime, source: Volume, name: str) -> None:
        super().__init__(rt)
        self.source_id = source.id
        self.clone_id = new_id()
        self.name = name or f"vol_{self.clone_id}"
        self.name_taken = False

    def load(self, record: Any) -> None:
        self.source_id = record.data["source"]
        self.clone_id = record.data["clone"]
        self.name = record.data["name"]
        self.name_taken = bool(record.data.get("name_taken"))

    def plan(self, tx: Transaction) -> None:
        state = self.rt.state
        source = state.volumes[self.source_id]
        prefix = f"Failed clone volume {source.id}"
        bricks = state.bricks_of_volume(source.id)
        if source.pending_op or any(b.pending_op for b in bricks):
            raise OperationFailed(f"{prefix}: {TARGET_IN_USE}")
        if source.block:
            raise OperationFailed(f"{prefix}: Cloning of block hosting volumes is not supported")
        if self.name in state.volume_names(source.cluster_id):
            raise OperationFailed(f"{prefix}: Volume name '{self.name}' already in use")
        self.record = self.rt.new_record(
            tx, self.type_name, source=source.id, clone=self.clone_id, name=self.name
        )
        tx.touch(source).pending_op = self.record.id
        record = copy.deepcopy(source.to_record())  # the clone must share no containers
        clone = Volume(**{**record, "id": self.clone_id, "name": self.name})
        clone.pending_op = self.record.id
        clone.block_free_gib = clone.block_reserved_gib = 0
        clone.block_restriction = ""
        state.volume_seq += 1
        clone.created_seq = state.volume_seq
        tx.add(clone)
        clone_bricks = [
            Brick(
                id=new_id(), volume_id=clone.id, device_id=b.device_id, node_id=b.node_id,
                size_kib=b.size_kib, tp_size_kib=0, pool_metadata_kib=0, subtype=b.subtype,
                pending_op=self.record.id, set_index=b.set_index, position=b.position,
                tp_id=b.tp_id or b.id,
            )
            for b in bricks
        ]
        for brick in clone_bricks:
            tx.add(brick)
        self.record.changes = (
            [{"change": "Clone volume from", "id": source.id, "delta": 0},
             {"change": "Expand volume to", "id": clone.id, "delta": 0}]
            + [{"change": "Add brick", "id": b.id, "delta": 0} for b in clone_bricks]
        )

    def _host(self) -> str:
        return gluster_host(self.rt, self.rt.state.bricks_of_volume(self.source_id))

    async def _existing_clone(self) -> GlusterVolume | None:
        """The gluster volume of the clone's name, if the pool has one. (Listed rather than
        asked for by name: the mock executor answers ``volume_info`` for any name.)"""
        for volume in await self.rt.executor.volumes_info(self._host()):
            if volume.name == self.name:
                return volume
        return None

    async def execute(self) -> None:
        if await self._existing_clone() is not None:
            # Someone else's volume has the name: leave it alone, undo nothing on the nodes
            # (journaled, so a crash during the rollback does not forget it).
            self.name_taken = True
            if self.record is not None:
                record = self.record
                await self.rt.apply(lambda tx: tx.touch(record).data.update(name_taken=True))
            raise OperationFailed(
                f"Failed clone volume {self.source_id}: Volume name '{self.name}' already in use"
            )
        await self._finish(None)

    async def recovery_direction(self) -> str:
        """Forward when gluster has the clone, started (``snapshot clone`` and ``volume start``
        both happened); else back, which removes a half-made clone."""
        if self.name_taken:
            return "back"
        try:
            info = await self._existing_clone()
        except Exception:  # noqa: BLE001 - no answer: undoing is the safe default
            return "back"
        return "forward" if info is not None and info.status == "Started" else "back"

    async def complete(self) -> None:
        await self._finish(await self._existing_clone())
        # A crash after ``volume start`` can leave the temporary snapshot behind.
        await self.rt.executor.clone_snapshot_remove(self._host(), self.name)

    async def _finish(self, info: GlusterVolume | None) -> None:
        """Clone (unless gluster already has ``info``), then make the clone first-class; every
        step is idempotent so a recovered operation simply runs this again."""
        rt, state = self.rt, self.rt.state
        host = self._host()
        if info is None:
            source = state.volumes[self.source_id]
            info = await rt.executor.volume_clone(host, source.name, self.name)
        planned = state.bricks_of_volume(self.clone_id)
        layout = clone_brick_layout(planned, info)
        await rt.apply(lambda tx: self._adopt_layout(tx, planned, layout))
        clone = state.volumes[self.clone_id]
        # gluster copied the source's options, user.heketi.id included.
        await rt.executor.volume_set_options(host, self.name, (f"user.heketi.id {clone.id}",))
        await rt.step_done(self.record, "clone", "id")
        if layout is None:
            log.warning("clone %s: bricks %s follow no known layout; not adopted", self.name,
                        [b.path for b in info.bricks])
            return
        bricks = state.bricks_of_volume(self.clone_id)
        await rt.gather_steps([
            rt.executor.brick_adopt(brick_host(state, b), brick_request(state, b, clone.gid))
            for b in bricks
        ])
        await rt.step_done(self.record, "bricks")

    def _adopt_layout(
        self, tx: Transaction, planned: list[Brick], layout: list[CloneBrick] | None
    ) -> None:
        """Give the clone's brick records what gluster chose: the ids their paths name
        (heketipy's layout), or gluster's own paths and LV names."""
        if layout is None:
            return
        for brick, made in zip(planned, layout, strict=True):
            if brick.id == made.id:
                if (brick.served_path, brick.lv) != (made.served_path, made.lv):
                    touched = tx.touch(brick)
                    touched.served_path, touched.lv = made.served_path, made.lv
                continue
            if made.id in self.rt.state.bricks:
                continue
            tx.delete(brick)
            tx.add(_as_made(brick, made))

    def finalize(self, tx: Transaction) -> str | None:
        state = self.rt.state
        source = state.volumes.get(self.source_id)
        clone = volume_and_bricks(state, self.clone_id)
        self.settle(tx, clone if source is None else [source, *clone])
        return f"/volumes/{self.clone_id}"

    async def undo_steps(self) -> None:
        state = self.rt.state
        clone = state.volumes.get(self.clone_id)
        if clone is None or self.name_taken:
            return
        # What an interrupted volume_clone left first: its snapshot pins the source's pools.
        await self.rt.executor.clone_snapshot_remove(self._host(), self.name)
        bricks = state.bricks_of_volume(clone.id)
        info = await self._existing_clone()
        layout = clone_brick_layout(bricks, info) if info is not None else None
        if layout is not None:  # the bricks gluster made, whether or not the records took them
            bricks = [_as_made(b, made) for b, made in zip(bricks, layout, strict=True)]
        if info is not None:
            await destroy_gluster_volume(self.rt, clone)
        await destroy_bricks(self.rt, bricks, clone.gid)

    def release(self, tx: Transaction) -> None:
        state = self.rt.state
        clone = state.volumes.get(self.clone_id)
        if clone is not None:
            for brick in state.bricks_of_volume(clone.id):
                tx.delete(brick)
            tx.delete(clone)
        source = state.volumes.get(self.source_id)
        self.settle(tx, [source] if source is not None else [])


# -- the API's volume commands: each returns the /queue id of the work it started -------------
def check_clusters(rt: Runtime, cluster_ids: list[str] | tuple[str, ...]) -> None:
    """Heketi's first database checks of a (block) volume create, in its order."""
    if not rt.state.clusters:
        raise InvalidRequest("No clusters configured")
    for cluster_id in cluster_ids:
        if cluster_id not in rt.state.clusters:
            raise InvalidRequest(f"Cluster id {cluster_id} not found")


def min_size_problem(size_gib: int, durability: str, data: int, brick_min_kib: int) -> str | None:
    """Heketi's smallest accepted volume: one minimum brick, ``data`` of them for disperse."""
    minimum = brick_min_kib * data if durability == "disperse" else brick_min_kib
    if size_gib * KIB_PER_GIB >= minimum:
        return None
    return (
        f"Requested volume size ({size_gib} GB) is smaller than the minimum supported volume "
        f"size ({minimum})"
    )


async def create_volume(rt: Runtime, spec: VolumeSpec) -> str:
    """Start a volume create; a named one that repeats an earlier create answers that create's
    volume instead (``operations.named_creates``)."""
    check_clusters(rt, spec.cluster_ids)
    brick_min_kib = rt.settings.glusterfs.brick_min_size_kib
    problem = min_size_problem(spec.size_gib, spec.durability, spec.data, brick_min_kib)
    if problem:
        raise InvalidRequest(problem)
    op = CreateVolume(rt, spec)
    if not spec.name:
        return await rt.start(op)
    return await named_creates.create(
        rt, op.build_volume(), op.volume_id, tuple(spec.cluster_ids),
        start=lambda: rt.start(op), again=lambda: create_volume(rt, spec),
    )


async def delete_volume(rt: Runtime, volume: Volume) -> str:
    check_deletable(rt.state, volume)
    return await rt.start(DeleteVolume(rt, volume))


async def expand_volume(rt: Runtime, volume: Volume, expand_gib: int) -> str:
    return await rt.start(ExpandVolume(rt, volume, expand_gib))


async def clone_volume(rt: Runtime, volume: Volume, name: str) -> str:
    # The clone's bricks are matched with the source's in set order: Gluster's, never a guess.
    await ensure_verified(rt, volume, f"Failed clone volume {volume.id}")
    return await rt.start(CloneVolume(rt, volume, name))


BLOCK_RESTRICTION_FAILED = "Failed to set block restriction"
LOCKED_BY_UPDATE = "locked-by-update"


async def set_block_restriction(rt: Runtime, volume: Volume, restriction: str) -> str:
    """Lock or unlock a block-hosting volume for new block volumes. Unlocking one that an
    update locked needs its reserve free again (the 98 % rule)."""
    if not volume.block:
        raise OperationFailed(
            f"{BLOCK_RESTRICTION_FAILED}: Block restrictions can only be set on block hosting "
            "volumes"
        )
    if restriction == "" and volume.block_restriction == LOCKED_BY_UPDATE:
        needed = bhv_reserved_gib(volume.size_gib)
        if volume.block_free_gib < needed:
            raise OperationFailed(
                f"{BLOCK_RESTRICTION_FAILED}: Can not unlock volume. {needed}GiB free space is "
                f"required, but found {volume.block_free_gib}GiB"
            )

    async def work() -> str:
        def mutate(tx: Transaction) -> None:
            tx.touch(volume).block_restriction = restriction

        await rt.apply(mutate)
        return f"/volumes/{volume.id}"

    return await rt.start(Unjournaled("block-restriction", work, throttled=True))
