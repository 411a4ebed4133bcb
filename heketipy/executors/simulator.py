"""SimulatorExecutor: stateful in-memory storage nodes behind the ``Executor`` protocol.

Each executor call runs the same command batch Heketi runs on a real node (``sim_node`` for
LVM/XFS/mount/fstab, ``sim_gluster`` for glusterd), one simulated command at a time: a command
sleeps for its family's latency, then applies its effect or fails the way the real tool does.
LVM commands on one VG are serialised (the VG lock), gluster commands on one trusted pool are
serialised (glusterd's cluster lock); everything else overlaps. After every call the whole state
is written atomically to ``state_path`` (group commit: concurrent calls share one write), so a
restarted or SIGKILLed server finds its nodes exactly as it left them. Commands and failures
(injected ones included) are logged like real nodes' (``runner.log_command``/``log_failure``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import posixpath
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from heketipy.domain.entities import gluster_managed
from heketipy.domain.errors import NodeCommandError
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import (
    BlockVolumeInfo,
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    DeviceInfo,
    GlusterBrick,
    GlusterVolume,
    NodeInventory,
    NodeLogicalVolume,
    VolumeRequest,
)
from heketipy.executors.commands_common import check_node_values
from heketipy.executors.runner import log_command, log_failure
from heketipy.simulator import gluster
from heketipy.simulator import node as lvm
from heketipy.simulator.state import (
    Disk,
    GlusterVolumeState,
    NodeState,
    SimState,
    VolumeGroup,
    atomic_write,
    load_state,
)
from heketipy.simulator.support import FaultInjector, LatencyModel, Trace

T = TypeVar("T")
KIB_PER_GIB = 1024 * 1024
MOUNTS_ROOT = "/var/lib/heketi/mounts"
GLUSTER_SNAPS_ROOT = lcmd.GLUSTER_SNAPS_ROOT
# Bricks per add-brick command, in sets (Heketi: 15 for distribute, 5 for replica, 1 disperse).
MAX_SETS_PER_COMMAND = {"none": 15, "replicate": 5, "disperse": 1}


class SimulatorExecutor:
    """Simulated storage nodes keyed by manage host; see the module docstring."""

    name = "simulator"

    def __init__(
        self,
        state_path: str | None = None,
        device_size_gb: int = 1024,
        latency: LatencyModel | None = None,
        faults: FaultInjector | Mapping[str, Any] | None = None,
        auto_create_disks: bool = True,
    ) -> None:
        self.state_path = state_path
        self.device_size_kib = device_size_gb * KIB_PER_GIB
        self.latency = latency or LatencyModel()
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
        self.auto_create_disks = auto_create_disks
        self.trace = Trace()
        self._state = load_state(state_path) if state_path else SimState()
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._generation = 0
        self._saved_generation = 0
        self._save_lock: asyncio.Lock | None = None

    # -- inspection and test helpers ------------------------------------------------------------

    def node(self, host: str) -> NodeState:
        """The live state of one node (created empty on first reference)."""
        node = self._state.nodes.get(host)
        if node is None:
            node = self._state.nodes[host] = NodeState(host=host)
            gluster.pool_of(self._state, node)
            self._changed()
        return node

    @property
    def state(self) -> SimState:
        return self._state

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view of every node: VGs with free space, LVs, mounts, fstab, volumes."""
        nodes: dict[str, Any] = {}
        for host, node in sorted(self._state.nodes.items()):
            pool = self._state.pools.get(node.pool)
            nodes[host] = {
                "glusterd_down": node.glusterd_down,
                "unreachable": node.unreachable,
                "pool": node.pool,
                "peers": sorted(pool.members) if pool else [],
                "disks": {path: disk.size_kib for path, disk in node.disks.items()},
                "pvs": {path: dataclasses.asdict(pv) for path, pv in node.pvs.items()},
                "vgs": {name: _vg_view(vg) for name, vg in node.vgs.items()},
                "mounts": dict(node.mounts),
                "fstab": list(node.fstab),
                "gluster_volumes": {
                    name: _volume_view(volume)
                    for name, volume in (pool.volumes.items() if pool else ())
                },
            }
        return {
            "nodes": nodes,
            "pools": {
                pool_id: {
                    "members": sorted(pool.members),
                    "volumes": sorted(pool.volumes),
                }
                for pool_id, pool in self._state.pools.items()
            },
            "aliases": dict(self._state.aliases),
        }

    def add_disk(self, host: str, path: str, size_kib: int, signature: str = "") -> None:
        self.node(host).disks[path] = Disk(size_kib=size_kib, signature=signature)
        self._changed()
        self.save()

    def set_node_down(self, host: str, down: bool = True) -> None:
        """glusterd stops on ``host``: health checks and gluster commands involving it fail."""
        self.node(host).glusterd_down = down
        self._changed()
        self.save()

    def set_node_unreachable(self, host: str, unreachable: bool = True) -> None:
        """``host`` cannot be reached at all: every command sent to it fails."""
        self.node(host).unreachable = unreachable
        self._changed()
        self.save()

    def register_node(self, manage: list[str], storage: list[str]) -> None:
        """Executor hook: the simulator resolves storage names to nodes like DNS would."""
        for storage_host in storage:
            if self._state.aliases.get(storage_host) != manage[0]:
                self.register_storage_host(manage[0], storage_host)

    def register_storage_host(self, manage_host: str, storage_host: str) -> None:
        """Tell the simulator which node a storage hostname names (else learnt from brick paths)."""
        self.node(manage_host)
        gluster.learn_alias(self._state, storage_host, manage_host)
        self._changed()
        self.save()

    def set_heal_pending(self, volume_name: str, pending: bool = True) -> None:
        for pool in self._state.pools.values():
            if volume_name in pool.volumes:
                pool.volumes[volume_name].heal_pending = pending
        self._changed()
        self.save()

    def save(self) -> None:
        """Write the state now (synchronously); used by the sync test helpers."""
        if self.state_path:
            atomic_write(self.state_path, self._state.dumps())
            self._saved_generation = self._generation

    # -- machinery ------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._generation += 1

    async def _persist(self) -> None:
        """Durably save every change made so far; concurrent callers share one write."""
        if not self.state_path or self._saved_generation >= self._generation:
            return
        wanted = self._generation
        if self._save_lock is None:
            self._save_lock = asyncio.Lock()
        async with self._save_lock:
            if self._saved_generation >= wanted:
                return
            generation = self._generation
            text = self._state.dumps()
            await asyncio.to_thread(atomic_write, self.state_path, text)
            self._saved_generation = max(self._saved_generation, generation)

    @contextlib.asynccontextmanager
    async def _call(self, kind: str, host: str) -> AsyncIterator[None]:
        """One executor call: injected faults, then persistence of whatever it changed."""
        fault = self.faults.check(kind, host)
        if fault is False:
            raise log_failure(FaultInjector.error(kind, host))
        try:
            yield
        finally:
            await self._persist()
        if fault is True:
            raise log_failure(FaultInjector.error(kind, host))

    def _lock(self, key: tuple[str, ...]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _run(
        self,
        node: NodeState,
        family: str,
        argv: list[str],
        apply: Callable[[], T],
        lock_key: tuple[str, ...] | None = None,
        mutates: bool = True,
    ) -> T:
        """One command on ``node``: wait for its lock, take its latency, then take effect."""
        if node.unreachable:
            raise log_failure(NodeCommandError(
                node.host, argv, None, f"dial tcp {node.host}:22: connect: no route to host"
            ))
        pool = ""
        if family == "gluster":
            pool = gluster.pool_of(self._state, node).id
            lock_key = ("gluster", pool)
        lock = self._lock(lock_key) if lock_key else contextlib.nullcontext()
        label = _label(argv)
        async with lock:
            self.trace.record("start", family, node.host, label, pool)
            started = time.perf_counter()
            exit_code: int | None = None  # stays None if the command is cancelled
            try:
                delay_ms = self.latency.for_family(family)
                if delay_ms > 0:
                    await asyncio.sleep(delay_ms / 1000)
                result = apply()
                exit_code = 0
                if mutates:
                    self._changed()
                return result
            except NodeCommandError as error:
                exit_code = error.exit_code
                log_failure(error)
                raise
            finally:
                self.trace.record("end", family, node.host, label, pool)
                log_command(node.host, argv, exit_code, (time.perf_counter() - started) * 1000)

    def _storage_name(self, host: str) -> str:
        for storage, manage in self._state.aliases.items():
            if manage == host:
                return storage
        return host

    def _gluster_volume(self, volume: GlusterVolumeState) -> GlusterVolume:
        bricks = tuple(GlusterBrick(*brick.split(":", 1)) for brick in volume.bricks)
        return GlusterVolume(
            name=volume.name,
            id=volume.id,
            status=volume.status,
            bricks=bricks,
            options=dict(volume.options),
        )

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._persist()

    async def node_inventory(self, host: str) -> NodeInventory:
        """Executor hook for the drift report: read the node's real state."""
        node = self.node(host)
        if node.unreachable:
            raise log_failure(
                NodeCommandError(host, ["inventory"], None, f"{host}: no route to host")
            )
        lvs = tuple(
            NodeLogicalVolume(
                vg=vg.name, name=lv.name, kind=lv.kind, size_kib=lv.size_kib, pool=lv.pool,
                tags=tuple(lv.tags),
            )
            for vg in node.vgs.values()
            for lv in vg.lvs.values()
        )
        pool = self._state.pools.get(node.pool)
        volumes = tuple(self._gluster_volume(v) for v in pool.volumes.values()) if pool else ()
        return NodeInventory(
            vg_free_kib={vg.name: vg.free_kib for vg in node.vgs.values()},
            lvs=lvs,
            mounts=tuple(
                m for m in node.mounts if m.startswith((MOUNTS_ROOT + "/", GLUSTER_SNAPS_ROOT + "/"))
            ),
            fstab=tuple(line for line in node.fstab if MOUNTS_ROOT in line),
            volumes=volumes,
        )

    async def set_log_level(self, level: str) -> None:
        return None

    # -- health and peers -----------------------------------------------------------------------

    async def glusterd_check(self, host: str) -> None:
        node = self.node(host)
        argv = ["systemctl", "status", "glusterd"]
        async with self._call("glusterd_check", host):

            def check() -> None:
                if node.glusterd_down:
                    raise NodeCommandError(host, argv, 3, "")

            await self._run(node, "probe", argv, check, mutates=False)

    async def peer_probe(self, exec_host: str, new_storage_host: str) -> None:
        check_node_values(hosts=[new_storage_host])
        node = self.node(exec_host)
        async with self._call("peer_probe", exec_host):
            await self._run(
                node,
                "gluster",
                gluster.gluster_argv("peer", "probe", new_storage_host),
                lambda: gluster.peer_probe(self._state, node, new_storage_host),
            )

    async def peer_detach(self, exec_host: str, storage_host: str) -> None:
        check_node_values(hosts=[storage_host])
        node = self.node(exec_host)
        async with self._call("peer_detach", exec_host):
            await self._run(
                node,
                "gluster",
                gluster.gluster_argv("peer", "detach", storage_host),
                lambda: gluster.peer_detach(self._state, node, storage_host),
            )

    # -- devices --------------------------------------------------------------------------------

    def _device_info(self, node: NodeState, vg: VolumeGroup) -> DeviceInfo:
        pv = node.pvs.get(vg.pv)
        return DeviceInfo(
            total_kib=vg.total_kib,
            free_kib=vg.free_kib,
            used_kib=vg.used_kib,
            extent_kib=vg.extent_kib,
            pv_uuid=pv.uuid if pv else "",
            paths=(vg.pv,),
        )

    async def device_setup(
        self, host: str, device: str, device_id: str, destroy_data: bool
    ) -> DeviceInfo:
        check_node_values(devices=[device])
        node = self.node(host)
        vg_name = f"vg_{device_id}"
        lock_key = ("lvm", host, vg_name)
        async with self._call("device_setup", host):
            existing = node.vgs.get(vg_name)
            if existing is not None and existing.pv == device:
                return self._device_info(node, existing)
            default_size = self.device_size_kib if self.auto_create_disks else None
            lvm.ensure_disk(node, device, default_size)
            self._changed()
            if destroy_data:
                await self._run(
                    node, "fs", ["wipefs", "--all", device], lambda: lvm.wipefs(node, device)
                )
            pv = node.pvs.get(device)
            if pv is None or pv.vg:
                await self._run(
                    node,
                    "lvm",
                    [lvm.LVM, "pvcreate", device],
                    lambda: lvm.pvcreate(node, device),
                    lock_key,
                )
            vg = await self._run(
                node,
                "lvm",
                [lvm.LVM, "vgcreate", vg_name, device],
                lambda: lvm.vgcreate(node, vg_name, device),
                lock_key,
            )
            await self._run(node, "lvm", [lvm.LVM, "pvs", device], lambda: None, lock_key, False)
            await self._run(
                node, "lvm", [lvm.LVM, "vgdisplay", vg_name], lambda: None, lock_key, False
            )
            return self._device_info(node, vg)

    async def device_info(self, host: str, device: str, device_id: str) -> DeviceInfo:
        node = self.node(host)
        vg_name = f"vg_{device_id}"
        argv = [lvm.LVM, "vgdisplay", "-c", vg_name]
        async with self._call("device_info", host):
            vg = await self._run(
                node,
                "lvm",
                argv,
                lambda: lvm.require_vg(node, vg_name, argv),
                ("lvm", host, vg_name),
                False,
            )
            return self._device_info(node, vg)

    async def device_teardown(self, host: str, device: str, device_id: str) -> None:
        check_node_values(devices=[device])
        node = self.node(host)
        vg_name = f"vg_{device_id}"
        lock_key = ("lvm", host, vg_name)
        async with self._call("device_teardown", host):
            vg = node.vgs.get(vg_name)
            pv_path = vg.pv if vg else device
            if vg is not None:
                await self._run(
                    node,
                    "lvm",
                    [lvm.LVM, "vgremove", vg_name],
                    lambda: lvm.vgremove(node, vg_name),
                    lock_key,
                )
            if pv_path in node.pvs:
                await self._run(
                    node,
                    "lvm",
                    [lvm.LVM, "pvremove", pv_path],
                    lambda: lvm.pvremove(node, pv_path),
                    lock_key,
                )
            vg_dir = f"{MOUNTS_ROOT}/{vg_name}"
            if vg_dir in node.dirs:
                await self._run(node, "fs", ["rmdir", vg_dir], lambda: lvm.rmdir(node, vg_dir))

    # -- bricks ---------------------------------------------------------------------------------

    async def brick_create(self, host: str, brick: BrickRequest) -> BrickAddress:
        node = self.node(host)
        async with self._call("brick_create", host):
            await self._create_brick(node, brick)
            return BrickAddress(self._storage_name(host), brick.path)

    async def _create_brick(self, node: NodeState, brick: BrickRequest) -> None:
        """Heketi's brick batch, skipping steps already done so a replay completes the brick."""
        vg_name = f"vg_{brick.device_id}"
        device = lvm.dm_path(vg_name, brick.lv_name)
        mount_point = brick.mount_path
        lock_key = ("lvm", node.host, vg_name)
        created_dir = created_lv = False
        try:
            if mount_point not in node.dirs:
                await self._run(
                    node, "fs", ["mkdir", "-p", mount_point], lambda: lvm.mkdir_p(node, mount_point)
                )
                created_dir = True
            vg = node.vgs.get(vg_name)
            lv = vg.lvs.get(brick.lv_name) if vg else None
            if lv is None:
                await self._run(
                    node,
                    "lvm",
                    [lvm.LVM, "lvcreate", f"{vg_name}/{brick.tp_name}", brick.lv_name],
                    lambda: lvm.lvcreate_thin(
                        node,
                        vg_name,
                        brick.tp_name,
                        brick.tp_size_kib,
                        brick.pool_metadata_kib,
                        brick.lv_name,
                        brick.size_kib,
                        lcmd.brick_tags(brick),
                    ),
                    lock_key,
                )
                created_lv = True
                lv = node.vgs[vg_name].lvs[brick.lv_name]
            else:
                _require_same_brick(node, vg_name, brick)
            if not lv.filesystem:
                await self._run(
                    node,
                    "fs",
                    ["mkfs.xfs", device],
                    lambda: lvm.mkfs_xfs(node, device, brick.arbiter),
                )
            line = lvm.fstab_line(device, mount_point)
            if line not in node.fstab:
                await self._run(node, "fs", ["awk", "fstab"], lambda: lvm.fstab_add(node, line))
            if node.mounts.get(mount_point) != device:
                await self._run(
                    node,
                    "fs",
                    ["mount", device, mount_point],
                    lambda: lvm.mount(node, device, mount_point),
                )
            if "brick" not in lv.fs_dirs:
                await self._run(
                    node,
                    "fs",
                    ["mkdir", brick.path],
                    lambda: lvm.mkdir_in_mount(node, brick.path, brick.gid),
                )
                if brick.gid:
                    await self._run(node, "fs", ["chmod", "2775", brick.path], lambda: None)
        except NodeCommandError:
            # Heketi's executor destroys a half-made brick before reporting the error.
            with contextlib.suppress(NodeCommandError):
                if created_lv:
                    await self._destroy_brick(node, brick)
                elif created_dir:
                    await self._run(
                        node, "fs", ["rmdir", mount_point], lambda: lvm.rmdir(node, mount_point)
                    )
            raise

    async def brick_adopt(self, host: str, brick: BrickRequest) -> None:
        node = self.node(host)
        vg_name = f"vg_{brick.device_id}"
        device = lvm.dm_path(vg_name, brick.lv_name)
        mount_point = brick.mount_path
        tags = lcmd.brick_tags(brick)
        async with self._call("brick_adopt", host):
            await self._run(
                node,
                "lvm",
                [lvm.LVM, "lvchange", "--addtag", f"{vg_name}/{brick.lv_name}"],
                lambda: lvm.lvchange_addtag(node, vg_name, brick.lv_name, tags),
                ("lvm", host, vg_name),
            )
            line = lvm.fstab_line(device, mount_point)
            if not gluster_managed(mount_point):  # glusterd remounts its own at volume start
                await self._run(node, "fs", ["awk", "fstab"], lambda: lvm.fstab_add(node, line))
            if node.mounts.get(mount_point) != device:
                await self._run(
                    node, "fs", ["mkdir", "-p", mount_point], lambda: lvm.mkdir_p(node, mount_point)
                )
                await self._run(
                    node,
                    "fs",
                    ["mount", device, mount_point],
                    lambda: lvm.mount(node, device, mount_point),
                )

    async def brick_destroy(self, host: str, brick: BrickRequest) -> bool:
        node = self.node(host)
        async with self._call("brick_destroy", host):
            return await self._destroy_brick(node, brick)

    async def _destroy_brick(self, node: NodeState, brick: BrickRequest) -> bool:
        vg_name = f"vg_{brick.device_id}"
        device = lvm.dm_path(vg_name, brick.lv_name)
        mount_point = lvm.mount_point_of(node, device) or brick.mount_path
        lock_key = ("lvm", node.host, vg_name)
        if mount_point in node.mounts:
            busy = self._brick_in_started_volume(node, mount_point)
            await self._run(
                node, "fs", ["umount", mount_point], lambda: lvm.umount(node, mount_point, busy)
            )
        needle = f"brick_{brick.brick_id}"
        if not gluster_managed(brick.mount_path):  # as upstream: a clone's has no fstab line
            await self._run(
                node, "fs", ["sed", "-i.save", needle], lambda: lvm.fstab_remove(node, needle)
            )
        vg = node.vgs.get(vg_name)
        if vg is not None and brick.lv_name in vg.lvs:
            await self._run(
                node,
                "lvm",
                [lvm.LVM, "lvremove", f"{vg_name}/{brick.lv_name}"],
                lambda: lvm.lvremove(node, vg_name, brick.lv_name),
                lock_key,
            )
        thin_count = await self._run(
            node,
            "lvm",
            [lvm.LVM, "lvs", f"{vg_name}/{brick.tp_name}"],
            lambda: lvm.thin_count(node, vg_name, brick.tp_name),
            lock_key,
            False,
        )
        reclaimed = False
        if thin_count == 0 and vg is not None and brick.tp_name in vg.lvs:
            reclaimed = await self._run(
                node,
                "lvm",
                [lvm.LVM, "lvremove", f"{vg_name}/{brick.tp_name}"],
                lambda: lvm.lvremove(node, vg_name, brick.tp_name),
                lock_key,
            )
        if mount_point in node.dirs:
            await self._run(
                node, "fs", ["rmdir", mount_point], lambda: lvm.rmdir(node, mount_point)
            )
        return reclaimed

    def _brick_in_started_volume(self, node: NodeState, mount_point: str) -> bool:
        """glusterfsd keeps a started volume's brick open, so its mount is busy."""
        pool = self._state.pools.get(node.pool)
        for volume in pool.volumes.values() if pool else ():
            if volume.status != "Started":
                continue
            for brick in volume.bricks:
                host, _, path = brick.partition(":")
                if gluster.identity(self._state, host) == node.host and path.startswith(
                    mount_point + "/"
                ):
                    return True
        return False

    # -- gluster volumes ------------------------------------------------------------------------

    async def _gluster(
        self, node: NodeState, words: list[str], apply: Callable[[], T], mutates: bool = True
    ) -> T:
        return await self._run(node, "gluster", gluster.gluster_argv(*words), apply, None, mutates)

    async def _add_bricks(
        self, node: NodeState, name: str, kind: str, set_size: int, bricks: list[str]
    ) -> None:
        per_command = set_size * MAX_SETS_PER_COMMAND.get(kind, 1)
        for start in range(0, len(bricks), per_command):
            group = bricks[start : start + per_command]
            await self._gluster(
                node,
                ["volume", "add-brick", name],
                partial(gluster.volume_add_brick, self._state, node, name, group),
            )

    async def volume_create(self, host: str, volume: VolumeRequest) -> GlusterVolume:
        check_node_values(
            names=[volume.name], hosts=[b.host for b in volume.bricks], options=volume.options
        )
        node = self.node(host)
        draft = GlusterVolumeState(
            name=volume.name,
            id=_gluster_uuid(),
            type=volume.durability,
            replica=volume.replica if volume.durability == "replicate" else 1,
            data=volume.data,
            redundancy=volume.redundancy,
            arbiter=volume.arbiter,
        )
        bricks = [f"{b.host}:{b.path}" for b in volume.bricks]
        first_set, rest = bricks[: draft.set_size], bricks[draft.set_size :]
        async with self._call("volume_create", host):
            await self._gluster(
                node,
                ["volume", "create", volume.name],
                lambda: gluster.volume_create(self._state, node, draft, first_set),
            )
            await self._add_bricks(node, volume.name, draft.type, draft.set_size, rest)
            for option in volume.options:
                await self._gluster(
                    node,
                    ["volume", "set", volume.name],
                    partial(gluster.volume_set, self._state, node, volume.name, option),
                )
            await self._gluster(
                node,
                ["volume", "start", volume.name],
                lambda: gluster.volume_start(self._state, node, volume.name),
            )
            return self._gluster_volume(draft)

    async def volume_expand(self, host: str, volume: VolumeRequest) -> GlusterVolume:
        check_node_values(names=[volume.name], hosts=[b.host for b in volume.bricks])
        node = self.node(host)
        async with self._call("volume_expand", host):
            words = ["volume", "add-brick", volume.name]
            current = gluster.require_volume(
                self._state, node, volume.name, gluster.gluster_argv(*words), "volume add-brick"
            )
            # Bricks already in the volume come from a replayed step; add only the others.
            new = [f"{b.host}:{b.path}" for b in volume.bricks]
            new = [brick for brick in new if brick not in current.bricks]
            await self._add_bricks(node, volume.name, current.type, current.set_size, new)
            with contextlib.suppress(NodeCommandError):  # Heketi ignores rebalance failures
                await self._gluster(
                    node, ["volume", "rebalance", volume.name, "start"], lambda: None
                )
            return self._gluster_volume(current)

    async def volume_destroy(self, host: str, name: str) -> None:
        check_node_values(names=[name])
        node = self.node(host)
        async with self._call("volume_destroy", host):
            with contextlib.suppress(NodeCommandError):  # stop errors are ignored, as Heketi does
                await self._gluster(
                    node,
                    ["volume", "stop", name, "force"],
                    lambda: gluster.volume_stop(self._state, node, name),
                )
            await self._gluster(
                node,
                ["volume", "delete", name],
                lambda: gluster.volume_delete(self._state, node, name),
            )

    async def volume_info(self, host: str, name: str) -> GlusterVolume:
        check_node_values(names=[name])
        node = self.node(host)
        async with self._call("volume_info", host):
            words = ["volume", "info", name, "--xml"]
            volume = await self._gluster(
                node,
                words,
                lambda: gluster.require_volume(
                    self._state, node, name, gluster.gluster_argv(*words), "volume info"
                ),
                mutates=False,
            )
            return self._gluster_volume(volume)

    async def volumes_info(self, host: str) -> list[GlusterVolume]:
        node = self.node(host)
        async with self._call("volumes_info", host):

            def read() -> list[GlusterVolumeState]:
                gluster.require_glusterd(node, gluster.gluster_argv("volume", "info", "--xml"))
                return list(gluster.pool_of(self._state, node).volumes.values())

            volumes = await self._gluster(node, ["volume", "info", "--xml"], read, mutates=False)
            return [self._gluster_volume(volume) for volume in volumes]

    async def volume_set_options(self, host: str, name: str, options: tuple[str, ...]) -> None:
        check_node_values(names=[name], options=options)
        node = self.node(host)
        async with self._call("volume_set_options", host):
            for option in options:
                await self._gluster(
                    node,
                    ["volume", "set", name],
                    partial(gluster.volume_set, self._state, node, name, option),
                )

    async def volume_replace_brick(
        self, host: str, name: str, old: BrickAddress, new: BrickAddress
    ) -> None:
        check_node_values(names=[name], hosts=[old.host, new.host])
        node = self.node(host)
        old_brick, new_brick = f"{old.host}:{old.path}", f"{new.host}:{new.path}"
        async with self._call("volume_replace_brick", host):
            await self._gluster(
                node,
                ["volume", "replace-brick", name],
                lambda: gluster.volume_replace_brick(self._state, node, name, old_brick, new_brick),
            )

    async def heal_info_ok(self, host: str, name: str) -> bool:
        check_node_values(names=[name])
        node = self.node(host)
        async with self._call("heal_info_ok", host):
            words = ["volume", "heal", name, "info", "--xml"]

            def healthy() -> bool:
                volume = gluster.require_volume(
                    self._state, node, name, gluster.gluster_argv(*words), "volume heal"
                )
                bricks_up = all(
                    not _down(self._state.nodes.get(gluster.identity(self._state, b.split(":")[0])))
                    for b in volume.bricks
                )
                return bricks_up and not volume.heal_pending

            return await self._gluster(node, words, healthy, mutates=False)

    async def volume_clone(self, host: str, source: str, clone: str) -> GlusterVolume:
        check_node_values(names=[source, clone])
        node = self.node(host)
        snap = f"tmpsnap_{_gluster_uuid()}"
        async with self._call("volume_clone", host):
            await self._gluster(
                node,
                ["snapshot", "create", snap, source],
                lambda: gluster.require_volume(
                    self._state,
                    node,
                    source,
                    gluster.gluster_argv("snapshot", "create"),
                    "snapshot create",
                ),
            )
            await self._gluster(node, ["snapshot", "activate", snap], lambda: None)
            volume = await self._gluster(
                node,
                ["snapshot", "clone", clone, snap],
                lambda: gluster.volume_clone(self._state, node, source, clone),
            )
            await self._gluster(
                node,
                ["volume", "start", clone],
                lambda: gluster.volume_start(self._state, node, clone),
            )
            await self._gluster(node, ["snapshot", "deactivate", snap], lambda: None)
            await self._gluster(node, ["snapshot", "delete", snap], lambda: None)
            return self._gluster_volume(volume)

    # -- gluster-block --------------------------------------------------------------------------

    async def block_volume_create(self, host: str, request: BlockVolumeRequest) -> BlockVolumeInfo:
        check_node_values(names=[request.bhv_name, request.name], hosts=request.hosts)
        node = self.node(host)
        hosts = list(request.hosts[: request.hacount] if request.hacount else request.hosts)
        async with self._call("block_volume_create", host):
            block = await self._run(
                node,
                "gluster",
                ["gluster-block", "create", f"{request.bhv_name}/{request.name}"],
                lambda: gluster.block_create(
                    self._state,
                    node,
                    request.bhv_name,
                    request.name,
                    request.size_gib,
                    hosts,
                    request.auth,
                ),
            )
            return BlockVolumeInfo(
                name=block.name,
                size_gib=block.size_gib,
                usable_size_gib=block.size_gib,
                hosts=tuple(block.hosts),
                iqn=f"iqn.2016-12.org.gluster-block:{block.gbid}",
                username=block.username,
                password=block.password,
            )

    async def block_volume_destroy(self, host: str, bhv_name: str, name: str) -> None:
        check_node_values(names=[bhv_name, name])
        node = self.node(host)
        async with self._call("block_volume_destroy", host):
            await self._run(
                node,
                "gluster",
                ["gluster-block", "delete", f"{bhv_name}/{name}"],
                lambda: gluster.block_delete(self._state, node, bhv_name, name),
            )

    async def block_volume_expand(
        self, host: str, bhv_name: str, name: str, new_size_gib: int
    ) -> None:
        check_node_values(names=[bhv_name, name])
        node = self.node(host)
        async with self._call("block_volume_expand", host):
            await self._run(
                node,
                "gluster",
                ["gluster-block", "modify", f"{bhv_name}/{name}"],
                lambda: gluster.block_modify_size(self._state, node, bhv_name, name, new_size_gib),
            )


def _require_same_brick(node: NodeState, vg_name: str, brick: BrickRequest) -> None:
    """An existing LV of the same name must be this very brick, or creating it is a conflict."""
    vg = node.vgs[vg_name]
    lv = vg.lvs[brick.lv_name]
    pool = vg.lvs.get(brick.tp_name)
    same = (
        lv.kind == "thin"
        and lv.pool == brick.tp_name
        and lv.size_kib == brick.size_kib
        and pool is not None
        and pool.size_kib == lvm.round_up(brick.tp_size_kib, vg.extent_kib)
    )
    if not same:
        raise log_failure(NodeCommandError(
            node.host,
            [lvm.LVM, "lvcreate", f"{vg_name}/{brick.tp_name}", "--name", brick.lv_name],
            lvm.LVM_EXIT,
            f'  Logical Volume "{brick.lv_name}" already exists in volume group "{vg_name}"',
        ))


def _down(node: NodeState | None) -> bool:
    return node is not None and (node.glusterd_down or node.unreachable)


def _gluster_uuid() -> str:
    return str(uuid.uuid4())


def _label(argv: list[str]) -> str:
    program = posixpath.basename(argv[0]) if argv else ""
    if program == "lvm" and len(argv) > 1:
        return f"lvm {argv[1]}"
    if program == "gluster":
        words = [word for word in argv[1:] if not word.startswith("--")]
        return " ".join(["gluster", *words[:2]])
    return program


def _vg_view(vg: VolumeGroup) -> dict[str, Any]:
    return {
        "pv": vg.pv,
        "total_kib": vg.total_kib,
        "free_kib": vg.free_kib,
        "used_kib": vg.used_kib,
        "extent_kib": vg.extent_kib,
        "lvs": {
            name: {
                "kind": lv.kind,
                "size_kib": lv.size_kib,
                "pool": lv.pool,
                "metadata_kib": lv.metadata_kib,
                "origin": lv.origin,
                "tags": list(lv.tags),
                "filesystem": lv.filesystem,
            }
            for name, lv in vg.lvs.items()
        },
    }


def _volume_view(volume: GlusterVolumeState) -> dict[str, Any]:
    return {
        "id": volume.id,
        "type": volume.type,
        "status": volume.status,
        "bricks": list(volume.bricks),
        "options": dict(volume.options),
        "block_volumes": {name: block.size_gib for name, block in volume.block_volumes.items()},
    }
