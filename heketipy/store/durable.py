"""Durable file writes: the content on disk (fsync) before anyone relies on the file."""

from __future__ import annotations

import os


def write_new_file(path: str, data: bytes) -> None:
    """Create ``path`` (mode 0600) holding ``data`` synced to disk; a partial file is removed.

    O_EXCL: a file appearing meanwhile is never overwritten.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(path)
        raise


def fsync_directory(directory: str) -> None:
    """Make a rename or create inside ``directory`` survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
