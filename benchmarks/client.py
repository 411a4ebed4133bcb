"""The load generator's HTTP client: talks to the server the way heketi-cli's Go client does.

Owns: a fresh JWT for every request (also for every /queue poll), /queue polling (first poll
at once, then every ``poll_interval_s`` while ``X-Pending: true``; the 303 is read, not
followed), 429 handling (retry after a random pause, counted), and the per-request counters the
report needs. One ``BenchClient`` is shared by all simulated clients of a run.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from heketipy.client.token import make_token

ADMIN = "admin"


class RequestFailed(Exception):
    """A request or an asynchronous operation ended in an unexpected status."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {text.strip()[:200]}")
        self.status = status


@dataclass
class Counters:
    """What happened on the wire, for the whole run (phases read differences)."""

    requests: int = 0
    polls: int = 0
    throttled: int = 0  # 429 answers
    failures: int = 0  # operations that did not end in 303/204

    def snapshot(self) -> dict[str, int]:
        return {"requests": self.requests, "polls": self.polls,
                "throttled": self.throttled, "failures": self.failures}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class BenchClient:
    """Signs, sends, polls. ``poll_interval_s`` is heketi-cli's 0.4 s unless configured."""

    base_url: str
    secret: str
    session: aiohttp.ClientSession
    poll_interval_s: float = 0.4
    # heketi-cli sleeps 10-29 s after a 429 and tries up to 6 more times.
    retry_429_s: tuple[float, float] = (10.0, 29.0)
    retries_429: int = 6
    counters: Counters = field(default_factory=Counters)

    async def request(self, method: str, path: str, body: Any = None) -> Reply:
        """One exchange with a fresh admin token; redirects are never followed."""
        token = make_token(ADMIN, self.secret, method, path.split("?", 1)[0])
        headers = {"Authorization": "bearer " + token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.counters.requests += 1
        async with self.session.request(
            method, self.base_url + path, data=data, headers=headers, allow_redirects=False
        ) as response:
            payload = await response.read()
            return Reply(response.status, dict(response.headers), payload)

    async def get_json(self, path: str) -> Any:
        reply = await self.request("GET", path)
        if reply.status != 200:
            raise RequestFailed("GET", path, reply.status, reply.body.decode(errors="replace"))
        return reply.json()

    async def start_async(self, method: str, path: str, body: Any = None) -> str:
        """Send an asynchronous request (retrying 429s as heketi-cli does); the /queue path."""
        for attempt in range(self.retries_429 + 1):
            reply = await self.request(method, path, body)
            if reply.status == 202:
                return reply.headers["Location"]
            if reply.status == 429:
                self.counters.throttled += 1
                if attempt < self.retries_429:
                    await asyncio.sleep(random.uniform(*self.retry_429_s))
                    continue
            self.counters.failures += 1
            raise RequestFailed(method, path, reply.status, reply.body.decode(errors="replace"))
        raise AssertionError("unreachable")

    async def wait(self, location: str, method: str = "GET", path: str = "") -> str | None:
        """Poll ``location`` until final; the 303 target, or None for 204."""
        while True:
            self.counters.polls += 1
            reply = await self.request("GET", location)
            if reply.status == 200 and reply.headers.get("X-Pending") == "true":
                await asyncio.sleep(self.poll_interval_s)
                continue
            if reply.status == 303:
                return reply.headers["Location"]
            if reply.status == 204:
                return None
            self.counters.failures += 1
            raise RequestFailed(method, path or location, reply.status,
                                reply.body.decode(errors="replace"))

    async def run(self, method: str, path: str, body: Any = None) -> str | None:
        """An asynchronous call from 202 to its final /queue answer."""
        location = await self.start_async(method, path, body)
        return await self.wait(location, method, path)

    async def timed_run(self, method: str, path: str, body: Any = None) -> tuple[float, str | None]:
        """``run`` plus its latency in milliseconds (202 to /queue completion included)."""
        started = time.perf_counter()
        result = await self.run(method, path, body)
        return (time.perf_counter() - started) * 1000, result


def volume_body(size_gib: int = 1, replica: int = 3) -> dict[str, Any]:
    """A create request as heketi-cli sends it for ``--size N --replica R``."""
    return {"size": size_gib, "durability": {"type": "replicate", "replicate": {"replica": replica}}}
