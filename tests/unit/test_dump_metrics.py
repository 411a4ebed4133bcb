"""DB dump, consistency check, examiner and /metrics against the recorded upstream shapes
(golden/http/ops-and-db.json, stale-ops.json), plus the operations endpoints over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from heketipy.api.metrics import operation_counts, render_metrics
from heketipy.config import Settings
from heketipy.domain.consistency import check
from heketipy.domain.entities import (
    BlockVolume,
    Brick,
    Cluster,
    Device,
    Node,
    PendingOperation,
    Volume,
)
from heketipy.domain.state import State
from heketipy.gocompat.strconv import format_float_g
from heketipy.heketidump.export import dump, examine

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "http"
MOCK_DEVICE_KIB = 524288000


def hexid(n: int) -> str:
    return f"{n:032x}"


# Real ids standing for the masked ids of ops-and-db.json.
OPS_AND_DB_IDS = {
    1: hexid(0xC1),  # cluster
    3: hexid(0xA3),  # node
    5: hexid(0xD5),  # device
    7: hexid(0xB7),  # plain volume
    8: hexid(0xE8),  # its brick
    10: hexid(0xB0),  # block hosting volume
    11: hexid(0xE1),  # its brick
    13: hexid(0xF3),  # block volume
    19: hexid(0x19),  # DB generation id
}
ATTRIBUTES = {
    "DB_BRICK_HAS_SUBTYPE_FIELD": "yes",
    "DB_CLUSTER_HAS_FILE_BLOCK_FLAG": "yes",
    "DB_DEVICE_HAS_ID_META": "yes",
    "DB_HAS_PENDING_OPS_BUCKET": "yes",
}


def golden(name: str, seq: int) -> dict[str, Any]:
    data = json.loads((GOLDEN / name).read_text())
    for exchange in data["exchanges"]:
        if exchange.get("seq") == seq:
            return exchange
    raise KeyError(seq)


def mask(value: Any, ids: dict[int, str]) -> Any:
    """Replace real ids by ``<ID:n>`` like the recorder (thin pools as ``tp_<brick>``)."""
    text = json.dumps(value)
    for n, real in ids.items():
        text = text.replace(real, f"<ID:{n}>")
    return json.loads(text)


def key_orders(value: Any, path: str = "") -> list[tuple[str, list[str]]]:
    """Every dict's key order (id-keyed dicts compared as sets, like the recorder)."""
    found: list[tuple[str, list[str]]] = []
    if isinstance(value, dict):
        keys = list(value)
        id_keyed = keys and all(k.startswith("<ID:") for k in keys)
        found.append((path, sorted(keys) if id_keyed else keys))
        for key, item in value.items():
            found += key_orders(item, f"{path}.{'<id>' if id_keyed else key}")
    elif isinstance(value, list):
        for item in value:
            found += key_orders(item, f"{path}[*]")
    return sorted(found) if not path else found


def sort_order_lists(body: dict[str, Any]) -> None:
    """Lists the recording marks ``order``: compare them as multisets."""
    for entry in body["clusterentries"].values():
        entry["Info"]["volumes"].sort()
    for entry in body["deviceentries"].values():
        entry["Bricks"].sort()


