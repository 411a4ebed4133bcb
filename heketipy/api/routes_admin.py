"""Service routes: /hello, the /livez and /readyz probes, /queue/{id}, /admin,
/internal/logging."""

from __future__ import annotations

from aiohttp import web

from heketipy import logctx
from heketipy.api import limits
from heketipy.api.app import ROLE_ACTIVE, ServerState
from heketipy.api.common import ID, Routes, path_id, runtime, server_state
from heketipy.api.responses import empty, error_response, json_response, redirect_html
from heketipy.config import ADMIN_STATES, LOG_LEVELS
from heketipy.domain.errors import ID_NOT_FOUND, InvalidRequest, NotFound, Unprocessable
from heketipy.models import requests as wire

routes = Routes()
register = routes.register


@routes("GET", "/hello")
async def hello(request: web.Request) -> web.Response:
    return web.Response(
        body=b"Hello from Heketi", headers={"Content-Type": "text/plain; charset=UTF-8"}
    )


@routes("GET", "/livez")
async def livez(request: web.Request) -> web.Response:
    """The process answers (a standby too): an orchestrator restarts it when this fails."""
    return web.Response(text="ok\n")


@routes("GET", "/readyz")
async def readyz(request: web.Request) -> web.Response:
    """200 only on the active server, so a Service routes requests to it alone."""
    role = server_state(request).role
    if role != ROLE_ACTIVE:
        return web.Response(status=503, text=f"not ready: {role}\n")
    return web.Response(text="ok\n")


# A poll of a running job is held up to this long before answering "pending", and answered
# the moment the job finishes: heketi-cli and the Go client sleep 400 ms after each "pending",
# so an operation finishing within the hold costs no polling interval, and a long one costs
# fewer polls. Kept under that 400 ms so that no poll takes longer than a client's own pause.
# The answers themselves are Heketi's.
QUEUE_HOLD_S = 0.35


@routes("GET", f"/queue/{ID}")
async def queue_status(request: web.Request) -> web.Response:
    jobs = runtime(request).jobs
    await jobs.wait(path_id(request), QUEUE_HOLD_S)
    job = jobs.get(path_id(request))
    if job is None:
        raise NotFound(ID_NOT_FOUND)
    if not job.done:
        response = empty(200)
        response.headers["X-Pending"] = "true"
        return response
    if job.error is not None:
        return error_response(500, job.error)
    if job.location:
        return redirect_html(303, job.location, "See Other")
    return empty(204)


def _server(request: web.Request) -> ServerState:
    return server_state(request)


async def _decode_strict(request: web.Request, model: type[wire.RequestT]) -> wire.RequestT:
    """/admin and /internal/logging answer 400 with the decoder's own text."""
    raw = await limits.read_body(request)
    try:
        return wire.parse_body(model, raw)
    except wire.ParseError as exc:
        text = getattr(exc, "go_text", "") or str(exc)
        raise InvalidRequest(f"request unable to be parsed: {text}") from exc


@routes("GET", "/admin")
async def get_admin(request: web.Request) -> web.Response:
    return json_response({"state": _server(request).admin_state})


@routes("POST", "/admin")
async def set_admin(request: web.Request) -> web.Response:
    state = (await _decode_strict(request, wire.AdminStateRequest)).state or ""
    if not state:
        raise InvalidRequest("validation failed: state: cannot be blank.")
    if state not in ADMIN_STATES:
        raise InvalidRequest("validation failed: state: must be a valid value.")
    _server(request).admin_state = state
    return empty(204)


@routes("GET", "/internal/logging")
async def get_logging(request: web.Request) -> web.Response:
    return json_response({"loglevel": {"glusterfs": _server(request).log_level}})


@routes("POST", "/internal/logging")
async def set_logging(request: web.Request) -> web.Response:
    levels = (await _decode_strict(request, wire.LogLevelRequest)).loglevel or {}
    if "glusterfs" not in levels:
        raise Unprocessable('Only "glusterfs" logger may be modified')
    level = levels["glusterfs"]
    if level:
        if level not in LOG_LEVELS:
            raise Unprocessable(f"invalid log level: {level}")
        server = _server(request)
        server.log_level = level
        logctx.set_level(level)
    return await get_logging(request)
