"""GET /volumes?volume_name=NAME: heketipy's extension answering the ids of the volumes with that name
from an index (heketipy-csi's idempotency lookup), next to the plain Heketi listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from heketipy.client import HeketiClient
from tests.integration.test_blackbox import load_topology
from tests.support.server import ADMIN_KEY, ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> ServerProcess:
    with running_server(tmp_path, glusterfs={"executor": "mock"}) as srv:
        yield srv


def create(server: ServerProcess, name: str | None = None) -> str:
    body = {"size": 1, "durability": {"type": "none"}}
    if name:
        body["name"] = name
    final = server.async_call("POST", "/volumes", body)
    assert final.status == 303, final.text
    return final.headers["Location"].rsplit("/", 1)[1]


def test_name_query_answers_matching_ids_only(server: ServerProcess) -> None:
    load_topology(server)
    alpha = create(server, "alpha")
    beta = create(server, "beta")
    unnamed = create(server)

    assert server.request("GET", "/volumes?volume_name=alpha").json() == {"volumes": [alpha]}
    assert server.request("GET", "/volumes?volume_name=beta").json() == {"volumes": [beta]}
    assert server.request("GET", f"/volumes?volume_name=vol_{unnamed}").json() == {"volumes": [unnamed]}
    assert server.request("GET", "/volumes?volume_name=nosuch").json() == {"volumes": []}
    # The unfiltered listing is untouched by the extension, and Heketi's clients' queries are
    # ignored as Heketi ignores them (upstream answers ?name=x with every volume).
    everything = {"volumes": sorted([alpha, beta, unnamed])}
    assert server.request("GET", "/volumes").json() == everything
    assert server.request("GET", "/volumes?name=alpha").json() == everything

    assert server.async_call("DELETE", f"/volumes/{alpha}").status == 204
    assert server.request("GET", "/volumes?volume_name=alpha").json() == {"volumes": []}


def test_client_library_looks_up_by_name(server: ServerProcess) -> None:
    load_topology(server)
    gamma = create(server, "gamma")
    with HeketiClient(server.base_url, "admin", ADMIN_KEY) as client:
        assert client.volume_ids_by_name("gamma") == [gamma]
        assert client.volume_ids_by_name("delta") == []
