"""Connection limits of a real server process: a connection that sends nothing, or half a
request head, is closed after the header-read timeout; an idle keep-alive connection after the
keep-alive timeout; connections beyond the cap are closed at once while the open ones keep
working. Every wait is for the server's EOF (with a guard), never a measured duration."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import rawhttp
from tests.support.server import ServerProcess, running_server


def _serve(tmp_path: Path, **http: object) -> Iterator[ServerProcess]:
    with running_server(tmp_path, heketipy={"http": http}) as server:
        yield server


@pytest.fixture
def short_header_timeout(tmp_path: Path) -> Iterator[ServerProcess]:
    # The keep-alive timeout is long, so only the header-read timeout can close a connection.
    yield from _serve(tmp_path, header_read_timeout_s=0.3, keepalive_timeout_s=600)


@pytest.fixture
def short_keepalive(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _serve(tmp_path, header_read_timeout_s=600, keepalive_timeout_s=0.3)


@pytest.fixture
def three_connections(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _serve(tmp_path, max_connections=3)


def test_a_connection_that_sends_nothing_is_closed(short_header_timeout: ServerProcess) -> None:
    with rawhttp.connect(short_header_timeout.base_url) as sock:
        assert rawhttp.closed_by_server(sock)


def test_a_partial_request_head_is_closed(short_header_timeout: ServerProcess) -> None:
    with rawhttp.connect(short_header_timeout.base_url) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: heketipy.test\r\nX-Slow: ")
        assert rawhttp.closed_by_server(sock)


def test_a_complete_request_is_answered_despite_the_header_timeout(
    short_header_timeout: ServerProcess,
) -> None:
    with rawhttp.connect(short_header_timeout.base_url) as sock:
        assert rawhttp.hello_works(sock)


def test_an_idle_keepalive_connection_is_closed(short_keepalive: ServerProcess) -> None:
    with rawhttp.connect(short_keepalive.base_url) as sock:
        assert rawhttp.hello_works(sock)  # keep-alive: the server keeps the connection open
        assert rawhttp.closed_by_server(sock)


def test_a_partial_second_request_on_a_keepalive_connection_is_closed(
    short_keepalive: ServerProcess,
) -> None:
    with rawhttp.connect(short_keepalive.base_url) as sock:
        assert rawhttp.hello_works(sock)
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: heketipy.test\r\nX-Slow: ")
        assert rawhttp.closed_by_server(sock)


def test_connections_beyond_the_cap_are_closed_and_logged(
    three_connections: ServerProcess,
) -> None:
    server = three_connections
    held = [rawhttp.connect(server.base_url) for _ in range(3)]
    try:
        for sock in held:
            assert rawhttp.hello_works(sock)  # admitted and served
        with rawhttp.connect(server.base_url) as extra:
            with contextlib.suppress(ConnectionError):  # it may be closed already
                extra.sendall(rawhttp.request_head("GET", "/hello", role="none"))
            assert rawhttp.closed_by_server(extra)
        assert rawhttp.hello_works(held[0])  # the open ones keep working
        assert "connection limit of 3 reached" in server.log_path.read_text()
        held.pop().close()
        assert _served_soon(server)  # the slot is free again once the server saw the close
    finally:
        for sock in held:
            sock.close()


def _served_soon(server: ServerProcess, attempts: int = 200) -> bool:
    for _ in range(attempts):
        with rawhttp.connect(server.base_url) as sock:
            try:
                if rawhttp.hello_works(sock):
                    return True
            except (ConnectionError, TimeoutError):
                continue
    return False
