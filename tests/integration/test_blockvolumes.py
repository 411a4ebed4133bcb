"""Block volumes through the REST API, in process: create (existing or auto-created hosting
volume), hacount, names, expand, delete, rollback on a gluster-block failure, restart recovery,
and a status + text replay of the three recorded upstream block-volume files."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.client.token import make_token
from heketipy.config import load_settings
from heketipy.operations.runtime import Runtime
from heketipy.server import build
from tests.support.simulated import nodes_of

ADMIN_KEY = "adminkey"
DISABLED = (
    "Failed to allocate new block volume: Block Hosting Volume Creation is disabled. "
    "Create a Block hosting volume and try again."
)
POLL_S = 0.002  # /queue polling interval; the loop is bounded by a count, not by time
REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Api:
    """Talks to the in-process server the way Heketi's Go client does."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime

    async def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Reply:
        token = make_token("admin", ADMIN_KEY, method, path.split("?")[0])
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"Authorization": f"bearer {token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.client.request(
            method, path, data=data, headers=headers, allow_redirects=False
        ) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.text())

    async def wait(self, location: str) -> Reply:
        for _ in range(10000):
            reply = await self.call("GET", location)
            if not (reply.status == 200 and reply.headers.get("X-Pending") == "true"):
                return reply
            await asyncio.sleep(POLL_S)
        raise AssertionError(f"{location} never finished")

    async def run(self, method: str, path: str, body: Any = None) -> Reply:
        reply = await self.call(method, path, body)
        assert reply.status == 202, (reply.status, reply.text)
        return await self.wait(reply.headers["Location"])

    async def get(self, path: str) -> Any:
        reply = await self.call("GET", path)
        assert reply.status == 200, (path, reply.status, reply.text)
        return reply.json()


def write_config(directory: Path, executor: str, glusterfs: dict[str, Any] | None = None) -> Path:
    config = {
        "port": "8080",
        "use_auth": True,
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "userkey"}},
        "glusterfs": {
            "executor": executor,
            "db": str(directory / "heketi.db"),
            "loglevel": "warning",
            **(glusterfs or {}),
        },
        "heketipy": {
            "listen": "127.0.0.1",
            "data_dir": str(directory),  # the marker registry stays with the test
            "simulator": {"device_size_gb": 500,
                          "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0}},
        },
    }
    path = directory / "heketi.json"
    path.write_text(json.dumps(config))
    return path


