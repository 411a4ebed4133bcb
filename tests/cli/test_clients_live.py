"""The sync and async client libraries against one live heketipy server, and the 429 path."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from heketipy.client import AsyncHeketiClient, HeketiClient, HeketiError, RetryPolicy
from heketipy.client.models import NodeAddRequest, VolumeCreateRequest
from tests.cli.conftest import MOCK_ENV, cli
from tests.support.server import ADMIN_KEY, USER_KEY, ServerProcess, running_server

FAST = RetryPolicy(attempts=20, backoff_s=0.05, max_backoff_s=0.2, jitter_s=0.05)


async def test_sync_and_async_clients_share_one_server(server: ServerProcess) -> None:
    with HeketiClient(server.base_url, "admin", ADMIN_KEY, poll_interval_s=0.05) as sync:
        async with AsyncHeketiClient(server.base_url, "admin", ADMIN_KEY,
                                     poll_interval_s=0.05) as aio:
            assert sync.hello() == await aio.hello() == "Hello from Heketi"
            cluster = sync.cluster_create()
            assert (await aio.cluster_info(cluster.id)).to_wire() == cluster.to_wire()
            node_ids = []
            for i in (1, 2, 3):
                node = await aio.node_add(NodeAddRequest(
                    zone=i, cluster=cluster.id,
                    hostnames={"manage": [f"n{i}.example.test"], "storage": [f"10.0.0.{i}"]}))
                node_ids.append(node.id)
                sync.device_add({"name": "/dev/sdb", "node": node.id})
            assert sorted(sync.cluster_info(cluster.id).nodes) == sorted(node_ids)
            volume = await aio.volume_create(VolumeCreateRequest(
                size=2, name="shared", durability={"type": "replicate", "replicate": {"replica": 3}}))
            assert sync.volume_info(volume.id).to_wire() == volume.to_wire()
            assert len(volume.bricks) == 3
            expanded = sync.volume_expand(volume.id, 1)
            assert expanded.size == 3
            assert (await aio.volume_list()).volumes == [volume.id]
            topology = await aio.topology_info()
            assert topology.to_wire() == sync.topology_info().to_wire()
            assert sync.node_set_tags(node_ids[0], {"rack": "a"}) == {"rack": "a"}
            assert (await aio.log_level()) == "warning"
            assert sync.admin_state() == "normal"
            assert (await aio.operations_info()).total == 0
            assert (await aio.db_check())["totalinconsistencies"] == 0
            await aio.volume_delete(volume.id)
            with pytest.raises(HeketiError) as caught:
                sync.volume_info(volume.id)
            assert (caught.value.status, caught.value.message) == (404, "Id not found")


def test_user_role_may_only_list_volumes(server: ServerProcess) -> None:
    with HeketiClient(server.base_url, "user", USER_KEY) as user:
        assert user.volume_list().volumes == []
        with pytest.raises(HeketiError) as caught:
            user.cluster_list()
    assert (caught.value.status, caught.value.message) == (401, "Administrator access required")


class Recording(httpx.HTTPTransport):
    """Remembers every status the server answered."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


@pytest.mark.slow
def test_busy_server_429_is_retried(tmp_path: Path, topology_file: Path) -> None:
    with running_server(tmp_path, env=MOCK_ENV,
                        glusterfs={"max_inflight_operations": 1},
                        heketipy={"wait_queue_size": 0, "mock_latency_ms": 300}) as server:
        assert cli(server, "topology", "load", f"--json={topology_file}").code == 0
        # One operation in flight takes the only slot ...
        first = server.request("POST", "/volumes", {"size": 1, "name": "first"})
        assert first.status == 202
        busy = server.request("POST", "/volumes", {"size": 1, "name": "probe"})
        assert busy.status == 429 and "Retry-After" in busy.headers
        # ... so the client's create gets 429 first, waits, and then succeeds.
        transport = Recording()
        with HeketiClient(server.base_url, "admin", ADMIN_KEY, retry=FAST,
                          transport=transport) as client:
            volume = client.volume_create({"size": 1, "name": "second"})
        assert volume.name == "second"
        assert 429 in transport.statuses and transport.statuses[-1] == 200
        # Without retries the busy answer surfaces as the server's text.
        server.request("POST", "/volumes", {"size": 1, "name": "third"})
        with HeketiClient(server.base_url, "admin", ADMIN_KEY,
                          retry=RetryPolicy(attempts=0)) as client, \
                pytest.raises(HeketiError) as caught:
            client.volume_create({"size": 1, "name": "fourth"})
        assert (caught.value.status, caught.value.message) == (
            429, "Server busy. Retry operation later.")
        names = {json.loads(server.request("GET", f"/volumes/{v}").body)["name"]
                 for v in json.loads(server.request("GET", "/volumes").body)["volumes"]}
        assert {"first", "second"} <= names
