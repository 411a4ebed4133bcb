"""Request-size limits: body caps per route (413 before the body is read, also for chunked
bodies; 408 for a body that does not arrive), and the list caps of a volume create (400 with a
clear text) that keep thousands of options from ever reaching the nodes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.server import build
from tests.integration.test_operations import Api, settings_for, topology
from tests.openapi_check import validate_response
from tests.support import rawhttp
from tests.support.server import ServerProcess, running_server
from tests.support.simulated import nodes_of

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
NODE_ID = "0123456789abcdef0123456789abcdef"


def volume_body(size_bytes: int) -> bytes:
    """A valid volume create of about ``size_bytes``, padded with 500-character options."""
    options: list[str] = []
    body = b""
    while len(body) < size_bytes:
        options.append(f"user.note{len(options)} " + "x" * 488)
        body = json.dumps({"size": 1, "glustervolumeoptions": options}).encode()
    return body


def _post(server: ServerProcess, path: str, body: bytes, *, role: str = "admin",
          chunked: bool = False) -> rawhttp.RawReply:
    with rawhttp.connect(server.base_url) as sock:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
        sock.sendall(rawhttp.request_head("POST", path, role=role, headers=framing))
        with contextlib.suppress(ConnectionError):  # the server may stop reading early
            sock.sendall(rawhttp.chunked(body) if chunked else body)
        reply = rawhttp.read_response(sock)
    validate_response("POST", path, reply.status, reply.headers, reply.body)
    return reply


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path) as server:
        yield server


@pytest.fixture
def configured_server(tmp_path: Path) -> Iterator[ServerProcess]:
    http = {"max_body_kib_by_route": {"POST /volumes": 1, "POST /nodes/{id}/tags": 1},
            "body_read_timeout_s": 0.3}
    with running_server(tmp_path, heketipy={"http": http}) as server:
        yield server


def test_a_declared_14mb_volume_body_is_refused_unread(default_server: ServerProcess) -> None:
    with rawhttp.connect(default_server.base_url) as sock:
        sock.sendall(rawhttp.request_head(
            "POST", "/volumes", role="user",
            headers={"Content-Length": "14000000", "Content-Type": "application/json"}))
        reply = rawhttp.read_response(sock)  # answered without a byte of the body
    validate_response("POST", "/volumes", reply.status, reply.headers, reply.body)
    assert reply.status == 413
    assert reply.text == "Request body too large: POST /volumes accepts at most 65536 bytes\n"
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["connection"] == "close"


def test_an_oversized_chunked_body_is_refused(default_server: ServerProcess) -> None:
    reply = _post(default_server, "/volumes", volume_body(100 * 1024), role="user", chunked=True)
    assert reply.status == 413
    assert reply.text == "Request body too large: POST /volumes accepts at most 65536 bytes\n"
    assert reply.headers["connection"] == "close"


def test_a_body_within_the_cap_is_served(default_server: ServerProcess) -> None:
    reply = _post(default_server, "/volumes", volume_body(2048), role="user", chunked=True)
    assert (reply.status, reply.text) == (400, "No clusters configured\n")


def test_route_caps_override_the_default(configured_server: ServerProcess) -> None:
    body = volume_body(2048)
    reply = _post(configured_server, "/volumes", body)
    assert (reply.status, reply.text) == (
        413, "Request body too large: POST /volumes accepts at most 1024 bytes\n")
    reply = _post(configured_server, f"/nodes/{NODE_ID}/tags", body)
    assert (reply.status, reply.text) == (
        413, "Request body too large: POST /nodes/{id}/tags accepts at most 1024 bytes\n")
    reply = _post(configured_server, "/blockvolumes", body)  # the default 64 KiB cap
    assert (reply.status, reply.text) == (400, "No clusters configured\n")


@pytest.mark.slow
def test_a_body_that_stops_arriving_is_refused(configured_server: ServerProcess) -> None:
    with rawhttp.connect(configured_server.base_url) as sock:
        sock.sendall(rawhttp.request_head("POST", "/clusters", headers={"Content-Length": "100"}))
        sock.sendall(b'{"file":')
        reply = rawhttp.read_response(sock)
        validate_response("POST", "/clusters", reply.status, reply.headers, reply.body)
        assert (reply.status, reply.text) == (408, "Request body not received within 0.3 s\n")
        assert rawhttp.closed_by_server(sock)


# ----------------------------------------------------------------------- list caps


@pytest.fixture
async def api_and_runtime(tmp_path: Path):  # noqa: ANN201
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        await topology(api)
        yield api, rt


def node_state(rt: Any) -> str:
    return json.dumps(nodes_of(rt.executor).snapshot(), sort_keys=True)


async def test_thousands_of_options_are_refused_before_anything_starts(api_and_runtime) -> None:  # noqa: ANN001
    api, rt = api_and_runtime
    before = node_state(rt)
    options = [f"user.heketipy-test{i} on" for i in range(2000)]
    status, _, text = await api.call(
        "POST", "/volumes", {"size": 1, "durability": REPLICA3, "glustervolumeoptions": options})
    assert (status, text) == (
        400, "too many gluster volume options specified (2000), up to 64 supported\n")
    assert node_state(rt) == before
    assert not rt.state.volumes and rt.throttle.admitted == 0


async def test_an_overlong_option_is_refused(api_and_runtime) -> None:  # noqa: ANN001
    api, rt = api_and_runtime
    options = ["performance.quick-read off", "user.note " + "x" * 1015]
    status, _, text = await api.call(
        "POST", "/volumes", {"size": 1, "durability": REPLICA3, "glustervolumeoptions": options})
    assert (status, text) == (
        400, "gluster volume option 2 is too long (1025 characters), up to 1024 supported\n")


async def test_options_up_to_the_caps_are_applied(api_and_runtime) -> None:  # noqa: ANN001
    api, rt = api_and_runtime
    options = [f"user.heketipy-test{i} {'v' * 990}" for i in range(10, 74)]
    assert len(options) == 64 and all(len(o) <= 1024 for o in options)
    status, headers, text = await api.wait(
        "POST", "/volumes", {"size": 1, "durability": REPLICA3, "glustervolumeoptions": options})
    assert status == 303, text
    _, _, text = await api.call("GET", headers["Location"])
    assert json.loads(text)["glustervolumeoptions"] == ["", *options, ""]


@pytest.mark.parametrize("path", ["/volumes", "/blockvolumes"])
async def test_too_many_clusters_are_refused(api_and_runtime, path: str) -> None:  # noqa: ANN001
    api, _ = api_and_runtime
    clusters = [f"{i:032x}" for i in range(33)]
    status, _, text = await api.call("POST", path, {"size": 1, "clusters": clusters})
    assert (status, text) == (400, "too many clusters specified (33), up to 32 supported\n")
