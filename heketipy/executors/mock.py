"""MockExecutor: Heketi's always-succeeds test executor, made useful for clone and brick moves.

Behaviour follows upstream's mock (device sizes, ``fakeIQN``, ``heketi-user``/``secret``) with one
deliberate difference: brick creation returns the real brick path and volume info returns the
bricks the volume was created/expanded with, so operations that read gluster brick listings
(clone, brick evict/replace) succeed deterministically instead of failing as upstream's do.
``latency_ms`` makes every call sleep (through ``sleep``, injectable so tests hold calls in
flight without measuring time), which tests use to keep operations in flight.
"""

from __future__ import annotations

import asyncio
import posixpath
import uuid
from collections.abc import Awaitable, Callable

from heketipy.domain.errors import NodeCommandError
from heketipy.domain.units import KIB_PER_GIB, brick_lv_name
from heketipy.executors.base import (
    BlockVolumeInfo,
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    DeviceInfo,
    GlusterBrick,
    GlusterVolume,
    NodeInventory,
    RecoveryFacts,
    VolumeRequest,
)


class MockExecutor:
    """Every call succeeds; only volume brick listings are remembered (in memory)."""

    name = "mock"

    def __init__(
        self,
        device_size_gb: int = 500,
        latency_ms: float = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.device_size_gb = device_size_gb
        self.latency_ms = latency_ms
        self._sleep = sleep
        # volume name -> its gluster bricks, in order
        self._volume_bricks: dict[str, list[GlusterBrick]] = {}
        self._volume_ids: dict[str, str] = {}

    async def node_inventory(self, host: str) -> NodeInventory:
        """The mock keeps no node state: it cannot report drift."""
        raise NodeCommandError(host, ["inventory"], None, "the mock executor has no node state")

    async def recovery_facts(
        self, host: str, brick_paths: tuple[str, ...], bhv_names: tuple[str, ...]
    ) -> RecoveryFacts:
        """Nothing to read back: the mock keeps no node state."""
        raise NodeCommandError(host, ["stat"], None, "the mock executor has no node state")

    def register_node(self, manage: list[str], storage: list[str]) -> None:
        """Nothing to learn: the mock resolves no names."""

    async def _delay(self) -> None:
        if self.latency_ms > 0:
            await self._sleep(self.latency_ms / 1000)

    def _device_info(self) -> DeviceInfo:
        size_kib = self.device_size_gb * KIB_PER_GIB
        return DeviceInfo(total_kib=size_kib, free_kib=size_kib, used_kib=0, extent_kib=4096)

    def _volume(self, name: str) -> GlusterVolume:
        bricks = tuple(self._volume_bricks.get(name, ()))
        return GlusterVolume(name=name, id=self._volume_ids.get(name, ""), bricks=bricks)

    def _remember(self, name: str, bricks: list[GlusterBrick]) -> GlusterVolume:
        self._volume_bricks[name] = bricks
        self._volume_ids.setdefault(name, str(uuid.uuid4()))
        return self._volume(name)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._delay()

    async def close(self) -> None:
        await self._delay()

    # -- health and peers -----------------------------------------------------------------------

    async def glusterd_check(self, host: str) -> None:
        await self._delay()

    async def peer_probe(self, exec_host: str, new_storage_host: str) -> None:
        await self._delay()

    async def peer_detach(self, exec_host: str, storage_host: str) -> None:
        await self._delay()

    # -- devices --------------------------------------------------------------------------------

    async def device_setup(
        self, host: str, device: str, device_id: str, destroy_data: bool
    ) -> DeviceInfo:
        await self._delay()
        return self._device_info()

    async def device_info(self, host: str, device: str, device_id: str) -> DeviceInfo:
        await self._delay()
        return self._device_info()

    async def device_teardown(self, host: str, device: str, device_id: str) -> None:
        await self._delay()

    # -- bricks ---------------------------------------------------------------------------------

    async def brick_create(self, host: str, brick: BrickRequest) -> BrickAddress:
        await self._delay()
        return BrickAddress(host, brick.path)

    async def brick_destroy(self, host: str, brick: BrickRequest) -> bool:
        await self._delay()
        return True

    async def brick_adopt(self, host: str, brick: BrickRequest) -> None:
        await self._delay()

    async def brick_extend(self, host: str, brick: BrickRequest) -> None:
        await self._delay()

    async def brick_extend_undo(self, host: str, brick: BrickRequest) -> tuple[int, int]:
        await self._delay()
        return brick.tp_size_kib, brick.pool_metadata_kib

    async def brick_grow_filesystem(self, host: str, brick: BrickRequest) -> None:
        await self._delay()

    # -- gluster volumes ------------------------------------------------------------------------

    async def volume_create(self, host: str, volume: VolumeRequest) -> None:
        await self._delay()
        self._remember(volume.name, [GlusterBrick(b.host, b.path) for b in volume.bricks])

    async def volume_expand(self, host: str, volume: VolumeRequest) -> None:
        await self._delay()
        bricks = list(self._volume_bricks.get(volume.name, []))
        for address in volume.bricks:
            brick = GlusterBrick(address.host, address.path)
            if brick not in bricks:
                bricks.append(brick)
        self._remember(volume.name, bricks)

    async def volume_destroy(self, host: str, name: str) -> None:
        await self._delay()
        self._volume_bricks.pop(name, None)
        self._volume_ids.pop(name, None)

    async def volume_info(self, host: str, name: str) -> GlusterVolume:
        await self._delay()
        return self._volume(name)

    async def volumes_info(self, host: str) -> list[GlusterVolume]:
        await self._delay()
        return [self._volume(name) for name in self._volume_bricks]

    async def volume_set_options(self, host: str, name: str, options: tuple[str, ...]) -> None:
        await self._delay()

    async def volume_replace_brick(
        self, host: str, name: str, old: BrickAddress, new: BrickAddress
    ) -> None:
        await self._delay()
        bricks = self._volume_bricks.get(name)
        if bricks is None:
            return
        old_brick = GlusterBrick(old.host, old.path)
        self._volume_bricks[name] = [
            GlusterBrick(new.host, new.path) if b == old_brick else b for b in bricks
        ]

    async def heal_info_ok(self, host: str, name: str) -> bool:
        await self._delay()
        return True

    async def volume_clone(self, host: str, source: str, clone: str) -> GlusterVolume:
        await self._delay()
        clone_bricks = [
            GlusterBrick(b.host, _sibling_brick_path(b.path))
            for b in self._volume_bricks.get(source, [])
        ]
        return self._remember(clone, clone_bricks)

    async def clone_snapshot_remove(self, host: str, clone: str) -> None:
        await self._delay()

    # -- gluster-block --------------------------------------------------------------------------

    async def block_volume_create(self, host: str, request: BlockVolumeRequest) -> BlockVolumeInfo:
        await self._delay()
        return BlockVolumeInfo(
            name=request.name,
            size_gib=request.size_gib,
            usable_size_gib=request.size_gib,
            hosts=request.hosts,
            iqn="fakeIQN",
            username="heketi-user" if request.auth else "",
            password="secret" if request.auth else "",
        )

    async def block_volume_destroy(self, host: str, bhv_name: str, name: str) -> None:
        await self._delay()

    async def block_volume_expand(
        self, host: str, bhv_name: str, name: str, new_size_gib: int
    ) -> None:
        await self._delay()

    async def set_log_level(self, level: str) -> None:
        await self._delay()


def _sibling_brick_path(path: str) -> str:
    """``.../vg_X/brick_<old>/brick`` -> ``.../vg_X/brick_<new id>/brick`` (same VG directory)."""
    vg_dir = posixpath.dirname(posixpath.dirname(path.rstrip("/")))
    return f"{vg_dir}/{brick_lv_name(uuid.uuid4().hex)}/brick"
