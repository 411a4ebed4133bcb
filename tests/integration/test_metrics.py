"""heketipy's own ``/metrics`` series after scripted runs on simulated nodes (issue 15).

The exposition is read with prometheus_client's parser. After creates, a create whose
``lvcreate`` fails on one node (a simulator command-level fault), an expansion, deletes and a
refused create, every counter and histogram holds exactly what happened; the node-command
counts are checked against the simulator's own trace of the commands it ran. Hostile input
(paths, methods, names, hostnames) never reaches a label value.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from heketipy.api.app import RUNTIME
from heketipy.client.token import make_token
from heketipy.config import Settings, load_settings
from heketipy.executors.command_names import command_name
from heketipy.executors.mock import MockExecutor
from heketipy.operations import drift_scan
from heketipy.operations.metrics import HTTP_METHODS, UNMATCHED_ROUTE, UNREGISTERED_NODE
from heketipy.server import DRIFT_SCAN_TASK, build
from tests.integration.test_operations import REPLICA3, Api, settings_for, topology
from tests.support.simulated import nodes_of

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    """Sample name -> (labels, value) of every heketipy_* sample in the exposition."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("heketipy_"):
                found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def by_labels(found: Samples, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(labels[k] for k in keys): value for labels, value in found.get(name, [])}


