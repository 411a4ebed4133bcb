"""Helpers of the database-on-Gluster e2e test: FUSE mounts of a testbed volume made visible to
host processes, heketipy servers with their own config and database path, SQLite probes and the
journal-mode benchmark on such a mount, and an independent check of the nodes against the API.

FUSE mounts are made with ``nsenter --net=<client netns>`` only: the glusterfs client process
lives in the testbed's client network (where the nodes are reachable) while the mount itself is
in the host mount namespace, where the heketipy server (started the same way) sees it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.sqlite_journal import MODES, measure
from tests.e2e.testbed import Testbed
from tests.support.server import ADMIN_KEY, USER_KEY, ServerProcess, wait_ready

REPO = Path(__file__).resolve().parents[2]
READY_S = 60.0
LOCK_TEXT = "in use by another heketipy server"
REPLICA_3 = {"type": "replicate", "replicate": {"replica": 3}}


# -- FUSE mounts ---------------------------------------------------------------------------------


@dataclass
class FuseMount:
    """One FUSE mount of ``server:/volume`` at ``path``, made from the client network."""

    bed: Testbed
    server: str
    volume: str
    path: Path
    log_file: Path

    @property
    def mounted(self) -> bool:
        target = str(self.path)
        with open("/proc/self/mounts") as mounts:
            return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)

    def mount(self, attempts: int = 40) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        argv = [
            "nsenter", f"--net={self.bed.description['client']['netns_path']}", "--",
            "mount", "-t", "glusterfs", "-o", f"log-file={self.log_file}",
            f"{self.server}:/{self.volume}", str(self.path),
        ]  # fmt: skip
        done = None
        for _ in range(attempts):  # right after "volume start" the bricks may not answer yet
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode == 0 and self.mounted:
                return
            time.sleep(0.5)
        raise AssertionError(f"FUSE mount of {self.volume} at {self.path} failed: {done}")

    def unmount(self) -> None:
        if not self.mounted:
            return
        done = subprocess.run(["umount", str(self.path)], capture_output=True, timeout=60)
        if done.returncode != 0 or self.mounted:
            # something still holds a file open (a server that did not exit): detach anyway
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=60)


# -- heketipy servers ----------------------------------------------------------------------------


def write_config(bed: Testbed, directory: Path, db_path: Path, *, port: int | None = None) -> Path:
    """A heketi.json for the SSH executor; ``data_dir`` (the marker) stays in ``directory``,
    outside the database's directory, as it must when the database is on a mount."""
    directory.mkdir(parents=True, exist_ok=True)
    ssh = bed.description["ssh"]
    listen = bed.description["heketi_listen"]
    config = {
        "port": str(port or listen["port"]),
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {
            "executor": "ssh",
            "db": str(db_path),
            "loglevel": "debug",
            "sshexec": {
                "keyfile": ssh["keyfile"], "user": ssh["user"], "port": str(ssh["port"]),
                "known_hosts": ssh["known_hosts"], "host_key_checking": True,
            },
            "disable_monitor_gluster_nodes": True,
            "disable_background_cleaner": True,
        },
        "heketipy": {"listen": listen["host"], "data_dir": str(directory)},
    }  # fmt: skip
    path = directory / "heketi.json"
    path.write_text(json.dumps(config, indent=1))
    return path


@dataclass
class Servers:
    """Every heketipy process this test started, so teardown can end them all."""

    bed: Testbed
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, config_path: Path, log_path: Path, args: list[str]) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
        env["SSH_KNOWN_HOSTS"] = self.bed.description["ssh"]["known_hosts"]
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                ["nsenter", f"--net={self.bed.description['client']['netns_path']}", "--",
                 sys.executable, "-m", "tests.e2e.serve", "--config", str(config_path), *args],
                stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO,
            )  # fmt: skip
        self.started.append(process)
        return process

    def start(self, config_path: Path, name: str) -> ServerProcess:
        """Start a server and wait until it answers /hello through the testbed's forward."""
        log_path = config_path.parent / f"{name}.log"
        process = self._spawn(config_path, log_path, [])
        db_path = Path(json.loads(config_path.read_text())["glusterfs"]["db"])
        server = ServerProcess(
            base_url=self.bed.description["heketi_url"], process=process,
            config_path=config_path, db_path=db_path, log_path=log_path,
        )  # fmt: skip
        return wait_ready(server, READY_S)

    def run_expecting_exit(
        self, config_path: Path, name: str, *, limit_s: float = 30
    ) -> tuple[int | None, str, float]:
        """Start a server that should refuse to start: (exit code or None, output, seconds)."""
        log_path = config_path.parent / f"{name}.log"
        began = time.monotonic()
        process = self._spawn(config_path, log_path, [])
        try:
            code: int | None = process.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            code = None  # it started: the guard did not hold
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        return code, log_path.read_text(), time.monotonic() - began

    def end_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)


# -- SQLite on the mount -------------------------------------------------------------------------


def open_like_store(path: Path) -> tuple[sqlite3.Connection, str]:
    """Open ``path`` with heketipy's store pragmas; returns the connection and the journal
    mode SQLite really chose (``PRAGMA journal_mode=WAL`` silently keeps the old mode when WAL
    is impossible, so the answer must be checked)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # before WAL is first used: no -shm index
    mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
    conn.execute("PRAGMA synchronous=FULL")
    return conn, mode


def integrity(path: Path) -> str:
    conn, _mode = open_like_store(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


_CRASH_WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)")
for i in range(int(sys.argv[2])):
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t (data) VALUES (?)", ("x" * 700,))
    conn.execute("COMMIT")
os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: the commits live in the WAL
"""


