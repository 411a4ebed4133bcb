"""RemoteExecutor: the ``Executor`` protocol on real nodes, through a ``CommandRunner``.

Every node call is a sequence of argv lists from ``executors.commands`` run by the transport
(SSH or Kubernetes exec). Concurrency rules:

* gluster and gluster-block commands take the lock of the node's trusted pool, so one glusterd
  transaction runs at a time per pool; a command refused with glusterd's "Another transaction
  is in progress"/"Locking failed" texts is retried with exponential backoff;
* LVM/XFS/mount commands are not serialised (LVM locks its VGs itself), except that fstab edits
  on one node take that node's fstab lock (two concurrent rewrites would lose a line);
* pools are learnt from ``peer_probe``/``peer_detach`` and volume bricks (hosts never seen form
  a pool of their own).

Failures raise ``NodeCommandError(node, argv, exit_code, stderr)`` with LVM/device-mapper noise
removed from stderr, each logged once (``runner.log_failure``) where it is raised; a command
whose non-zero exit is an expected answer (a probe) is not a failure. Brick and device calls
are idempotent as ``executors.base`` requires.

Locale: every command runs as ``[sudo -n --] env LC_ALL=C <tool> ...`` (``_exec``, the one
path to the runner), and no decision reads English text where the tool says it otherwise:

* LVM exits 5 for every failure, "not found" included, so a failed command naming an LV, VG
  or PV is followed by a look at the JSON reports (``vgs``/``lvs``) or at ``blkid`` before it
  counts as "already gone";
* ``blkid -p``: exit 2 = no signature; ``mountpoint -q``: exit 0 = mounted, anything else is
  "not mounted" (util-linux says 32, older releases 1); ``umount`` exits 32 for "not mounted"
  and "busy" alike, so ``mountpoint -q`` decides; ``systemctl status``: 0 = active, 3 = not
  active, anything else = systemctl cannot tell (no systemd) and glusterd itself is asked;
* gluster ``--xml``: ``opErrno`` EG_NOVOL (volume missing) and EG_ANOTRANS (locked); plain
  gluster commands exit 1 for every failure, so the lock-conflict retry reads glusterd's
  (untranslated) text and a failed ``volume delete`` asks ``volume info --xml``;
* gluster-block: the JSON ``RESULT`` and ``errCode`` (ENOENT = missing block volume).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from heketipy.config import ExecCommonSettings
from heketipy.domain.entities import gluster_managed
from heketipy.domain.errors import NodeCommandError
from heketipy.executors import commands_gluster as gcmd
from heketipy.executors import commands_lvm as lcmd
from heketipy.executors.base import (
    BlockVolumeInfo,
    BlockVolumeRequest,
    BrickAddress,
    BrickRequest,
    DeviceInfo,
    DeviceNotAvailable,
    GlusterVolume,
    NodeInventory,
    RecoveryFacts,
    VolumeDoesNotExist,
    VolumeRequest,
)
from heketipy.executors.commands_common import (
    CommandOptions,
    clean_stderr,
    with_locale,
    with_sudo,
)
from heketipy.executors.runner import (
    CommandObserver,
    CommandResult,
    CommandRunner,
    observed_run,
    report_failure,
)

log = logging.getLogger(__name__)

DEVICE_TIMEOUT_S = 5 * 60
BRICK_TIMEOUT_S = 10 * 60
# After `gluster volume stop` a brick's glusterfsd can still be exiting, and its mount is busy
# until it has: umount is retried this long (7.75 s in all) before the error stands. Upstream
# fails at once, one of the sporadic "target is busy" delete failures Heketi users know.
UMOUNT_BUSY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)
HEALTH_TIMEOUT_S = 10 * 60
BLOCK_TIMEOUT_S = 10 * 60
# ``systemctl status``'s LSB exit code for a unit that is not active (dead, failed, inactive).
SYSTEMCTL_INACTIVE = 3


E = TypeVar("E", bound=NodeCommandError)


class RemoteExecutor:
    """Real storage nodes behind a ``CommandRunner``; see the module docstring."""

    def __init__(
        self,
        runner: CommandRunner,
        settings: ExecCommonSettings | CommandOptions,
        *,
        name: str,
        use_sudo: bool | None = None,
        lock_retries: int = 8,
        lock_backoff_s: float = 0.5,
        lock_backoff_max_s: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.runner = runner
        self.options = (
            settings
            if isinstance(settings, CommandOptions)
            else CommandOptions.from_settings(settings, sudo=use_sudo)
        )
        self.lock_retries = lock_retries
        self.lock_backoff_s = lock_backoff_s
        self.lock_backoff_max_s = lock_backoff_max_s
        self._sleep = sleep
        self._storage_to_manage: dict[str, str] = {}
        self._manage_to_storage: dict[str, str] = {}
        self._pool_of: dict[str, str] = {}
        self._pool_locks: dict[str, asyncio.Lock] = {}
        self._fstab_locks: dict[str, asyncio.Lock] = {}
        # Told of every command run (the node-command metrics); see ``observe_commands``.
        self.command_observer: CommandObserver | None = None

    # -- lifecycle and registry ----------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.runner.close()

    async def set_log_level(self, level: str) -> None:
        return None

    def observe_commands(self, observer: CommandObserver) -> None:
        """Report every command run and every failure raised from now on to ``observer``."""
        self.command_observer = observer

    def _failed(self, error: E) -> E:
        """Log and report the failed command ``error`` describes; returns it for raising."""
        return report_failure(error, self.command_observer)

    def register_node(self, manage: list[str], storage: list[str]) -> None:
        """Record manage <-> storage names (bricks and peers speak storage names)."""
        if not manage:
            return
        for storage_host in storage:
            self._storage_to_manage[storage_host] = manage[0]
        if storage:
            self._manage_to_storage[manage[0]] = storage[0]

    def manage_host(self, host: str) -> str:
        return self._storage_to_manage.get(host, host)

    def storage_host(self, manage: str) -> str:
        return self._manage_to_storage.get(manage, manage)

    def pool_of(self, host: str) -> str:
        manage = self.manage_host(host)
        return self._pool_of.get(manage, manage)

    def _join_pools(self, hosts: Sequence[str]) -> None:
        """Every pool touching ``hosts`` becomes the pool of the first one."""
        if not hosts:
            return
        target = self.pool_of(hosts[0])
        merged = {self.pool_of(h) for h in hosts}
        for host in {self.manage_host(h) for h in hosts}:
            self._pool_of[host] = target
        for host, pool in list(self._pool_of.items()):
            if pool in merged:
                self._pool_of[host] = target

    # -- running commands ----------------------------------------------------------------------

    def _gluster_timeout_s(self) -> float:
        # Upstream: max(10, 1 + (T+1)/60) minutes for the CLI, whose own timeout is T seconds.
        return float(max(600, 60 * (1 + (self.options.gluster_cli_timeout + 1) // 60)))

    async def _exec(
        self, host: str, argv: Sequence[str], timeout_s: float, *, check: bool = True
    ) -> CommandResult:
        full = with_sudo(with_locale(argv), self.options.sudo)
        try:
            result = await observed_run(self.runner, host, full, timeout_s, self.command_observer)
        except NodeCommandError as error:  # unreachable node, timeout: no exit code
            self._failed(error)
            raise
        if check and not result.ok:
            raise self._error(host, result)
        return result

    def _error(
        self, host: str, result: CommandResult, cls: type[NodeCommandError] = NodeCommandError
    ) -> NodeCommandError:
        stderr = clean_stderr(result.stderr) or result.stdout.strip()
        return self._failed(cls(host, result.argv, result.exit_code, stderr))

    def _pool_lock(self, host: str) -> asyncio.Lock:
        pool = self.pool_of(host)
        lock = self._pool_locks.get(pool)
        if lock is None:
            lock = self._pool_locks[pool] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def _fstab_lock(self, host: str) -> AsyncIterator[None]:
        lock = self._fstab_locks.setdefault(host, asyncio.Lock())
        async with lock:
            yield

    async def _gluster(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None, check: bool = True
    ) -> CommandResult:
        """One glusterd transaction under the pool lock, retried while glusterd is locked."""
        timeout = timeout_s or self._gluster_timeout_s()
        delay = self.lock_backoff_s
        async with self._pool_lock(host):
            for attempt in range(self.lock_retries + 1):
                result = await self._exec(host, argv, timeout, check=False)
                conflict = gcmd.is_transaction_conflict(result.stdout, result.stderr)
                if not conflict or attempt == self.lock_retries:
                    break
                log.info("glusterd busy on %s (%s), retry in %.1fs", host, argv[3:5], delay)
                await self._sleep(delay)
                delay = min(delay * 2, self.lock_backoff_max_s)
        if check and not result.ok:
            raise self._error(host, result)
        return result

    async def _gluster_xml(self, host: str, argv: Sequence[str]) -> str:
        """A ``--xml`` command: failures in ``opRet``/``opErrstr`` count even with exit 0."""
        result = await self._gluster(host, argv, check=False)
        status: gcmd.CliStatus | None = None
        with contextlib.suppress(lcmd.ParseError):
            status = gcmd.parse_cli_status(result.stdout)
        if result.ok and status is not None and status.ok:
            return result.stdout
        message = (status.op_errstr if status else "") or clean_stderr(result.stderr)
        message = message or result.stdout.strip() or f"exit code {result.exit_code}"
        missing = status is not None and status.op_errno == gcmd.EG_NOVOL
        cls = VolumeDoesNotExist if missing else NodeCommandError
        raise self._failed(cls(host, result.argv, result.exit_code if not result.ok else 1, message))

    # -- health and peers ----------------------------------------------------------------------

    async def glusterd_check(self, host: str) -> None:
        result = await self._exec(host, lcmd.glusterd_status(), HEALTH_TIMEOUT_S, check=False)
        if result.ok:
            return
        if result.exit_code == SYSTEMCTL_INACTIVE:
            raise self._error(host, result)
        # systemctl could not tell (no systemd in containers and test namespaces: exit 1; no
        # such unit: 4; no systemctl: 127): ask glusterd itself.
        await self._gluster_xml(host, gcmd.peer_status(self.options))

    async def peer_probe(self, exec_host: str, new_storage_host: str) -> None:
        await self._gluster(exec_host, gcmd.peer_probe(self.options, new_storage_host))
        self._join_pools([exec_host, new_storage_host])
        if self.options.snapshot_limit > 0:
            await self._gluster(exec_host, gcmd.snapshot_limit(self.options))

    async def peer_detach(self, exec_host: str, storage_host: str) -> None:
        await self._gluster(exec_host, gcmd.peer_detach(self.options, storage_host))
        manage = self.manage_host(storage_host)
        self._pool_of[manage] = manage

    # -- devices -------------------------------------------------------------------------------

    async def _device_info(self, host: str, device: str, device_id: str, rows: list) -> DeviceInfo:
        pv = rows[0] if rows else {}
        pv_name = str(pv.get("pv_name") or device)
        paths: tuple[str, ...] = (pv_name,)
        symlinks = await self._exec(
            host, lcmd.udev_symlinks(pv_name), DEVICE_TIMEOUT_S, check=False
        )
        if symlinks.ok:
            paths = lcmd.parse_udev_symlinks(symlinks.stdout, pv_name)
        result = await self._exec(host, lcmd.vgdisplay(self.options, device_id), DEVICE_TIMEOUT_S)
        vg = lcmd.parse_vgdisplay_c(result.stdout, lcmd.vg_name(device_id))
        return DeviceInfo(
            total_kib=vg.total_kib,
            free_kib=vg.free_kib,
            used_kib=vg.used_kib,
            extent_kib=vg.extent_kib,
            pv_uuid=str(pv.get("pv_uuid", "")),
            paths=paths,
        )

    async def device_setup(
        self, host: str, device: str, device_id: str, destroy_data: bool
    ) -> DeviceInfo:
        vg = lcmd.vg_name(device_id)
        pvs_argv = lcmd.pvs_json(self.options, device)
        existing = await self._exec(host, pvs_argv, DEVICE_TIMEOUT_S, check=False)
        if existing.ok:
            rows = lcmd.parse_lvm_report(existing.stdout)
            if rows and rows[0].get("vg_name") == vg:  # a replayed setup: already done
                return await self._device_info(host, device, device_id, rows)
        try:
            if destroy_data:
                await self._exec(host, lcmd.wipefs(device), DEVICE_TIMEOUT_S)
            await self._exec(host, lcmd.pvcreate(self.options, device), DEVICE_TIMEOUT_S)
        except NodeCommandError as error:
            if error.exit_code is None:
                raise
            raise DeviceNotAvailable(host, error.argv, error.exit_code, error.stderr) from error
        try:
            await self._exec(host, lcmd.vgcreate(self.options, device_id, device), DEVICE_TIMEOUT_S)
        except NodeCommandError:
            with contextlib.suppress(NodeCommandError):
                await self._exec(host, lcmd.pvremove(self.options, device), DEVICE_TIMEOUT_S)
            raise
        try:
            result = await self._exec(host, pvs_argv, DEVICE_TIMEOUT_S)
            rows = lcmd.parse_lvm_report(result.stdout)
            return await self._device_info(host, device, device_id, rows)
        except (NodeCommandError, lcmd.ParseError):
            log.warning("device %s on %s: setup failed after %s, tearing down", device, host, vg)
            with contextlib.suppress(NodeCommandError):
                await self.device_teardown(host, device, device_id)
            raise

    async def device_info(self, host: str, device: str, device_id: str) -> DeviceInfo:
        result = await self._exec(host, lcmd.vgs_pv_json(self.options, device_id), DEVICE_TIMEOUT_S)
        rows = lcmd.parse_lvm_report(result.stdout)
        return await self._device_info(host, device, device_id, rows)

    async def device_teardown(self, host: str, device: str, device_id: str) -> None:
        """Remove the VG and PV; a VG or PV already gone counts as removed."""
        pv_path = device
        found = await self._exec(
            host, lcmd.vgs_pv_json(self.options, device_id), DEVICE_TIMEOUT_S, check=False
        )
        if found.ok:
            rows = lcmd.parse_lvm_report(found.stdout)
            pv_path = str(rows[0].get("pv_name") or device) if rows else device
            await self._exec(host, lcmd.vgremove(self.options, device_id), DEVICE_TIMEOUT_S)
        removed = await self._exec(
            host, lcmd.pvremove(self.options, pv_path), DEVICE_TIMEOUT_S, check=False
        )
        if not removed.ok and not await self._pv_absent(host, pv_path):
            raise self._error(host, removed)
        mounts_dir = f"{lcmd.MOUNTS_ROOT}/{lcmd.vg_name(device_id)}"
        await self._exec(host, lcmd.rmdir(mounts_dir), DEVICE_TIMEOUT_S, check=False)

    # -- bricks --------------------------------------------------------------------------------

    async def _pv_absent(self, host: str, device: str) -> bool:
        """After a failed ``pvremove``: True when ``device`` carries no PV signature (blkid
        exit 2, or another type), False when it still does or blkid cannot tell."""
        probe = await self._exec(host, lcmd.filesystem_type(device), DEVICE_TIMEOUT_S, check=False)
        if probe.exit_code == lcmd.BLKID_NOTHING_FOUND:
            return True
        return probe.ok and probe.stdout.strip() != lcmd.PV_SIGNATURE

    async def _lv_names(self, host: str, device_id: str) -> set[str] | None:
        """Names of the LVs of the device's VG; ``None`` when the VG does not exist.

        LVM exits 5 for a missing VG as for any other failure: the VG listing tells them apart.
        """
        result = await self._exec(
            host, lcmd.lv_names(self.options, device_id), BRICK_TIMEOUT_S, check=False
        )
        if not result.ok:
            listing = await self._exec(
                host, lcmd.vg_names(self.options), BRICK_TIMEOUT_S, check=False
            )
            with contextlib.suppress(lcmd.ParseError):
                if listing.ok and lcmd.vg_name(device_id) not in {
                    str(row.get("vg_name")) for row in lcmd.parse_lvm_report(listing.stdout)
                }:
                    return None
            raise self._error(host, result)
        return {str(row.get("lv_name")) for row in lcmd.parse_lvm_report(result.stdout)}

    async def _lv_absent(self, host: str, device_id: str, lv: str) -> bool:
        """After a failed LVM command on ``lv``: True when the LV (or its VG) is not there,
        False when it is or the reports cannot tell."""
        try:
            names = await self._lv_names(host, device_id)
        except (NodeCommandError, lcmd.ParseError):
            return False
        return names is None or lv not in names

    async def _on_lv(
        self, host: str, argv: Sequence[str], device_id: str, lv: str
    ) -> tuple[CommandResult, bool]:
        """Run an LVM command on ``lv`` without raising; the flag says it failed while the LV is
        still there (a failure on an LV already gone counts as done)."""
        result = await self._exec(host, argv, DEVICE_TIMEOUT_S, check=False)
        return result, not result.ok and not await self._lv_absent(host, device_id, lv)

    async def _brick_lvs(self, host: str, brick: BrickRequest) -> bool:
        """Thin pool and thin LV in one ``lvcreate``; True when the LV was made now.

        No listing beforehand: a replay finds out from the failure. When the create fails, the
        VG's LV names tell a replay (the LV is there: nothing to do; only the pool: make the LV
        in it) from a real error, which is raised.
        """
        created = await self._exec(
            host, lcmd.thin_lv_create(self.options, brick, with_pool=True), BRICK_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        if created.ok:
            return True
        names = await self._lv_names(host, brick.device_id)
        if names is None or brick.tp_name not in names:
            raise self._error(host, created)
        if brick.lv_name in names:
            return False
        argv = lcmd.thin_lv_create(self.options, brick, with_pool=False)
        await self._exec(host, argv, BRICK_TIMEOUT_S)
        return True

    async def _mount_brick(self, host: str, device: str, mount_point: str) -> None:
        """Mount; a failed mount over a mount point already mounted is a replay, done."""
        result = await self._exec(
            host, lcmd.mount(self.options, device, mount_point), BRICK_TIMEOUT_S, check=False
        )
        if result.ok:
            return
        mounted = await self._exec(
            host, lcmd.is_mountpoint(mount_point), BRICK_TIMEOUT_S, check=False
        )
        if not mounted.ok:
            raise self._error(host, result)

    async def brick_create(self, host: str, brick: BrickRequest) -> BrickAddress:
        """mkdir, thin pool + thin LV (tagged), mkfs.xfs, fstab, mount, brick dir with its gid:
        six commands, upstream's count. The checks a replay needs (is the LV there, does it
        hold a filesystem, is it mounted) run only when a creating command fails or was
        skipped, never on the first pass.

        On failure whatever this call created is destroyed before the error is raised.
        """
        options = self.options
        device = lcmd.brick_device(brick)
        mount_point = brick.mount_path
        try:
            await self._exec(host, lcmd.mkdir_p(mount_point), BRICK_TIMEOUT_S)
            needs_fs = await self._brick_lvs(host, brick)
            if not needs_fs:
                probe = await self._exec(
                    host, lcmd.filesystem_type(device), BRICK_TIMEOUT_S, check=False
                )
                if not probe.ok and probe.exit_code != lcmd.BLKID_NOTHING_FOUND:
                    raise self._error(host, probe)  # blkid could not look: never reformat
                needs_fs = probe.stdout.strip() != "xfs"
            if needs_fs:
                argv = lcmd.mkfs_xfs(options, device, brick.arbiter)
                await self._exec(host, argv, BRICK_TIMEOUT_S)
            async with self._fstab_lock(host):
                await self._exec(
                    host, lcmd.fstab_add(options, device, mount_point), BRICK_TIMEOUT_S
                )
            await self._mount_brick(host, device, mount_point)
            await self._exec(host, lcmd.brick_dir_create(brick.path, brick.gid), BRICK_TIMEOUT_S)
        except NodeCommandError:
            log.warning("brick %s on %s failed; cleaning up", brick.brick_id, host)
            with contextlib.suppress(NodeCommandError):
                await self.brick_destroy(host, brick)
            raise
        return BrickAddress(self.storage_host(host), brick.path)

    async def brick_adopt(self, host: str, brick: BrickRequest) -> None:
        """Tag a clone's snapshot LV, give it an fstab line, and mount it if it is not."""
        device = lcmd.brick_device(brick)
        await self._exec(host, lcmd.lv_addtag(self.options, brick), BRICK_TIMEOUT_S)
        if not gluster_managed(brick.mount_path):  # glusterd remounts its own at volume start
            async with self._fstab_lock(host):
                argv = lcmd.fstab_add(self.options, device, brick.mount_path)
                await self._exec(host, argv, BRICK_TIMEOUT_S)
        mounted = await self._exec(
            host, lcmd.is_mountpoint(brick.mount_path), BRICK_TIMEOUT_S, check=False
        )
        if not mounted.ok:
            await self._exec(host, lcmd.mkdir_p(brick.mount_path), BRICK_TIMEOUT_S)
            argv = lcmd.mount(self.options, device, brick.mount_path)
            await self._exec(host, argv, BRICK_TIMEOUT_S)

    async def _brick_lv_sizes(self, host: str, brick: BrickRequest) -> dict[str, lcmd.LvSize]:
        """The brick's pool and thin LV sizes; an error when either is missing."""
        result = await self._exec(
            host, lcmd.brick_lv_sizes(self.options, brick), BRICK_TIMEOUT_S, check=False
        )
        sizes: dict[str, lcmd.LvSize] = {}
        with contextlib.suppress(lcmd.ParseError):
            sizes = lcmd.parse_lv_sizes(result.stdout)
        if brick.tp_name not in sizes or brick.lv_name not in sizes:
            raise self._error(host, result) if not result.ok else self._failed(NodeCommandError(
                host, result.argv, 1, f"brick {brick.brick_id}: thin pool or LV not reported",
            ))
        return sizes

    async def brick_extend(self, host: str, brick: BrickRequest) -> None:
        """lvextend the pool's data, then its metadata, then the thin LV: each only when the
        node has less (absolute sizes, so a replay changes nothing)."""
        options = self.options
        sizes = await self._brick_lv_sizes(host, brick)
        pool, lv = sizes[brick.tp_name], sizes[brick.lv_name]
        steps = []
        if pool.size_kib < brick.tp_size_kib:
            steps.append(lcmd.thin_pool_extend(options, brick))
        if pool.metadata_kib < brick.pool_metadata_kib:
            steps.append(lcmd.pool_metadata_extend(options, brick))
        if lv.size_kib < lcmd.thin_lv_virtual_kib(brick):
            steps.append(lcmd.thin_lv_extend(options, brick))
        for argv in steps:
            await self._exec(host, argv, BRICK_TIMEOUT_S)

    async def brick_extend_undo(self, host: str, brick: BrickRequest) -> tuple[int, int]:
        sizes = await self._brick_lv_sizes(host, brick)
        if sizes[brick.lv_name].size_kib > lcmd.thin_lv_virtual_kib(brick):
            await self._exec(host, lcmd.thin_lv_reduce(self.options, brick), BRICK_TIMEOUT_S)
        pool = sizes[brick.tp_name]
        return pool.size_kib, pool.metadata_kib

    async def brick_grow_filesystem(self, host: str, brick: BrickRequest) -> None:
        await self._exec(host, lcmd.xfs_growfs(brick.mount_path), BRICK_TIMEOUT_S)

    async def brick_destroy(self, host: str, brick: BrickRequest) -> bool:
        """Reverse of create; returns whether the thin pool was removed (space reclaimed).

        fstab and umount errors surface before any LVM change, as upstream orders them.
        """
        options = self.options
        mount_point = brick.mount_path
        umount_error: NodeCommandError | None = None
        result = await self._exec(host, lcmd.umount(mount_point), DEVICE_TIMEOUT_S, check=False)
        for delay in UMOUNT_BUSY_DELAYS_S:
            if result.ok or "busy" not in result.stderr:
                break
            log.info("umount %s on %s: busy, retry in %.2fs", mount_point, host, delay)
            await self._sleep(delay)
            result = await self._exec(
                host, lcmd.umount(mount_point), DEVICE_TIMEOUT_S, check=False
            )
        if not result.ok:
            still = await self._exec(
                host, lcmd.is_mountpoint(mount_point), DEVICE_TIMEOUT_S, check=False
            )
            if still.ok:
                umount_error = self._error(host, result)
                if options.debug_umount_failures:
                    holders = await self._exec(
                        host, lcmd.lsof(mount_point), DEVICE_TIMEOUT_S, check=False
                    )
                    log.warning("umount %s on %s: %s", mount_point, host, holders.stdout)
        if not gluster_managed(mount_point):  # as upstream: a clone's mount has no fstab line
            async with self._fstab_lock(host):
                await self._exec(host, lcmd.fstab_remove(options, mount_point), DEVICE_TIMEOUT_S)
        if umount_error is not None:
            raise umount_error
        vg, lv, tp = brick.device_id, brick.lv_name, brick.tp_name
        removed, failed = await self._on_lv(host, lcmd.lvremove(options, vg, lv), vg, lv)
        if failed:
            raise self._error(host, removed)
        count, failed = await self._on_lv(host, lcmd.thin_count(options, vg, tp), vg, tp)
        if failed:
            raise self._error(host, count)
        reclaimed = False
        if count.ok and lcmd.parse_thin_count(count.stdout) == 0:
            pool, failed = await self._on_lv(host, lcmd.lvremove(options, vg, tp), vg, tp)
            reclaimed = pool.ok
            if failed:
                log.warning("thin pool %s on %s kept: %s", tp, host, pool.stderr)
        await self._exec(host, lcmd.rmdir(mount_point), DEVICE_TIMEOUT_S, check=False)
        return reclaimed

    # -- gluster volumes -----------------------------------------------------------------------

    def _volume_hosts(self, volume: VolumeRequest) -> list[str]:
        return [b.host for b in volume.bricks]

    async def volume_create(self, host: str, volume: VolumeRequest) -> None:
        options = self.options
        # Every argv is built (and so validated) before the first runs: a refused option must
        # not leave a created volume behind.
        rest = volume.bricks[gcmd.set_size(volume) :]
        steps = [
            gcmd.volume_create(options, volume),
            *(gcmd.volume_add_brick(options, volume.name, w)
              for w in gcmd.add_brick_groups(volume, rest)),
            *(gcmd.volume_set(options, volume.name, o) for o in volume.options if o.strip()),
            gcmd.volume_start(options, volume.name),
        ]  # fmt: skip
        self._join_pools([host, *self._volume_hosts(volume)])
        for argv in steps:
            await self._gluster(host, argv)

    async def volume_expand(self, host: str, volume: VolumeRequest) -> None:
        options = self.options
        self._join_pools([host, *self._volume_hosts(volume)])
        current = await self.volume_info(host, volume.name)
        present = {(b.host, b.path) for b in current.bricks}
        # Bricks already in the volume come from a replayed step; add only the others.
        new = [b for b in volume.bricks if (b.host, b.path) not in present]
        for words in gcmd.add_brick_groups(volume, new):
            await self._gluster(host, gcmd.volume_add_brick(options, volume.name, words))
        if new and options.rebalance_on_expansion:
            with contextlib.suppress(NodeCommandError):  # upstream ignores rebalance failures
                await self._gluster(host, gcmd.rebalance_start(options, volume.name))

    async def volume_destroy(self, host: str, name: str) -> None:
        stopped = await self._gluster(host, gcmd.volume_stop(self.options, name), check=False)
        if not stopped.ok:  # ignored, as upstream: the delete tells what is wrong
            log.info("volume stop %s on %s failed: %s", name, host, clean_stderr(stopped.stderr))
        deleted = await self._gluster(host, gcmd.volume_delete(self.options, name), check=False)
        if deleted.ok:
            return
        # The CLI exits 1 for every failure: whether the volume is gone is asked with --xml.
        missing = False
        try:
            await self.volume_info(host, name)
        except VolumeDoesNotExist:
            missing = True
        except NodeCommandError:
            pass
        raise self._error(host, deleted, VolumeDoesNotExist if missing else NodeCommandError)

    async def volume_info(self, host: str, name: str) -> GlusterVolume:
        stdout = await self._gluster_xml(host, gcmd.volume_info(self.options, name))
        volumes = gcmd.parse_volume_info(stdout)
        for volume in volumes:
            if volume.name == name:
                return volume
        argv = gcmd.volume_info(self.options, name)
        raise VolumeDoesNotExist(host, argv, 1, f"Volume {name} does not exist")

    async def volumes_info(self, host: str) -> list[GlusterVolume]:
        stdout = await self._gluster_xml(host, gcmd.volume_info(self.options))
        return gcmd.parse_volume_info(stdout)

    async def volume_set_options(self, host: str, name: str, options: tuple[str, ...]) -> None:
        for option in options:
            if option.strip():
                await self._gluster(host, gcmd.volume_set(self.options, name, option))

    async def volume_replace_brick(
        self, host: str, name: str, old: BrickAddress, new: BrickAddress
    ) -> None:
        self._join_pools([host, new.host])
        await self._gluster(host, gcmd.replace_brick(self.options, name, old, new))

    async def heal_info_ok(self, host: str, name: str) -> bool:
        stdout = await self._gluster_xml(host, gcmd.heal_info(self.options, name))
        return gcmd.heal_is_clean(gcmd.parse_heal_info(stdout))

    async def volume_clone(self, host: str, source: str, clone: str) -> GlusterVolume:
        options = self.options
        snap = clone_snapshot_name(clone)
        clone_argv = gcmd.snapshot_clone(options, clone, snap)  # validated before anything runs
        await self._gluster_xml(host, gcmd.snapshot_create(options, snap, source))
        try:
            await self._gluster_xml(host, gcmd.snapshot_activate(options, snap))
            await self._gluster_xml(host, clone_argv)
            try:
                await self._gluster(host, gcmd.volume_start(options, clone))
            except NodeCommandError:
                with contextlib.suppress(NodeCommandError):
                    await self._gluster(host, gcmd.volume_delete(options, clone))
                raise
        finally:
            with contextlib.suppress(NodeCommandError):
                await self._gluster_xml(host, gcmd.snapshot_deactivate(options, snap))
            with contextlib.suppress(NodeCommandError):
                await self._gluster_xml(host, gcmd.snapshot_delete(options, snap))
        return await self.volume_info(host, clone)

    async def clone_snapshot_remove(self, host: str, clone: str) -> None:
        argv = gcmd.snapshot_delete(self.options, clone_snapshot_name(clone))
        result = await self._gluster(host, argv, check=False)
        status: gcmd.CliStatus | None = None
        with contextlib.suppress(lcmd.ParseError):
            status = gcmd.parse_cli_status(result.stdout)
        if result.ok and (status is None or status.ok):
            return
        message = (status.op_errstr if status else "") or clean_stderr(result.stderr)
        if "does not exist" in message:  # no leftover: the usual answer
            return
        raise self._failed(NodeCommandError(host, result.argv, result.exit_code or 1, message))

    # -- gluster-block -------------------------------------------------------------------------

    async def _block(self, host: str, argv: list[str]) -> tuple[CommandResult, dict[str, Any]]:
        result = await self._gluster(host, argv, timeout_s=BLOCK_TIMEOUT_S, check=False)
        try:
            document = gcmd.parse_block_json(result.stdout, result.stderr)
        except lcmd.ParseError as error:
            raise (
                self._error(host, result)
                if not result.ok
                else self._failed(NodeCommandError(host, result.argv, result.exit_code, str(error)))
            ) from error
        return result, document

    async def block_volume_create(self, host: str, request: BlockVolumeRequest) -> BlockVolumeInfo:
        result, document = await self._block(host, gcmd.block_create(self.options, request))
        failure = gcmd.block_failed(document)
        if failure or not result.ok:
            raise self._failed(
                NodeCommandError(host, result.argv, result.exit_code, failure or result.stderr)
            )
        hosts = gcmd.block_portals(document) or tuple(request.hosts)
        return BlockVolumeInfo(
            name=request.name,
            size_gib=request.size_gib,
            usable_size_gib=request.size_gib,
            hosts=hosts,
            iqn=str(document.get("IQN", "")),
            username=str(document.get("USERNAME", "")),
            password=str(document.get("PASSWORD", "")),
        )

    async def block_volume_destroy(self, host: str, bhv_name: str, name: str) -> None:
        argv = gcmd.block_delete(bhv_name, name)
        result = await self._gluster(host, argv, timeout_s=BLOCK_TIMEOUT_S, check=False)
        try:
            document = gcmd.parse_block_json(result.stderr, result.stdout)
        except lcmd.ParseError:
            if result.ok:
                return
            raise self._error(host, result) from None
        failure = gcmd.block_failed(document)
        if failure and not gcmd.block_missing(document, bhv_name, name):
            raise self._failed(NodeCommandError(host, result.argv, result.exit_code, failure))
        if not failure and not result.ok:
            raise self._error(host, result)

    async def block_volume_expand(
        self, host: str, bhv_name: str, name: str, new_size_gib: int
    ) -> None:
        result, document = await self._block(
            host, gcmd.block_modify_size(bhv_name, name, new_size_gib)
        )
        failure = gcmd.block_failed(document)
        if failure or not result.ok:
            raise self._failed(
                NodeCommandError(host, result.argv, result.exit_code, failure or result.stderr)
            )

    # -- inspection ----------------------------------------------------------------------------

    async def node_inventory(self, host: str) -> NodeInventory:
        options = self.options
        vgs = await self._exec(host, lcmd.vgs_inventory(options), DEVICE_TIMEOUT_S)
        lvs = await self._exec(host, lcmd.lvs_inventory(options), DEVICE_TIMEOUT_S)
        mounts = await self._exec(host, lcmd.read_mounts(), DEVICE_TIMEOUT_S)
        fstab = await self._exec(host, lcmd.read_fstab(options), DEVICE_TIMEOUT_S, check=False)
        roots = (lcmd.MOUNTS_ROOT + "/", lcmd.GLUSTER_SNAPS_ROOT + "/")
        return NodeInventory(
            vg_free_kib=lcmd.parse_vgs_free(vgs.stdout),
            lvs=lcmd.parse_lvs_inventory(lvs.stdout),
            mounts=tuple(
                target for _, target in lcmd.parse_mounts(mounts.stdout)
                if target.startswith(roots)
            ),
            fstab=lcmd.fstab_entries_under(fstab.stdout) if fstab.ok else (),
            volumes=tuple(await self.volumes_info(host)),
        )

    async def recovery_facts(
        self, host: str, brick_paths: tuple[str, ...], bhv_names: tuple[str, ...]
    ) -> RecoveryFacts:
        gids: dict[str, int] = {}
        if brick_paths:
            result = await self._exec(host, lcmd.stat_groups(brick_paths), DEVICE_TIMEOUT_S)
            gids = lcmd.parse_stat_groups(result.stdout)
        blocks: dict[str, tuple[BlockVolumeInfo, ...]] = {}
        for bhv in bhv_names:
            listed = await self._gluster(
                host, gcmd.block_list(bhv), timeout_s=BLOCK_TIMEOUT_S, check=False
            )
            if gcmd.command_missing(listed.exit_code):
                blocks[bhv] = ()  # no gluster-block on the node: it made no block volume
                continue
            try:
                document = gcmd.parse_block_json(listed.stdout, listed.stderr)
            except lcmd.ParseError as error:
                raise self._error(host, listed) from error
            if gcmd.block_failed(document) or not listed.ok:
                raise self._error(host, listed)
            infos = []
            for name in gcmd.parse_block_list(document):
                result, document = await self._block(host, gcmd.block_info(bhv, name))
                if gcmd.block_failed(document) or not result.ok:
                    raise self._error(host, result)
                infos.append(gcmd.parse_block_info(document))
            blocks[bhv] = tuple(infos)
        return RecoveryFacts(gids, blocks)


def clone_snapshot_name(clone: str) -> str:
    """The temporary snapshot of the clone ``clone``: upstream's ``tmpsnap_<uuid>`` shape, but
    derived from the clone's name so recovery can find (and remove) what a crash left."""
    return "tmpsnap_" + uuid.uuid5(uuid.NAMESPACE_URL, "heketipy:clone:" + clone).hex
