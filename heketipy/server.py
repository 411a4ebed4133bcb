"""Server assembly: settings -> aiohttp app whose resources live in ``cleanup_ctx``; signals.

Each resource the server holds (the Kubernetes Secret backup, the store, the executor, the
operation runtime, the node health monitor, the background drift scan) is acquired by one ``cleanup_ctx`` generator, in
that order, and released by the same generator. aiohttp runs them when the app starts and
unwinds the ones that started, in reverse order, when the runner is cleaned up: also when a
later one failed to start, so a failed start-up still closes the store (and with it the
database lock) and the executor.

With ``heketipy.ha.enabled`` (``serve_ha``) the sockets are served at once by a second app
instance of the same routes in the standby role (probes answer, everything else 503), while
the server waits in ``Leadership.acquire``. Once leadership is ours the full app starts as
above (the database and the simulator's nodes loaded fresh, unfinished operations recovered),
takes the sockets over, and serves until ``hold`` returns: then it fences itself (``fence``:
refuse requests, the store commits nothing more) and ``serve`` raises ``LeadershipLost`` so
the process exits non-zero and comes back as a fresh standby. A clean stop releases
leadership so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from heketipy.api import listen
from heketipy.api.app import (
    KUBE_BACKUP,
    ROLE_ACTIVE,
    ROLE_FENCED,
    ROLE_STANDBY,
    ROLE_STARTING,
    RUNTIME,
    SERVER,
    create_app,
)
from heketipy.api.connections import GuardedAppRunner
from heketipy.config import Settings
from heketipy.domain.state import State
from heketipy.executors.base import Executor
from heketipy.ha import factory as ha_factory
from heketipy.ha.leadership import Leadership
from heketipy.operations import drift_scan, monitor, replica_sets
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup, marker
from heketipy.store.sqlite import Store
from heketipy.wiring import SimulatorExecutor, create_executor

log = logging.getLogger("heketipy.server")

# What one start-up step hands to the next (the runtime itself is ``api.app.RUNTIME``).
DATABASE: web.AppKey[tuple[Store, State]] = web.AppKey("database", tuple)
EXECUTOR: web.AppKey[Executor] = web.AppKey("executor")
MONITOR_TASK: web.AppKey[asyncio.Task[None] | None] = web.AppKey("monitor")
DRIFT_SCAN_TASK: web.AppKey[asyncio.Task[None] | None] = web.AppKey("drift_scan")

Resource = Callable[[web.Application], AsyncIterator[None]]


async def kube_secret_backup(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """The database backup in Kubernetes Secrets, when configured (else None)."""
    backup = kube_backup.from_settings(settings)
    app[KUBE_BACKUP] = backup
    try:
        yield
    finally:
        if backup is not None:
            await backup.close()


async def database(
    app: web.Application, settings: Settings, *, init_db: bool
) -> AsyncIterator[None]:
    """The store, opened under its lock (and restored from the backup if missing)."""
    backup = app[KUBE_BACKUP]
    store, state = await marker.open_guarded(
        settings.glusterfs.db, settings.heketipy.data_dir, backup, init_db=init_db
    )
    app[DATABASE] = (store, state)
    try:
        yield
    finally:
        try:
            if backup is not None:  # one last backup of what the store holds now
                await backup.close(None if store.fenced else store)
        finally:
            await store.close()


async def executor(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """The executor of the configured kind, started and told every node's addresses."""
    _store, state = app[DATABASE]
    built = create_executor(settings)
    try:
        await built.start()
        for node in state.nodes.values():
            built.register_node(node.manage, node.storage)
        app[EXECUTOR] = built
        yield
    finally:
        await built.close()