def ops_and_db_state() -> State:
    """The topology of ops-and-db.json after step 17: one node and device, a 3 GiB volume,
    a 4 GiB block hosting volume holding a 1 GiB block volume."""
    i = OPS_AND_DB_IDS
    state = State()
    state.insert(Cluster(id=i[1], file=True, block=True))
    state.insert(
        Node(
            id=i[3], cluster_id=i[1], zone=1, manage=["node1.example.test"],
            storage=["10.0.0.1"], tags={"rack": "a"},
        )
    )
    used = 3145728 + 16384 + 4194304 + 24576
    state.insert(
        Device(
            id=i[5], node_id=i[3], name="/dev/sdb", total_kib=MOCK_DEVICE_KIB,
            free_kib=MOCK_DEVICE_KIB - used, used_kib=used,
        )
    )
    echo = {"type": "none", "replicate": {}, "disperse": {}}
    state.insert(
        Volume(
            id=i[7], name=f"vol_{i[7]}", cluster_id=i[1], size_gib=3, durability_echo=echo,
            gid=1000, options=["", ""], created_seq=1,
        )
    )
    state.insert(
        Brick(
            id=i[8], volume_id=i[7], device_id=i[5], node_id=i[3], size_kib=3145728,
            tp_size_kib=3145728, pool_metadata_kib=16384,
        )
    )
    state.insert(
        Volume(
            id=i[10], name="bhv", cluster_id=i[1], size_gib=4, durability_echo=dict(echo),
            options=["", "group gluster-block", ""], block=True, block_free_gib=2,
            block_reserved_gib=1, created_seq=2,
        )
    )
    state.insert(
        Brick(
            id=i[11], volume_id=i[10], device_id=i[5], node_id=i[3], size_kib=4194304,
            tp_size_kib=4194304, pool_metadata_kib=24576,
        )
    )
    state.insert(
        BlockVolume(
            id=i[13], name="bv", cluster_id=i[1], bhv_id=i[10], size_gib=1,
            usable_size_gib=1, hacount=1, hosts=["10.0.0.1"], iqn="fakeIQN",
        )
    )
    state.attributes.update(ATTRIBUTES, DB_GENERATION_ID=i[19])
    return state


# -- dump ------------------------------------------------------------------------------------
def masked_dump(state: State, ids: dict[int, str]) -> dict[str, Any]:
    body = dump(state)
    for brick_id, entry in body["brickentries"].items():
        # heketipy names the thin pool after its brick; upstream draws a separate id.
        assert entry["LvmThinPool"] == f"tp_{brick_id}"
    masked = mask(body, ids)
    for entry in masked["brickentries"].values():
        entry["LvmThinPool"] = "<thin pool>"
    return masked


def recorded_dump(name: str, seq: int) -> dict[str, Any]:
    body = golden(name, seq)["response"]["body"]
    for entry in body["brickentries"].values():
        assert re.fullmatch(r"tp_<ID:\d+>", entry["LvmThinPool"])
        entry["LvmThinPool"] = "<thin pool>"
    for entry in body["pendingoperations"].values():
        entry["Timestamp"] = "<TIMESTAMP>"
    return body


def test_dump_matches_recording_exactly() -> None:
    actual = masked_dump(ops_and_db_state(), OPS_AND_DB_IDS)
    expected = recorded_dump("ops-and-db.json", 26)
    sort_order_lists(actual)
    sort_order_lists(expected)
    assert actual == expected
    assert key_orders(actual) == key_orders(expected)


def test_dump_top_level_and_entry_field_order() -> None:
    body = dump(ops_and_db_state())
    assert list(body) == [
        "clusterentries", "volumeentries", "brickentries", "nodeentries", "deviceentries",
        "blockvolumeentries", "dbattributeentries", "pendingoperations",
    ]
    brick = next(iter(body["brickentries"].values()))
    assert list(brick) == [
        "Info", "TpSize", "PoolMetadataSize", "Pending", "LvmThinPool", "LvmLv", "SubType",
    ]
    volume = next(iter(body["volumeentries"].values()))
    assert list(volume) == ["Info", "Bricks", "GlusterVolumeOptions", "Pending"]
    assert "glustervolumeoptions" not in volume["Info"] and "bricks" not in volume["Info"]
    device = next(iter(body["deviceentries"].values()))
    assert list(device) == ["State", "Info", "Bricks", "NodeId", "ExtentSize"]
    node = next(iter(body["nodeentries"].values()))
    assert list(node) == ["State", "Info", "Devices"]


