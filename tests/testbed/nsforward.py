#!/usr/bin/python3
"""Forward 127.0.0.1:<port> of the host to an address inside a network namespace.

The testbed keeps every address inside its own namespaces (nothing is added to the host's
network), yet tests running on the host must reach the heketipy server that runs in the
testbed's client namespace. This process binds its listening socket in the host namespace,
then enters the target namespace, so every outgoing connection it makes starts there.

usage: nsforward.py NETNS_PATH TARGET_HOST TARGET_PORT PORT_FILE
(the chosen local port is written to PORT_FILE once listening)
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter_netns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path}): {os.strerror(error)}")
    finally:
        os.close(fd)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listener: socket.socket, host: str, port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await server.serve_forever()


def main() -> None:
    netns, host, port, port_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    enter_netns(netns)
    with open(port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(listener.getsockname()[1]))
    os.replace(port_file + ".tmp", port_file)
    asyncio.run(serve(listener, host, port))


if __name__ == "__main__":
    main()
