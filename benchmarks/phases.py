"""The benchmark phases, each a coroutine that drives the server and returns its figures.

Owns: topology set-up (6 nodes in 3 zones x 4 devices), sequential and concurrent creates,
the banded fill with server CPU and RSS per band, listing latencies (including the request
pattern of ``heketi-cli topology info``), deletes, the mixed load with its afterwards checks,
and the critical-path run of the latency model. Phases share one ``Bench`` (client + server).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import aiohttp

from benchmarks.client import BenchClient, RequestFailed, volume_body
from benchmarks.stats import summary


class ProcessProbe(Protocol):
    """The measured server process: a child process or, for in-process profiling, this one."""

    def cpu_seconds(self) -> float: ...

    def rss_mb(self) -> float: ...


@dataclass
class Bench:
    """What every phase needs; ``volume_ids`` tracks the volumes that exist right now."""

    client: BenchClient
    server: ProcessProbe
    cluster_id: str = ""
    node_ids: list[str] = field(default_factory=list)
    volume_ids: list[str] = field(default_factory=list)

    def polling(self, interval_s: float) -> BenchClient:
        """The same client (same counters) polling at another interval."""
        return replace(self.client, poll_interval_s=interval_s)


@dataclass
class Meter:
    """Server CPU, wall time and wire counters across one measured stretch."""

    bench: Bench
    cpu_s: float = 0.0
    client_cpu_s: float = 0.0  # the load generator's own CPU: it shares the machine
    wall_s: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Meter:
        self._cpu0 = self.bench.server.cpu_seconds()
        self._client_cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._counters0 = self.bench.client.counters.snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        self.cpu_s = self.bench.server.cpu_seconds() - self._cpu0
        self.client_cpu_s = time.process_time() - self._client_cpu0
        now = self.bench.client.counters.snapshot()
        self.counters = {k: now[k] - self._counters0[k] for k in now}


def volume_id_of(location: str | None) -> str:
    if not location:
        raise RequestFailed("POST", "/volumes", 0, "no volume location")
    return location.rsplit("/", 1)[1]


async def run_workers(count: int, concurrency: int,
                      task: Callable[[int], Awaitable[float]]) -> tuple[list[float], int]:
    """Run ``task(i)`` for i in range(count) with ``concurrency`` workers; latencies, errors."""
    next_index = iter(range(count))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for index in next_index:
            try:
                latencies.append(await task(index))
            except (TimeoutError, RequestFailed, OSError, aiohttp.ClientError):
                errors += 1

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    return latencies, errors


# -- topology ---------------------------------------------------------------------------------

async def setup_topology(bench: Bench, nodes: int = 6, zones: int = 3,
                         devices_per_node: int = 4, poll_s: float = 0.02) -> dict[str, Any]:
    client = bench.polling(poll_s)
    reply = await client.request("POST", "/clusters", {"file": True, "block": True})
    if reply.status != 201:
        raise RequestFailed("POST", "/clusters", reply.status, reply.body.decode())
    bench.cluster_id = reply.json()["id"]
    device_names = [f"/dev/sd{chr(ord('b') + i)}" for i in range(devices_per_node)]
    for index in range(nodes):
        location = await client.run("POST", "/nodes", {
            "zone": index % zones + 1, "cluster": bench.cluster_id,
            "hostnames": {"manage": [f"bench-node{index + 1}.example.test"],
                          "storage": [f"10.20.0.{index + 1}"]},
        })
        node_id = volume_id_of(location)
        bench.node_ids.append(node_id)
        await asyncio.gather(*(
            client.run("POST", "/devices", {"node": node_id, "name": name})
            for name in device_names
        ))
    return {"nodes": nodes, "zones": zones, "devices_per_node": devices_per_node,
            "device_size_gib": 1024}


async def device_free_kib(bench: Bench) -> dict[str, int]:
    free: dict[str, int] = {}
    for node_id in bench.node_ids:
        node = await bench.client.get_json(f"/nodes/{node_id}")
        for device in node["devices"]:
            free[device["id"]] = device["storage"]["free"]
    return free


# -- creates and deletes ----------------------------------------------------------------------

async def create_volumes(bench: Bench, count: int, concurrency: int, *, replica: int = 3,
                         poll_s: float | None = None) -> dict[str, Any]:
    """``count`` creates of 1 GiB at ``concurrency``: latency, wall time, CPU, 429s, errors."""
    client = bench.client if poll_s is None else bench.polling(poll_s)

    async def one(_index: int) -> float:
        latency_ms, location = await client.timed_run("POST", "/volumes", volume_body(1, replica))
        bench.volume_ids.append(volume_id_of(location))
        return latency_ms

    with Meter(bench) as meter:
        latencies, errors = await run_workers(count, concurrency, one)
    created = len(latencies)
    return {
        "count": count,
        "concurrency": concurrency,
        "replica": replica,
        "poll_interval_ms": round(client.poll_interval_s * 1000, 1),
        "created": created,
        "errors": errors,
        "throttled_429": meter.counters["throttled"],
        "wall_s": round(meter.wall_s, 3),
        "creates_per_s": round(created / meter.wall_s, 2) if meter.wall_s else 0.0,
        "server_cpu_ms_per_create": round(meter.cpu_s * 1000 / created, 2) if created else None,
        "latency": summary(latencies),
    }


async def delete_volumes(bench: Bench, count: int, concurrency: int) -> dict[str, Any]:
    victims = bench.volume_ids[-count:]
    del bench.volume_ids[-count:]

    async def one(index: int) -> float:
        latency_ms, _ = await bench.client.timed_run("DELETE", f"/volumes/{victims[index]}")
        return latency_ms

    with Meter(bench) as meter:
        latencies, errors = await run_workers(len(victims), concurrency, one)
    done = len(latencies)
    return {
        "count": len(victims),
        "concurrency": concurrency,
        "poll_interval_ms": round(bench.client.poll_interval_s * 1000, 1),
        "deleted": done,
        "errors": errors,
        "throttled_429": meter.counters["throttled"],
        "wall_s": round(meter.wall_s, 3),
        "server_cpu_ms_per_delete": round(meter.cpu_s * 1000 / done, 2) if done else None,
        "latency": summary(latencies),
    }


# -- listing ----------------------------------------------------------------------------------

async def _sample(bench: Bench, paths: list[str]) -> dict[str, Any]:
    latencies = []
    with Meter(bench) as meter:
        for path in paths:
            started = time.perf_counter()
            await bench.client.get_json(path)
            latencies.append((time.perf_counter() - started) * 1000)
    result = summary(latencies)
    result["server_cpu_ms_per_request"] = round(meter.cpu_s * 1000 / len(paths), 3)
    return result


async def topology_info(bench: Bench) -> dict[str, Any]:
    """The Go client's TopologyInfo: clusters, each cluster, its volumes, its nodes, in turn."""
    with Meter(bench) as meter:
        clusters = (await bench.client.get_json("/clusters"))["clusters"]
        for cluster_id in clusters:
            cluster = await bench.client.get_json(f"/clusters/{cluster_id}")
            for volume_id in cluster["volumes"]:
                volume = await bench.client.get_json(f"/volumes/{volume_id}")
                if volume["cluster"] != cluster_id:
                    raise RequestFailed("GET", f"/volumes/{volume_id}", 200, "wrong cluster")
            for node_id in cluster["nodes"]:
                await bench.client.get_json(f"/nodes/{node_id}")
    requests = meter.counters["requests"]
    return {
        "requests": requests,
        "total_ms": round(meter.wall_s * 1000, 1),
        "ms_per_request": round(meter.wall_s * 1000 / requests, 3),
        "server_cpu_ms_total": round(meter.cpu_s * 1000, 1),
    }


