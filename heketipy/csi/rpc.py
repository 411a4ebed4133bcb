"""The wrapper every CSI RPC handler runs in: one log line per call (method, the volume id or
name, outcome code, duration) and the translation of failures into gRPC statuses.

Only the request's ``volume_id`` or ``name`` is logged, never the request itself: requests
carry secrets and mount flags the spec forbids leaking.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from heketipy.client.errors import HeketiError
from heketipy.csi.errors import CsiError, from_heketi

log = logging.getLogger("heketipy.csi")

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def subject(request: object) -> str:
    """What a request is about, for the log: its volume id, else its name."""
    for field in ("volume_id", "name"):
        value = getattr(request, field, "")
        if value:
            return f"{field}={value!r}"
    return "-"


def rpc(handler: Handler[Req, Resp]) -> Handler[Req, Resp]:
    method = handler.__name__

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        started = time.monotonic()
        code = grpc.StatusCode.OK
        message = ""
        try:
            return await handler(self, request, context)
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED  # the CO gave up (deadline); nothing to answer
            raise
        except CsiError as exc:
            code, message = exc.code, exc.message
        except HeketiError as exc:
            mapped = from_heketi(exc, method)
            code, message = mapped.code, mapped.message
        except Exception as exc:  # noqa: BLE001 - every failure must become a status
            log.exception("rpc=%s %s failed unexpectedly", method, subject(request))
            code, message = grpc.StatusCode.INTERNAL, f"{method}: {exc.__class__.__name__}: {exc}"
        finally:
            log.info(
                "rpc=%s %s outcome=%s duration_ms=%.1f%s",
                method, subject(request), code.name, (time.monotonic() - started) * 1000,
                f" message={message!r}" if message else "",
            )
        await context.abort(code, message)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    return wrapper