async def scrape(api: Api) -> str:
    status, headers, text = await api.call("GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return text


async def test_metrics_after_a_scripted_run(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        simulated = nodes_of(rt.executor)
        await topology(api)
        node2 = rt.state.hostnames["node2"]
        volumes = []
        for _ in range(2):
            status, headers, _ = await api.wait(
                "POST", "/volumes", {"size": 1, "durability": REPLICA3}
            )
            assert status == 303
            volumes.append(headers["Location"].rsplit("/", 1)[1])
        # Every lvcreate on node2 fails: each attempt of the create is rolled back.
        simulated.faults.fail_on_node("lvcreate", "node2", exit_code=5)
        status, _, text = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 500 and "lvcreate" in text
        simulated.faults.clear()
        status, _, _ = await api.wait("POST", f"/volumes/{volumes[0]}/expand", {"expand_size": 1})
        assert status == 303
        for volume in volumes:
            status, _, _ = await api.wait("DELETE", f"/volumes/{volume}")
            assert status == 204
        # Placement refuses at once: no operation starts.
        status, _, text = await api.call(
            "POST", "/volumes", {"size": 100000, "durability": REPLICA3}
        )
        assert status == 500 and "No space" in text

        text = await scrape(api)
        found = samples(text)

        attempts = rt.settings.glusterfs.volume_create_attempts
        expected_finished = {
            ("add-node", "succeeded"): 3, ("add-device", "succeeded"): 3,
            ("create-volume", "succeeded"): 2, ("create-volume", "rolled_back"): 1,
            ("expand-volume", "succeeded"): 1, ("delete-volume", "succeeded"): 2,
        }  # fmt: skip
        assert by_labels(
            found, "heketipy_operations_finished_total", "type", "outcome"
        ) == expected_finished
        assert by_labels(
            found, "heketipy_operation_duration_seconds_count", "type", "outcome"
        ) == expected_finished
        started = Counter[tuple[str, ...]]()
        for (type_name, _outcome), count in expected_finished.items():
            started[(type_name,)] += count
        assert by_labels(found, "heketipy_operations_started_total", "type") == started
        assert by_labels(found, "heketipy_operations_in_flight") == {(): 0}
        assert by_labels(found, "heketipy_queue_waiting_requests") == {(): 0}
        assert by_labels(found, "heketipy_placement_refusals_total", "reason") == {
            ("no_space",): 1
        }

        # The failed lvcreate, once per attempt, is the only failure: the probes and the
        # idempotent undo steps whose non-zero exits are answers are not failures.
        assert by_labels(
            found, "heketipy_node_command_failures_total", "command", "node", "exit_code"
        ) == {("lvcreate", node2, "5"): attempts}
        ran = Counter(
            (command_name(event.command.split()), rt.state.hostnames[event.host])
            for event in simulated.trace.events
            if event.phase == "start"
        )
        commands = by_labels(
            found, "heketipy_node_command_duration_seconds_count", "command", "node"
        )
        # Node add asks glusterd on the new host before the node exists: no node id yet.
        checks = {key: ran.pop(key) for key in list(ran) if key[0] == "systemctl"}
        assert sum(checks.values()) == 3
        assert commands.pop(("systemctl", UNREGISTERED_NODE)) == 3
        assert commands == ran
        assert ran[("lvcreate", node2)] >= attempts
        # One `gluster volume create` per created volume; the failed one never got that far.
        assert sum(n for (c, _), n in ran.items() if c == "gluster volume create") == 2

        requests = by_labels(found, "heketipy_http_requests_total", "route", "method", "status")
        assert requests[("/volumes", "POST", "202")] == 3
        assert requests[("/volumes", "POST", "500")] == 1
        assert requests[("/volumes/{id}/expand", "POST", "202")] == 1
        assert requests[("/volumes/{id}", "DELETE", "202")] == 2
        assert requests[("/nodes", "POST", "202")] == 3
        durations = by_labels(found, "heketipy_http_request_duration_seconds_count", "route",
                              "method")
        assert durations[("/volumes", "POST")] == 4
        assert by_labels(found, "heketipy_http_throttled_total") == {(): 0}

        # Device gauges: the database's devices by id, in bytes.
        sizes = by_labels(found, "heketipy_device_size_bytes", "cluster", "node", "device")
        assert sizes == {
            (rt.state.nodes[d.node_id].cluster_id, d.node_id, d.id): d.total_kib * 1024
            for d in rt.state.devices.values()
        }
        free = by_labels(found, "heketipy_device_free_bytes", "cluster", "node", "device")
        assert all(free[key] == sizes[key] for key in sizes)  # everything was deleted

        commits = by_labels(found, "heketipy_db_commit_batch_size_sum")[()]
        assert commits == rt.store.transactions
        assert by_labels(found, "heketipy_db_commit_duration_seconds_count")[()] == (
            rt.store.commits
        )
        assert by_labels(found, "heketipy_leader") == {(): 1}


async def test_drift_scan_feeds_the_metrics(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        status, headers, _ = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
        assert status == 303
        volume = rt.state.volumes[headers["Location"].rsplit("/", 1)[1]]
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_drift_last_scan_timestamp_seconds") == {(): 0}
        assert "heketipy_device_thinpool_data_used_ratio" not in found

        await drift_scan.scan(rt)
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_drift_objects", "kind", "problem") == {}
        assert by_labels(found, "heketipy_drift_last_scan_timestamp_seconds")[()] > 0
        bricked = {b.device_id for b in rt.state.bricks.values()}
        ratios = by_labels(
            found, "heketipy_device_thinpool_data_used_ratio", "cluster", "node", "device"
        )
        assert {device for _, _, device in ratios} == bricked
        assert set(ratios.values()) == {0.0}  # simulated thin LVs hold no data
        assert set(by_labels(
            found, "heketipy_device_thinpool_metadata_used_ratio", "cluster", "node", "device"
        )) == set(ratios)

        # Gluster loses the volume: the next scan finds it missing; once back, 0 again.
        host = rt.state.nodes[next(iter(rt.state.nodes))].manage_host
        await rt.executor.volume_destroy(host, volume.name)
        await drift_scan.scan(rt)
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_drift_objects", "kind", "problem") == {
            ("gluster-volume", "missing"): 1
        }
        status, _, _ = await api.wait("DELETE", f"/volumes/{volume.id}")
        assert status == 204
        await drift_scan.scan(rt)
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_drift_objects", "kind", "problem") == {
            ("gluster-volume", "missing"): 0
        }


HOSTILE = 'evil"\n{x="1"} \\ $(rm -rf /)'


async def test_hostile_input_never_becomes_a_label_value(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        cluster = next(iter(rt.state.clusters))
        # A valid but attacker-chosen hostname: the node is added; labels name its id.
        status, headers, _ = await api.wait("POST", "/nodes", {
            "zone": 4, "cluster": cluster,
            "hostnames": {"manage": ["evilhost"], "storage": ["10.0.0.66"]},
        })
        assert status == 303
        evil_node = headers["Location"].rsplit("/", 1)[1]
        nodes_of(rt.executor).faults.fail_nth("pvcreate", 1, node="evilhost", exit_code=3)
        status, _, _ = await api.wait("POST", "/devices", {"node": evil_node, "name": "/dev/sdb"})
        assert status == 500
        status, _, _ = await api.wait("POST", "/devices", {"node": evil_node, "name": "/dev/sdb"})
        assert status == 204
        status, _, _ = await api.wait("POST", "/volumes", {
            "size": 1, "durability": REPLICA3, "name": "evilvolume",
            "glustervolumeoptions": ["user.evil evilvalue"],
        })
        assert status == 303
        # Hostile names, paths and methods are refused before anything runs.
        await api.call("POST", "/volumes", {"size": 1, "name": HOSTILE})
        await api.call("POST", "/nodes", {
            "zone": 1, "cluster": cluster, "hostnames": {"manage": [HOSTILE], "storage": ["x"]},
        })
        for path in ("/volumes/evil%22path", "/evil/../../etc", "/volumes/" + "e" * 300,
                     "/queue/zzz?evil=1", "/volumes/abc/evilsub"):
            await api.call("GET", path)
        # A method HTTP knows but heketipy does not serve (aiohttp refuses made-up ones).
        token = make_token("admin", "a", "PROPFIND", "/volumes")
        async with client.request(
            "PROPFIND", "/volumes", headers={"Authorization": "Bearer " + token}
        ) as resp:
            assert resp.status == 405

        text = await scrape(api)
        assert "evil" in text  # Heketi's own series name the hostname, as Heketi does
        found = samples(text)
        values = {
            (name, key, value)
            for name, rows in found.items()
            for labels, _ in rows
            for key, value in labels.items()
        }
        assert not [v for v in values if "evil" in v[2] or "\n" in v[2] or '"' in v[2]]
        routes = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
        nodes = set(rt.state.nodes) | {UNREGISTERED_NODE}
        for _name, key, value in values:
            if key == "route":
                assert value in routes | {UNMATCHED_ROUTE}, value
            elif key == "method":
                assert value in HTTP_METHODS | {"other"}, value
            elif key == "node":
                assert value in nodes, value
            elif key in ("cluster", "device"):
                assert value in set(rt.state.clusters) | set(rt.state.devices), value
        requests = by_labels(found, "heketipy_http_requests_total", "route", "method", "status")
        assert requests[(UNMATCHED_ROUTE, "other", "405")] == 1
        failures = by_labels(
            found, "heketipy_node_command_failures_total", "command", "node", "exit_code"
        )
        assert failures == {("pvcreate", evil_node, "3"): 1}


def mock_settings(tmp_path: Path, **heketipy: Any) -> Settings:
    config = {
        "port": "0",
        "jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
        "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db"),
                      "max_inflight_operations": 1},
        "heketipy": {"data_dir": str(tmp_path), **heketipy},
    }
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps(config))
    return load_settings(str(path), {})


