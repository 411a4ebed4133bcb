"""heketipy's database on a FUSE-mounted replica-3 Gluster volume, on the namespace testbed.

Follows Heketi's bootstrap: a server with a local database loads the topology and creates the
``heketidbstorage`` volume; the database is copied onto a FUSE mount of it and the server runs
from there. Proven here, against real glusterd:

* SQLite with ``locking_mode=EXCLUSIVE`` + WAL + ``synchronous=FULL`` works through FUSE (SQLite
  really selects WAL, no ``-shm`` index, commits survive a clean reopen and a SIGKILL of the
  writer through another client, ``integrity_check`` ok); the commit cost per journal mode is
  measured on the mount and on local disk (no timing assertions: the figures are recorded);
* a second server on the same file through a second mount exits 1 at once naming the lock;
* SIGKILL during a burst of volume creates, restart on the mount: no pending operations, a clean
  ``/db/check`` and drift report, an intact database, every acknowledged create intact;
* with the volume unmounted, the marker refuses to start on the empty mount point.

Runs on its own testbed instance (prefix ``hkdb``) so it never collides with the session testbed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import record_result
from tests.e2e.dbvol import (
    LOCK_TEXT,
    REPLICA_3,
    FuseMount,
    Servers,
    api_volumes,
    check_nodes_match_api,
    integrity,
    journal_benchmark,
    shared_memory_wal_probe,
    wal_probe,
    write_config,
)
from tests.e2e.scenario import call, check_gluster_matches_api, fuse_write_and_read, load_topology
from tests.e2e.testbed import Testbed, Timings, missing_requirement, remote_executor_missing
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

# Our own testbed instance: distinct namespaces, network and directory from the session one.
TESTBED_ENV = {
    "TESTBED_PREFIX": "hkdb",
    "TESTBED_DIR": "/tmp/heketipy-testbed-db",
    "TESTBED_NET": "10.97.0",
}
DB_VOLUME = "heketidbstorage"
BURST = 6
BENCH_COMMITS = 100


@dataclass
class Rig:
    bed: Testbed
    workdir: Path
    servers: Servers
    mounts: list[FuseMount] = field(default_factory=list)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    reason = missing_requirement() or remote_executor_missing()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("db-on-gluster")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TESTBED_ENV.items():
            patch.setenv(name, value)
        base = Path(TESTBED_ENV["TESTBED_DIR"])
        with Testbed.running(base, workdir / "testbed.log") as bed:
            setup = Rig(bed=bed, workdir=workdir, servers=Servers(bed))
            try:
                yield setup
            finally:
                # servers first (they hold files on the mounts), then the mounts, whose
                # glusterfs clients `testbed.sh down` would otherwise kill under them
                setup.servers.end_all()
                for mount in setup.mounts:
                    mount.unmount()


def _burst_and_kill(api: ServerProcess) -> tuple[dict[str, str], list[str], list[str]]:
    """Post BURST creates at once; SIGKILL the server as soon as one has answered 303 while
    others are still pending. Returns (queue location -> volume id of the 303s, locations
    still pending at the kill, failure texts)."""
    body = {"size": 1, "durability": REPLICA_3}
    with ThreadPoolExecutor(BURST) as pool:
        replies = list(pool.map(lambda _i: api.request("POST", "/volumes", body), range(BURST)))
    for reply in replies:
        assert reply.status == 202, (reply.status, reply.text)
    pending = [reply.headers["Location"] for reply in replies]
    done: dict[str, str] = {}
    failures: list[str] = []
    deadline = time.monotonic() + 300
    while pending and not done:
        for location in list(pending):
            reply = api.request("GET", location)
            if reply.status == 200 and reply.headers.get("X-Pending") == "true":
                continue
            pending.remove(location)
            if reply.status == 303:
                done[location] = reply.headers["Location"].rsplit("/", 1)[1]
            else:
                failures.append(f"{location}: {reply.status} {reply.text}")
        assert time.monotonic() < deadline, "no create finished within 300 s"
        time.sleep(0.05)
    api.kill()
    return done, pending, failures


def test_database_on_gluster_volume(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> None:
    bed, servers, work = rig.bed, rig.servers, rig.workdir
    timings = Timings("db-on-gluster")
    result: dict[str, Any] = {}
    try:
        _scenario(rig, bed, servers, work, timings, result, tmp_path_factory.getbasetemp())
    finally:
        result.update(timings.as_dict())
        print(json.dumps(result, indent=1))
        record_result(result, tmp_path_factory.getbasetemp())


def _scenario(
    rig: Rig, bed: Testbed, servers: Servers, work: Path, timings: Timings,
    result: dict[str, Any], basetemp: Path,
) -> None:  # fmt: skip
    # 1. bootstrap with a local database, as heketi-cli setup-openshift-heketi-storage does
    boot_dir = work / "bootstrap"
    boot_config = write_config(bed, boot_dir, boot_dir / "heketi.db")
    with timings.step("bootstrap server: topology load"):
        boot = servers.start(boot_config, "bootstrap")
        topology = load_topology(boot, bed)
    with timings.step(f"create {DB_VOLUME} (replica 3)"):
        reply = call(
            boot, "POST", "/volumes", {"size": 2, "name": DB_VOLUME, "durability": REPLICA_3}
        )
        assert reply.status == 303, reply.text
        db_volume = boot.request("GET", reply.headers["Location"]).json()
        assert db_volume["name"] == DB_VOLUME and len(db_volume["bricks"]) == 3
        check_gluster_matches_api(boot, bed, topology, db_volume)
    boot.stop()
    assert boot.process.returncode == 0, boot.log_path.read_text()[-2000:]

    # 2. two FUSE mounts of the volume (through different volfile servers), database onto A
    logs = work / "fuse-logs"
    logs.mkdir()
    mount_a = FuseMount(bed, bed.nodes[0].storage, DB_VOLUME, work / "mnt-a", logs / "a.log")
    mount_b = FuseMount(bed, bed.nodes[1].storage, DB_VOLUME, work / "mnt-b", logs / "b.log")
    with timings.step("FUSE mount twice, copy the database onto mount A"):
        for mount in (mount_a, mount_b):
            rig.mounts.append(mount)
            mount.mount()
        db_a, db_b = mount_a.path / "heketi.db", mount_b.path / "heketi.db"
        for suffix in ("", "-wal"):  # a clean stop leaves no WAL; copy one if it is there
            if Path(f"{boot_dir / 'heketi.db'}{suffix}").exists():
                shutil.copyfile(f"{boot_dir / 'heketi.db'}{suffix}", f"{db_a}{suffix}")
        assert db_b.exists(), "the copy is not visible through the second mount"
        assert integrity(db_b) == "ok"

    # 3. SQLite on the mount: WAL with exclusive locking must work; cost per journal mode
    with timings.step("SQLite probes and journal benchmark (gluster + local)"):
        probe = wal_probe(mount_a.path, mount_b.path)
        shared = shared_memory_wal_probe(mount_a.path, mount_b.path)
        bench_gluster = journal_benchmark(mount_a.path / "bench", BENCH_COMMITS)
        bench_local = journal_benchmark(work / "bench-local", BENCH_COMMITS)
    report = {
        "machine": f"{os.uname().sysname} {os.uname().release} {os.cpu_count()} cpus",
        "setup": "testbed: 3 glusterd nodes in network namespaces, replica-3 volume "
        f"{DB_VOLUME} on thin-LV XFS bricks, FUSE mount from the client namespace",
        "pragmas": "locking_mode=EXCLUSIVE, synchronous=FULL",
        "gluster": bench_gluster, "local": bench_local,
        "wal_exclusive_probe": probe, "wal_shared_memory_probe": shared,
    }  # fmt: skip
    (basetemp / "sqlite-journal-gluster.json").write_text(json.dumps(report, indent=2) + "\n")
    result["sqlite_journal"] = report
    assert probe["journal_mode"] == "wal", probe  # SQLite did not silently fall back
    assert probe["reopened_mode"] == "wal", probe
    assert probe["shm_file_while_open"] is False, probe
    assert probe["rows_after_clean_reopen"] == 50, probe
    assert probe["integrity_after_clean_reopen"] == "ok", probe
    assert probe["crash_writer_killed"] and probe["wal_left_by_crash"], probe
    assert probe["rows_after_crash_reopen"] == 50, probe  # every commit survived SIGKILL
    assert probe["integrity_after_crash_reopen"] == "ok", probe

    # 4. heketipy on mount A; a second server on the same file through mount B is refused
    dir_a = work / "server-a"
    config_a = write_config(bed, dir_a, db_a)
    with timings.step("start heketipy on mount A"):
        api = servers.start(config_a, "server-a")
    names = {v["name"]: v["id"] for v in api_volumes(api)}
    assert names == {DB_VOLUME: db_volume["id"]}
    header = db_a.read_bytes()[:20]
    assert (header[18], header[19]) == (2, 2), "the database on the mount is not in WAL mode"
    assert not Path(f"{db_a}-shm").exists(), "WAL uses a shared-memory index on FUSE"
    port_b = int(bed.description["heketi_listen"]["port"]) + 1  # never reached if refused
    config_b = write_config(bed, work / "server-b", db_b, port=port_b)
    with timings.step("second server through mount B (refused)"):
        code, output, seconds = servers.run_expecting_exit(config_b, "server-b")
    result["second_server"] = {"exit": code, "seconds": round(seconds, 2), "output": output[-600:]}
    assert code == 1, f"a second server on the same database started (exit {code}):\n{output}"
    lock_lines = [line for line in output.splitlines() if LOCK_TEXT in line]
    assert len(lock_lines) == 1 and str(db_b) in lock_lines[0], output
    assert api.request("GET", "/hello", role="none").status == 200

    # 5. SIGKILL during a burst of creates; restart on mount A
    with timings.step(f"burst of {BURST} creates, SIGKILL after the first 303"):
        done, in_flight, failures = _burst_and_kill(api)
    assert not failures, failures
    assert in_flight, "every create had finished before the kill: nothing was in flight"
    with timings.step("restart on mount A (recovery)"):
        api = servers.start(config_a, "server-a-restart")
    recovered = [line for line in api.log_path.read_text().splitlines() if "recovered" in line]
    with timings.step("check: operations, db/check, drift, volumes, nodes"):
        operations = api.request("GET", "/operations").json()
        assert operations["total"] == 0, operations
        db_check = api.request("GET", "/db/check").json()
        assert db_check["totalinconsistencies"] == 0, db_check
        drift = api.request("GET", "/internal/state/drift").json()
        assert drift["clean"] is True and drift["in_flight"] == 0, drift
        volumes = {v["id"]: v for v in api_volumes(api)}
        assert db_volume["id"] in volumes, "heketidbstorage is gone from the database"
        for volume_id in done.values():
            assert volume_id in volumes, f"acknowledged create {volume_id} is lost"
            fuse_write_and_read(bed, topology, volumes[volume_id])
        for volume in volumes.values():
            assert volume["size"] in (1, 2) and len(volume["bricks"]) == 3, volume
            check_gluster_matches_api(api, bed, topology, volume)
        check_nodes_match_api(api, bed, topology.node_ids)
    rolled_forward = len(volumes) - 1 - len(done)
    assert 0 <= rolled_forward <= len(in_flight), (volumes.keys(), done, in_flight)
    result["burst"] = {
        "creates": BURST, "acknowledged_before_kill": len(done), "in_flight_at_kill": len(in_flight),
        "rolled_forward": rolled_forward, "rolled_back": len(in_flight) - rolled_forward,
        "recovery_log": recovered[-3:], "drift": drift,
    }  # fmt: skip
    api.stop()
    assert api.process.returncode == 0, api.log_path.read_text()[-2000:]
    assert integrity(db_b) == "ok"  # read through the other client after the clean stop

    # 6. the volume not mounted: the marker refuses to start on the empty mount point
    mount_a.unmount()
    assert not mount_a.mounted and not db_a.exists()
    with timings.step("start with mount A missing (marker guard)"):
        code, output, _seconds = servers.run_expecting_exit(config_a, "server-a-unmounted")
    result["missing_mount"] = {"exit": code, "output": output[-600:]}
    assert code == 1, f"heketipy started on an empty mount point (exit {code}):\n{output}"
    assert "is missing" in output and "--init-db" in output, output
    assert not db_a.exists(), "an empty database was created on the bare mount point"
