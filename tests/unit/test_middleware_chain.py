"""The order of the HTTP edge's checks, where one request meets several of them: the token
before the admin state before the route table; the open paths skip the first two."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from heketipy.api.app import SERVER, create_app
from heketipy.client.token import make_token
from heketipy.config import Settings

ADMIN_KEY = "adminkey"
SETTINGS = Settings(auth_enabled=True, admin_key=ADMIN_KEY, user_key="userkey")


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(SETTINGS))) as test_client:
        yield test_client


def admin(method: str, path: str) -> dict[str, str]:
    return {"Authorization": "bearer " + make_token("admin", ADMIN_KEY, method, path)}


async def answer(client: TestClient, method: str, path: str, *, token: bool) -> tuple[int, str]:
    headers = admin(method, path) if token else {}
    async with client.request(method, path, headers=headers, allow_redirects=False) as response:
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("state", "method", "path", "token", "expected"),
    [
        # no token: refused before the admin state or the route table are consulted
        ("read-only", "POST", "/nothing/here", False, (401, "Required authorization token not found\n")),
        # a token, a change while read-only: refused before the route table
        ("read-only", "POST", "/nothing/here", True, (503, "Service disabled for maintenance\n")),
        # reads pass the admin state; then no route matches
        ("read-only", "GET", "/nothing/here", True, (404, "Invalid path or request\n")),
        ("normal", "GET", "/clusters/", True,
         (301, '<a href="/clusters">Moved Permanently</a>.\n\n')),
        ("normal", "PUT", "/clusters", True, (405, "")),
        # open paths: no token, no admin state, and a wrong method is a plain 404
        ("read-only", "POST", "/hello", False, (404, "Invalid path or request\n")),
        ("read-only", "GET", "/hello", False, (200, "Hello from Heketi")),
    ],
)
async def test_checks_apply_in_order(
    client: TestClient, state: str, method: str, path: str, token: bool,
    expected: tuple[int, str],
) -> None:
    client.server.app[SERVER].admin_state = state
    assert await answer(client, method, path, token=token) == expected