def stale_create_state() -> tuple[State, dict[int, str]]:
    """stale-ops.json after the crash: a create-volume op left with its brick and volume."""
    ids = {1: hexid(0xC1), 3: hexid(0xA3), 5: hexid(0xD5), 7: hexid(0x07), 8: hexid(0xE8),
           9: hexid(0xB9), 11: hexid(0x11)}
    state = State()
    state.insert(Cluster(id=ids[1], file=True, block=True))
    state.insert(
        Node(id=ids[3], cluster_id=ids[1], zone=1, manage=["node1.example.test"],
             storage=["10.0.0.1"])
    )
    used = 1048576 + 8192
    state.insert(Device(id=ids[5], node_id=ids[3], name="/dev/sdb", total_kib=MOCK_DEVICE_KIB,
                        free_kib=MOCK_DEVICE_KIB - used, used_kib=used))
    state.insert(
        Volume(id=ids[9], name="orphan", cluster_id=ids[1], size_gib=1,
               durability_echo={"type": "none", "replicate": {}, "disperse": {}},
               options=["", ""], pending_op=ids[7])
    )
    state.insert(Brick(id=ids[8], volume_id=ids[9], device_id=ids[5], node_id=ids[3],
                       size_kib=1048576, tp_size_kib=1048576, pool_metadata_kib=8192,
                       pending_op=ids[7]))
    state.insert(
        PendingOperation(
            id=ids[7], type_name="create-volume", timestamp=1700000000, status="stale",
            changes=[
                {"change": "Add brick", "id": ids[8], "delta": None},
                {"change": "Add volume", "id": ids[9], "delta": None},
            ],
        )
    )
    state.attributes.update(ATTRIBUTES, DB_GENERATION_ID=ids[11])
    return state, ids


def test_dump_with_pending_operation_matches_recording() -> None:
    state, ids = stale_create_state()
    actual = masked_dump(state, ids)
    actual["pendingoperations"]["<ID:7>"]["Timestamp"] = "<TIMESTAMP>"
    expected = recorded_dump("stale-ops.json", 18)
    assert actual == expected
    assert key_orders(actual) == key_orders(expected)


def test_dump_accepts_change_codes_as_numbers() -> None:
    state, ids = stale_create_state()
    state.operations[ids[7]].changes = [{"change": 5, "id": ids[9], "delta": 2}]
    entry = dump(state)["pendingoperations"][ids[7]]
    assert entry["Actions"] == [{"Change": 5, "Id": ids[9], "Delta": 2}]


# -- check -----------------------------------------------------------------------------------
def test_check_consistent_state_matches_recording() -> None:
    assert check(ops_and_db_state()) == golden("ops-and-db.json", 27)["response"]["body"]


def test_check_counts_pending_entries_and_operations() -> None:
    state, _ = stale_create_state()
    assert check(state) == golden("stale-ops.json", 19)["response"]["body"]


def test_check_reports_brick_of_unknown_volume_like_upstream() -> None:
    state, ids = stale_create_state()
    # After the cleanup of stale-ops.json: the volume and the op are gone, an expand's brick
    # is left behind on the device.
    state.discard(state.operations[ids[7]])
    state.discard(state.bricks[ids[8]])
    state.discard(state.volumes[ids[9]])
    orphan = hexid(0x15)
    state.insert(Brick(id=orphan, volume_id=ids[9], device_id=ids[5], node_id=ids[3],
                       size_kib=1048576, tp_size_kib=1048576, pool_metadata_kib=8192))
    report = mask(check(state), {**ids, 15: orphan})
    assert report == golden("stale-ops.json", 30)["response"]["body"]


def test_check_finds_device_space_mismatches() -> None:
    state = ops_and_db_state()
    device = state.devices[OPS_AND_DB_IDS[5]]
    device.free_kib += 4096
    report = check(state)
    assert report["devices"]["notok"] == 1
    assert report["devices"]["ok"] == 0
    (problem,) = report["devices"]["inconsistencies"]
    assert "total size" in problem and device.id in problem
    assert report["totalinconsistencies"] == 1

    device.free_kib -= 4096
    device.used_kib += 4096
    device.free_kib -= 4096
    (problem,) = check(state)["devices"]["inconsistencies"]
    assert "used size" in problem and "size of its bricks" in problem


def test_check_finds_block_hosting_space_mismatch() -> None:
    state = ops_and_db_state()
    state.volumes[OPS_AND_DB_IDS[10]].block_free_gib = 3
    report = check(state)
    assert report["volumes"]["notok"] == 1
    (problem,) = report["volumes"]["inconsistencies"]
    assert OPS_AND_DB_IDS[10] in problem and "block volumes 1" in problem


