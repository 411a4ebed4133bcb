"""The server's log at the default level, read the way an operator debugging a stuck PVC reads
it: one line per request, one per operation step, one per failed node command, never a token.
Text and JSON formats carry the same fields."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import (
    ADMIN_KEY,
    USER_KEY,
    ServerProcess,
    start_server,
    write_config,
)

SIMULATOR = {"device_size_gb": 100, "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0}}
SECRET_HEADER = "Bearer not.a-jwt.sekrit-marker-7f3a"


def default_level_config(tmp_path: Path, *, heketipy: dict[str, Any] | None = None) -> Path:
    """A config that leaves ``glusterfs.loglevel`` unset (Heketi's default, info)."""
    path = write_config(
        tmp_path, glusterfs={"executor": "simulator"},
        heketipy={"simulator": SIMULATOR, **(heketipy or {})},
    )
    config = json.loads(path.read_text())
    del config["glusterfs"]["loglevel"]
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def text_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(default_level_config(tmp_path))
    try:
        yield server
    finally:
        server.stop()


def topology(server: ServerProcess, nodes: int = 3) -> list[str]:
    cluster = server.request("POST", "/clusters", {"file": True}).json()["id"]
    hosts = []
    for i in range(1, nodes + 1):
        host = f"node{i}.example.test"
        final = server.async_call("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [host], "storage": [f"10.0.0.{i}"]},
        })
        node_id = final.headers["Location"].rsplit("/", 1)[1]
        server.async_call("POST", "/devices", {"node": node_id, "name": "/dev/sdb"})
        hosts.append(host)
    return hosts


def bad_token_request(server: ServerProcess, path: str) -> int:
    request = urllib.request.Request(server.base_url + path, method="GET")
    request.add_header("Authorization", SECRET_HEADER)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def log_lines(server: ServerProcess) -> list[str]:
    return server.log_path.read_text().splitlines()


def fields(line: str) -> dict[str, str]:
    """``key=value`` pairs of a text line (values JSON-quoted where they need it)."""
    found: dict[str, str] = {}
    for match in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line):
        value = match.group(2)
        found[match.group(1)] = json.loads(value) if value.startswith('"') else value
    return found


def request_lines(lines: list[str], method: str, path: str) -> list[dict[str, str]]:
    return [
        fields(line) for line in lines
        if f" method={method} " in line and f" path={path} " in line
    ]


def assert_no_credentials(text: str) -> None:
    for secret in ("eyJ", "sekrit-marker", ADMIN_KEY, USER_KEY):
        assert secret not in text
    assert "bearer" not in text.lower()


def test_one_line_per_request_with_role_status_and_queue_id(text_server: ServerProcess) -> None:
    server = text_server
    assert server.request("GET", "/volumes", role="user").status == 200
    assert server.request("GET", "/clusters", role="user").status == 401
    assert server.request("GET", "/clusters/" + "0" * 32, role="admin").status == 404
    assert bad_token_request(server, "/nodes") == 401
    hosts = topology(server)
    reply = server.request("POST", "/volumes", {"size": 1, "durability": {"type": "none"}})
    assert reply.status == 202
    queue_id = reply.headers["Location"].rsplit("/", 1)[1]
    assert server.wait_queue(reply.headers["Location"]).status == 303
    server.stop()
    lines = log_lines(server)

    (user,) = request_lines(lines, "GET", "/volumes")
    assert user["status"] == "200" and user["role"] == "user" and float(user["ms"]) >= 0
    (forbidden,) = request_lines(lines, "GET", "/clusters")
    assert forbidden["status"] == "401" and forbidden["role"] == "user"
    (missing,) = request_lines(lines, "GET", "/clusters/" + "0" * 32)
    assert missing["status"] == "404" and missing["role"] == "admin"
    (refused,) = request_lines(lines, "GET", "/nodes")
    assert refused["status"] == "401" and refused["role"] == "none"
    (create,) = request_lines(lines, "POST", "/volumes")
    assert create["status"] == "202" and create["op"] == queue_id
    # /hello is polled once by start-up and is logged like any request (role none).
    assert all(h["role"] == "none" for h in request_lines(lines, "GET", "/hello"))
    assert any("listening" in line for line in lines)
    assert not any("HTTP/1.1" in line for line in lines)  # no aiohttp access-log duplicate
    assert len(hosts) == 3
    assert_no_credentials(server.log_path.read_text())