async def test_the_server_runs_the_drift_scan_when_configured(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    app = build(mock_settings(tmp_path / "off"))
    async with TestClient(TestServer(app)):
        assert app[DRIFT_SCAN_TASK] is None  # off by default on the mock
    app = build(mock_settings(tmp_path, drift_scan_interval_s=0.01))
    async with TestClient(TestServer(app)) as client:
        api = Api(client)
        for _ in range(500):  # bounded: the first scan comes one interval after the start
            found = samples(await scrape(api))
            if by_labels(found, "heketipy_drift_last_scan_timestamp_seconds")[()] > 0:
                break
            await asyncio.sleep(0.01)
        assert by_labels(found, "heketipy_drift_last_scan_timestamp_seconds")[()] > 0
        task = app[DRIFT_SCAN_TASK]
        assert task is not None and not task.done()
    assert task.done()  # stopped with the server


async def test_queue_depth_in_flight_and_429s(tmp_path: Path) -> None:
    app = build(mock_settings(tmp_path, wait_queue_size=1))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        # Hold every node call of the mock until released: one create executes, one waits.
        release = asyncio.Event()

        async def held(_seconds: float) -> None:
            await release.wait()

        assert isinstance(rt.executor, MockExecutor)
        rt.executor.latency_ms, rt.executor._sleep = 1, held
        body = {"size": 1, "durability": {"type": "none"}}
        locations = []
        for _ in range(2):
            status, headers, _ = await api.call("POST", "/volumes", body)
            assert status == 202
            locations.append(headers["Location"])
        status, _, _ = await api.call("POST", "/volumes", body)
        assert status == 429
        for _ in range(1000):  # until the first create holds its slot
            if rt.throttle.running:
                break
            await asyncio.sleep(0)
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_queue_waiting_requests") == {(): 1}
        assert by_labels(found, "heketipy_operations_in_flight") == {(): 1}
        assert by_labels(found, "heketipy_http_throttled_total") == {(): 1}
        requests = by_labels(found, "heketipy_http_requests_total", "route", "method", "status")
        assert requests[("/volumes", "POST", "429")] == 1

        release.set()
        for location in locations:
            while True:
                status, qheaders, _ = await api.call("GET", location)
                if qheaders.get("X-Pending") != "true":
                    assert status == 303
                    break
        found = samples(await scrape(api))
        assert by_labels(found, "heketipy_queue_waiting_requests") == {(): 0}
        assert by_labels(found, "heketipy_operations_in_flight") == {(): 0}
        assert by_labels(found, "heketipy_operations_finished_total", "type", "outcome")[
            ("create-volume", "succeeded")
        ] == 2