def test_check_finds_dangling_links_and_pending_ids() -> None:
    state = ops_and_db_state()
    i = OPS_AND_DB_IDS
    ghost = hexid(0x99)
    state.insert(BlockVolume(id=hexid(0xF4), name="lost", cluster_id=i[1], bhv_id=ghost,
                             size_gib=1))
    state.bricks[i[8]].pending_op = ghost
    state.insert(Node(id=hexid(0xA4), cluster_id=ghost, zone=1, manage=["n2"], storage=["s2"]))
    report = check(state)
    assert report["blockvolumes"]["inconsistencies"] == [
        f"Block volume {hexid(0xF4)} unknown block hosting volume {ghost}"
    ]
    assert report["bricks"]["inconsistencies"] == [
        f"Brick {i[8]} unknown pending operation {ghost}"
    ]
    assert report["bricks"]["pending"] == 1
    assert report["nodes"]["inconsistencies"] == [f"Node {hexid(0xA4)} unknown cluster {ghost}"]
    assert report["totalinconsistencies"] == 3


def test_check_finds_stale_index_after_in_place_mutation() -> None:
    state = ops_and_db_state()
    i = OPS_AND_DB_IDS
    # Mutating a parent link without re-indexing leaves the device's brick list wrong.
    state.bricks[i[8]].device_id = hexid(0xD6)
    report = check(state)
    assert f"Device {i[5]} lists brick {i[8]} which belongs to {hexid(0xD6)}" in (
        report["devices"]["inconsistencies"]
    )
    assert f"Brick {i[8]} unknown device {hexid(0xD6)}" in report["bricks"]["inconsistencies"]


def test_check_operation_whose_entities_are_not_pending_on_it() -> None:
    state, ids = stale_create_state()
    state.volumes[ids[9]].pending_op = ""
    report = check(state)
    assert report["pendingoperations"]["notok"] == 1
    (problem,) = report["pendingoperations"]["inconsistencies"]
    assert ids[7] in problem and "Add volume" in problem


# -- examine ---------------------------------------------------------------------------------
def test_examine_shape_and_report() -> None:
    state = ops_and_db_state()
    body = examine(state, 0)
    recorded = golden("ops-and-db.json", 28)["response"]["body"]
    assert list(body) == list(recorded)
    assert body["heketidb"] == dump(state)
    assert mask(body["report"], OPS_AND_DB_IDS) == recorded["report"]
    (cluster,) = body["clusters"]
    (node_data,) = cluster["NodesData"]
    assert list(cluster) == ["ClusterHeketiID", "NodesData"]
    recorded_node = recorded["clusters"][0]["NodesData"][0]
    assert list(node_data) == list(recorded_node)
    assert list(node_data["VolumeInfo"]["Volumes"]) == list(recorded_node["VolumeInfo"]["Volumes"])
    assert node_data["LVMPVInfo"] == recorded_node["LVMPVInfo"]


def test_examine_matching_gluster_volumes_reports_nothing_more() -> None:
    state = ops_and_db_state()
    names = [v.name for v in state.volumes.values()]
    body = examine(state, 2, {OPS_AND_DB_IDS[3]: names})
    assert body["report"] == ["OnDemand Examiner invoked while 2 ops are in flight"]
    volumes = body["clusters"][0]["NodesData"][0]["VolumeInfo"]["Volumes"]
    assert volumes["Count"] == 2
    recorded_volume = golden("ops-and-db.json", 28)["response"]["body"]["clusters"][0][
        "NodesData"][0]["VolumeInfo"]["Volumes"]["VolumeList"][0]
    assert list(volumes["VolumeList"][0]) == list(recorded_volume)


# -- metrics ---------------------------------------------------------------------------------
def parse_exposition(text: str) -> dict[str, Any]:
    """Reduce exposition text to the recorder's shape: families with help, type, label sets."""
    families: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            families[name] = {"name": name, "help": help_text, "samples": []}
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            families[name]["type"] = kind
        else:
            match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
            assert match, line
            name, labels_text, value = match.groups()
            float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
            labels = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', labels_text or ""))
            families[name]["samples"].append({"labels": labels})
    return {
        "heketi_families": [
            {k: f[k] for k in ("name", "help", "type", "samples")}
            for _, f in sorted(families.items())
        ]
    }


