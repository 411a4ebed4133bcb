"""The testbed benchmark (issue 14): heketipy against the namespace testbed's real glusterd, XFS
and LVM tools, over SSH or Kubernetes exec, with the glusterd bound of every create phase.

    flock /tmp/heketipy-e2e.lock python -m benchmarks.run --executor ssh|kubernetes --testbed \\
        [--sequential 3] [--concurrent 1,5,10] [--node-concurrency 2,8] [--runs 1] [--out FILE]

Per server (a fresh database each time): topology load, ``--sequential`` creates one after the
other, then for each N of ``--concurrent`` N creates at once, an expand (the server's
``heketipy.volume_expansion``, ``--expansion``), and the concurrent delete of everything made.
Volumes are 1 GiB replica 3, as in issue 14's measurements. Every request is followed to its
final ``/queue`` answer (polled every 50 ms, so the client's poll adds little).

The node commands of each phase come from the server's debug log (the runners' ``node command``
lines). heketipy runs a trusted pool's gluster commands one at a time (and glusterd itself runs
one transaction per pool), so the sum of a phase's gluster command durations is a floor no
schedule can beat: that sum is the phase's **glusterd bound**, and ``wall / bound`` its ratio
(issue 14's target: within 1.3 for N concurrent creates). Since the first volume's bricks must
exist before its first gluster command, the report also gives the bound plus that unavoidable
prefix (the single create's wall time minus its own gluster time).

``--node-concurrency`` runs the whole set once per value of ``heketipy.node_command_concurrency``
(alternating, ``--runs`` times), which is how that setting's default was chosen.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ssh_config, ssh_env, start_heketi
from tests.e2e.scenario import Topology, load_topology, remove_topology
from tests.e2e.testbed import (
    NodeCommand,
    Testbed,
    missing_requirement,
    node_commands,
    summarize,
)
from tests.support.server import ServerProcess

VOLUME = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}
BRICKS_PER_VOLUME = 3
TESTBED_DIR = Path("/tmp/heketipy-testbed")
QUEUE_LIMIT_S = 600.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


@dataclass
class OnTestbedOptions:
    executor: str  # "ssh" or "kubernetes"
    sequential: int = 3
    concurrent: tuple[int, ...] = (1, 5, 10)
    # heketipy.node_command_concurrency per server; None leaves the server's default.
    node_concurrency: tuple[int | None, ...] = (None,)
    expansion: str = "in-place"
    runs: int = 1
    log: Callable[[str], None] = field(default=print, repr=False)


def machine_busy_s() -> float:
    """CPU seconds the whole machine (every node, glusterd, sshd, the server) has been busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class PhaseWindow:
    """What happened since the window opened: the node commands the server logged, the CPU the
    machine and the server spent."""

    def __init__(self, api: ServerProcess) -> None:
        self.api = api
        self.offset = api.log_path.stat().st_size
        self.busy_s = machine_busy_s()
        self.server_cpu_s = process_cpu_s(api.process.pid)

    def commands(self) -> list[NodeCommand]:
        with open(self.api.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self.offset)
            return node_commands(handle.read())

    def cpu(self, wall_s: float) -> dict[str, float]:
        busy = machine_busy_s() - self.busy_s
        return {
            "machine_busy_pct": round(100 * busy / (wall_s * CPUS), 1) if wall_s else 0.0,
            "server_cpu_s": round(process_cpu_s(self.api.process.pid) - self.server_cpu_s, 2),
        }


def gluster_serial_s(commands: Sequence[NodeCommand]) -> float:
    """The glusterd bound: one trusted pool (the testbed's one cluster) runs its gluster
    commands one after the other, so their durations add up."""
    return sum(c.ms for c in commands if c.is_gluster) / 1000


def _follow(api: ServerProcess, method: str, path: str, body: Any = None) -> tuple[Any, float]:
    """One async request to its final /queue answer, and the seconds it took."""
    started = time.monotonic()
    reply = api.request(method, path, body)
    if reply.status == 202:
        reply = api.wait_queue(reply.headers["Location"], limit_s=QUEUE_LIMIT_S)
    return reply, time.monotonic() - started


def _create(api: ServerProcess) -> tuple[str, float]:
    reply, seconds = _follow(api, "POST", "/volumes", VOLUME)
    if reply.status != 303:
        raise RuntimeError(f"create failed: {reply.status} {reply.text}")
    return str(reply.headers["Location"].rsplit("/", 1)[1]), seconds


def _delete(api: ServerProcess, volume_id: str) -> float:
    reply, seconds = _follow(api, "DELETE", f"/volumes/{volume_id}")
    if reply.status != 204:
        raise RuntimeError(f"delete of {volume_id} failed: {reply.status} {reply.text}")
    return seconds


