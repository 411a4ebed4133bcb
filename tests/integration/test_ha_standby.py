"""The server under heketipy.ha, in this process, driven by a scripted Leadership: a standby
answers only the probes (everything else 503 with Retry-After), becomes the active server when
``acquire`` returns, fences itself when ``hold`` returns (requests 503, the store commits
nothing more, ``serve`` raises LeadershipLost: the process exits non-zero) and releases
leadership on a clean stop. With heketipy.ha off the probes exist and nothing else changes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from heketipy import server as server_module
from heketipy.api.app import RUNTIME, SERVER
from heketipy.client.token import make_token
from heketipy.config import Settings, load_settings
from heketipy.domain.entities import Cluster
from heketipy.server import LeadershipLost, serve
from heketipy.store.sqlite import Store, StoreFenced
from tests.support.server import ADMIN_KEY, write_config


class ScriptedLeadership:
    """A Leadership the test drives through events; records release()."""

    identity = "scripted"

    def __init__(self) -> None:
        self.granted = asyncio.Event()
        self.lost = asyncio.Event()
        self.released = 0

    async def acquire(self) -> None:
        await self.granted.wait()

    async def hold(self) -> None:
        await self.lost.wait()

    async def release(self) -> None:
        self.released += 1


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, body: Any = None,
                   auth: bool = True) -> tuple[int, dict[str, str], str]:
        headers = {}
        if auth:
            headers["Authorization"] = "bearer " + make_token("admin", ADMIN_KEY, method, path)
        async with self.session.request(
            method, self.base + path, json=body, headers=headers, allow_redirects=False
        ) as response:
            return response.status, dict(response.headers), await response.text()

    async def wait_for(self, path: str, status: int) -> None:
        for _ in range(500):
            try:
                if (await self.call("GET", path, auth=False))[0] == status:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
        raise AssertionError(f"{path} never answered {status}")


def _settings(tmp_path: Path, *, ha: bool) -> Settings:
    config = write_config(tmp_path, heketipy={"ha": {
        "enabled": ha, "lease_duration_s": 3, "renew_deadline_s": 2, "retry_period_s": 0.5,
    }})
    return load_settings(str(config), env={})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _start(settings: Settings, leadership: ScriptedLeadership | None,
                 session: aiohttp.ClientSession) -> tuple[asyncio.Task[None], Client]:
    task = asyncio.create_task(serve(settings, leadership=leadership))
    client = Client(session, f"http://127.0.0.1:{settings.port}")
    await client.wait_for("/hello", 200)
    return task, client


async def _stop(task: asyncio.Task[None]) -> None:
    if not task.done():
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler: a clean stop
    await asyncio.wait_for(asyncio.shield(task), 30)


async def test_a_standby_answers_the_probes_and_503_with_retry_after(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    leadership = ScriptedLeadership()
    task, client = await _start(_settings(tmp_path, ha=True), leadership, session)
    try:
        assert (await client.call("GET", "/hello", auth=False))[0] == 200
        assert (await client.call("GET", "/livez", auth=False))[:3:2] == (200, "ok\n")
        status, _headers, text = await client.call("GET", "/readyz", auth=False)
        assert (status, text) == (503, "not ready: standby\n")
        # /metrics answers, with heketipy_leader 0 alone: the standby's scrape target is up.
        status, headers, text = await client.call("GET", "/metrics", auth=False)
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        [family] = list(text_string_to_metric_families(text))
        assert (family.name, [s.value for s in family.samples]) == ("heketipy_leader", [0.0])
        for method, path, body in [("GET", "/clusters", None), ("POST", "/clusters", {}),
                                   ("POST", "/metrics", None), ("GET", "/nowhere", None)]:
            status, headers, text = await client.call(method, path, body)
            assert status == 503, (method, path)
            assert headers["Retry-After"] == "1"
            assert text == (
                "This heketipy server is a standby; the active server serves requests. Retry\n"
            )
        assert not (tmp_path / "heketi.db").exists()  # a standby does not open the database
    finally:
        await _stop(task)
    assert leadership.released == 1


async def test_the_standby_takes_over_when_acquire_returns_and_releases_on_a_clean_stop(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    leadership = ScriptedLeadership()
    task, client = await _start(_settings(tmp_path, ha=True), leadership, session)
    try:
        leadership.granted.set()
        await client.wait_for("/readyz", 200)
        status, _headers, body = await client.call("POST", "/clusters", {})
        assert status == 201, body
        assert (await client.call("GET", "/clusters"))[0] == 200
    finally:
        await _stop(task)
    assert task.result() is None
    assert leadership.released == 1


async def test_losing_leadership_fences_at_once_and_nothing_is_committed_after(
    tmp_path: Path, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    leadership = ScriptedLeadership()
    settings = _settings(tmp_path, ha=True)
    task, client = await _start(settings, leadership, session)
    seen: dict[str, Any] = {}
    real_fence: Callable[[web.Application], Awaitable[None]] = server_module.fence

    async def fence_and_probe(app: web.Application) -> None:
        await real_fence(app)
        if "role" in seen:
            return  # fence runs once; nothing else calls it in this test
        # Right after the fence, while the sockets are still served:
        seen["role"] = app[SERVER].role
        seen["post"] = await client.call("POST", "/clusters", {})
        seen["get"] = await client.call("GET", "/clusters")
        seen["readyz"] = await client.call("GET", "/readyz", auth=False)
        late = Cluster(id="f" * 32, file=True, block=True)
        try:
            await app[RUNTIME].apply(lambda tx: tx.add(late))
        except StoreFenced as exc:
            seen["commit"] = str(exc)

    monkeypatch.setattr(server_module, "fence", fence_and_probe)
    try:
        leadership.granted.set()
        await client.wait_for("/readyz", 200)
        status, _headers, body = await client.call("POST", "/clusters", {})
        assert status == 201
        before = json.loads(body)["id"]
        leadership.lost.set()
        with pytest.raises(LeadershipLost, match="lost leadership and fenced itself"):
            await asyncio.wait_for(asyncio.shield(task), 30)
    finally:
        if not task.done():
            await _stop(task)
    assert seen["role"] == "fenced"
    assert seen["post"][0] == 503 and seen["post"][1]["Retry-After"] == "1"
    assert "lost leadership" in seen["post"][2]
    assert seen["get"][0] == 503
    assert seen["readyz"][0] == 503
    assert "writes stopped" in seen["commit"]
    assert leadership.released == 0  # nothing to give back once lost
    store = Store(settings.glusterfs.db)
    try:
        assert set((await store.open()).clusters) == {before}
    finally:
        await store.close()


async def test_leadership_lost_while_taking_over_fences_before_serving(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    leadership = ScriptedLeadership()
    leadership.lost.set()  # hold() returns at once: lost while the database is being loaded
    task, _client = await _start(_settings(tmp_path, ha=True), leadership, session)
    leadership.granted.set()
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(asyncio.shield(task), 30)
    assert leadership.released == 0


async def test_without_ha_the_probes_answer_and_the_api_serves(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    task, client = await _start(_settings(tmp_path, ha=False), None, session)
    try:
        assert (await client.call("GET", "/readyz", auth=False))[:3:2] == (200, "ok\n")
        assert (await client.call("GET", "/livez", auth=False))[0] == 200
        assert (await client.call("GET", "/clusters"))[0] == 200
    finally:
        await _stop(task)
