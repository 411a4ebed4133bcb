"""The Executor protocol: everything the operations ask of storage nodes.

Operations call these coroutines; transports (simulator, mock, ssh, kubernetes) implement them.
``host`` is always a node's first *manage* hostname; gluster brick addresses use *storage*
hostnames. Failures raise ``heketipy.domain.errors.NodeCommandError`` (or its subclasses below).
Every method must be idempotent where the docstring says so, because recovery replays steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from heketipy.domain.errors import NodeCommandError
from heketipy.domain.units import brick_mount_dir


class VolumeDoesNotExist(NodeCommandError):
    """The gluster volume named in a request is not on the node."""


class DeviceNotAvailable(NodeCommandError):
    """The device cannot be used (missing, already a PV of another VG, ...)."""


@dataclass(frozen=True)
class DeviceInfo:
    total_kib: int
    free_kib: int
    used_kib: int
    extent_kib: int = 4096
    pv_uuid: str = ""
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrickRequest:
    """One brick: a thin pool + thin LV in ``vg_<device_id>``, XFS, mounted at ``mount_path``."""

    device_id: str
    brick_id: str
    tp_name: str  # tp_<id>
    lv_name: str  # brick_<brick_id>
    tp_size_kib: int
    size_kib: int
    pool_metadata_kib: int
    gid: int = 0
    arbiter: bool = False
    device_name: str = ""  # /dev/sdX, informational
    mount_dir: str = ""  # where gluster mounted a brick it made (a clone's); else heketipy's

    @property
    def mount_path(self) -> str:
        return self.mount_dir or brick_mount_dir(self.device_id, self.brick_id)

    @property
    def path(self) -> str:
        """The brick directory gluster uses."""
        return self.mount_path + "/brick"


@dataclass(frozen=True)
class BrickAddress:
    host: str  # storage hostname
    path: str


@dataclass(frozen=True)
class VolumeRequest:
    name: str
    bricks: tuple[BrickAddress, ...]  # in set order
    durability: Literal["none", "replicate", "disperse"] = "none"
    replica: int = 1
    data: int = 0
    redundancy: int = 0
    arbiter: bool = False
    options: tuple[str, ...] = ()  # "key value" strings; empty entries already dropped


@dataclass(frozen=True)
class GlusterBrick:
    host: str
    path: str


@dataclass(frozen=True)
class GlusterVolume:
    name: str
    id: str = ""
    status: str = "Started"
    bricks: tuple[GlusterBrick, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    # The layout ``volume info`` reports (typeStr, replicaCount, arbiterCount, disperseCount,
    # redundancyCount); what a database rebuild reads the durability from.
    type: str = ""
    replica: int = 0
    arbiter: int = 0
    disperse: int = 0
    redundancy: int = 0


@dataclass(frozen=True)
class BlockVolumeRequest:
    name: str
    size_gib: int
    bhv_name: str
    hosts: tuple[str, ...]  # storage hostnames chosen for the block volume
    hacount: int
    auth: bool = False


@dataclass(frozen=True)
class BlockVolumeInfo:
    name: str
    size_gib: int
    usable_size_gib: int
    hosts: tuple[str, ...]
    iqn: str
    lun: int = 0
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class NodeLogicalVolume:
    vg: str
    name: str
    kind: str  # "thin-pool" | "thin" | other lvm segment types
    size_kib: int
    pool: str = ""
    tags: tuple[str, ...] = ()
    # LVM's own LVs, which ``lvs -a`` lists in brackets: a thin pool's ``_tdata``/``_tmeta``
    # and the VG's pool metadata spare ``lvol0_pmspare`` (name kept without the brackets).
    hidden: bool = False
    # Thin pools: how full their data and metadata are, 0..1.
    data_used: float = 0.0
    metadata_used: float = 0.0


PMSPARE_SUFFIX = "_pmspare"  # LVM names the spare <lvname>_pmspare, normally lvol0_pmspare


@dataclass(frozen=True)
class NodeInventory:
    """What a node really has, for the drift report (heketipy's, not Heketi's)."""

    vg_free_kib: dict[str, int]  # vg_<device id> -> free KiB
    lvs: tuple[NodeLogicalVolume, ...]  # hidden ones included
    mounts: tuple[str, ...]  # mount points under /var/lib/heketi/mounts and /run/gluster/snaps
    fstab: tuple[str, ...]  # fstab lines that mount under /var/lib/heketi/mounts
    volumes: tuple[GlusterVolume, ...]  # gluster volumes of the node's trusted pool

    def pmspare_kib(self, vg: str) -> int:
        """Size of the VG's pool metadata spare (0 when it has none): LVM keeps one hidden LV
        per VG holding thin pools, as large as their largest metadata, for metadata repair.
        It takes VG free space that neither Heketi nor heketipy charges to the device."""
        return sum(
            lv.size_kib for lv in self.lvs
            if lv.vg == vg and lv.hidden and lv.name.endswith(PMSPARE_SUFFIX)
        )  # fmt: skip

    def thin_pool_usage(self) -> dict[str, tuple[float, float]]:
        """VG -> (data, metadata) use of its fullest thin pool, each 0..1 (the fuller pool by
        data; metadata is the highest of the VG's pools)."""
        usage: dict[str, tuple[float, float]] = {}
        for lv in self.lvs:
            if lv.kind == "thin-pool" and not lv.hidden:
                known = usage.get(lv.vg, (0.0, 0.0))
                usage[lv.vg] = (max(known[0], lv.data_used), max(known[1], lv.metadata_used))
        return usage


@dataclass(frozen=True)
class RecoveryFacts:
    """What a database rebuild needs beyond ``NodeInventory``: the group id of each brick
    directory asked for, and the block volumes (``gluster-block list`` + ``info``) of each
    block-hosting volume asked for."""

    brick_gids: dict[str, int]  # brick directory -> its group id
    block_volumes: dict[str, tuple[BlockVolumeInfo, ...]]  # block-hosting volume -> its blocks


class Executor(Protocol):
    """What operations need from storage nodes."""

    name: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    def register_node(self, manage: list[str], storage: list[str]) -> None:
        """Learn a node's addresses (no I/O): transports map storage names and pods with it."""

    # Health and peers
    async def glusterd_check(self, host: str) -> None: ...
    async def peer_probe(self, exec_host: str, new_storage_host: str) -> None: ...
    async def peer_detach(self, exec_host: str, storage_host: str) -> None: ...

    # Devices (idempotent: setup of an already set-up device returns its info)
    async def device_setup(
        self, host: str, device: str, device_id: str, destroy_data: bool
    ) -> DeviceInfo: ...
    async def device_info(self, host: str, device: str, device_id: str) -> DeviceInfo: ...
    async def device_teardown(self, host: str, device: str, device_id: str) -> None: ...

    # Bricks (create is idempotent; destroy of a missing brick succeeds and returns False)
    async def brick_create(self, host: str, brick: BrickRequest) -> BrickAddress: ...
    async def brick_destroy(self, host: str, brick: BrickRequest) -> bool: ...
    async def brick_adopt(self, host: str, brick: BrickRequest) -> None:
        """Make a brick gluster made (a clone's thin snapshot of ``brick.lv_name`` in
        ``brick.tp_name``) heketipy's own: tag its LV, write its fstab line, mount it at
        ``brick.mount_path`` if it is not. Idempotent."""

    # Expansion in place (issue 14 item 2): grow a brick without adding one
    async def brick_extend(self, host: str, brick: BrickRequest) -> None:
        """Grow the brick's thin pool (data, metadata) and thin LV to the sizes in ``brick``;
        a size already reached is left as it is (idempotent). The filesystem is not touched."""

    async def brick_extend_undo(self, host: str, brick: BrickRequest) -> tuple[int, int]:
        """Undo ``brick_extend`` as far as LVM can, before the filesystem grew: the thin LV back
        to ``brick.size_kib``. A thin pool cannot shrink: returns the pool's data and metadata
        sizes (KiB) as the node holds them, for the database to record. Idempotent."""
        return brick.tp_size_kib, brick.pool_metadata_kib

    async def brick_grow_filesystem(self, host: str, brick: BrickRequest) -> None:
        """Grow the brick's mounted XFS to its (extended) thin LV. Idempotent."""

    # Gluster volumes (destroy of a missing volume raises VolumeDoesNotExist)
    # Nothing is read back: a caller wanting the volume as Gluster has it asks volume_info.
    async def volume_create(self, host: str, volume: VolumeRequest) -> None: ...
    async def volume_expand(self, host: str, volume: VolumeRequest) -> None: ...
    async def volume_destroy(self, host: str, name: str) -> None: ...
    async def volume_info(self, host: str, name: str) -> GlusterVolume: ...
    async def volumes_info(self, host: str) -> list[GlusterVolume]: ...
    async def volume_set_options(self, host: str, name: str, options: tuple[str, ...]) -> None: ...
    async def volume_replace_brick(
        self, host: str, name: str, old: BrickAddress, new: BrickAddress
    ) -> None: ...
    async def heal_info_ok(self, host: str, name: str) -> bool: ...
    async def volume_clone(self, host: str, source: str, clone: str) -> GlusterVolume: ...
    async def clone_snapshot_remove(self, host: str, clone: str) -> None:
        """Remove the temporary snapshot ``volume_clone(..., clone)`` takes, if an interrupted
        clone left it (its LVs would pin the source's thin pools and block deleting the
        source); nothing to remove is success."""
        ...

    # gluster-block
    async def block_volume_create(
        self, host: str, request: BlockVolumeRequest
    ) -> BlockVolumeInfo: ...
    async def block_volume_destroy(self, host: str, bhv_name: str, name: str) -> None: ...
    async def block_volume_expand(
        self, host: str, bhv_name: str, name: str, new_size_gib: int
    ) -> None: ...

    async def set_log_level(self, level: str) -> None: ...

    # Inspection (drift report and its scan): VG free, LVs (hidden ones too) with their tags
    # and thin-pool fill, brick mounts, fstab, gluster volumes.
    async def node_inventory(self, host: str) -> NodeInventory: ...

    # Database rebuild (``heketipy db rebuild``): brick directory gids, block volumes.
    async def recovery_facts(
        self, host: str, brick_paths: tuple[str, ...], bhv_names: tuple[str, ...]
    ) -> RecoveryFacts: ...


if TYPE_CHECKING:
    # Conformance, proved by the type checker (`make lint`): each function only type-checks if
    # the executor implements every method of Executor with compatible signatures, so a missing
    # or differently typed method is a mypy error rather than an AttributeError at run time.
    from heketipy.executors.mock import MockExecutor
    from heketipy.executors.remote import RemoteExecutor

    def _mock_is_an_executor(executor: MockExecutor) -> Executor:
        return executor

    def _remote_is_an_executor(executor: RemoteExecutor) -> Executor:
        return executor
