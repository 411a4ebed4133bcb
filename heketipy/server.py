"""Server assembly: settings -> aiohttp app whose resources live in ``cleanup_ctx``; signals.

Each resource the server holds (the Kubernetes Secret backup, the store, the executor, the
operation runtime, the node health monitor, the background drift scan) is acquired by one ``cleanup_ctx`` generator, in
that order, and released by the same generator. aiohttp runs them when the app starts and
unwinds the ones that started, in reverse order, when the runner is cleaned up: also when a
later one failed to start, so a failed start-up still closes the store (and with it the
database lock) and the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from heketipy.api import listen
from heketipy.api.app import KUBE_BACKUP, RUNTIME, SERVER, create_app
from heketipy.api.connections import GuardedAppRunner
from heketipy.config import Settings
from heketipy.domain.state import State
from heketipy.executors.base import Executor
from heketipy.operations import drift_scan, monitor
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup, marker
from heketipy.store.sqlite import Store
from heketipy.wiring import create_executor

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
                await backup.close(store)
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


async def serve(
    settings: Settings, *, announce: str | None = None, init_db: bool = False
) -> None:
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
    runner = GuardedAppRunner(app, settings.heketipy.http, access_log=None)
    try:
        for signum, handler in handlers.items():
            loop.add_signal_handler(signum, handler)
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
        for signum in handlers:
            loop.remove_signal_handler(signum)
        for sock in sockets:
            sock.close()
