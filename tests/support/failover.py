"""An active/standby pair of real heketipy servers on one database, and a failover under load.

Owns the scenario the HA tests and ``benchmarks/ha_takeover.py`` share: two server processes
with ``heketipy.ha`` on (database-lock leadership, short timings) and the simulator executor
(whose nodes' state file sits beside the database, so the standby loads the nodes fresh at
takeover); a burst of concurrent volume creates against the active, which is SIGKILLed once
some of them were acknowledged; then the standby's takeover, timed on this process's
monotonic clock: SIGKILL to its first 200 on ``/readyz`` and to its first successful create.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.server import ServerProcess, start_server, write_config

# Short timings: a standby polls the lock every 0.2 s (there is no lease to expire with the
# database lock alone: the kernel drops a dead holder's lock at once).
FAST_HA = {"enabled": True, "lease_duration_s": 3, "renew_deadline_s": 2, "retry_period_s": 0.2}
SIM_LATENCY = {"lvm": 2, "fs": 2, "gluster": 6}
VOLUME_GB = 1



def pair_configs(
    workdir: Path, db_path: Path, *, ha: dict[str, Any] | None = None,
    second_db_path: Path | None = None, first_latency: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Two heketi.json files (own port and data directory each) for one database; the second
    server may reach it by another path (``second_db_path``: another mount of the volume), and
    the first one's simulated commands may take ``first_latency`` (say, a create held)."""
    configs = []
    latencies = (first_latency or SIM_LATENCY, SIM_LATENCY)
    for name, db, latency in zip(
        ("first", "second"), (db_path, second_db_path or db_path), latencies, strict=True
    ):
        directory = workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        config = write_config(
            directory,
            glusterfs={"executor": "simulator", "db": str(db)},
            heketipy={
                "simulator": {"device_size_gb": 64, "latency_ms": latency},
                "ha": {**FAST_HA, **(ha or {})},
            },
        )
        configs.append(config)
    return configs[0], configs[1]


def local_starter(
    config_path: Path, name: str, env: dict[str, str] | None = None
) -> ServerProcess:
    server = start_server(config_path, env=env)
    server.check_openapi = False  # a standby's 503s are outside the Heketi API's description
    return server


@contextmanager
def running_pair(
    workdir: Path, db_path: Path, *, ha: dict[str, Any] | None = None,
    second_db_path: Path | None = None, env: dict[str, str] | None = None,
    first_latency: dict[str, Any] | None = None,
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """The active server (ready, a topology loaded) and a standby beside it; both are
    ended afterwards, also on failure."""
    first_config, second_config = pair_configs(
        workdir, db_path, ha=ha, second_db_path=second_db_path, first_latency=first_latency
    )
    active = local_starter(first_config, "first", env)
    standby = None
    try:
        wait_status(active, "/readyz", 200)
        load_topology(active)
        standby = local_starter(second_config, "second", env)
        yield active, standby
    finally:
        active.kill()
        if standby is not None:
            standby.stop()


def wait_status(server: ServerProcess, path: str, status: int, *, limit_s: float = 60) -> float:
    """Poll ``path`` until it answers ``status``; returns the monotonic time it did."""
    deadline = time.monotonic() + limit_s
    while True:
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.log_path.read_text()}"
            )
        try:
            if server.request("GET", path, role="none").status == status:
                return time.monotonic()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not answer {status} within {limit_s}s")
        time.sleep(0.02)


def load_topology(server: ServerProcess, nodes: int = 3) -> None:
    cluster = server.request("POST", "/clusters", {"file": True, "block": True}).json()["id"]
    for i in range(1, nodes + 1):
        reply = server.async_call("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]},
        })
        assert reply.status == 303, reply.text
        node_id = reply.headers["Location"].rsplit("/", 1)[1]
        for disk in ("/dev/sdb", "/dev/sdc"):
            reply = server.async_call("POST", "/devices", {"node": node_id, "name": disk})
            assert reply.status == 204, reply.text


def create_volume(server: ServerProcess) -> str | None:
    """One create to its end: the volume id once the /queue answered 303, None when the
    server failed or went away before acknowledging it."""
    try:
        reply = server.request("POST", "/volumes", {"size": VOLUME_GB, "durability": {
            "type": "replicate", "replicate": {"replica": 3}}})
        if reply.status != 202:
            return None
        done = server.wait_queue(reply.headers["Location"], limit_s=120)
    except OSError:
        return None
    if done.status != 303:
        return None
    return done.headers["Location"].rsplit("/", 1)[1]


@dataclass
class Failover:
    acknowledged: list[str] = field(default_factory=list)  # creates the old active finished
    readyz_s: float = 0.0  # SIGKILL -> the standby's first 200 on /readyz
    create_s: float = 0.0  # SIGKILL -> the first create the new active finished
    created_after: str = ""


def burst_and_kill(
    active: ServerProcess, standby: ServerProcess, *, burst: int = 12, kill_after: int = 3,
) -> Failover:
    """Run ``burst`` concurrent creates against ``active``, SIGKILL it once ``kill_after`` of
    them were acknowledged, and time the standby's takeover (see the module)."""
    result = Failover()
    lock = threading.Condition()

    def one() -> None:
        volume = create_volume(active)
        with lock:
            if volume is not None:
                result.acknowledged.append(volume)
            lock.notify_all()

    with ThreadPoolExecutor(max_workers=burst) as pool:
        futures = [pool.submit(one) for _ in range(burst)]
        with lock:
            lock.wait_for(
                lambda: len(result.acknowledged) >= kill_after or all(f.done() for f in futures),
                timeout=120,
            )
        active.kill()
        killed = time.monotonic()
        for future in futures:
            future.result()
    result.readyz_s = wait_status(standby, "/readyz", 200) - killed
    while True:
        volume = create_volume(standby)
        if volume is not None:
            result.create_s = time.monotonic() - killed
            result.created_after = volume
            return result
        if time.monotonic() - killed > 120:
            raise AssertionError(f"no create succeeded on the new active:\n"
                                 f"{standby.log_path.read_text()}")
        time.sleep(0.05)


def check_after_failover(server: ServerProcess, failover: Failover) -> None:
    """Every acknowledged volume is there, no operation is left, /db/check and drift clean."""
    for volume_id in [*failover.acknowledged, failover.created_after]:
        reply = server.request("GET", f"/volumes/{volume_id}")
        assert reply.status == 200, (volume_id, reply.text)
    ops = server.request("GET", "/operations").json()
    assert ops["total"] == 0, f"operations left after the takeover: {ops}"
    check = server.request("GET", "/db/check").json()
    assert check["totalinconsistencies"] == 0, json.dumps(check)
    drift = server.request("GET", "/internal/state/drift").json()
    assert drift["clean"], json.dumps(drift)