def test_volume_create_logs_each_step_with_op_id_and_outcome(text_server: ServerProcess) -> None:
    server = text_server
    topology(server)
    reply = server.request("POST", "/volumes", {"size": 2, "durability": {"type": "replicate"}})
    queue_id = reply.headers["Location"].rsplit("/", 1)[1]
    final = server.wait_queue(reply.headers["Location"])
    volume_id = final.headers["Location"].rsplit("/", 1)[1]
    server.stop()

    steps = [fields(line) for line in log_lines(server) if f"op={queue_id} step " in line]
    assert [s["step"] for s in steps] == ["plan", "bricks", "volume", "finalize"]
    for step in steps:
        assert step["type"] == "create-volume"
        assert step["targets"] == f"volume:{volume_id}"
        assert step["outcome"] == "ok"
        assert float(step["ms"]) >= 0


def test_failed_node_command_is_one_line_with_node_argv_exit_and_stderr(tmp_path: Path) -> None:
    faults = {"faults": [{"command": "lvcreate", "node": "node1.example.test", "nth": 1}]}
    config = default_level_config(tmp_path, heketipy={"simulator": {**SIMULATOR, "faults": faults}})
    server = start_server(config)
    try:
        topology(server)
        reply = server.request("POST", "/volumes", {
            "size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        })
        queue_id = reply.headers["Location"].rsplit("/", 1)[1]
        server.wait_queue(reply.headers["Location"])
    finally:
        server.stop()
    lines = log_lines(server)

    failed = [line for line in lines if " WARNING " in line and "node command failed" in line]
    assert len(failed) == 1, failed
    record = fields(failed[0])
    assert record["node"] == "node1.example.test"
    assert record["argv"].startswith("env LC_ALL=C /usr/sbin/lvm lvcreate -qq ")  # the real command line
    assert record["exit"] == "1"
    assert record["stderr"].startswith("simulated failure of lvcreate vg_")
    assert record["stderr"].endswith(" on node1.example.test")
    assert record["op"] == queue_id
    # The failed execution and its rollback are steps of the same operation.
    outcomes = [
        (s["step"], s["outcome"]) for s in map(fields, lines)
        if s.get("op") == queue_id and "step" in s
    ]
    assert ("execute", "failed") in outcomes and ("rollback", "ok") in outcomes


def test_json_format_is_one_parseable_object_per_line_with_the_same_fields(
    tmp_path: Path,
) -> None:
    server = start_server(default_level_config(tmp_path, heketipy={"log_format": "json"}))
    try:
        topology(server)
        assert bad_token_request(server, "/nodes") == 401
        reply = server.request("POST", "/volumes", {"size": 1, "durability": {"type": "none"}})
        queue_id = reply.headers["Location"].rsplit("/", 1)[1]
        server.wait_queue(reply.headers["Location"])
    finally:
        server.stop()
    text = server.log_path.read_text()
    records = [json.loads(line) for line in text.splitlines()]

    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    requests = [r for r in records if r.get("method") == "POST" and r.get("path") == "/volumes"]
    assert len(requests) == 1
    assert requests[0]["status"] == 202 and requests[0]["role"] == "admin"
    assert requests[0]["op"] == queue_id and requests[0]["ms"] >= 0
    steps = [r for r in records if r.get("op") == queue_id and "step" in r]
    assert [s["step"] for s in steps] == ["plan", "bricks", "volume", "finalize"]
    assert all(s["outcome"] == "ok" and s["type"] == "create-volume" for s in steps)
    assert any("listening" in r["message"] for r in records)
    assert_no_credentials(text)


def test_asyncssh_dsa_deprecation_warnings_are_silenced_and_nothing_else() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    script = (
        "import warnings\n"
        "import heketipy.executors.ssh\n"
        "warnings.warn('DSA is deprecated (ours)', UserWarning)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
        check=True,
    )
    assert "asyncssh" not in result.stderr
    assert "DSA is deprecated (ours)" in result.stderr
