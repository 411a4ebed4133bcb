"""HTTP response helpers with Heketi's exact headers and body framing."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

from heketipy.gocompat import json_encode

JSON_TYPE = "application/json; charset=UTF-8"


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json_encode.dumps(value), headers={"Content-Type": JSON_TYPE}
    )


def json_indent_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json_encode.dumps_indent4(value), headers={"Content-Type": JSON_TYPE}
    )


def error_response(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
    }
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=(text + "\n").encode(), headers=all_headers)


def empty(status: int) -> web.Response:
    response = web.Response(status=status)
    response.headers.popall("Content-Type", None)
    return response


def accepted(queue_id: str) -> web.Response:
    response = web.Response(status=202, headers={"Location": f"/queue/{queue_id}"})
    return response


def redirect_html(status: int, location: str, reason: str | None = None) -> web.Response:
    """Go's http.Redirect for a GET: a tiny HTML anchor body naming the status."""
    body = f'<a href="{location}">{reason or HTTPStatus(status).phrase}</a>.\n\n'
    return web.Response(
        status=status,
        body=body.encode(),
        headers={"Location": location, "Content-Type": "text/html; charset=utf-8"},
    )
