"""Connection-level limits of the HTTP server: header-read timeout, keep-alive timeout, cap.

Owns :class:`GuardedAppRunner`, the ``web.AppRunner`` the server starts its site with. Its
connections are bounded three ways (``heketipy.http`` settings):

* ``header_read_timeout_s``: a connection that has not delivered a complete request head this
  long after it opened is closed: a socket that sends nothing, or half a header, no longer
  stays open forever. Later requests on a keep-alive connection are bounded by the keep-alive
  timeout, which aiohttp does not restart on partial data.
* ``keepalive_timeout_s``: aiohttp's idle timeout between requests.
* ``max_connections``: a connection accepted while that many are open is closed at once, and
  the refusals are logged (at most one line per ``REFUSAL_LOG_INTERVAL_S``).

A request body's own time limit is applied where it is read (``api.limits.read_body``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from heketipy.api.protocol import GoErrorsRequestHandler
from heketipy.config import HttpSettings

log = logging.getLogger("heketipy.api.connections")

REFUSAL_LOG_INTERVAL_S = 10.0


class GuardedRequestHandler(GoErrorsRequestHandler):
    """aiohttp's per-connection protocol, admitted by the cap and watched until its first
    request head is complete."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = manager
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._peer: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._peer = transport.get_extra_info("peername")
        if not self._guard.admit(self._peer):
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._head_timer = self._guard.loop.call_later(
            self._guard.limits.header_read_timeout_s, self._head_timed_out
        )

    def request_head_received(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        log.debug(
            "closing connection from %s: no complete request within %g s",
            self._peer,
            self._guard.limits.header_read_timeout_s,
        )
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return  # refused: aiohttp never saw this connection
        self._admitted = False
        self.request_head_received()
        self._guard.release()
        super().connection_lost(exc)


class GuardedServer(web.Server):
    """aiohttp's low-level server (the protocol factory) with the connection guards."""

    def __init__(
        self,
        handler: Any,
        *,
        limits: HttpSettings,
        loop: asyncio.AbstractEventLoop,
        request_factory: Any,
        handler_cancellation: bool = False,
        **handler_kwargs: Any,
    ) -> None:
        super().__init__(
            handler,
            request_factory=request_factory,
            handler_cancellation=handler_cancellation,
            loop=loop,
            **handler_kwargs,
        )
        self.limits = limits
        self.loop = loop
        self.open_connections = 0
        self._handler_kwargs = handler_kwargs
        self._refused_unreported = 0
        self._refusal_reported_at = -REFUSAL_LOG_INTERVAL_S
        make_request = self.request_factory

        # aiohttp builds the request object once the head is parsed: the moment the
        # connection's header-read timer is no longer needed.
        def request_factory_watching_heads(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            if isinstance(protocol, GuardedRequestHandler):
                protocol.request_head_received()
            return make_request(message, payload, protocol, writer, task)

        self.request_factory = request_factory_watching_heads

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(self, loop=self.loop, **self._handler_kwargs)

    def admit(self, peer: Any) -> bool:
        if self.open_connections >= self.limits.max_connections:
            self._report_refusal(peer)
            return False
        self.open_connections += 1
        return True

    def release(self) -> None:
        self.open_connections -= 1

    def _report_refusal(self, peer: Any) -> None:
        self._refused_unreported += 1
        now = self.loop.time()
        if now - self._refusal_reported_at >= REFUSAL_LOG_INTERVAL_S:
            log.warning(
                "connection limit of %d reached: closed %d new connection(s) since the last "
                "report, the latest from %s",
                self.limits.max_connections,
                self._refused_unreported,
                peer,
            )
            self._refused_unreported = 0
            self._refusal_reported_at = now


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`GuardedServer`."""

    def __init__(self, app: web.Application, limits: HttpSettings, **handler_kwargs: Any) -> None:
        handler_kwargs["keepalive_timeout"] = limits.keepalive_timeout_s
        super().__init__(app, handle_signals=False, **handler_kwargs)
        self._limits = limits
        self._handler_kwargs = handler_kwargs

    async def _make_server(self) -> web.Server:
        # The application's start-up runs here; its plain server only lends its handlers.
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            limits=self._limits,
            loop=asyncio.get_running_loop(),
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            **self._handler_kwargs,
        )
