"""In-flight operations per key (a CSI volume name, a volume id): a second call for a key while
one runs is refused with ABORTED, as the CSI spec asks, so the CO retries it later instead of
racing it. One event loop serves every RPC, so a set is the whole mechanism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import grpc

from heketipy.csi.errors import CsiError


class InFlight:
    def __init__(self) -> None:
        self._held: set[str] = set()

    def busy(self, key: str) -> bool:
        return key in self._held

    @contextmanager
    def hold(self, key: str, what: str) -> Iterator[None]:
        """Own ``key`` for the block, or raise ABORTED naming ``what`` if it is owned."""
        if key in self._held:
            raise CsiError(grpc.StatusCode.ABORTED, f"an operation for {what} is already in progress")
        self._held.add(key)
        try:
            yield
        finally:
            self._held.discard(key)

    def hold_path(self, path: str, role: str) -> AbstractContextManager[None]:
        """Own a node path; ``role`` ("staging", "target") names it in the ABORTED text."""
        return self.hold(f"path:{path}", f"{role} path {path}")

    def hold_volume(self, volume_id: str) -> AbstractContextManager[None]:
        return self.hold(f"volume:{volume_id}", f"volume {volume_id}")
