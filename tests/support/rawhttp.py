"""Raw HTTP/1.1 over blocking sockets, for tests of what the server does with a connection
itself (timeouts, caps, refused bodies) that an HTTP client library would hide."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from heketipy.client.token import make_token
from tests.support.server import ADMIN_KEY, USER_KEY

# A guard against a server that never answers; tests wait for events, not for time.
GUARD_S = 30.0


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=GUARD_S)
    sock.settimeout(GUARD_S)
    return sock


def request_head(method: str, path: str, *, role: str = "admin",
                 headers: dict[str, str] | None = None) -> bytes:
    """A request line and headers (keep-alive), signed for ``role`` (admin, user, none)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: heketipy.test"]
    if role != "none":
        key = ADMIN_KEY if role == "admin" else USER_KEY
        lines.append("Authorization: bearer " + make_token(role, key, method, path))
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, chunk_size: int = 4096) -> bytes:
    """``body`` in Transfer-Encoding: chunked framing, terminated."""
    pieces = [body[i:i + chunk_size] for i in range(0, len(body), chunk_size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the (lower-cased) headers of a response head."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def read_response(sock: socket.socket) -> RawReply:
    """One response with a Content-Length (or none: empty) body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawReply(status, headers, body)


def closed_by_server(sock: socket.socket) -> bool:
    """Wait until the server closes the connection: True on EOF or reset, after discarding
    anything it still sends. Raises ``TimeoutError`` (the guard) if it never does."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def hello_works(sock: socket.socket) -> bool:
    """A keep-alive ``GET /hello`` exchange on an open connection."""
    sock.sendall(request_head("GET", "/hello", role="none"))
    reply = read_response(sock)
    return reply.status == 200 and reply.body == b"Hello from Heketi"
