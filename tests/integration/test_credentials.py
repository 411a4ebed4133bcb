"""Credentials are never logged or echoed: malformed `Authorization` headers get Heketi's
(Go's) status and text, one log line without the header, and no traceback.

Black-box against a spawned server, over raw sockets so that headers Python's HTTP clients
refuse to send (control bytes, non-UTF-8 bytes, oversized values) reach the server as sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rawhttp import parse_head
from tests.support.server import ServerProcess, running_server

SECRET = b"S3cr3tCredential"
TOO_LONG = b"Invalid JWT token: token is longer than 4096 bytes\n"

# (name, Authorization value, status, body) - bodies are byte-exact.
MALFORMED = [
    ("basic", b"Basic " + SECRET, 400, b"Authorization header format must be Bearer {token}\n"),
    ("control-byte", b"bearer " + SECRET + b"\x01", 400, b"400 Bad Request: invalid header value"),
    ("nul-byte", b"bearer " + SECRET + b"\x00x", 400, b"400 Bad Request: invalid header value"),
    (
        "non-ascii",
        b"bearer " + SECRET + "\u00e9\u4e2d".encode(),
        401,
        b"Invalid JWT token: token contains an invalid number of segments\n",
    ),
    (
        "non-utf8",
        b"bearer " + SECRET + b"\xff\xfe",
        401,
        b"Invalid JWT token: token contains an invalid number of segments\n",
    ),
    ("crafted-8k", b"bearer " + SECRET + b"." + b"W" * 8000 + b".x", 401, TOO_LONG),
    (
        "beyond-header-limit",
        b"bearer " + SECRET + b"A" * 9000,
        431,
        b"431 Request Header Fields Too Large",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("credentials")) as process:
        yield process


def exchange(server: ServerProcess, requests: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes the connection."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(requests)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def get(authorization: bytes, path: bytes = b"/clusters") -> bytes:
    return (
        b"GET " + path + b" HTTP/1.1\r\nHost: heketi\r\nConnection: close\r\n"
        b"Authorization: " + authorization + b"\r\n\r\n"
    )


def split_reply(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return (*parse_head(head), body)


def log_text(server: ServerProcess) -> bytes:
    return server.log_path.read_bytes()


@pytest.mark.parametrize(
    ("authorization", "status", "body"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_authorization_gets_heketis_answer_and_no_echo(
    server: ServerProcess, authorization: bytes, status: int, body: bytes
) -> None:
    logged_before = log_text(server)
    got_status, headers, got_body = split_reply(exchange(server, get(authorization)))
    assert (got_status, got_body) == (status, body)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert SECRET not in got_body
    logged = log_text(server)[len(logged_before):]
    assert SECRET not in logged
    assert b"Traceback" not in logged
    assert len(logged.splitlines()) <= 1, logged  # at most one line per refusal


def test_protocol_errors_close_the_connection_like_go(server: ServerProcess) -> None:
    _, headers, _ = split_reply(exchange(server, get(b"bearer " + SECRET + b"\x01")))
    assert headers["connection"] == "close"


def test_a_malformed_header_later_on_a_kept_alive_connection_is_answered_the_same(
    server: ServerProcess,
) -> None:
    # aiohttp logs a connection's later protocol errors at ERROR with a traceback: not here.
    logged_before = log_text(server)
    hello = b"GET /hello HTTP/1.1\r\nHost: heketi\r\n\r\n"
    raw = exchange(server, hello + get(b"bearer " + SECRET + b"\x01"))
    assert raw.endswith(b"\r\n\r\n400 Bad Request: invalid header value")
    assert SECRET not in raw
    logged = log_text(server)[len(logged_before):]
    assert SECRET not in logged and b"Traceback" not in logged and b"ERROR" not in logged


def test_a_garbled_request_line_gets_gos_generic_400(server: ServerProcess) -> None:
    request = b"GET /clusters\x01" + SECRET + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    raw = exchange(server, request)
    status, _, body = split_reply(raw)
    assert (status, body) == (400, b"400 Bad Request")
    assert SECRET not in log_text(server)


def test_the_secret_never_reached_the_log(server: ServerProcess, tmp_path: Path) -> None:
    for _, authorization, _, _ in MALFORMED:
        exchange(server, get(authorization))
    text = log_text(server)
    assert SECRET not in text
    assert b"Traceback" not in text
