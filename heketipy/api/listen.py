"""The server's listening sockets and TLS context, made before anything else starts.

Binding first means that a port in use, an address this host does not have, or a TLS
certificate or key that cannot be loaded stops start-up with one line (``ListenError``) before
the database is opened or a single unfinished operation is recovered.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import stat

log = logging.getLogger("heketipy.server")

BACKLOG = 128


class ListenError(Exception):
    """The server cannot listen as configured; the message is the one line to show."""


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal for an encrypted key's password.
    return b""


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The server-side TLS context; warns when every user may read the private key."""
    for kind, path in (("certificate", cert_file), ("key", key_file)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ListenError(
                f"TLS {kind} file {path} cannot be read: {exc.strerror or exc}"
            ) from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_password)
    except (ssl.SSLError, OSError) as exc:
        raise ListenError(
            f"cannot load TLS certificate {cert_file} with key {key_file}: {exc} (both must "
            "be PEM, the key unencrypted and the certificate's own)"
        ) from None
    mode = stat.S_IMODE(os.stat(key_file).st_mode)
    if mode & stat.S_IROTH:
        log.warning(
            "TLS key file %s is readable by every user (mode %04o); restrict it with "
            "chmod 600", key_file, mode,
        )
    return context


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names, as asyncio's create_server makes."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {_where(host, port)}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(
            f"cannot listen on {_where(host, port)}: {exc.strerror or exc}"
        ) from None
    return sockets
