"""The aiohttp application: middleware chain (auth, role, admin gate, routing errors) and
the route table. Handlers live in the ``routes_*`` modules; errors map to HTTP in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from heketipy.api import auth, limits, request_log
from heketipy.api.responses import empty, error_response, redirect_html
from heketipy.domain.errors import Busy, HeketiError
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup

log = logging.getLogger("heketipy.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
ADMIN_STATES = ("normal", "read-only", "local-client")
OPEN_PATHS = ("/hello", "/metrics")
INVALID_PATH = "Invalid path or request"


class ServerState:
    """Mutable server-wide settings that are not persisted (admin mode, log level)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.admin_state: str = getattr(settings, "default_state", "normal") or "normal"
        self.log_level: str = getattr(settings.glusterfs, "loglevel", "info") or "info"
        self.auth_enabled: bool = getattr(settings, "auth_enabled", True)


SERVER: web.AppKey[ServerState] = web.AppKey("server", ServerState)
KUBE_BACKUP: web.AppKey[kube_backup.KubeDbBackup] = web.AppKey(
    "kube_backup", kube_backup.KubeDbBackup
)


def _is_local(request: web.Request) -> bool:
    peer = request.remote or ""
    return peer in ("127.0.0.1", "::1")


def _route_failure(request: web.Request) -> web.HTTPException | None:
    return request.match_info.http_exception


async def _trailing_slash_target(request: web.Request) -> str | None:
    path = request.path
    if len(path) <= 1 or not path.endswith("/"):
        return None
    stripped = path.rstrip("/") or "/"
    match = await request.app.router.resolve(request.clone(rel_url=stripped))
    if match.http_exception is None or isinstance(match.http_exception, web.HTTPMethodNotAllowed):
        return stripped
    return None


@web.middleware
async def heketi_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = request.app[SERVER]
    try:
        response = await _dispatch(request, handler, server)
    except HeketiError as exc:
        headers = None
        if isinstance(exc, Busy):
            headers = {"Retry-After": str(exc.retry_after_s)}
        response = error_response(exc.status, exc.text, headers)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - Go's recovery handler answers 500 too
        log.exception("handler for %s %s crashed", request.method, request.path)
        response = error_response(500, str(exc) or exc.__class__.__name__)
    await kube_backup.backup_after_change(
        request.app.get(KUBE_BACKUP),
        request.app[RUNTIME].store,
        request.method,
        request.path,
        response.status,
    )
    return response


async def _dispatch(
    request: web.Request, handler: Handler, server: ServerState
) -> web.StreamResponse:
    path = request.path
    failure = _route_failure(request)
    if path in OPEN_PATHS:
        if failure is not None:
            return error_response(404, INVALID_PATH)
        return await handler(request)
    if server.auth_enabled:
        try:
            role = auth.authenticate(
                request.headers.get("Authorization"),
                request.method,
                path,
                admin_key=server.settings.admin_key,
                user_key=server.settings.user_key,
                iat_leeway_s=getattr(server.settings, "iat_leeway_s", 120),
            )
            request[request_log.ROLE] = role.value
            auth.authorize(role, request.method, path)
        except auth.AuthError as exc:
            return error_response(exc.status, exc.text)
    if request.method not in ("GET", "HEAD") and (server.admin_state == "read-only" or (
        server.admin_state == "local-client" and not _is_local(request)
    )):
        return error_response(503, "Service disabled for maintenance")
    if failure is not None:
        target = await _trailing_slash_target(request)
        if target is not None:
            if request.method == "GET":
                return redirect_html(301, target, "Moved Permanently")
            response = web.Response(status=301, headers={"Location": target})
            response.headers.popall("Content-Type", None)
            return response
        if isinstance(failure, web.HTTPMethodNotAllowed):
            return empty(405)
        return error_response(404, INVALID_PATH)
    return await handler(request)


def create_app(runtime: Runtime, settings: Any) -> web.Application:
    from heketipy.api import (
        routes_admin,
        routes_block,
        routes_clusters,
        routes_nodes,
        routes_ops,
        routes_state,
        routes_volumes,
    )

    http = limits.from_settings(settings)
    app = web.Application(
        middlewares=[
            request_log.request_log_middleware, limits.body_limit_middleware, heketi_middleware
        ],
        client_max_size=limits.largest_body_bytes(http),
    )
    app[limits.HTTP_LIMITS] = http
    app[RUNTIME] = runtime
    app[SERVER] = ServerState(settings)
    for module in (
        routes_admin, routes_block, routes_clusters, routes_nodes, routes_ops, routes_state,
        routes_volumes,
    ):
        module.register(app.router)
    return app
