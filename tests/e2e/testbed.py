"""The e2e side of tests/testbed/testbed.sh: bring it up/down, run commands on its nodes, and
read back what really exists there (LVs, mounts, fstab lines, brick directories, volumes)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heketipy.executors.commands_common import unwrap

TESTBED_SH = Path(__file__).resolve().parents[1] / "testbed" / "testbed.sh"
MOUNTS_ROOT = "/var/lib/heketi/mounts"
REQUIRED_TOOLS = (
    "glusterd", "gluster", "sshd", "ip", "losetup", "nsenter", "unshare", "mkfs.xfs", "lvm",
    "mount.glusterfs", "ssh-keygen",
)  # fmt: skip


def missing_requirement() -> str | None:
    """Why the e2e tier cannot run here, or None."""
    if os.geteuid() != 0:
        return "e2e tests need root (network namespaces, loop devices, mounts)"
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool, path=path) is None:
            return f"{tool} is not installed (make system-packages installs glusterfs/openssh)"
    for device in ("/dev/fuse", "/dev/loop-control"):
        if not os.path.exists(device):
            return f"{device} is missing"
    return None


def remote_executor_missing() -> str | None:
    try:
        from heketipy.executors.remote import RemoteExecutor  # noqa: F401
    except ImportError:
        return "RemoteExecutor not available"
    return None


@dataclass
class Node:
    name: str
    manage: str
    storage: str
    zone: int
    devices: list[str]
    holder_pid: int
    faults_dir: str


@dataclass
class NodeState:
    """What a node really holds, in the places heketipy writes to."""

    lvs: list[tuple[str, str]]  # (vg, lv)
    mounts: list[str]
    fstab: list[str]
    brick_dirs: list[str]
    volumes: list[str]
    vg_free_kib: dict[str, int] = field(default_factory=dict)  # + the VG's lvol0_pmspare

    def without_free(self) -> tuple[Any, ...]:
        return (self.lvs, self.mounts, self.fstab, self.brick_dirs, self.volumes)


class Testbed:
    __test__ = False  # not a pytest test class

    def __init__(self, description: dict[str, Any], env: dict[str, str]) -> None:
        self.description = description
        self.env = env
        self.nodes = [
            Node(
                name=n["name"], manage=n["manage"], storage=n["storage"], zone=n["zone"],
                devices=list(n["devices"]), holder_pid=n["holder_pid"], faults_dir=n["faults_dir"],
            )
            for n in description["nodes"]
        ]  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def running(cls, base: Path, log_path: Path) -> Iterator[Testbed]:
        env = {**os.environ, "TESTBED_DIR": str(base)}
        # Two runs on one machine (two checkouts, a full suite beside an e2e run) would tear
        # down each other's namespaces: one testbed per TESTBED_DIR at a time.
        lock = open(f"{base}.lock", "a")  # noqa: SIM115 - held for the whole session
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.close()
                    raise RuntimeError(
                        f"testbed {base} stayed busy (another run holds it)"
                    ) from None
                time.sleep(1)
        try:
            with open(log_path, "ab") as log:
                done = subprocess.run(
                    [str(TESTBED_SH), "up"], stdout=log, stderr=subprocess.STDOUT, env=env,
                    timeout=300, check=False,
                )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"testbed up failed:\n{log_path.read_text()[-4000:]}")
            description = json.loads((base / "testbed.json").read_text())
            yield cls(description, env)
        finally:
            with open(log_path, "ab") as log:
                subprocess.run(
                    [str(TESTBED_SH), "down"], stdout=log, stderr=subprocess.STDOUT, env=env,
                    timeout=300, check=False,
                )  # fmt: skip
            lock.close()

    # -- running commands ------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def node_run(
        self, node: Node, argv: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._nsenter(node.holder_pid, argv, check=check, timeout=timeout)

    def client_run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._nsenter(
            self.description["client"]["holder_pid"], argv, check=check, timeout=timeout
        )

    @staticmethod
    def _nsenter(
        pid: int, argv: Sequence[str], *, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        full = ["nsenter", "-t", str(pid), "-m", "-n", "-u", "--", *argv]
        done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        return done

    def gluster(self, node: Node, *words: str, check: bool = True) -> str:
        return self.node_run(node, ["gluster", "--mode=script", *words], check=check).stdout

    # -- inspection ------------------------------------------------------------------------------

    def state(self, node: Node) -> NodeState:
        rows = json.loads(self.node_run(node, [
            "lvm", "lvs", "-a", "--reportformat=json", "--units", "k", "--nosuffix",
            "-o", "vg_name,lv_name,lv_size",
        ]).stdout)["report"][0]["lv"]  # fmt: skip
        # Hidden LVs ("[name]") are LVM's own; of them only the pool metadata spare matters here.
        lvs = sorted((row["vg_name"], row["lv_name"]) for row in rows
                     if not row["lv_name"].startswith("["))
        spare_kib = {row["vg_name"]: int(float(row["lv_size"])) for row in rows
                     if row["lv_name"] == "[lvol0_pmspare]"}
        vgs = json.loads(self.node_run(node, [
            "lvm", "vgs", "--reportformat=json", "--units", "k", "--nosuffix",
            "-o", "vg_name,vg_free",
        ]).stdout)["report"][0]["vg"]  # fmt: skip
        mounts = [
            line.split()[1]
            for line in self.node_run(node, ["cat", "/proc/self/mounts"]).stdout.splitlines()
            if len(line.split()) > 1 and line.split()[1].startswith(MOUNTS_ROOT)
        ]
        fstab = [
            line
            for line in self.node_run(node, ["cat", "/etc/fstab"]).stdout.splitlines()
            if MOUNTS_ROOT in line
        ]
        found = self.node_run(
            node, ["find", MOUNTS_ROOT, "-mindepth", "2", "-maxdepth", "2"], check=False
        ).stdout.split()
        listing = self.gluster(node, "volume", "list", check=False)
        volumes = sorted(line for line in listing.split() if line.startswith("vol_"))
        return NodeState(
            lvs=lvs, mounts=sorted(mounts), fstab=sorted(fstab), brick_dirs=sorted(found),
            volumes=volumes,
            # LVM never shrinks the spare, so a rolled-back pool with more metadata than the
            # VG's others leaves it larger: free for heketipy counts the spare, as drift does.
            vg_free_kib={
                row["vg_name"]: int(float(row["vg_free"])) + spare_kib.get(row["vg_name"], 0)
                for row in vgs
            },
        )  # fmt: skip

    def states(self) -> dict[str, NodeState]:
        return {node.name: self.state(node) for node in self.nodes}

    # -- fault injection (tests/testbed/lvm_shim.py) ---------------------------------------------

    def fail_next(self, node: Node, subcommand: str, text: str) -> Path:
        marker = Path(node.faults_dir) / subcommand
        marker.write_text(text)
        return marker

    def fail_always(self, node: Node, subcommand: str, text: str) -> Path:
        marker = Path(node.faults_dir) / f"{subcommand}.always"
        marker.write_text(text)
        return marker

    @contextmanager
    def holding(self, node: Node, subcommand: str) -> Iterator[Held]:
        """Hold every ``lvm <subcommand>`` on ``node`` until ``release()`` (or the end of the
        block): ``wait()`` returns once one is held, i.e. an operation is in flight there."""
        held = Held(Path(node.faults_dir) / f"{subcommand}.hold")
        held.marker.write_text("")
        try:
            yield held
        finally:
            held.release()
            held.marker.with_suffix(".held").unlink(missing_ok=True)


@dataclass
class Held:
    marker: Path

    def wait(self, limit_s: float = 120) -> None:
        deadline = time.monotonic() + limit_s
        while not self.marker.with_suffix(".held").exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing reached {self.marker.name} in {limit_s:g}s")
            time.sleep(0.05)

    def release(self) -> None:
        self.marker.unlink(missing_ok=True)

    def pids(self) -> list[int]:
        """The held invocations' process ids (the shim runs in the node's namespaces)."""
        return [int(word) for word in self.marker.with_suffix(".held").read_text().split()]


class Timings:
    """Wall time per scenario step, kept for the report."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.steps: list[tuple[str, float]] = []
        self.started = time.monotonic()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.steps.append((name, time.monotonic() - began))

    def as_dict(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "steps_s": {name: round(seconds, 2) for name, seconds in self.steps},
            "total_s": round(time.monotonic() - self.started, 2),
        }


