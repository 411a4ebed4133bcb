"""The CSI Node service: one FUSE mount of the Gluster volume per node at the staging path
(NodeStageVolume), a bind mount per pod (NodePublishVolume, read-only honoured with a ``ro``
remount), and their idempotent removal; volume stats and condition from statvfs.

Stale FUSE mounts ("Transport endpoint is not connected": the glusterfs client process died,
typically because the node plugin restarted) are detected with a stat of the mount point. A
stale staging mount is unmounted and mounted again at the next stage or publish; a stale bind
mount is dropped and bound again at the next publish; NodeGetVolumeStats reports the volume
condition abnormal meanwhile.

Hung FUSE mounts (the client is alive but does not answer: stopped, or waiting for unreachable
bricks) block every stat of the mount in the kernel. One event loop serves all RPCs, so stats
run in threads of their own and count as "not answering" after ``health_timeout_s``: stats
report the condition abnormal, stage/publish answer UNAVAILABLE (the CO retries; a client
that catches up must not be unmounted under its pods). While one probe of a mount is stuck no
other is started, so a hung mount holds at most one thread.

A mount already in place counts only if it is this volume's: a glusterfs mount of another
volume at the staging path is ALREADY_EXISTS for stage and FAILED_PRECONDITION for publish, a
mount at the target path that is not the staging mount is ALREADY_EXISTS.

Where to mount from: the volume's hosts from heketipy (``GET /volumes/<id>``: the first is the
volfile server, the others ``backup-volfile-servers``); if heketipy cannot be reached, the
``glusterVolume``/``glusterHosts`` the controller put in the volume context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from heketipy.client import AsyncHeketiClient, HeketiConnectionError, HeketiError
from heketipy.csi.access import READ_ONLY_MODES, capability_problems
from heketipy.csi.errors import CsiError, from_heketi, invalid, require
from heketipy.csi.locks import InFlight
from heketipy.csi.mounts import (
    GLUSTERFS_FSTYPE,
    MountEntry,
    MountTable,
    PathState,
    Runner,
    bind_mount_argv,
    checked_path,
    mount_glusterfs_argv,
    parse_mountinfo,
    path_state,
    read_mountinfo,
    remount_readonly_argv,
    run_command,
    umount_argv,
)
from heketipy.csi.rpc import log, rpc
from heketipy.third_party.csi_spec import csi_pb2 as pb
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc

T = TypeVar("T")
NodeCap = pb.NodeServiceCapability.RPC
HEALTH_TIMEOUT_S = 5.0
ADVERTISED = (NodeCap.STAGE_UNSTAGE_VOLUME, NodeCap.GET_VOLUME_STATS, NodeCap.VOLUME_CONDITION)


def _volume_paths(request: object, *fields: str) -> list[str]:
    """A node RPC's volume_id and path ``fields`` present (INVALID_ARGUMENT naming the first
    missing), each path absolute: the normalized paths, in the order of ``fields``."""
    require(request, "volume_id", *fields)
    return [checked_path(getattr(request, field), field) for field in fields]


@dataclass(frozen=True)
class GlusterLocation:
    volume: str
    hosts: tuple[str, ...]


class NodeService(pb_grpc.NodeServicer):
    def __init__(
        self,
        client: AsyncHeketiClient | None,
        node_id: str,
        *,
        runner: Runner = run_command,
        mountinfo: Callable[[], str] = read_mountinfo,
        stat: Callable[[str], object] = os.stat,
        statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.node_id = node_id
        self.runner = runner
        self.mountinfo = mountinfo
        self.stat = stat
        self.statvfs = statvfs
        self.in_flight = InFlight()
        self.health_timeout_s = health_timeout_s
        self._stuck_probes: dict[str, asyncio.Future[Any]] = {}

    # -- helpers ------------------------------------------------------------------------------

    def _table(self) -> MountTable:
        return MountTable(parse_mountinfo(self.mountinfo()))

    async def _probe(self, path: str, work: Callable[[], T]) -> T | None:
        """``work()``, a stat or statvfs of ``path``, in a thread; None when it has not
        answered within ``health_timeout_s``, or while an earlier probe of ``path`` is stuck."""
        key = os.path.normpath(path)
        stuck = self._stuck_probes.get(key)
        if stuck is not None:
            if not stuck.done():
                return None
            del self._stuck_probes[key]
        future = _in_thread(work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.health_timeout_s)
        except TimeoutError:
            self._stuck_probes[key] = future
            return None

    async def _state(self, path: str) -> PathState:
        state = await self._probe(path, lambda: path_state(path, self.stat))
        return PathState.HUNG if state is None else state

    def _not_answering(self, path: str) -> str:
        return (f"the glusterfs mount at {path} is not answering (no reply within "
                f"{self.health_timeout_s:g} s): its client is stopped or its bricks unreachable")

    def _hung(self, path: str) -> CsiError:
        return CsiError(grpc.StatusCode.UNAVAILABLE, self._not_answering(path) + "; try again")

    async def _run(self, argv: Sequence[str], action: str) -> None:
        result = await self.runner(argv)
        if result.returncode != 0:
            raise CsiError(
                grpc.StatusCode.INTERNAL,
                f"{action} failed (exit {result.returncode}): {result.stderr.strip()}",
            )

    async def _unmount_if_mounted(self, path: str) -> bool:
        """Unstage and unpublish: unmount ``path`` if it is a mount point; False if it was not."""
        if self._table().get(path) is None:
            return False
        await self._unmount(path)
        return True

    async def _unmount(self, path: str) -> None:
        """Unmount ``path``; lazily when a plain umount fails (a dead FUSE mount can refuse)."""
        result = await self.runner(umount_argv(path))
        if result.returncode == 0 or self._table().get(path) is None:
            return
        log.warning("umount %s failed (%s); detaching lazily", path, result.stderr.strip())
        await self._run(umount_argv(path, lazy=True), f"umount -l {path}")

    async def _locate(self, volume_id: str, context: dict[str, str]) -> GlusterLocation:
        if self.client is not None:
            try:
                volume = await self.client.volume_info(volume_id)
            except HeketiConnectionError:
                if "glusterVolume" not in context:
                    raise
                log.warning("heketipy unreachable; mounting %s from its volume context", volume_id)
            except HeketiError as exc:
                if exc.status == 404:
                    raise CsiError(grpc.StatusCode.NOT_FOUND,
                                   f"volume {volume_id} not found") from None
                raise from_heketi(exc, "look up volume") from None
            else:
                return GlusterLocation(volume.name, tuple(volume.mount.glusterfs.hosts))
        hosts = tuple(h for h in context.get("glusterHosts", "").split(",") if h)
        if "glusterVolume" not in context or not hosts:
            raise CsiError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"volume {volume_id}: no heketipy and no glusterVolume/glusterHosts "
                           "in the volume context")
        return GlusterLocation(context["glusterVolume"], hosts)

    async def _volume_name(self, volume_id: str, context: dict[str, str]) -> str:
        """The Gluster volume's name: from the volume context when the controller put it
        there (no call), else from heketipy."""
        return context.get("glusterVolume") or (await self._locate(volume_id, context)).volume

    async def _mount_staging(self, volume_id: str, staging: str,
                             capability: pb.VolumeCapability, context: dict[str, str]) -> None:
        location = await self._locate(volume_id, context)
        if not location.hosts:
            raise CsiError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"volume {volume_id} has no mount hosts")
        argv = mount_glusterfs_argv(
            location.hosts[0], location.volume, staging,
            backup_hosts=location.hosts[1:], options=list(capability.mount.mount_flags),
        )
        os.makedirs(staging, exist_ok=True)
        await self._run(argv, f"mount of volume {location.volume} at {staging}")
        log.info("staged volume %s (%s) at %s", volume_id, location.volume, staging)

    async def _ensure_staged(self, volume_id: str, staging: str,
                             capability: pb.VolumeCapability, context: dict[str, str],
                             *, must_exist: bool) -> None:
        entry = self._table().get(staging)
        if entry is not None:
            state = await self._state(staging)
            if state == PathState.HEALTHY:
                if entry.fstype != GLUSTERFS_FSTYPE:
                    raise CsiError(grpc.StatusCode.ALREADY_EXISTS,
                                   f"{staging} holds a {entry.fstype} mount, not glusterfs")
                expected = await self._volume_name(volume_id, context)
                if mounted_volume(entry) != expected:
                    raise CsiError(grpc.StatusCode.ALREADY_EXISTS,
                                   f"{staging} holds a mount of {entry.source}, not of volume "
                                   f"{volume_id} ({expected})")
                return
            if state == PathState.HUNG:
                raise self._hung(staging)
            log.warning("staging mount %s of volume %s is stale; remounting", staging, volume_id)
            await self._unmount(staging)
        elif must_exist:
            raise CsiError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"volume {volume_id} is not staged at {staging}")
        await self._mount_staging(volume_id, staging, capability, context)

    async def _ensure_staged_for_publish(self, volume_id: str, staging: str,
                                         capability: pb.VolumeCapability,
                                         context: dict[str, str]) -> None:
        """Publishes of one volume for several pods run side by side; only a remount of a
        stale staging mount takes the staging path's lock (ABORTED for the others meanwhile)."""
        entry = self._table().get(staging)
        if entry is not None and await self._state(staging) == PathState.HEALTHY:
            return
        with self.in_flight.hold_path(staging, "staging"):
            await self._ensure_staged(volume_id, staging, capability, context, must_exist=True)

    def _check_staged(self, volume_id: str, staging: str, context: dict[str, str]) -> None:
        """What is mounted at the staging path is a glusterfs mount of this volume (named by
        the volume context, so a publish asks nothing of heketipy): never bind another into
        the pod."""
        staged = self._table().get(staging)
        expected = context.get("glusterVolume")
        if staged is None or staged.fstype != GLUSTERFS_FSTYPE or (
                expected and mounted_volume(staged) != expected):
            held = "nothing" if staged is None else f"a {staged.fstype} mount of {staged.source}"
            raise CsiError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"volume {volume_id} is not staged at {staging}: it holds {held}")

    @staticmethod
    def _check_capability(request: object) -> pb.VolumeCapability:
        if not request.HasField("volume_capability"):  # type: ignore[attr-defined]
            raise invalid("volume_capability is required")
        capability: pb.VolumeCapability = request.volume_capability  # type: ignore[attr-defined]
        problems = capability_problems([capability])
        if problems:
            raise invalid("; ".join(problems))
        return capability

    # -- stage / unstage ----------------------------------------------------------------------

    @rpc
    async def NodeStageVolume(
        self, request: pb.NodeStageVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeStageVolumeResponse:
        [staging] = _volume_paths(request, "staging_target_path")
        capability = self._check_capability(request)
        with self.in_flight.hold_path(staging, "staging"):
            await self._ensure_staged(request.volume_id, staging, capability,
                                      dict(request.volume_context), must_exist=False)
        return pb.NodeStageVolumeResponse()

    @rpc
    async def NodeUnstageVolume(
        self, request: pb.NodeUnstageVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeUnstageVolumeResponse:
        [staging] = _volume_paths(request, "staging_target_path")
        with self.in_flight.hold_path(staging, "staging"):
            if await self._unmount_if_mounted(staging):
                log.info("unstaged volume %s from %s", request.volume_id, staging)
        return pb.NodeUnstageVolumeResponse()

    # -- publish / unpublish ------------------------------------------------------------------

    @rpc
    async def NodePublishVolume(
        self, request: pb.NodePublishVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodePublishVolumeResponse:
        target, staging = _volume_paths(request, "target_path", "staging_target_path")
        capability = self._check_capability(request)
        read_only = request.readonly or capability.access_mode.mode in READ_ONLY_MODES
        with self.in_flight.hold_path(target, "target"):
            await self._ensure_staged_for_publish(request.volume_id, staging, capability,
                                                  dict(request.volume_context))
            self._check_staged(request.volume_id, staging, dict(request.volume_context))
            entry = self._table().get(target)
            if entry is not None:
                state = await self._state(target)
                if state == PathState.HUNG:
                    raise self._hung(target)
                if state == PathState.HEALTHY:
                    staged = self._table().get(staging)
                    if staged is None or (entry.fstype, entry.source, entry.root) != (
                            staged.fstype, staged.source, staged.root):
                        raise CsiError(
                            grpc.StatusCode.ALREADY_EXISTS,
                            f"{target} holds a {entry.fstype} mount of {entry.source}, not "
                            f"volume {request.volume_id} staged at {staging}",
                        )
                    if entry.read_only != read_only:
                        raise CsiError(
                            grpc.StatusCode.ALREADY_EXISTS,
                            f"{target} is already published "
                            f"{'read-only' if entry.read_only else 'read-write'}",
                        )
                    return pb.NodePublishVolumeResponse()
                log.warning("bind mount %s of volume %s is stale; binding again",
                            target, request.volume_id)
                await self._unmount(target)
            os.makedirs(target, exist_ok=True)
            await self._run(bind_mount_argv(staging, target), f"bind mount at {target}")
            if read_only:
                try:
                    await self._run(remount_readonly_argv(target), f"read-only remount of {target}")
                except CsiError:
                    await self._unmount(target)  # never leave it writable
                    raise
        log.info("published volume %s at %s%s", request.volume_id, target,
                 " read-only" if read_only else "")
        return pb.NodePublishVolumeResponse()

    @rpc
    async def NodeUnpublishVolume(
        self, request: pb.NodeUnpublishVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeUnpublishVolumeResponse:
        [target] = _volume_paths(request, "target_path")
        with self.in_flight.hold_path(target, "target"):
            await self._unmount_if_mounted(target)
            try:
                os.rmdir(target)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise CsiError(grpc.StatusCode.INTERNAL,
                               f"cannot remove target path {target}: {exc.strerror}") from None
        return pb.NodeUnpublishVolumeResponse()

    # -- stats, info, capabilities ------------------------------------------------------------

    @rpc
    async def NodeGetVolumeStats(
        self, request: pb.NodeGetVolumeStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeGetVolumeStatsResponse:
        [path] = _volume_paths(request, "volume_path")
        state = await self._state(path)
        if state == PathState.MISSING or self._table().get(path) is None:
            raise CsiError(grpc.StatusCode.NOT_FOUND,
                           f"volume {request.volume_id} is not mounted at {path}")
        if state == PathState.STALE:
            return pb.NodeGetVolumeStatsResponse(volume_condition=pb.VolumeCondition(
                abnormal=True,
                message="transport endpoint is not connected: the glusterfs client of this "
                        "mount is gone; the next stage/publish mounts it again",
            ))
        stats = None if state == PathState.HUNG else await self._probe(
            path, lambda: self.statvfs(path))
        if stats is None:
            return pb.NodeGetVolumeStatsResponse(volume_condition=pb.VolumeCondition(
                abnormal=True, message=self._not_answering(path)))
        usage = [
            pb.VolumeUsage(
                unit=pb.VolumeUsage.BYTES,
                total=stats.f_blocks * stats.f_frsize,
                available=stats.f_bavail * stats.f_frsize,
                used=(stats.f_blocks - stats.f_bfree) * stats.f_frsize,
            ),
            pb.VolumeUsage(
                unit=pb.VolumeUsage.INODES,
                total=stats.f_files,
                available=stats.f_favail,
                used=stats.f_files - stats.f_ffree,
            ),
        ]
        return pb.NodeGetVolumeStatsResponse(
            usage=usage,
            volume_condition=pb.VolumeCondition(abnormal=False, message="mounted and answering"),
        )

    @rpc
    async def NodeGetCapabilities(
        self, request: pb.NodeGetCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeGetCapabilitiesResponse:
        return pb.NodeGetCapabilitiesResponse(capabilities=[
            pb.NodeServiceCapability(rpc=NodeCap(type=t)) for t in ADVERTISED
        ])

    @rpc
    async def NodeGetInfo(
        self, request: pb.NodeGetInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.NodeGetInfoResponse:
        return pb.NodeGetInfoResponse(node_id=self.node_id)


def mounted_volume(entry: MountEntry) -> str:
    """The Gluster volume of a glusterfs mount: its source is ``HOST:/VOLUME`` (or
    ``HOST:VOLUME``; HOST may be a bracketed IPv6 address)."""
    return entry.source.rpartition(":")[2].lstrip("/")


def _in_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """``work()`` in a daemon thread of its own: a thread stuck in a hung FUSE mount neither
    occupies a pool's worker nor keeps the process from exiting."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    # an abandoned probe's late failure is nobody's to report
    future.add_done_callback(lambda f: f.cancelled() or f.exception())

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        result, error = None, None
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="heketipy-csi-probe", daemon=True).start()
    return future
