"""Hostile input never reaches a node command: it is refused with a clear 400 (or, where Heketi
stores it without ever sending it to a node, kept as inert data). Checked on the simulator,
whose trace shows every command that ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.server import build
from tests.integration.test_operations import Api, settings_for, topology
from tests.support.simulated import nodes_of

HOSTILE = ["a;reboot", "$(reboot)", "`reboot`", "a'b", 'a"b', "a\nb", "-rf", "--force"]
REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


@pytest.fixture
async def api_and_runtime(tmp_path: Path):  # noqa: ANN201
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        rt = app[RUNTIME]
        api = Api(client)
        nodes = await topology(api)
        yield api, rt, nodes


def node_state(rt) -> str:  # noqa: ANN001
    return json.dumps(nodes_of(rt.executor).snapshot(), sort_keys=True)


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_volume_names_are_refused(api_and_runtime, hostile: str) -> None:  # noqa: ANN001
    api, rt, _ = api_and_runtime
    before = node_state(rt)
    status, _, text = await api.call(
        "POST", "/volumes", {"size": 1, "name": hostile, "durability": REPLICA3}
    )
    assert status == 400, text
    assert "name" in text
    status, _, text = await api.call("POST", "/blockvolumes", {"size": 1, "name": hostile})
    assert status == 400, text
    assert node_state(rt) == before


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_volume_options_are_refused(api_and_runtime, hostile: str) -> None:  # noqa: ANN001
    api, rt, _ = api_and_runtime
    before = node_state(rt)
    status, _, text = await api.call("POST", "/volumes", {
        "size": 1, "durability": REPLICA3,
        "glustervolumeoptions": [f"performance.cache-size {hostile}"],
    })
    assert status == 400, text
    assert text.startswith("validation failed: glustervolumeoptions: "), text
    assert node_state(rt) == before


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_device_paths_and_hostnames_are_refused(api_and_runtime, hostile: str) -> None:  # noqa: ANN001
    api, rt, nodes = api_and_runtime
    before = node_state(rt)
    status, _, text = await api.call(
        "POST", "/devices", {"node": nodes[0], "name": hostile}
    )
    assert status == 400 and "name: must be in a valid format" in text, text
    _, _, cluster_text = await api.call("GET", "/clusters")
    cluster = json.loads(cluster_text)["clusters"][0]
    status, _, text = await api.call("POST", "/nodes", {
        "zone": 1, "cluster": cluster,
        "hostnames": {"manage": [hostile], "storage": ["10.0.0.9"]},
    })
    assert status == 400 and "is not a valid manage hostname" in text, text
    status, _, text = await api.call(
        "POST", f"/nodes/{nodes[0]}/tags", {"change_type": "set", "tags": {hostile: "x"}}
    )
    if hostile.lstrip("-").isalnum():
        assert status == 200, text  # a legal tag name: stored, never sent to a node
    else:
        assert status == 400 and "tags:" in text, text
    assert node_state(rt) == before


async def test_hostile_tag_values_stay_inert_data(api_and_runtime) -> None:  # noqa: ANN001
    api, rt, nodes = api_and_runtime
    before = node_state(rt)
    status, _, text = await api.call(
        "POST", f"/nodes/{nodes[0]}/tags", {"change_type": "set", "tags": {"rack": "$(reboot)"}}
    )
    assert status == 200 and json.loads(text) == {"rack": "$(reboot)"}
    assert node_state(rt) == before  # tags never reach a node command


# -- values the nodes would refuse are refused at the API (the same rules) -------------------
LONG = "x" * 5000
BAD_DEVICE_PATHS = [
    "/dev/../etc/passwd", "/etc/passwd", "/-rf", "/dev/-rf", "/dev/" + LONG, "/dev/sdb;reboot",
    "/dev/$(reboot)", "/dev/sdb\0", "/dev/sdb\n",
]  # fmt: skip


@pytest.mark.parametrize("path", BAD_DEVICE_PATHS)
async def test_device_paths_the_nodes_refuse_are_400(api_and_runtime, path: str) -> None:  # noqa: ANN001
    api, rt, nodes = api_and_runtime
    before = node_state(rt)
    status, _, text = await api.call("POST", "/devices", {"node": nodes[0], "name": path})
    assert status == 400 and text.startswith("validation failed: name: "), text
    assert len(text) < 200
    assert node_state(rt) == before


async def test_5000_character_names_and_hostnames_are_400(api_and_runtime) -> None:  # noqa: ANN001
    api, rt, _ = api_and_runtime
    before = node_state(rt)
    too_long = "validation failed: name: the length must be no more than 255.\n"
    for path, body in [
        ("/volumes", {"size": 1, "name": LONG, "durability": REPLICA3}),
        ("/blockvolumes", {"size": 1, "name": LONG}),
    ]:
        status, _, text = await api.call("POST", path, body)
        assert (status, text) == (400, too_long)
    _, _, text = await api.call("GET", "/clusters")
    cluster = json.loads(text)["clusters"][0]
    status, _, text = await api.call("POST", "/nodes", {
        "zone": 1, "cluster": cluster, "hostnames": {"manage": [LONG], "storage": ["10.0.0.9"]},
    })
    assert status == 400 and "is not a valid manage hostname" in text, text[:200]
    assert node_state(rt) == before


async def test_long_clone_names_are_400(api_and_runtime) -> None:  # noqa: ANN001
    api, _, _ = api_and_runtime
    status, headers, _ = await api.wait("POST", "/volumes", {"size": 1, "durability": REPLICA3})
    assert status == 303
    status, _, text = await api.call("POST", f"{headers['Location']}/clone", {"name": LONG})
    assert (status, text) == (400, "validation failed: name: the length must be no more than 255.\n")


@pytest.mark.parametrize("value", ["a\0b", "a\nb", "a\rb", "\x1b[2J"])
async def test_control_characters_in_tag_values_are_400(api_and_runtime, value: str) -> None:  # noqa: ANN001
    api, rt, nodes = api_and_runtime
    _, _, text = await api.call("GET", f"/nodes/{nodes[0]}")
    node = json.loads(text)
    device = node["devices"][0]["id"]
    before = node_state(rt), node
    expected = "validation failed: tags: value of tag rack: must not contain control characters.\n"
    for method, path, body in [
        ("POST", f"/nodes/{nodes[0]}/tags", {"change_type": "set", "tags": {"rack": value}}),
        ("POST", f"/devices/{device}/tags", {"change_type": "update", "tags": {"rack": value}}),
        ("POST", "/devices", {"node": nodes[0], "name": "/dev/sdz", "tags": {"rack": value}}),
        ("POST", "/nodes", {"zone": 1, "cluster": node["cluster"], "tags": {"rack": value},
                            "hostnames": {"manage": ["n9"], "storage": ["10.0.0.9"]}}),
    ]:
        status, _, text = await api.call(method, path, body)
        assert (status, text) == (400, expected), path
    _, _, text = await api.call("GET", f"/nodes/{nodes[0]}")
    assert (node_state(rt), json.loads(text)) == before