def wal_probe(dir_a: Path, dir_b: Path, *, commits: int = 50) -> dict[str, Any]:
    """WAL with exclusive locking on FUSE: commits through mount A, a clean reopen and a
    reopen after SIGKILL of the writer (WAL recovery), both through mount B (another client)."""
    facts: dict[str, Any] = {}
    clean_a, clean_b = dir_a / "wal-clean.db", dir_b / "wal-clean.db"
    _remove_db(clean_a)
    conn, facts["journal_mode"] = open_like_store(clean_a)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)")
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (data) VALUES (?)", ("x" * 700,))
        conn.execute("COMMIT")
    facts["wal_file_while_open"] = Path(f"{clean_a}-wal").exists()
    facts["shm_file_while_open"] = Path(f"{clean_a}-shm").exists()
    conn.close()
    conn, facts["reopened_mode"] = open_like_store(clean_b)
    facts["rows_after_clean_reopen"] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    facts["integrity_after_clean_reopen"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()

    crash_a, crash_b = dir_a / "wal-crash.db", dir_b / "wal-crash.db"
    _remove_db(crash_a)
    writer = subprocess.run(
        [sys.executable, "-c", _CRASH_WRITER, str(crash_a), str(commits)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    facts["crash_writer_killed"] = writer.returncode == -signal.SIGKILL
    facts["wal_left_by_crash"] = Path(f"{crash_a}-wal").exists()
    conn, _mode = open_like_store(crash_b)
    facts["rows_after_crash_reopen"] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    facts["integrity_after_crash_reopen"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    for path in (clean_a, crash_a):
        _remove_db(path)
    return facts


def shared_memory_wal_probe(dir_a: Path, dir_b: Path, *, commits: int = 20) -> dict[str, Any]:
    """For the record, WAL *without* exclusive locking (a -shm index mmapped through FUSE):
    a writer on mount A commits one row at a time; after each commit a reader connection on
    mount B counts the rows. Stale or failing reads show the index is not coherent across
    clients, which is why heketipy never relies on it (exclusive locking, one server)."""
    path_a, path_b = dir_a / "wal-shm.db", dir_b / "wal-shm.db"
    _remove_db(path_a)
    writer = sqlite3.connect(str(path_a), isolation_level=None)
    facts: dict[str, Any] = {
        "journal_mode": writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    }
    writer.execute("CREATE TABLE t (x)")
    facts["shm_file"] = Path(f"{path_a}-shm").exists()
    reader = sqlite3.connect(str(path_b), isolation_level=None)
    stale: list[str] = []
    for committed in range(1, commits + 1):
        writer.execute("INSERT INTO t VALUES (?)", (committed,))
        try:
            seen = reader.execute("SELECT count(*) FROM t").fetchone()[0]
        except sqlite3.Error as exc:
            stale.append(f"after {committed}: {type(exc).__name__}: {exc}")
            continue
        if seen != committed:
            stale.append(f"after {committed}: read {seen}")
    reader.close()
    writer.close()
    facts.update(reads=commits, stale_or_failed_reads=len(stale), examples=stale[:3])
    _remove_db(path_a)
    return facts


def journal_benchmark(directory: Path, commits: int) -> dict[str, Any]:
    """benchmarks/sqlite_journal.py's measurement (exclusive locking, synchronous=FULL)."""
    directory.mkdir(parents=True, exist_ok=True)
    results = {mode: measure(str(directory), mode, commits) for mode in MODES}
    for mode in MODES:
        _remove_db(directory / f"bench-{mode}.db")
    return {"directory": str(directory), "commits": commits, "results": results}


# -- the nodes versus the API --------------------------------------------------------------------


def api_volumes(api: ServerProcess) -> list[dict[str, Any]]:
    ids = api.request("GET", "/volumes").json()["volumes"]
    return [api.request("GET", f"/volumes/{vid}").json() for vid in ids]


def check_nodes_match_api(api: ServerProcess, bed: Testbed, node_ids: dict[str, str]) -> None:
    """What the testbed nodes really hold equals what the API reports, in both directions:
    brick LVs, brick mounts, fstab lines, brick directories, and every gluster volume."""
    volumes = api_volumes(api)
    names = sorted(v["name"] for v in volumes)
    for node in bed.nodes:
        expected = {
            b["id"] for v in volumes for b in v["bricks"] if b["node"] == node_ids[node.name]
        }
        state = bed.state(node)
        thin_lvs = {lv.removeprefix("brick_") for _vg, lv in state.lvs if lv.startswith("brick_")}
        assert thin_lvs == expected, (node.name, state.lvs, expected)
        assert len(state.mounts) == len(expected), (node.name, state.mounts)
        assert len(state.fstab) == len(expected), (node.name, state.fstab)
        assert len(state.brick_dirs) == len(expected), (node.name, state.brick_dirs)
        listing = bed.gluster(node, "volume", "list").split()
        assert sorted(listing) == names, (node.name, listing, names)