def test_metrics_without_clusters_match_recording() -> None:
    counts = operation_counts(State(), set())
    text = render_metrics(State(), counts)
    recorded = golden("ops-and-db.json", 1)["response"]["body"]
    assert parse_exposition(text)["heketi_families"] == recorded["heketi_families"]


def test_metrics_with_topology_match_recording() -> None:
    state = ops_and_db_state()
    text = render_metrics(state, operation_counts(state, set()))
    recorded = golden("ops-and-db.json", 44)["response"]["body"]
    actual = mask(parse_exposition(text), OPS_AND_DB_IDS)
    assert actual["heketi_families"] == recorded["heketi_families"]


def test_metrics_values_and_format() -> None:
    state = ops_and_db_state()
    i = OPS_AND_DB_IDS
    # A pending volume is not counted.
    state.insert(Volume(id=hexid(0xB8), name="pending", cluster_id=i[1], size_gib=1,
                        pending_op=hexid(0x77)))
    counts = {"total": 3, "in_flight": 1, "stale": 1, "failed": 1, "new": 1}
    lines = render_metrics(state, counts).splitlines()
    assert lines[0] == "# HELP heketi_block_volumes_count Number of block volumes on cluster"
    assert lines[1] == "# TYPE heketi_block_volumes_count gauge"
    assert f'heketi_volumes_count{{cluster="{i[1]}"}} 2' in lines
    device_labels = (
        f'cluster="{i[1]}",device="/dev/sdb",hostname="node1.example.test",'
        f'id="{i[5]}",pv_uuid="",storage_hostname="10.0.0.1"'
    )
    assert f"heketi_device_size{{{device_labels}}} 5.24288e+08" in lines
    assert f"heketi_device_size_bytes{{{device_labels}}} 5.36870912e+11" in lines
    assert f"heketi_device_brick_count{{{device_labels}}} 2" in lines
    assert "heketi_operations_inFlight_count 1" in lines
    assert "heketi_operations_total_count 3" in lines
    assert "heketi_up 1" in lines


def test_metrics_escape_label_values() -> None:
    state = ops_and_db_state()
    state.devices[OPS_AND_DB_IDS[5]].name = 'odd"\\name'
    text = render_metrics(state, operation_counts(state, set()))
    assert 'device="odd\\"\\\\name"' in text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1, "1"), (999999, "999999"), (1e6, "1e+06"), (524288000, "5.24288e+08"),
     (0.5, "0.5"), (1e-5, "1e-05"), (0.0001, "0.0001"), (3145728, "3.145728e+06")],
)
def test_go_float(value: float, text: str) -> None:
    assert format_float_g(value) == text


# -- operation counts ------------------------------------------------------------------------
def test_operation_counts_follow_status_and_in_flight() -> None:
    state = State()
    for n, status in enumerate(["", "", "stale", "failed"]):
        state.insert(PendingOperation(id=hexid(n + 1), type_name="create-volume",
                                      timestamp=0, status=status))
    counts = operation_counts(state, {hexid(1), hexid(0x42)})
    assert counts == {"total": 4, "in_flight": 1, "stale": 1, "failed": 1, "new": 2}
    assert list(counts) == ["total", "in_flight", "stale", "failed", "new"]


# -- HTTP ------------------------------------------------------------------------------------
class FakeStore:
    async def backup_bytes(self) -> bytes:
        return b"SQLite format 3\x00backup"


class FakeRuntime:
    def __init__(self, state: State) -> None:
        from heketipy.operations.jobs import JobQueue, Throttle
        from heketipy.operations.metrics import RuntimeMetrics

        self.state = state
        self.store = FakeStore()
        self.jobs = JobQueue()
        self.throttle = Throttle(1, 0)
        self.metrics = RuntimeMetrics()
        self.in_flight_ops: set[str] = set()
        self.failed_count = 0
        self.recover_calls = 0

    async def start(self, op: Any) -> str:  # unjournaled work only (the cleanup)
        return self.jobs.submit(op.run, name=op.type_name)

    async def recover(self, only: set[str] | None = None) -> int:
        self.recover_calls += 1
        recovered = 0
        for record in list(self.state.operations.values()):
            if record.id in self.in_flight_ops or (only is not None and record.id not in only):
                continue
            self.state.discard(record)
            recovered += 1
        return recovered


