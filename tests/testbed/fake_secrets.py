"""Kubernetes core/v1 Secrets for the fake API server (tests only, in memory).

    GET    /api/v1/namespaces/{ns}/secrets            list
    POST   /api/v1/namespaces/{ns}/secrets            create (201, 409 AlreadyExists)
    GET    /api/v1/namespaces/{ns}/secrets/{name}     read (404 NotFound)
    PUT    /api/v1/namespaces/{ns}/secrets/{name}     replace (404; 409 on a stale resourceVersion)
    DELETE /api/v1/namespaces/{ns}/secrets/{name}     delete

Like a real API server it refuses a Secret whose data exceeds 1 MiB (422 Invalid) and
rejects values that are not base64. Mount it on the fake API server's application with
``FakeSecrets().register(app.router)`` or run it alone with ``create_app()``.
``fail_next`` injects one error answer per (method, name) for fault tests. ``serving()`` runs
it on a loopback port in a background thread for tests that start a server process.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

MAX_SECRET_BYTES = 1024 * 1024
BASE = "/api/v1/namespaces/{ns}/secrets"


def status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code},
        status=code,
    )


class FakeSecrets:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, secret name or "")
        self.fail_next: dict[tuple[str, str], int] = {}
        self._versions = itertools.count(1)

    # -- helpers for tests ------------------------------------------------------------------
    def data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return None
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    def writes(self) -> list[tuple[str, str]]:
        return [(m, n) for m, n in self.requests if m in ("POST", "PUT", "DELETE")]

    # -- request handling -------------------------------------------------------------------
    def _check(self, request: web.Request, name: str) -> web.Response | None:
        self.requests.append((request.method, name))
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        injected = self.fail_next.pop((request.method, name), None)
        if injected is not None:
            return status(injected, "InternalError", f"injected failure {injected}")
        return None

    def _validate(self, body: Any, name: str) -> tuple[dict[str, Any] | None, web.Response | None]:
        if not isinstance(body, dict) or body.get("kind", "Secret") != "Secret":
            return None, status(400, "BadRequest", "the body must be a Secret")
        total = 0
        for key, value in (body.get("data") or {}).items():
            try:
                total += len(base64.b64decode(value, validate=True))
            except (binascii.Error, TypeError):
                return None, status(400, "BadRequest", f"data[{key}]: illegal base64 data")
        for value in (body.get("stringData") or {}).values():
            total += len(str(value).encode())
        if total > MAX_SECRET_BYTES:
            return None, status(
                422, "Invalid",
                f'Secret "{name}" is invalid: data: Too long: must have at most '
                f"{MAX_SECRET_BYTES} bytes",
            )
        return body, None

    def _store(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        secret = copy.deepcopy(body)
        secret.update(kind="Secret", apiVersion="v1")
        metadata = secret.setdefault("metadata", {})
        metadata.update(name=name, namespace=namespace, resourceVersion=str(next(self._versions)))
        data = dict(secret.get("data") or {})
        for key, value in (secret.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data
        secret.setdefault("type", "Opaque")
        self.secrets[(namespace, name)] = secret
        return secret

    async def list(self, request: web.Request) -> web.Response:
        if (denied := self._check(request, "")) is not None:
            return denied
        ns = request.match_info["ns"]
        items = [s for (n, _), s in sorted(self.secrets.items()) if n == ns]
        return web.json_response({"kind": "SecretList", "apiVersion": "v1", "items": items})

    async def create(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        name = str(((body or {}).get("metadata") or {}).get("name", "")) if isinstance(body, dict) else ""
        if (denied := self._check(request, name)) is not None:
            return denied
        if not name:
            return status(422, "Invalid", "metadata.name: Required value")
        body, invalid = self._validate(body, name)
        if invalid is not None:
            return invalid
        ns = request.match_info["ns"]
        if (ns, name) in self.secrets:
            return status(409, "AlreadyExists", f'secrets "{name}" already exists')
        return web.json_response(self._store(ns, name, body or {}), status=201)

    async def get(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        if (denied := self._check(request, name)) is not None:
            return denied
        secret = self.secrets.get((ns, name))
        if secret is None:
            return status(404, "NotFound", f'secrets "{name}" not found')
        return web.json_response(secret)

    async def replace(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        if (denied := self._check(request, name)) is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            body = None
        body, invalid = self._validate(body, name)
        if invalid is not None:
            return invalid
        current = self.secrets.get((ns, name))
        if current is None:
            return status(404, "NotFound", f'secrets "{name}" not found')
        wanted = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            return status(409, "Conflict", f'Operation cannot be fulfilled on secrets "{name}"')
        return web.json_response(self._store(ns, name, body or {}))

    async def delete(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        if (denied := self._check(request, name)) is not None:
            return denied
        if self.secrets.pop((ns, name), None) is None:
            return status(404, "NotFound", f'secrets "{name}" not found')
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def register(self, router: web.UrlDispatcher) -> None:
        item = BASE + "/{name}"
        router.add_route("GET", BASE, self.list)
        router.add_route("POST", BASE, self.create)
        router.add_route("GET", item, self.get)
        router.add_route("PUT", item, self.replace)
        router.add_route("DELETE", item, self.delete)


def create_app(secrets: FakeSecrets | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    (secrets or FakeSecrets()).register(app.router)
    return app


@contextmanager
def serving(secrets: FakeSecrets | None = None) -> Iterator[tuple[FakeSecrets, str]]:
    """Serve ``secrets`` on a free loopback port from a background thread, for tests that
    start a heketipy server process; yields the store and the API URL, stops on exit."""
    secrets = secrets or FakeSecrets()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-secrets", daemon=True)
    thread.start()
    runner = web.AppRunner(create_app(secrets))

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
        yield secrets, url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