async def runtime(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """The operation runtime; unfinished operations are recovered before the first request."""
    store, state = app[DATABASE]
    built = Runtime(state, store, app[EXECUTOR], settings)
    app[RUNTIME] = built
    try:
        recovered = await built.recover()
        if recovered:
            log.info("recovered %d unfinished operation(s) at start-up", recovered)
        # An imported database's replica sets are a guess until gluster has been read.
        await replica_sets.verify_unverified(built)
        # This server is the active one from here on (heketipy_leader).
        built.metrics.set_leader(True)
        yield
    finally:
        await built.jobs.drain()


async def health_monitor(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """The node health monitor task, unless the configuration turns it off."""
    gluster = settings.glusterfs
    task = None
    if not gluster.disable_monitor_gluster_nodes:
        task = asyncio.create_task(
            monitor.run(
                app[RUNTIME],
                gluster.start_time_monitor_gluster_nodes,
                gluster.refresh_time_monitor_gluster_nodes,
            ),
            name="node-health-monitor",
        )
    app[MONITOR_TASK] = task
    try:
        yield
    finally:
        await _stopped(task)


async def background_drift_scan(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """The periodic drift scan feeding the metrics, unless its interval is 0."""
    interval_s = settings.drift_scan_every_s
    task = None
    if interval_s > 0:
        task = asyncio.create_task(
            drift_scan.run(app[RUNTIME], interval_s), name="background-drift-scan"
        )
    app[DRIFT_SCAN_TASK] = task
    try:
        yield
    finally:
        await _stopped(task)


async def _stopped(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def resources(settings: Settings, *, init_db: bool = False) -> list[Resource]:
    """The start-up steps in order; each one's clean-up undoes only what it acquired."""
    return [
        functools.partial(kube_secret_backup, settings=settings),
        functools.partial(database, settings=settings, init_db=init_db),
        functools.partial(executor, settings=settings),
        functools.partial(runtime, settings=settings),
        functools.partial(health_monitor, settings=settings),
        functools.partial(background_drift_scan, settings=settings),
    ]


def build(settings: Settings, *, init_db: bool = False) -> web.Application:
    """The app; its resources are acquired when a runner starts it (``app[RUNTIME]`` then)."""
    app = create_app(settings)
    app.cleanup_ctx.extend(resources(settings, init_db=init_db))
    return app


class LeadershipLost(Exception):
    """The active server lost leadership and fenced itself; the process must exit non-zero."""


async def fence(app: web.Application) -> None:
    """Stop acting as the active server, at once: every request but the probes gets 503, the
    store commits nothing from now on, the simulator's nodes stop saving their state, the
    health monitor and every running operation are cancelled."""
    app[SERVER].role = ROLE_FENCED
    database_opened = app.get(DATABASE)
    if database_opened is not None:
        database_opened[0].fence()
    built = app.get(EXECUTOR)
    if isinstance(built, SimulatorExecutor):
        built.nodes.stop_saving()
    task = app.get(MONITOR_TASK)
    if task is not None:
        task.cancel()
    rt = app.get(RUNTIME)
    if rt is not None:
        await rt.jobs.drain()


def _listen_on(
    runner: web.BaseRunner, sockets: list[socket.socket], ssl_context: ssl.SSLContext | None
) -> list[web.SockSite]:
    # Each site gets its own descriptor of the listening socket: stopping the standby's sites
    # closes theirs, not the one the active's sites accept on.
    return [web.SockSite(runner, sock.dup(), ssl_context=ssl_context) for sock in sockets]


async def _first(*awaitables: asyncio.Future[Any]) -> None:
    await asyncio.wait(awaitables, return_when=asyncio.FIRST_COMPLETED)


async def _stop_task(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _cleanup(*runners: web.BaseRunner) -> None:
    for runner in runners:
        await runner.cleanup()


async def serve_ha(
    settings: Settings,
    app: web.Application,
    sockets: list[socket.socket],
    ssl_context: ssl.SSLContext | None,
    leadership: Leadership,
    stop: asyncio.Event,
    announce: str | None,
) -> None:
    """Standby until ``leadership`` is acquired, then the active server (see the module)."""
    http = settings.heketipy.http
    standby = create_app(settings)
    standby[SERVER].role = ROLE_STANDBY
    standby_runner = GuardedAppRunner(standby, http, access_log=None)
    runner = GuardedAppRunner(app, http, access_log=None)
    stopping = asyncio.ensure_future(stop.wait())
    holding: asyncio.Future[None] | None = None
    lost = False
    try:
        await standby_runner.setup()
        for site in _listen_on(standby_runner, sockets, ssl_context):
            await site.start()
        if announce:
            print(announce, flush=True)
        log.info("heketipy standby %s listening on %s:%s; waiting for leadership",
                 leadership.identity, settings.listen, settings.port)
        acquiring = asyncio.ensure_future(leadership.acquire())
        await _first(acquiring, stopping)
        if not acquiring.done():
            await _stop_task(acquiring)
            return
        acquiring.result()
        log.info("%s acquired leadership: loading the database", leadership.identity)
        standby[SERVER].role = ROLE_STARTING
        holding = asyncio.ensure_future(leadership.hold())
        starting = asyncio.ensure_future(runner.setup())
        await _first(starting, holding, stopping)
        if not starting.done():  # lost (or told to stop) while loading: never serve
            lost = holding.done()
            await fence(app)
            await _stop_task(starting)
            await fence(app)  # also what the start-up opened before it was cancelled
        else:
            starting.result()
            for site in _listen_on(runner, sockets, ssl_context):
                await site.start()
            await standby_runner.cleanup()
            app[SERVER].role = ROLE_ACTIVE
            log.info("%s is the active server", leadership.identity)
            await _first(holding, stopping)
            lost = holding.done()
        if lost:
            log.error("%s lost leadership: fencing (no more writes) and exiting",
                      leadership.identity)
            await fence(app)
    finally:
        await _stop_task(stopping)
        if holding is not None:
            await _stop_task(holding)
        if lost:
            # Nothing to give back after losing it; the clean-up is bounded because a hung
            # mount may never let the store close (the process exits all the same).
            try:
                async with asyncio.timeout(settings.heketipy.ha.renew_deadline_s):
                    await _cleanup(runner, standby_runner)
            except TimeoutError:
                log.error("clean-up after fencing did not finish; exiting without it")
        else:
            try:
                await _cleanup(runner, standby_runner)
            finally:
                await leadership.release()
    if lost:
        raise LeadershipLost(
            f"{leadership.identity} lost leadership and fenced itself; exiting so that it "
            "restarts as a standby"
        )


async def serve(
    settings: Settings,
    *,
    announce: str | None = None,
    init_db: bool = False,
    leadership: Leadership | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT. With ``heketipy.ha.enabled`` as a standby first, under
    ``leadership`` (by default the mechanisms ``heketipy.ha.factory`` picks)."""
    # TLS and the sockets first: a bad port, address or key must not open the database.
    ssl_context = (
        listen.tls_context(settings.cert_file, settings.key_file) if settings.enable_tls else None
    )
    sockets = listen.bind(settings.listen, int(settings.port))
    app = build(settings, init_db=init_db)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server_state = app[SERVER]

    def reset_admin_state() -> None:
        log.info("SIGUSR2: admin state reset to normal")
        server_state.admin_state = "normal"

    handlers = {signal.SIGUSR2: reset_admin_state, signal.SIGTERM: stop.set,
                signal.SIGINT: stop.set}
    try:
        for signum, handler in handlers.items():
            loop.add_signal_handler(signum, handler)
        if settings.heketipy.ha.enabled:
            chosen = leadership or ha_factory.leadership(settings)
            await serve_ha(settings, app, sockets, ssl_context, chosen, stop, announce)
        else:
            await _serve_single(settings, app, sockets, ssl_context, stop, announce)
    finally:
        for signum in handlers:
            loop.remove_signal_handler(signum)
        for sock in sockets:
            sock.close()


async def _serve_single(
    settings: Settings,
    app: web.Application,
    sockets: list[socket.socket],
    ssl_context: ssl.SSLContext | None,
    stop: asyncio.Event,
    announce: str | None,
) -> None:
    """The server without heketipy.ha: the database is opened before anything is served."""
    runner = GuardedAppRunner(app, settings.heketipy.http, access_log=None)
    try:
        # Starts the app: its cleanup_ctx opens the store, the executor, the runtime.
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock, ssl_context=ssl_context).start()
        if announce:
            print(announce, flush=True)
        log.info("heketipy listening on %s:%s", settings.listen, settings.port)
        await stop.wait()
    finally:
        # Also after a failed start-up: unwinds whatever of the app's resources started.
        await runner.cleanup()
