"""SimulatedNodes: simulated storage nodes behind the ``CommandRunner`` seam.

``RemoteExecutor`` runs on top of it exactly as over SSH or Kubernetes exec: every argv the
command builders produce is interpreted over the node state (``lvm_cli`` for LVM,
``host_cli`` for XFS, mounts, fstab, directories and systemd, ``gluster_cli`` for gluster and
gluster-block), answering with the real tools' exit codes, stdout and stderr. ``sudo -n --``,
``env LC_ALL=C`` and the configured ``lvm_wrapper`` in front of a command are stripped first;
an unknown program answers 127 like a shell.

Like real nodes, LVM commands on one VG are serialised (LVM's VG lock), gluster commands of
one trusted pool are serialised (glusterd's cluster lock), everything else overlaps. Each
command sleeps for its family's latency (``LatencyModel``: lvm, fs, gluster), then takes effect
or fails. Faults are injected per command (``support.FaultInjector``). After every command that
changed something the whole state is written atomically to ``state_path`` (group commit:
concurrent commands share one write), so a SIGKILLed server finds its nodes as they were.
Each command leaves the DEBUG line ``runner.log_command`` writes for SSH; failures are logged
once, by the executor that judges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import posixpath
import time
from collections.abc import Mapping, Sequence
from typing import Any

from heketipy.domain.errors import NodeCommandError
from heketipy.domain.units import KIB_PER_GIB
from heketipy.executors.commands_common import CommandOptions
from heketipy.executors.runner import CommandResult, log_command
from heketipy.simulator import gluster, gluster_cli, host_cli, lvm_cli
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

# Commands that only read: no state write after them.
_GLUSTER_READS = {
    ("volume", "info"), ("volume", "status"), ("volume", "heal"), ("volume", "list"),
    ("peer", "status"), ("pool", "list"), ("snapshot", "info"), ("snapshot", "list"),
    ("list",), ("info",),
}  # fmt: skip
# Devices a command may name before anything created them (the disks of a fresh node).
_DISK_COMMANDS = {("lvm", "pvs"), ("lvm", "pvcreate"), ("wipefs",)}


class SimulatedNodes:
    """Simulated storage nodes keyed by manage host; see the module docstring."""

    def __init__(
        self,
        state_path: str | None = None,
        device_size_gb: int = 1024,
        latency: LatencyModel | None = None,
        faults: FaultInjector | Mapping[str, Any] | list[Any] | None = None,
        auto_create_disks: bool = True,
        options: CommandOptions | None = None,
    ) -> None:
        self.state_path = state_path
        self.device_size_kib = device_size_gb * KIB_PER_GIB
        self.latency = latency or LatencyModel()
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
        self.auto_create_disks = auto_create_disks
        self.options = options or CommandOptions()
        self.trace = Trace()
        self._state = load_state(state_path) if state_path else SimState()
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._generation = 0
        self._saved_generation = 0
        self._save_lock: asyncio.Lock | None = None

    # -- the CommandRunner protocol ---------------------------------------------------------

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        words = self.strip_prefixes(argv)
        node = self.node(host)
        if node.unreachable:
            raise NodeCommandError(
                host, list(argv), None, f"dial tcp {host}:22: connect: no route to host"
            )
        program = posixpath.basename(words[0]) if words else ""
        label = command_label(words)
        pool = gluster.pool_of(self._state, node).id if _family(program) == "gluster" else ""
        lock = self._lock_for(host, program, words, pool)
        try:
            async with lock:
                code, out, err = await self._run_locked(host, node, argv, words, label, pool)
        finally:
            await self._persist()
        return CommandResult(tuple(argv), code, out, err)

    async def _run_locked(
        self, host: str, node: NodeState, argv: Sequence[str], words: list[str], label: str,
        pool: str,
    ) -> tuple[int, str, str]:  # fmt: skip
        """One command holding its lock: trace, latency, injected fault or the real effect."""
        program = posixpath.basename(words[0]) if words else ""
        family = _family(program)
        self.trace.record("start", family, host, label, pool)
        started = time.perf_counter()
        exit_code: int | None = None  # stays None if the command is cancelled or times out
        try:
            delay_ms = self.latency.for_command(family, label)
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            fault = self.faults.check(label, host)
            if fault is None or fault.after:
                result = self._interpret(node, program, words)
                if result[0] == 0 and _mutates(program, words):
                    self._generation += 1
            if fault is not None:
                if fault.timeout:
                    raise fault.error(host, list(argv), label)
                result = (fault.exit_code, "", fault.error(host, list(argv), label).stderr)
            exit_code = result[0]
            return result
        finally:
            self.trace.record("end", family, host, label, pool)
            log_command(host, list(argv), exit_code, (time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        await self._persist()

    def strip_prefixes(self, argv: Sequence[str]) -> list[str]:
        """The command without ``sudo -n --``, ``env VAR=value...`` and the ``lvm_wrapper``."""
        words = list(argv)
        wrapper = list(self.options.lvm_wrapper)
        while words:
            if words[:3] == ["sudo", "-n", "--"]:
                words = words[3:]
            elif words[0] == "env" and len(words) > 1 and "=" in words[1]:
                words = words[1:]
                while words and "=" in words[0] and not words[0].startswith("/"):
                    words = words[1:]
            elif wrapper and words[: len(wrapper)] == wrapper:
                words = words[len(wrapper) :]
            else:
                return words
        return words

    def _interpret(self, node: NodeState, program: str, words: list[str]) -> tuple[int, str, str]:
        if not words:
            return 0, "", ""
        if program == "lvm":
            if self.auto_create_disks and ("lvm", *words[1:2]) in _DISK_COMMANDS:
                self._ensure_disks(node, words)
            return lvm_cli.run(node, words[1:])
        if program in ("gluster", "gluster-block"):
            return gluster_cli.run(self._state, node, [program, *words[1:]])
        if self.auto_create_disks and (program,) in _DISK_COMMANDS:
            self._ensure_disks(node, words)
        return host_cli.run(self._state, node, [program, *words[1:]], self.options.fstab)

    def _ensure_disks(self, node: NodeState, words: list[str]) -> None:
        for word in words[1:]:
            raw = word.startswith("/dev/") and not word.startswith(("/dev/mapper/", "/dev/disk/"))
            if raw and word not in node.disks:
                node.disks[word] = Disk(size_kib=self.device_size_kib)
                self._generation += 1

    def _lock_for(
        self, host: str, program: str, words: list[str], pool: str
    ) -> asyncio.Lock | contextlib.nullcontext[None]:
        if program == "lvm":
            return self._lock(("lvm", host, lvm_cli.lock_target(words[1:])))
        if pool:
            return self._lock(("gluster", pool))
        return contextlib.nullcontext()

    def _lock(self, key: tuple[str, ...]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # -- persistence ------------------------------------------------------------------------

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

    def stop_saving(self) -> None:
        """Never write the state file again: the server driving these nodes lost leadership,
        and the new active server's copy of the file is the nodes' state from now on."""
        self.state_path = None

    def save(self) -> None:
        """Write the state now (synchronously); used by the test helpers."""
        if self.state_path:
            atomic_write(self.state_path, self._state.dumps())
            self._saved_generation = self._generation

    def _changed_and_saved(self) -> None:
        self._generation += 1
        self.save()

    # -- inspection and test helpers --------------------------------------------------------

    @property
    def state(self) -> SimState:
        return self._state

    def node(self, host: str) -> NodeState:
        """The live state of one node (created empty on first reference)."""
        node = self._state.nodes.get(host)
        if node is None:
            node = self._state.nodes[host] = NodeState(host=host)
            gluster.pool_of(self._state, node)
            self._generation += 1
        return node

    def add_disk(self, host: str, path: str, size_kib: int, signature: str = "") -> None:
        self.node(host).disks[path] = Disk(size_kib=size_kib, signature=signature)
        self._changed_and_saved()

    def set_node_down(self, host: str, down: bool = True) -> None:
        """glusterd stops on ``host``: health checks and gluster commands involving it fail."""
        self.node(host).glusterd_down = down
        self._changed_and_saved()

    def set_node_unreachable(self, host: str, unreachable: bool = True) -> None:
        """``host`` cannot be reached at all: every command sent to it fails in transport."""
        self.node(host).unreachable = unreachable
        self._changed_and_saved()

    def register_storage_host(self, manage_host: str, storage_host: str) -> None:
        """Tell the nodes which node a storage hostname names, as DNS would (otherwise it is
        learnt from the VG in a brick path)."""
        if (
            self._state.aliases.get(storage_host) == manage_host
            and manage_host in self._state.nodes
        ):
            return
        self.node(manage_host)
        gluster.learn_alias(self._state, storage_host, manage_host)
        self._changed_and_saved()

    def set_heal_pending(self, volume_name: str, pending: bool = True) -> None:
        for pool in self._state.pools.values():
            if volume_name in pool.volumes:
                pool.volumes[volume_name].heal_pending = pending
        self._changed_and_saved()

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
                "dirs": sorted(node.dirs),
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
                pool_id: {"members": sorted(pool.members), "volumes": sorted(pool.volumes)}
                for pool_id, pool in self._state.pools.items()
            },
            "aliases": dict(self._state.aliases),
        }


# Options whose value is the next word, for every program the builders run (lvm's, mount -o,
# mkfs.xfs -i/-n/-d, blkid -s/-o, sed -e): labels leave them out with their option.
_VALUED_OPTIONS = lvm_cli.VALUED_OPTIONS | {"-i", "-d", "-e"}
# Where a program's own options differ (``install -d`` is a flag there, not mkfs's -d value).
_VALUED_OPTIONS_OF = {"install": frozenset({"-g", "-m", "-o"})}


def command_label(words: Sequence[str]) -> str:
    """How faults and the trace name a command: the program by its base name (``lvm``
    dropped) and its operands, without options (``lvcreate vg_x``, ``gluster volume start
    vol``, ``mkfs.xfs /dev/mapper/...``)."""
    if not words:
        return ""
    program = posixpath.basename(words[0])
    valued = _VALUED_OPTIONS_OF.get(program, _VALUED_OPTIONS)
    operands: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word in valued
        else:
            operands.append(word)
    return " ".join(operands if program == "lvm" else [program, *operands])


def _family(program: str) -> str:
    if program == "lvm":
        return "lvm"
    if program in ("gluster", "gluster-block"):
        return "gluster"
    if program == "systemctl":
        return "probe"
    return "fs"


def _mutates(program: str, words: Sequence[str]) -> bool:
    if program == "lvm":
        return len(words) > 1 and words[1] not in lvm_cli.READ_ONLY
    if program in ("gluster", "gluster-block"):
        rest = [w for w in words[1:] if not w.startswith("-")]
        return tuple(rest[:2]) not in _GLUSTER_READS and tuple(rest[:1]) not in _GLUSTER_READS
    return program not in host_cli.READ_ONLY


def _attrs(item: object, *names: str) -> dict[str, Any]:
    """The named attributes of a state object, as the views below show them."""
    return {name: getattr(item, name) for name in names}


def _vg_view(vg: VolumeGroup) -> dict[str, Any]:
    return {
        **_attrs(vg, "pv", "total_kib", "free_kib", "used_kib", "extent_kib", "pmspare_kib"),
        "lvs": {
            name: {
                **_attrs(lv, "kind", "size_kib", "pool", "metadata_kib", "origin"),
                "tags": list(lv.tags),
                "filesystem": lv.filesystem,
                "fs_size_kib": lv.fs_size_kib,
                "dirs": dict(lv.fs_dirs),
            }
            for name, lv in vg.lvs.items()
        },
    }


def _volume_view(volume: GlusterVolumeState) -> dict[str, Any]:
    return {
        **_attrs(volume, "id", "type", "status"),
        "bricks": list(volume.bricks),
        "options": dict(volume.options),
        "block_volumes": {name: block.size_gib for name, block in volume.block_volumes.items()},
    }