class Server:
    """One in-process server on a config file; restartable on the same database."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.client: TestClient | None = None
        self.runtime: Runtime | None = None

    async def start(self) -> Api:
        settings = load_settings(str(self.config_path), env={})
        app = build(settings)
        self.client = TestClient(TestServer(app))
        await self.client.start_server()
        self.runtime = app[RUNTIME]
        return Api(self.client, self.runtime)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[Any]:
    servers: list[Server] = []

    async def factory(executor: str = "mock", **glusterfs: Any) -> tuple[Server, Api]:
        server = Server(write_config(tmp_path, executor, glusterfs))
        servers.append(server)
        return server, await server.start()

    yield factory
    for server in servers:
        await server.stop()


async def topology(api: Api, nodes: int = 3, block: bool = True) -> str:
    reply = await api.call("POST", "/clusters", {"file": True, "block": block})
    assert reply.status == 201, reply.text
    cluster = reply.json()["id"]
    for i in range(1, nodes + 1):
        final = await api.run("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}.example.test"], "storage": [f"10.0.0.{i}"]},
        })
        assert final.status == 303, final.text
        node_id = final.headers["Location"].rsplit("/", 1)[1]
        final = await api.run("POST", "/devices", {"node": node_id, "name": "/dev/sdb"})
        assert final.status == 204, final.text
    return cluster


async def create_bv(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    final = await api.run("POST", "/blockvolumes", body)
    assert final.status == 303, final.text
    assert re.fullmatch(r"/blockvolumes/[0-9a-f]{32}", final.headers["Location"])
    return await api.get(final.headers["Location"])


async def device_free(api: Api) -> list[int]:
    free = []
    for cluster in (await api.get("/clusters"))["clusters"]:
        for node in (await api.get(f"/clusters/{cluster}"))["nodes"]:
            free += [d["storage"]["free"] for d in (await api.get(f"/nodes/{node}"))["devices"]]
    return free


# -- behaviour -----------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["mock", "simulator"])
async def test_auto_created_hosting_volume(make_server: Any, executor: str) -> None:
    _server, api = await make_server(
        executor, auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    cluster = await topology(api)
    bv = await create_bv(api, {"size": 5})
    assert bv["name"] == f"blockvol_{bv['id']}"
    assert bv["size"] == 5 and bv["usablesize"] == 5 and bv["hacount"] == 3
    assert sorted(bv["blockvolume"]["hosts"]) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert bv["cluster"] == cluster
    bhv = await api.get(f"/volumes/{bv['blockhostingvolume']}")
    assert bhv["size"] == 20 and bhv["block"] is True
    assert bhv["durability"] == {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}}
    assert bhv["glustervolumeoptions"] == ["", "group gluster-block", ""]
    assert bhv["blockinfo"] == {"freesize": 14, "reservedsize": 1, "blockvolume": [bv["id"]]}
    assert len(bhv["bricks"]) == 3
    assert (await api.get("/blockvolumes"))["blockvolumes"] == [bv["id"]]
    assert (await api.get(f"/clusters/{cluster}"))["blockvolumes"] == [bv["id"]]
    # No journal record is left behind.
    assert (await api.get("/operations/pending"))["pendingoperations"] == []


async def test_existing_manual_bhv_and_disabled_auto_create(make_server: Any) -> None:
    _server, api = await make_server("mock")
    await topology(api)
    reply = await api.call("POST", "/blockvolumes", {"size": 1})
    assert (reply.status, reply.text) == (500, DISABLED + "\n")
    final = await api.run("POST", "/volumes", {"size": 5, "durability": REPLICA3, "block": True})
    bhv_id = final.headers["Location"].rsplit("/", 1)[1]
    bv = await create_bv(api, {"size": 2, "name": "b1", "auth": True})
    assert bv["blockhostingvolume"] == bhv_id
    assert bv["blockvolume"]["username"] == "heketi-user"
    assert bv["blockvolume"]["password"] == "secret"
    assert (await api.get(f"/volumes/{bhv_id}"))["blockinfo"]["freesize"] == 2
    reply = await api.call("POST", "/blockvolumes", {"size": 4})
    assert (reply.status, reply.text) == (500, DISABLED + "\n")
    # A locked BHV takes no new block volumes.
    assert (await api.run("POST", f"/volumes/{bhv_id}/block-restriction",
                          {"restriction": "locked"})).status == 303
    reply = await api.call("POST", "/blockvolumes", {"size": 1})
    assert (reply.status, reply.text) == (500, DISABLED + "\n")


async def test_cluster_validation(make_server: Any) -> None:
    _server, api = await make_server("mock")
    reply = await api.call("POST", "/blockvolumes", {"size": 1})
    assert (reply.status, reply.text) == (400, "No clusters configured\n")
    cluster = await topology(api, block=False)
    missing = uuid.uuid4().hex
    reply = await api.call("POST", "/blockvolumes", {"size": 1, "clusters": [missing]})
    assert (reply.status, reply.text) == (400, f"Cluster id {missing} not found\n")
    reply = await api.call("POST", "/blockvolumes", {"size": 1, "clusters": [cluster]})
    assert reply.status == 500
    assert reply.text == (
        "Failed to allocate new block volume: Cluster does not support requested volume type\n"
    )
    reply = await api.call("POST", "/blockvolumes", {"size": 0})
    assert (reply.status, reply.text) == (400, "validation failed: size: cannot be blank.\n")


async def test_hacount_capping_and_subset(make_server: Any) -> None:
    _server, api = await make_server(
        "mock", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    capped = await create_bv(api, {"size": 1, "hacount": 4})
    assert capped["hacount"] == 3 and len(capped["blockvolume"]["hosts"]) == 3
    two = await create_bv(api, {"size": 1, "hacount": 2})
    assert two["hacount"] == 2
    hosts = two["blockvolume"]["hosts"]
    assert len(set(hosts)) == 2 and set(hosts) <= {"10.0.0.1", "10.0.0.2", "10.0.0.3"}


async def test_too_small_auto_bhv_text(make_server: Any) -> None:
    _server, api = await make_server(
        "mock", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    reply = await api.call("POST", "/blockvolumes", {"size": 20})
    assert reply.status == 500
    assert reply.text == (
        "Failed to allocate new block volume: The size configured for automatic creation of "
        "block hosting volumes (20) is too small to host the requested block volume of size 20. "
        "The available size on this block hosting volume, minus overhead, is 19. Please create "
        "a sufficiently large block hosting volume manually.\n"
    )
    assert (await api.get("/volumes"))["volumes"] == []


async def test_name_conflict_auto_creates_second_bhv(make_server: Any) -> None:
    _server, api = await make_server(
        "mock", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    first = await create_bv(api, {"size": 1, "name": "same"})
    second = await create_bv(api, {"size": 1, "name": "same"})
    assert first["blockhostingvolume"] != second["blockhostingvolume"]
    assert len((await api.get("/volumes"))["volumes"]) == 2


async def test_name_conflict_without_auto_create(make_server: Any) -> None:
    _server, api = await make_server("mock")
    await topology(api)
    await api.run("POST", "/volumes", {"size": 5, "durability": REPLICA3, "block": True})
    await create_bv(api, {"size": 1, "name": "same"})
    reply = await api.call("POST", "/blockvolumes", {"size": 1, "name": "same"})
    assert (reply.status, reply.text) == (500, DISABLED + "\n")


async def test_expand_texts_and_accounting(make_server: Any) -> None:
    _server, api = await make_server(
        "simulator", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    bv = await create_bv(api, {"size": 5})
    path = f"/blockvolumes/{bv['id']}"
    prefix = "Failed to allocate block volume expansion: "
    cases = [
        ({"new_size": 5}, 500,
         prefix + "Requested new-size 5 is same as current block volume size 5, nothing to be done."),
        ({"new_size": 2}, 500,
         prefix + "Requested new-size 2 is less than current block volume size 5, shrinking is not allowed."),
        ({"new_size": 500}, 500, prefix + "No space"),
        ({"new_size": 0}, 400, "validation failed: new_size: cannot be blank."),
    ]
    for body, status, text in cases:
        reply = await api.call("POST", f"{path}/expand", body)
        assert (reply.status, reply.text) == (status, text + "\n"), body
    final = await api.run("POST", f"{path}/expand", {"new_size": 7})
    assert (final.status, final.headers["Location"]) == (303, path)
    expanded = await api.get(path)
    assert expanded["size"] == 7 and expanded["usablesize"] == 7
    bhv = await api.get(f"/volumes/{bv['blockhostingvolume']}")
    assert bhv["blockinfo"]["freesize"] == 12
    reply = await api.call("POST", f"/blockvolumes/{uuid.uuid4().hex}/expand", {"new_size": 9})
    assert (reply.status, reply.text) == (404, "Id not found\n")


async def test_delete_credits_freesize(make_server: Any) -> None:
    _server, api = await make_server("simulator")
    await topology(api)
    final = await api.run("POST", "/volumes", {"size": 10, "durability": REPLICA3, "block": True})
    bhv_path = final.headers["Location"]
    one = await create_bv(api, {"size": 3})
    two = await create_bv(api, {"size": 2})
    assert (await api.get(bhv_path))["blockinfo"]["freesize"] == 4
    reply = await api.call("DELETE", bhv_path)
    assert reply.status == 409
    assert (await api.run("DELETE", f"/blockvolumes/{one['id']}")).status == 204
    assert (await api.get(bhv_path))["blockinfo"]["freesize"] == 7
    assert (await api.call("GET", f"/blockvolumes/{one['id']}")).status == 404
    assert (await api.call("DELETE", f"/blockvolumes/{one['id']}")).status == 404
    assert (await api.run("DELETE", f"/blockvolumes/{two['id']}")).status == 204
    blockinfo = (await api.get(bhv_path))["blockinfo"]
    assert blockinfo == {"freesize": 9, "reservedsize": 1}
    assert (await api.run("DELETE", bhv_path)).status == 204


@pytest.mark.parametrize("after", [False, True])
async def test_gluster_block_failure_rolls_back_auto_bhv(make_server: Any, after: bool) -> None:
    _server, api = await make_server(
        "simulator", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    free_before = await device_free(api)
    nodes_of(api.runtime.executor).faults.fail_nth("gluster-block create", 1, after=after)
    final = await api.run("POST", "/blockvolumes", {"size": 5})
    assert final.status == 500
    assert "simulated failure of gluster-block create" in final.text
    assert (await api.get("/blockvolumes"))["blockvolumes"] == []
    assert (await api.get("/volumes"))["volumes"] == []
    assert await device_free(api) == free_before
    assert (await api.get("/operations/pending"))["pendingoperations"] == []
    state = api.runtime.state
    assert not state.blockvolumes and not state.volumes and not state.bricks
    # Nothing is left on the simulated nodes either: no LVs, no gluster volumes.
    snapshot = nodes_of(api.runtime.executor).snapshot()
    for node in snapshot["nodes"].values():
        assert node["gluster_volumes"] == {}
        for vg in node["vgs"].values():
            assert vg["lvs"] == {}
    # And the next attempt succeeds.
    assert (await create_bv(api, {"size": 5}))["size"] == 5


async def test_gluster_block_failure_credits_existing_bhv(make_server: Any) -> None:
    _server, api = await make_server("simulator")
    await topology(api)
    final = await api.run("POST", "/volumes", {"size": 10, "durability": REPLICA3, "block": True})
    bhv_path = final.headers["Location"]
    nodes_of(api.runtime.executor).faults.fail_nth("gluster-block create", 1, after=True)
    final = await api.run("POST", "/blockvolumes", {"size": 4, "name": "b"})
    assert final.status == 500
    bhv = await api.get(bhv_path)
    assert bhv["blockinfo"] == {"freesize": 9, "reservedsize": 1}
    snapshot = nodes_of(api.runtime.executor).snapshot()
    volumes = [v for n in snapshot["nodes"].values() for v in n["gluster_volumes"].values()]
    assert all(v["block_volumes"] == {} for v in volumes)
    # The same name can be used again.
    assert (await create_bv(api, {"size": 4, "name": "b"}))["name"] == "b"


async def test_expand_failure_credits_back(make_server: Any) -> None:
    _server, api = await make_server(
        "simulator", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    bv = await create_bv(api, {"size": 5})
    nodes_of(api.runtime.executor).faults.fail_nth("gluster-block modify", 1)
    final = await api.run("POST", f"/blockvolumes/{bv['id']}/expand", {"new_size": 8})
    assert final.status == 500
    assert (await api.get(f"/blockvolumes/{bv['id']}"))["size"] == 5
    bhv = await api.get(f"/volumes/{bv['blockhostingvolume']}")
    assert bhv["blockinfo"]["freesize"] == 14
    assert (await api.run("POST", f"/blockvolumes/{bv['id']}/expand",
                          {"new_size": 8})).status == 303


async def test_crash_mid_create_is_undone_at_restart(make_server: Any) -> None:
    server, api = await make_server(
        "simulator", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    free_before = await device_free(api)
    from heketipy.operations.blockvolumes import BlockVolumeSpec, CreateBlockVolume

    runtime = api.runtime
    op = CreateBlockVolume(runtime, BlockVolumeSpec(size_gib=3))
    # Plan and run the hosting volume's node steps, then "crash" before gluster-block runs.
    await runtime.apply(op.plan)
    assert op.bhv_created
    bhv = runtime.state.volumes[op.bhv_id]
    from heketipy.operations import volumes as vol

    bricks = runtime.state.bricks_of_volume(bhv.id)
    await vol.create_bricks(runtime, bricks, 0)
    await runtime.executor.volume_create(  # type: ignore[attr-defined]
        vol.gluster_host(runtime, bricks), vol.volume_request(runtime.state, bhv, bricks)
    )
    await server.stop()
    api = await server.start()
    assert (await api.get("/operations/pending"))["pendingoperations"] == []
    assert (await api.get("/volumes"))["volumes"] == []
    assert await device_free(api) == free_before
    assert not api.runtime.state.blockvolumes
    snapshot = nodes_of(api.runtime.executor).snapshot()
    for node in snapshot["nodes"].values():
        assert node["gluster_volumes"] == {}
        assert all(vg["lvs"] == {} for vg in node["vgs"].values())


async def test_busy_while_auto_bhv_pending(make_server: Any) -> None:
    _server, api = await make_server(
        "mock", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    executor = api.runtime.executor
    gate = asyncio.Event()
    real_volume_create = executor.volume_create

    async def gated_volume_create(host: str, request: Any) -> Any:
        await gate.wait()
        return await real_volume_create(host, request)

    executor.volume_create = gated_volume_create  # type: ignore[method-assign]
    first = await api.call("POST", "/blockvolumes", {"size": 1})
    assert first.status == 202
    # While the hosting volume is being created, one operation describes all of it.
    [pending] = (await api.get("/operations/pending"))["pendingoperations"]
    assert pending["type_name"] == "create-block-volume"
    detail = await api.get(f"/operations/pending/{pending['id']}")
    descriptions = [change["description"] for change in detail["changes"]]
    assert descriptions == ["Add brick"] * 3 + ["Add volume", "Add block volume"]
    assert (await api.get("/blockvolumes"))["blockvolumes"] == []
    assert (await api.get("/volumes"))["volumes"] == []
    # The hosting volume is still pending: no room anywhere, so 429.
    second = await api.call("POST", "/blockvolumes", {"size": 1})
    assert (second.status, second.text) == (429, "Server busy. Retry operation later.\n")
    gate.set()
    assert (await api.wait(first.headers["Location"])).status == 303
    assert len((await api.get("/blockvolumes"))["blockvolumes"]) == 1


async def test_operations_keep_the_database_consistent(make_server: Any) -> None:
    _server, api = await make_server(
        "simulator", auto_create_block_hosting_volume=True, block_hosting_volume_size=20
    )
    await topology(api)
    one = await create_bv(api, {"size": 4})
    two = await create_bv(api, {"size": 3, "hacount": 1})
    await api.run("POST", f"/blockvolumes/{one['id']}/expand", {"new_size": 6})
    await api.run("DELETE", f"/blockvolumes/{two['id']}")
    check = await api.get("/db/check")
    assert check["totalinconsistencies"] == 0, check


# -- golden replay (status and key texts) -----------------------------------------------------

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "golden" / "http"
PLACEHOLDER = re.compile(r"<ID:(\d+)(?::UPPER)?>")


def golden_path(name: str) -> Path:
    """A recorded exchange in the repository's fixtures (a missing one fails the test)."""
    path = GOLDEN_DIR / name
    assert path.exists(), f"golden fixture {path} is missing"
    return path


