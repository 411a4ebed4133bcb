"""The request log: one line per HTTP request, written by the outermost middleware.

Fields: method, path (the encoded path only: no query string, never a header, so never the
Authorization token), status, duration in ms, the caller's role (``admin``/``user`` once
authenticated, else ``none``) and, for a request that started an operation, its ``/queue`` id
as the line's ``op`` (the same id every step line of that operation carries). aiohttp's own
access log stays off (``AppRunner(access_log=None)``), so each request is logged exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from heketipy import logctx
from heketipy.api.keys import request_key

log = logging.getLogger("heketipy.api.requests")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Request storage key of the authenticated role (set by the auth middleware).
ROLE: web.RequestKey[str] = request_key("role", str)
QUEUE_PREFIX = "/queue/"


def _queue_id(response: web.StreamResponse) -> str | None:
    location = response.headers.get("Location", "")
    if response.status == 202 and location.startswith(QUEUE_PREFIX):
        return location[len(QUEUE_PREFIX):]
    return None


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status: int | None = None
    op: str | None = None
    try:
        response = await handler(request)
        status = response.status
        op = _queue_id(response)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        raise  # the client went away: logged with no status
    except Exception:
        status = 500
        raise
    finally:
        logctx.event(
            log,
            logging.INFO,
            "request",
            op=op,
            method=request.method,
            path=request.rel_url.raw_path,
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 1),
            role=request.get(ROLE, "none"),
        )
