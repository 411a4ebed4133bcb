"""Request-size limits of the HTTP edge: per-route body caps and the lengths of request lists.

Owns: the body cap of each route (``heketipy.http.max_body_kib`` and its per-route overrides);
refusing a declared-too-large body with 413 before a byte of it is read; reading a body with a
streaming cap (a chunked body declares no length) and a time limit (408); and the caps on the
lists of a volume create (options: count and length; clusters: count), which keep a request
with thousands of options from ever reaching the nodes. Whatever is refused here closes the
connection after the answer, so the rest of a hostile body is never read beyond aiohttp's
bounded lingering. Large-but-allowed bodies are decoded on one worker thread (``decode``), so
the event loop, and with it ``/hello``, never waits on a parser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from heketipy.api.keys import request_key
from heketipy.api.responses import error_response
from heketipy.config import HttpSettings
from heketipy.domain.errors import HeketiError
from heketipy.models import requests as wire

HTTP_LIMITS: web.AppKey[HttpSettings] = web.AppKey("http_limits", HttpSettings)

# Bodies up to this size are decoded on the event loop (well under a millisecond); larger
# ones, up to the route's cap, in a worker thread: the pure-Python parts of Go-compatible
# decoding cost tens of milliseconds for 64 KiB.
INLINE_DECODE_BYTES = 1024

# One thread: decoding is pure Python and holds the GIL, and every extra thread competing for
# it makes the event loop wait longer for its turn (30 bodies at the cap: /hello's worst
# latency was the same as decoding on the loop with the default pool).
_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heketipy-decode")

_DEFAULTS = HttpSettings()
# Set on a request whose body was refused: its connection closes after the answer.
_CLOSE_AFTER_REPLY: web.RequestKey[bool] = request_key("close_after_reply", bool)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BodyRefused(HeketiError):
    """413 (too large) or 408 (too slow): the body is not read further, the connection closes."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class ListTooLong(HeketiError):
    """A request list (options, clusters) is longer than configured, or an item too long."""

    status = 400


def largest_body_bytes(limits: HttpSettings) -> int:
    """aiohttp's ``client_max_size``: bodies are read by ``read_body`` under each route's cap;
    this only backs up a stray ``request.read()``."""
    return max([limits.max_body_kib, *limits.max_body_kib_by_route.values()]) * 1024


def http_limits(app: web.Application) -> HttpSettings:
    return app.get(HTTP_LIMITS) or _DEFAULTS


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else request.path}"


def body_limit_bytes(request: web.Request) -> int:
    """The body cap of the route ``request`` matched (``max_body_kib`` unless overridden)."""
    limits = http_limits(request.app)
    kib = limits.max_body_kib
    if limits.max_body_kib_by_route:
        kib = limits.max_body_kib_by_route.get(_route_label(request), kib)
    return kib * 1024


def _too_large(request: web.Request, limit: int) -> BodyRefused:
    request[_CLOSE_AFTER_REPLY] = True
    return BodyRefused(
        413, f"Request body too large: {_route_label(request)} accepts at most {limit} bytes"
    )


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared-too-large body unread; close the connection after refused bodies."""
    limit = body_limit_bytes(request)
    declared = request.content_length
    response: web.StreamResponse
    if declared is not None and declared > limit:
        refused = _too_large(request, limit)
        response = error_response(refused.status, refused.text)
    else:
        response = await handler(request)
    if request.get(_CLOSE_AFTER_REPLY):
        response.force_close()
    return response


async def read_body(request: web.Request) -> bytes:
    """The whole body, refused with 413 once it passes the route's cap and with 408 when it
    does not arrive within ``body_read_timeout_s``."""
    limit = body_limit_bytes(request)
    timeout_s = http_limits(request.app).body_read_timeout_s
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise _too_large(request, limit)
                chunks.append(chunk)
    except TimeoutError:
        request[_CLOSE_AFTER_REPLY] = True
        raise BodyRefused(408, f"Request body not received within {timeout_s:g} s") from None
    return b"".join(chunks)


async def decode(raw: bytes, decoder: Callable[[bytes], T]) -> T:
    """``decoder(raw)``: on the event loop for small bodies, in a worker thread for large."""
    if len(raw) <= INLINE_DECODE_BYTES:
        return decoder(raw)
    return await asyncio.get_running_loop().run_in_executor(_DECODER, decoder, raw)


def check_lists(request: Any, limits: HttpSettings) -> None:
    """Refuse a create whose option or cluster list is longer than configured (400).

    Each option is one ``gluster volume set`` on the nodes while the operation holds an
    in-flight slot, so thousands of them are refused here, before anything is planned.
    """
    clusters = getattr(request, "clusters", None) or []
    if len(clusters) > limits.max_request_clusters:
        raise ListTooLong(
            f"too many clusters specified ({len(clusters)}), "
            f"up to {limits.max_request_clusters} supported"
        )
    if not isinstance(request, wire.VolumeCreateRequest):
        return
    options = request.glustervolumeoptions or []
    if len(options) > limits.max_volume_options:
        raise ListTooLong(
            f"too many gluster volume options specified ({len(options)}), "
            f"up to {limits.max_volume_options} supported"
        )
    for number, option in enumerate(options, 1):
        if len(option) > limits.max_volume_option_chars:
            raise ListTooLong(
                f"gluster volume option {number} is too long ({len(option)} characters), "
                f"up to {limits.max_volume_option_chars} supported"
            )
