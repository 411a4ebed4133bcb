"""The aiohttp application: its typed keys, the middleware chain and the route table.

Handlers live in the ``routes_*`` modules. Every request passes these middlewares, outermost
first, each with one job:

0. ``http_metrics.http_metrics_middleware``: counts and times the request by route template.
1. ``request_log.request_log_middleware``: one log line per request.
2. ``limits.body_limit_middleware``: refuses a declared-too-large body unread.
3. ``role_middleware``: a server that is not the active one (heketipy.ha: a standby, one
   taking over, one that lost leadership) answers only the probes and ``/metrics``
   (``heketipy_leader 0`` alone), everything else 503.
4. ``kube_backup_middleware``: after an answered change, schedules the Secret backup.
5. ``error_middleware``: a ``HeketiError`` or a crash becomes Heketi's status and text.
6. ``auth_middleware``: the JWT (authenticate) and the role's rights (authorize).
7. ``admin_state_middleware``: read-only / local-client admin states refuse changes.
8. ``route_failure_middleware``: no route: trailing-slash redirect, 405 or Heketi's 404.

The open paths (``/hello``, ``/metrics``, ``/livez``, ``/readyz``) need no token and ignore the
admin state; a request to one of them that matches no route is Heketi's plain 404.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from heketipy.api import auth, limits, request_log
from heketipy.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from heketipy.api.responses import empty, error_response, redirect_html
from heketipy.config import Settings
from heketipy.domain.errors import Busy, HeketiError
from heketipy.operations.metrics import not_leading_exposition
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup

log = logging.getLogger("heketipy.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = ("/hello", "/metrics", "/livez", "/readyz")
# What a server that is not the active one still answers (see ``role_middleware``).
PROBE_PATHS = ("/hello", "/livez", "/readyz")
INVALID_PATH = "Invalid path or request"

# The server's role in an active/standby pair (always "active" without heketipy.ha).
ROLE_ACTIVE = "active"
ROLE_STANDBY = "standby"  # another server holds leadership
ROLE_STARTING = "starting"  # leadership acquired, loading the database and recovering
ROLE_FENCED = "fenced"  # leadership lost: writes nothing more, exits
NOT_ACTIVE_TEXT = {
    ROLE_STANDBY: "This heketipy server is a standby; the active server serves requests. Retry",
    ROLE_STARTING: "This heketipy server is taking over as the active server. Retry",
    ROLE_FENCED: "This heketipy server lost leadership and is shutting down. Retry",
}


class ServerState:
    """Mutable server-wide settings that are not persisted (admin mode, log level)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin_state = settings.default_state
        self.log_level = settings.glusterfs.loglevel
        self.auth_enabled = settings.auth_enabled
        self.role = ROLE_ACTIVE


RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
SERVER: web.AppKey[ServerState] = web.AppKey("server", ServerState)
# None when no backup is configured (or not running in Kubernetes).
KUBE_BACKUP: web.AppKey[kube_backup.KubeDbBackup | None] = web.AppKey("kube_backup")


def _is_open(request: web.Request) -> bool:
    return request.path in OPEN_PATHS


def _is_local(request: web.Request) -> bool:
    peer = request.remote or ""
    return peer in ("127.0.0.1", "::1")


@web.middleware
async def role_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = request.app[SERVER]
    if server.role == ROLE_ACTIVE or request.path in PROBE_PATHS:
        return await handler(request)
    if request.path == "/metrics" and request.method == "GET":
        # heketipy_leader 0: a scraped standby is up, not down, and is not the leader.
        body = not_leading_exposition().encode()
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})
    retry_after = math.ceil(server.settings.heketipy.ha.retry_period_s)
    return error_response(503, NOT_ACTIVE_TEXT[server.role], {"Retry-After": str(retry_after)})


@web.middleware
async def kube_backup_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    backup = request.app.get(KUBE_BACKUP)
    if backup is not None:
        await kube_backup.backup_after_change(
            backup, request.app[RUNTIME].store, request.method, request.path, response.status
        )
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HeketiError as exc:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Busy) else None
        return error_response(exc.status, exc.text, headers)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - Go's recovery handler answers 500 too
        log.exception("handler for %s %s crashed", request.method, request.path)
        return error_response(500, str(exc) or exc.__class__.__name__)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = request.app[SERVER]
    if _is_open(request) or not server.auth_enabled:
        return await handler(request)
    try:
        role = auth.authenticate(
            request.headers.get("Authorization"),
            request.method,
            request.path,
            admin_key=server.settings.admin_key,
            user_key=server.settings.user_key,
            iat_leeway_s=server.settings.iat_leeway_s,
        )
        request[request_log.ROLE] = role.value
        auth.authorize(role, request.method, request.path)
    except auth.AuthError as exc:
        return error_response(exc.status, exc.text)
    return await handler(request)


@web.middleware
async def admin_state_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_open(request) or request.method in ("GET", "HEAD"):
        return await handler(request)
    state = request.app[SERVER].admin_state
    if state == "read-only" or (state == "local-client" and not _is_local(request)):
        return error_response(503, "Service disabled for maintenance")
    return await handler(request)


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
async def route_failure_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    failure = request.match_info.http_exception
    if failure is None:
        return await handler(request)
    if _is_open(request):
        return error_response(404, INVALID_PATH)
    target = await _trailing_slash_target(request)
    if target is not None:
        if request.method == "GET":
            return redirect_html(301, target)
        response = web.Response(status=301, headers={"Location": target})
        response.headers.popall("Content-Type", None)
        return response
    if isinstance(failure, web.HTTPMethodNotAllowed):
        return empty(405)
    return error_response(404, INVALID_PATH)


# Heketi's own request handling, after the request log and the body limit.
HEKETI_MIDDLEWARES = (
    kube_backup_middleware,
    error_middleware,
    auth_middleware,
    admin_state_middleware,
    route_failure_middleware,
)


def create_app(settings: Settings) -> web.Application:
    """The routes and middlewares; the caller adds the runtime (``RUNTIME``): ``server.build``
    through ``cleanup_ctx``, unit tests directly."""
    from heketipy.api import (
        http_metrics,
        routes_admin,
        routes_block,
        routes_clusters,
        routes_nodes,
        routes_ops,
        routes_state,
        routes_volumes,
    )

    http = settings.heketipy.http
    app = web.Application(
        middlewares=[
            http_metrics.http_metrics_middleware,
            request_log.request_log_middleware,
            limits.body_limit_middleware,
            role_middleware,
            *HEKETI_MIDDLEWARES,
        ],
        client_max_size=limits.largest_body_bytes(http),
    )
    app[limits.HTTP_LIMITS] = http
    app[SERVER] = ServerState(settings)
    for module in (
        routes_admin, routes_block, routes_clusters, routes_nodes, routes_ops, routes_state,
        routes_volumes,
    ):
        module.register(app.router)
    return app