_NODE_COMMAND_FIELD = re.compile(r' (node|ms|argv)=("(?:[^"\\]|\\.)*"|\S+)')


@dataclass(frozen=True)
class NodeCommand:
    """One node command from the server's debug log: its node, short name and duration."""

    node: str
    name: str
    ms: float

    @property
    def is_gluster(self) -> bool:
        return self.name.startswith("gluster")


def node_commands(log_text: str, wrapper: str = "") -> list[NodeCommand]:
    """The remote runners' debug lines (``runner.log_command``: ``node command node=.. argv=..
    exit=.. ms=..``, text format) in log order, each named ``lvm lvcreate``, ``gluster volume
    create``, ``mkfs.xfs`` ..; a ``wrapper`` in front of a command is skipped."""
    commands = []
    for line in log_text.splitlines():
        if " node command node=" not in line:
            continue
        fields = {
            key: json.loads(value) if value.startswith('"') else value
            for key, value in _NODE_COMMAND_FIELD.findall(line)
        }
        try:
            ms = float(fields["ms"])
            words = shlex.split(fields["argv"])
        except (KeyError, ValueError):
            continue
        words = unwrap(words)  # RemoteExecutor's "sudo -n --" and "env LC_ALL=C"
        if wrapper and words[:1] == [wrapper]:
            words = words[1:]
        if not words:
            continue
        name = os.path.basename(words[0])
        if name == "lvm" and len(words) > 1:
            name = f"lvm {words[1]}"
        elif name == "gluster":
            verbs = [w for w in words[1:] if not w.startswith("-")][:2]
            name = " ".join(["gluster", *verbs])
        commands.append(NodeCommand(str(fields.get("node", "")), name, ms))
    return commands


def command_timings(log_text: str, wrapper: str = "") -> dict[str, dict[str, float]]:
    """The node commands of a server log (``node_commands``) summed per command name."""
    return summarize(node_commands(log_text, wrapper))


def summarize(commands: Sequence[NodeCommand]) -> dict[str, dict[str, float]]:
    """count, mean, max and total milliseconds per command name, slowest total first."""
    names: dict[str, list[float]] = {}
    for command in commands:
        names.setdefault(command.name, []).append(command.ms)
    rows = {
        name: {"count": len(ms), "mean_ms": round(sum(ms) / len(ms), 1),
               "max_ms": round(max(ms), 1), "total_ms": round(sum(ms), 1)}
        for name, ms in names.items()
    }  # fmt: skip
    return dict(sorted(rows.items(), key=lambda item: -item[1]["total_ms"]))