def _at_once(count: int, task: Callable[[int], Any]) -> tuple[list[Any], float]:
    """``task(i)`` for i < count, all started together; results and the wall time."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, count)) as pool:
        results = list(pool.map(task, range(count)))
    return results, time.monotonic() - started


def _phase(window: PhaseWindow, wall_s: float, **extra: Any) -> dict[str, Any]:
    commands = window.commands()
    bound = gluster_serial_s(commands)
    return {
        "wall_s": round(wall_s, 2),
        "glusterd_bound_s": round(bound, 2),
        "ratio": round(wall_s / bound, 3) if bound else None,
        "node_commands": len(commands),
        "gluster_commands": sum(1 for c in commands if c.is_gluster),
        "commands": summarize(commands),
        **window.cpu(wall_s),
        **extra,
    }


def run_phases(api: ServerProcess, bed: Testbed, options: OnTestbedOptions) -> dict[str, Any]:
    """Every phase on one fresh server; the topology is removed again at the end."""
    log = options.log
    results: dict[str, Any] = {}
    started = time.monotonic()
    topology: Topology = load_topology(api, bed)
    results["topology_load_s"] = round(time.monotonic() - started, 2)
    log(f"topology loaded in {results['topology_load_s']} s")
    made: list[str] = []
    try:
        window = PhaseWindow(api)
        latencies = []
        for _ in range(options.sequential):
            volume_id, seconds = _create(api)
            made.append(volume_id)
            latencies.append(seconds)
        sequential = _phase(window, sum(latencies), volumes=options.sequential,
                            latencies_s=[round(s, 2) for s in latencies])
        sequential["median_create_s"] = round(statistics.median(latencies), 2)
        sequential["node_commands_per_brick"] = round(
            (sequential["node_commands"] - sequential["gluster_commands"])
            / (options.sequential * BRICKS_PER_VOLUME), 2)
        sequential["gluster_commands_per_volume"] = round(
            sequential["gluster_commands"] / options.sequential, 2)
        results["sequential"] = sequential
        log(f"sequential: {sequential['latencies_s']} s per create")

        concurrent: dict[str, Any] = {}
        prefix_s: float | None = None
        for count in options.concurrent:
            window = PhaseWindow(api)
            created, wall = _at_once(count, lambda _i: _create(api))
            made += [volume_id for volume_id, _ in created]
            phase = _phase(window, wall, volumes=count,
                           latency_max_s=round(max(s for _, s in created), 2))
            if count == 1:
                # What one create spends outside glusterd: its bricks, the API, the journal.
                prefix_s = wall - phase["glusterd_bound_s"]
            if prefix_s is not None:
                with_prefix = phase["glusterd_bound_s"] + prefix_s
                phase["bound_with_first_bricks_s"] = round(with_prefix, 2)
                phase["ratio_with_first_bricks"] = round(wall / with_prefix, 3)
            concurrent[str(count)] = phase
            log(f"{count} concurrent creates: {phase['wall_s']} s, glusterd bound "
                f"{phase['glusterd_bound_s']} s, ratio {phase['ratio']}")
        results["concurrent"] = concurrent

        window = PhaseWindow(api)
        reply, seconds = _follow(api, "POST", f"/volumes/{made[0]}/expand", {"expand_size": 1})
        if reply.status != 303:
            raise RuntimeError(f"expand failed: {reply.status} {reply.text}")
        results["expand"] = _phase(window, seconds, mode=options.expansion)
        log(f"expand ({options.expansion}): {seconds:.2f} s")

        window = PhaseWindow(api)
        _, wall = _at_once(len(made), lambda i: _delete(api, made[i]))
        results["deletes"] = _phase(window, wall, volumes=len(made))
        log(f"{len(made)} concurrent deletes: {wall:.2f} s")
        made = []
        drift = api.request("GET", "/internal/state/drift").json()
        pending = api.request("GET", "/operations/pending").json()["pendingoperations"]
        results["after"] = {"drift_clean": drift.get("clean"), "pending_operations": len(pending)}
    finally:
        for volume_id in made:  # a failed phase: leave the testbed as it was
            _delete(api, volume_id)
        remove_topology(api, bed, topology)
    return results


def _start(bed: Testbed, directory: Path, options: OnTestbedOptions,
           node_concurrency: int | None) -> ServerProcess:
    extra: dict[str, Any] = {"volume_expansion": options.expansion}
    if node_concurrency is not None:
        extra["node_command_concurrency"] = node_concurrency
    if options.executor == "ssh":
        return start_heketi(ssh_config(bed, directory, **extra), bed, ssh_env(bed))
    from tests.e2e.test_e2e_kube import kube_missing, start_heketi_over_kube

    reason = kube_missing(bed)
    if reason:
        raise SystemExit(f"cannot run the kubernetes benchmark: {reason}")
    return start_heketi_over_kube(bed, directory, **extra)


def run_testbed_benchmark(options: OnTestbedOptions, bed: Testbed | None = None) -> dict[str, Any]:
    """Every (node concurrency, run) pair on ``bed``, or on a testbed brought up (and down
    again) for the purpose."""
    if bed is not None:
        return _run_on(bed, options, testbed_up_s=0.0)
    reason = missing_requirement()
    if reason:
        raise SystemExit(f"cannot run on this machine: {reason}")
    with tempfile.TemporaryDirectory(prefix="heketipy-testbed-up-") as work:
        started = time.monotonic()
        with Testbed.running(TESTBED_DIR, Path(work) / "testbed.log") as new_bed:
            up_s = time.monotonic() - started
            options.log(f"testbed up in {up_s:.2f} s")
            return _run_on(new_bed, options, testbed_up_s=round(up_s, 2))


def _run_on(bed: Testbed, options: OnTestbedOptions, testbed_up_s: float) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="heketipy-testbed-bench-") as work:
        for index in range(options.runs):
            for node_concurrency in options.node_concurrency:
                directory = Path(work) / f"run-{index}-{node_concurrency}"
                directory.mkdir()
                options.log(f"run {index + 1}, node_command_concurrency "
                            f"{node_concurrency or 'default'}")
                api = _start(bed, directory, options, node_concurrency)
                try:
                    phases = run_phases(api, bed, options)
                except BaseException:
                    options.log(f"server log tail:\n{api.log_path.read_text()[-3000:]}")
                    raise
                finally:
                    api.stop()
                runs.append({"run": index, "node_concurrency": node_concurrency,
                             "phases": phases})
    testbed = {
        "nodes": len(bed.nodes), "devices_per_node": len(bed.nodes[0].devices),
        "device_size_gb": bed.description["nodes"][0]["device_size_gb"], "up_s": testbed_up_s,
    }  # fmt: skip
    return {"testbed": testbed, "runs": runs}
