"""Answers to requests that are not valid HTTP, given before any route or middleware runs.

Owns the connection-level error replies. aiohttp's own answer to an unparseable request
echoes the offending bytes in the reply and logs them with a traceback (at ERROR from a
connection's second request on); when the bad bytes are in an `Authorization` header, that
is the caller's credential. Heketi's Go HTTP server answers such requests with a fixed text
and logs nothing. heketipy answers with Go's status and text, and logs one line that names
the client and that text only.

aiohttp offers no hook for these replies other than its request handler class, so the
server's connections (``api.connections.GuardedRequestHandler``) derive from
:class:`GoErrorsRequestHandler`.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, InvalidHeader, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("heketipy.api.protocol")

# Go's net/http texts (status line reason and body alike) for requests it cannot read.
HEADERS_TOO_LARGE = (431, "Request Header Fields Too Large")
INVALID_HEADER_VALUE = (400, "Bad Request: invalid header value")
BAD_REQUEST = (400, "Bad Request")


def go_protocol_error(exc: HttpProcessingError) -> tuple[int, str]:
    """Go's status and reason for a request aiohttp could not parse (never its bytes)."""
    if isinstance(exc, LineTooLong) or "too many headers" in exc.message.lower():
        # Go's only header limit is their total size: it answers 431 for any excess.
        return HEADERS_TOO_LARGE
    if isinstance(exc, InvalidHeader) or "header value" in exc.message.lower():
        return INVALID_HEADER_VALUE
    return BAD_REQUEST


class GoErrorsRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol, answering unparseable requests as Go's server does."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        code, reason = go_protocol_error(exc)
        text = f"{code} {reason}"
        log.warning("refused an unreadable request from %s: %s", request.remote, text)
        response = web.Response(
            status=code, reason=reason, body=text.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8", "Connection": "close"},
        )
        response.force_close()
        return response
