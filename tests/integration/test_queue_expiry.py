"""Uncollected /queue results expire: user-role creates (which may not poll /queue) do not
make the server's job table grow without bound. The clock is injected: nothing sleeps."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import RUNTIME
from heketipy.client.token import make_token
from heketipy.operations.jobs import JobQueue
from heketipy.server import build
from tests.integration.test_operations import Api, settings_for, topology
from tests.support.clock import FakeClock

CREATES = 30


async def test_user_role_creates_leave_no_results_behind(tmp_path: Path) -> None:
    app = build(settings_for(tmp_path))
    async with TestClient(TestServer(app)) as client:
        runtime = app[RUNTIME]
        await topology(Api(client))
        clock = FakeClock()
        ttl_s = runtime.settings.heketipy.queue_result_ttl_s
        runtime.jobs = JobQueue(result_ttl_s=ttl_s, clock=clock)

        async def user_create() -> str:
            headers = {"Authorization": "Bearer " + make_token("user", "u", "POST", "/volumes")}
            body = {"size": 1, "durability": {"type": "none"}}
            async with client.post("/volumes", json=body, headers=headers) as resp:
                assert resp.status == 202, await resp.text()
                location = resp.headers["Location"]
            headers = {"Authorization": "Bearer " + make_token("user", "u", "GET", location)}
            async with client.get(location, headers=headers) as resp:
                assert resp.status == 401  # the user role cannot collect its result
                assert await resp.text() == "Administrator access required\n"
            return location.rsplit("/", 1)[1]

        for _ in range(CREATES):
            await runtime.jobs.wait(await user_create(), timeout_s=60)
        assert len(runtime.jobs) == CREATES  # finished, uncollected, within the TTL

        clock.now += ttl_s + 1
        last = await user_create()
        assert len(runtime.jobs) == 1  # only the new job: the old results were forgotten
        await runtime.jobs.wait(last, timeout_s=60)

        async with client.get("/volumes", headers={
            "Authorization": "Bearer " + make_token("user", "u", "GET", "/volumes")
        }) as resp:
            assert len(json.loads(await resp.text())["volumes"]) == CREATES + 1  # all created