async def measure_listing(bench: Bench, samples: int = 20,
                          volume_samples: int = 100) -> dict[str, Any]:
    volume_paths = [f"/volumes/{v}" for v in random.sample(
        bench.volume_ids, min(volume_samples, len(bench.volume_ids)))]
    return {
        "volumes": len(bench.volume_ids),
        "get_volumes": await _sample(bench, ["/volumes"] * samples),
        "get_cluster": await _sample(bench, [f"/clusters/{bench.cluster_id}"] * samples),
        "get_volume": await _sample(bench, volume_paths) if volume_paths else {"n": 0},
        "topology_info": await topology_info(bench),
    }


# -- fill -------------------------------------------------------------------------------------

async def fill(bench: Bench, target: int, concurrency: int, band_size: int, replica: int,
               poll_s: float, listing_at: tuple[int, ...], listing_samples: int,
               log: Callable[[str], None]) -> dict[str, Any]:
    """Create volumes up to ``target`` in bands; per band: creates/s, CPU per create, RSS."""
    bands: list[dict[str, Any]] = []
    listings: dict[str, Any] = {}
    while len(bench.volume_ids) < target:
        have = len(bench.volume_ids)
        band_end = min(target, (have // band_size + 1) * band_size)
        for point in sorted(listing_at):
            if have < point < band_end:
                band_end = point  # stop at a listing point inside this band
        result = await create_volumes(bench, band_end - have, concurrency,
                                      replica=replica, poll_s=poll_s)
        result.update({"from": have, "to": len(bench.volume_ids),
                       "rss_mb": round(bench.server.rss_mb(), 1)})
        bands.append(result)
        log(f"fill {have}->{result['to']}: {result['creates_per_s']}/s, "
            f"{result['server_cpu_ms_per_create']} ms CPU/create, rss {result['rss_mb']} MB")
        if result["created"] == 0:
            break
        if len(bench.volume_ids) in listing_at:
            listings[str(len(bench.volume_ids))] = await measure_listing(bench, listing_samples)
    return {"bands": merge_bands(bands, band_size), "listings": listings}


def merge_bands(parts: list[dict[str, Any]], band_size: int) -> list[dict[str, Any]]:
    """Join the pieces a listing point split, so there is one row per band of ``band_size``."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        band = part["from"] // band_size
        if merged and merged[-1]["band"] == band:
            row = merged[-1]
            cpu_total = row["_cpu_ms"] + part["server_cpu_ms_per_create"] * part["created"]
            row["created"] += part["created"]
            row["errors"] += part["errors"]
            row["throttled_429"] += part["throttled_429"]
            row["wall_s"] = round(row["wall_s"] + part["wall_s"], 3)
            row["_cpu_ms"] = cpu_total
            row["to"] = part["to"]
            row["rss_mb"] = part["rss_mb"]
        else:
            row = {"band": band, "from": part["from"], "to": part["to"],
                   "created": part["created"], "errors": part["errors"],
                   "throttled_429": part["throttled_429"], "wall_s": part["wall_s"],
                   "rss_mb": part["rss_mb"],
                   "_cpu_ms": (part["server_cpu_ms_per_create"] or 0) * part["created"]}
            merged.append(row)
    for row in merged:
        cpu_ms = row.pop("_cpu_ms")
        row["creates_per_s"] = round(row["created"] / row["wall_s"], 2) if row["wall_s"] else 0
        row["server_cpu_ms_per_create"] = round(cpu_ms / row["created"], 2) if row["created"] else None
    return merged


# -- mixed load -------------------------------------------------------------------------------

MIXED_STEPS = ("create", "read", "list", "expand", "delete")


async def mixed(bench: Bench, clients: int, duration_s: float, poll_s: float) -> dict[str, Any]:
    """Clients loop create -> read -> list -> expand +1 -> delete until the time is up."""
    client = bench.polling(poll_s)
    before_ids = set((await client.get_json("/volumes"))["volumes"])
    before_free = await device_free_kib(bench)
    latencies: dict[str, list[float]] = {step: [] for step in MIXED_STEPS}
    errors: list[str] = []
    cycles = 0
    deadline = time.perf_counter() + duration_s

    async def timed(step: str, work: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        result = await work
        latencies[step].append((time.perf_counter() - started) * 1000)
        return result

    async def loop() -> None:
        nonlocal cycles
        while time.perf_counter() < deadline:
            volume_id = ""
            try:
                location = await timed("create", client.run("POST", "/volumes", volume_body()))
                volume_id = volume_id_of(location)
                await timed("read", client.get_json(f"/volumes/{volume_id}"))
                await timed("list", client.get_json("/volumes"))
                await timed("expand", client.run("POST", f"/volumes/{volume_id}/expand",
                                                 {"expand_size": 1}))
                await timed("delete", client.run("DELETE", f"/volumes/{volume_id}"))
                cycles += 1
            except (TimeoutError, RequestFailed, OSError, aiohttp.ClientError) as exc:
                errors.append(str(exc))
                if volume_id:  # leave nothing behind that the checks would then report
                    try:
                        await client.run("DELETE", f"/volumes/{volume_id}")
                    except (TimeoutError, RequestFailed, OSError, aiohttp.ClientError) as again:
                        errors.append(f"cleanup: {again}")

    with Meter(bench) as meter:
        await asyncio.gather(*(loop() for _ in range(clients)))
    after_ids = set((await client.get_json("/volumes"))["volumes"])
    check = await client.get_json("/db/check")
    after_free = await device_free_kib(bench)
    return {
        "clients": clients,
        "duration_s": duration_s,
        "poll_interval_ms": round(poll_s * 1000, 1),
        "volumes_present": len(before_ids),
        "cycles": cycles,
        "elapsed_s": round(meter.wall_s, 3),
        "cycles_per_s": round(cycles / meter.wall_s, 2) if meter.wall_s else 0.0,
        "errors": len(errors),
        "error_samples": errors[:5],
        "throttled_429": meter.counters["throttled"],
        "server_cpu_ms_per_cycle": round(meter.cpu_s * 1000 / cycles, 2) if cycles else None,
        "client_cpu_ms_per_cycle": (
            round(meter.client_cpu_s * 1000 / cycles, 2) if cycles else None
        ),
        "steps": {step: summary(values) for step, values in latencies.items()},
        "after": {
            "volumes_left_behind": len(after_ids - before_ids),
            "volumes_lost": len(before_ids - after_ids),
            "db_check_inconsistencies": check.get("totalinconsistencies"),
            "device_space_back": after_free == before_free,
        },
    }