class Binding:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def fill(self, text: str) -> str:
        """Recorded text -> real text; an unbound id is client-chosen: a fresh one."""
        def real(match: re.Match[str]) -> str:
            return self.ids.setdefault(match.group(1), uuid.uuid4().hex)

        return PLACEHOLDER.sub(real, text)

    def unify(self, expected: str, actual: str) -> bool:
        """Match a recorded string against an actual one, binding new ids."""
        parts = PLACEHOLDER.split(expected)
        pattern, names = "", []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                pattern += re.escape(part)
            elif part in self.ids:
                pattern += re.escape(self.ids[part])
            else:
                pattern += "([0-9a-f]{32})"
                names.append(part)
        match = re.fullmatch(pattern, actual)
        if match is None:
            return False
        for name, value in zip(names, match.groups(), strict=True):
            self.ids[name] = value
        return True


def compare_json(expected: Any, actual: Any, binding: Binding, skip: set[str], path: str) -> list[str]:
    if path in skip:
        if isinstance(expected, list) and isinstance(actual, list):
            return [] if len(expected) == len(actual) else [f"{path}: length differs"]
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or list(expected) != list(actual):
            return [f"{path}: keys {list(expected)} != {actual!r:.200}"]
        problems = []
        for key in expected:
            problems += compare_json(expected[key], actual[key], binding, skip, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return [f"{path}: {expected!r:.200} != {actual!r:.200}"]
        problems = []
        for e, a in zip(expected, actual, strict=True):
            problems += compare_json(e, a, binding, skip, f"{path}[*]")
        return problems
    if isinstance(expected, str) and isinstance(actual, str):
        return [] if binding.unify(expected, actual) else [f"{path}: {expected!r} != {actual!r}"]
    return [] if expected == actual and type(expected) is type(actual) else [
        f"{path}: {expected!r} != {actual!r}"
    ]


def _bind_list(expected: list[Any], actual: list[Any], binding: Binding) -> None:
    """Bind the ids of an id list whose order is random but where one id is new."""
    unbound = [e for e in expected if isinstance(e, str) and PLACEHOLDER.fullmatch(e)
               and PLACEHOLDER.fullmatch(e).group(1) not in binding.ids]  # type: ignore[union-attr]
    known = {binding.fill(e) for e in expected if e not in unbound}
    fresh = [a for a in actual if a not in known]
    if len(unbound) == 1 and len(fresh) == 1:
        binding.unify(unbound[0], fresh[0])


@pytest.mark.parametrize(
    "name", ["blockvolumes.json", "blockvolumes-locked.json", "blockvolumes-manual.json"]
)
async def test_golden_block_files(make_server: Any, name: str) -> None:
    path = golden_path(name)
    golden = json.loads(path.read_text())
    glusterfs = {
        k: v for k, v in golden["server"]["config"]["glusterfs"].items()
        if k not in ("db", "executor", "loglevel")
    }
    _server, api = await make_server("mock", **glusterfs)
    binding = Binding()
    problems: list[str] = []
    for exchange in golden["exchanges"]:
        if "request" not in exchange:
            continue
        request, expected = exchange["request"], exchange["response"]
        seq = exchange["seq"]
        method, req_path = request["method"], binding.fill(request["path"])
        body = request.get("body")
        raw = request.get("body_text")
        if body is not None:
            raw = binding.fill(json.dumps(body))
        reply = await api.call(method, req_path, raw=raw)
        if req_path.startswith("/queue/") and expected["status"] != 200:
            while reply.status == 200 and reply.headers.get("X-Pending") == "true":
                await asyncio.sleep(POLL_S)
                reply = await api.call(method, req_path)
        if reply.status != expected["status"]:
            problems.append(f"#{seq} {method} {request['path']}: status {reply.status} "
                            f"!= {expected['status']} ({reply.text.strip()[:200]})")
            continue
        location = expected.get("headers", {}).get("Location")
        if location and not binding.unify(location, reply.headers.get("Location", "")):
            problems.append(f"#{seq}: Location {reply.headers.get('Location')} != {location}")
        fmt = expected.get("body_format")
        if fmt == "text":
            if not binding.unify(expected["body"], reply.text):
                problems.append(f"#{seq}: text {reply.text!r} != {expected['body']!r}")
        elif fmt == "json":
            skip = {
                n["path"].replace("response.body", "$")
                for n in exchange.get("nondeterministic", [])
            }
            actual = reply.json()
            for key in ("blockvolumes", "volumes"):
                if (isinstance(actual, dict) and isinstance(actual.get(key), list)
                        and f"$.{key}" in skip):
                    _bind_list(expected["body"][key], actual[key], binding)
            hosts = actual.get("blockvolume", {}).get("hosts") if isinstance(actual, dict) else None
            if hosts is not None:
                recorded = expected["body"]["blockvolume"]["hosts"]
                ok = (sorted(hosts) == sorted(recorded) if len(recorded) == 3
                      else len(set(hosts)) == len(recorded))
                if not ok:
                    problems.append(f"#{seq}: hosts {hosts} != {recorded}")
            problems += [f"#{seq}: {p}" for p in compare_json(
                expected["body"], actual, binding, skip | {"$.mount", "$.bricks"}, "$")]
    assert not problems, "\n".join(problems)
