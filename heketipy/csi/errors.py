"""How failures become gRPC statuses: `CsiError` (a code and a message, no details) and the one
mapping of the client library's `HeketiError` onto CSI's codes."""

from __future__ import annotations

import grpc

from heketipy.client.errors import HeketiConnectionError, HeketiError


class CsiError(Exception):
    """An RPC's failure: answered as ``code`` with ``message`` and empty status details."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def require(request: object, *fields: str) -> None:
    """INVALID_ARGUMENT naming the first of ``fields`` the request leaves empty."""
    for field in fields:
        if not getattr(request, field):
            raise invalid(f"{field} is required")


# Heketi's texts for an allocation that found no room: "No space" (create placement),
# "Minimum brick size limit reached.  Out of space." and "Maximum number of bricks reached."
# (a volume that would need more bricks than allowed, e.g. a large expansion).
_NO_SPACE_MARKERS = ("No space", "Out of space", "Maximum number of bricks reached")
# Heketi's text when the target of an operation has another one pending.
_IN_USE = "The target exists, contains other items, or is in use."


def from_heketi(exc: HeketiError, action: str) -> CsiError:
    """The CSI status for a failed heketipy call made while doing ``action``."""
    text = f"{action}: {exc.message}"
    if isinstance(exc, HeketiConnectionError):
        return CsiError(grpc.StatusCode.UNAVAILABLE, f"{action}: heketipy unreachable: {exc.message}")
    if any(marker in exc.message for marker in _NO_SPACE_MARKERS):
        return CsiError(grpc.StatusCode.RESOURCE_EXHAUSTED, text)
    if _IN_USE in exc.message:
        # Another operation (an expansion, a delete) holds the volume: retry later.
        return CsiError(grpc.StatusCode.ABORTED, text)
    by_status = {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.FAILED_PRECONDITION,
        422: grpc.StatusCode.INVALID_ARGUMENT,
        429: grpc.StatusCode.UNAVAILABLE,
        502: grpc.StatusCode.UNAVAILABLE,
        503: grpc.StatusCode.UNAVAILABLE,
        504: grpc.StatusCode.UNAVAILABLE,
    }
    return CsiError(by_status.get(exc.status, grpc.StatusCode.INTERNAL), text)
