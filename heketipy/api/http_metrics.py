"""The request metrics: every answered request counted and timed by its route template.

The route label is the template the request matched (``/volumes/{id}``), never the path
itself, and ``unmatched`` when no route matched; the method is one of HTTP's methods or
``other``: a client cannot grow the label set. The middleware runs outermost, so a refusal
by any later middleware (size limit, token, admin state) is counted as the client saw it.
"""

from __future__ import annotations

import time

from aiohttp import web

from heketipy.api.app import RUNTIME, Handler
from heketipy.operations.metrics import UNMATCHED_ROUTE


def route_label(request: web.Request) -> str:
    """The template of the route ``request`` matched, or ``unmatched``."""
    if request.match_info.http_exception is not None:
        return UNMATCHED_ROUTE
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


@web.middleware
async def http_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        rt = request.app.get(RUNTIME)
        if rt is not None:
            rt.metrics.http_request(
                route_label(request), request.method, status, time.perf_counter() - started
            )