@pytest.fixture
async def ops_client():
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from heketipy.api import app as app_module
    from heketipy.api import routes_admin, routes_ops

    state, ids = stale_create_state()
    rt = FakeRuntime(state)
    settings = Settings(auth_enabled=False)
    application = web.Application(middlewares=app_module.HEKETI_MIDDLEWARES)
    application[app_module.RUNTIME] = rt
    application[app_module.SERVER] = app_module.ServerState(settings)
    routes_admin.register(application.router)  # /queue/{id}
    routes_ops.register(application.router)
    client = TestClient(TestServer(application))
    await client.start_server()
    try:
        yield client, rt, ids
    finally:
        await client.close()


async def wait_for_job(client: Any, location: str) -> Any:
    import asyncio

    for _ in range(200):
        response = await client.get(location)
        if "X-Pending" not in response.headers:
            return response
        await asyncio.sleep(0.01)
    raise AssertionError("job never finished")


async def test_http_operations_listing_and_details(ops_client: Any) -> None:
    client, rt, ids = ops_client
    rt.in_flight_ops.add(ids[7])
    response = await client.get("/operations")
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert await response.json() == {"total": 1, "in_flight": 1, "stale": 1, "failed": 0,
                                      "new": 0}
    listing = await (await client.get("/operations/pending")).json()
    assert listing == {"pendingoperations": [
        {"id": ids[7], "type_name": "create-volume", "status": "stale",
         "sub_status": "in-flight"}]}
    detail = await (await client.get(f"/operations/pending/{ids[7]}")).json()
    assert mask(detail, ids) == golden("stale-ops.json", 13)["response"]["body"]

    unknown = hexid(0x1234)
    response = await client.get(f"/operations/pending/{unknown}")
    assert response.status == 404
    assert await response.text() == f"Id not found: {unknown}\n"


async def test_http_cleanup_recovers_stale_operations(ops_client: Any) -> None:
    client, rt, ids = ops_client
    response = await client.post("/operations/pending/cleanup", json={"operations": "x"})
    assert response.status == 422
    assert await response.text() == "request unable to be parsed\n"

    response = await client.post("/operations/pending/cleanup", json={"operations": [ids[7]]})
    assert response.status == 202
    done = await wait_for_job(client, response.headers["Location"])
    assert done.status == 204
    assert rt.recover_calls == 1
    assert await (await client.get("/operations")).json() == {
        "total": 0, "in_flight": 0, "stale": 0, "failed": 0, "new": 0}

    response = await client.post("/operations/pending/cleanup", json={})
    done = await wait_for_job(client, response.headers["Location"])
    assert done.status == 204
    assert rt.recover_calls == 1  # nothing left to clean


async def test_http_cleanup_leaves_running_operations_alone(ops_client: Any) -> None:
    client, rt, ids = ops_client
    rt.state.insert(PendingOperation(id=hexid(0x55), type_name="delete-volume", timestamp=0))
    rt.in_flight_ops.add(hexid(0x55))
    response = await client.post("/operations/pending/cleanup", data=b"{}")
    done = await wait_for_job(client, response.headers["Location"])
    assert done.status == 204
    assert rt.recover_calls == 1
    assert ids[7] not in rt.state.operations  # the stale one was recovered
    assert hexid(0x55) in rt.state.operations  # the running one was not touched


async def test_http_db_endpoints_and_metrics(ops_client: Any) -> None:
    client, rt, ids = ops_client
    response = await client.get("/db/dump")
    text = await response.text()
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert text.startswith('{\n    "clusterentries": {') and text.endswith("}\n")
    assert json.loads(text) == dump(rt.state)

    response = await client.get("/db/check")
    assert json.loads(await response.text()) == check(rt.state)

    response = await client.get("/internal/state/examine/gluster")
    assert json.loads(await response.text())["report"][0] == (
        "OnDemand Examiner invoked while 0 ops are in flight"
    )

    response = await client.get("/backup/db")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="heketi.db"'
    assert await response.read() == b"SQLite format 3\x00backup"

    response = await client.get("/metrics")
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "heketi_operations_stale_count 1\n" in await response.text()
