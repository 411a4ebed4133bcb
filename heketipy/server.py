"""Server assembly: settings -> executor, store, runtime, recovery, aiohttp app; signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from aiohttp import web

from heketipy.api import listen
from heketipy.api.app import KUBE_BACKUP, SERVER, create_app
from heketipy.api.connections import GuardedAppRunner
from heketipy.operations import monitor
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup, marker
from heketipy.wiring import create_executor

log = logging.getLogger("heketipy.server")
MONITOR_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("monitor", asyncio.Task)


async def build(settings: Any, *, init_db: bool = False) -> tuple[web.Application, Runtime]:
    data_dir = settings.heketipy.data_dir
    backup = kube_backup.from_settings(settings)
    store, state = await marker.open_guarded(
        settings.glusterfs.db, data_dir, backup, init_db=init_db
    )
    executor = create_executor(settings)
    if hasattr(executor, "start"):
        await executor.start()
    for node in state.nodes.values():
        executor.register_node(node.manage, node.storage)
    runtime = Runtime(
        state,
        store,
        executor,
        settings,
        max_inflight=settings.glusterfs.max_inflight_operations or 8,
        wait_queue_size=settings.heketipy.wait_queue_size,
        queue_result_ttl_s=settings.heketipy.queue_result_ttl_s,
    )
    recovered = await runtime.recover()
    if recovered:
        log.info("recovered %d unfinished operation(s) at start-up", recovered)
    app = create_app(runtime, settings)
    if backup is not None:
        app[KUBE_BACKUP] = backup
    gluster = settings.glusterfs
    if not gluster.disable_monitor_gluster_nodes:

        async def start_monitor(_app: web.Application) -> None:
            task = asyncio.create_task(
                monitor.run(
                    runtime,
                    gluster.start_time_monitor_gluster_nodes,
                    gluster.refresh_time_monitor_gluster_nodes,
                ),
                name="node-health-monitor",
            )
            _app[MONITOR_TASK] = task

        async def stop_monitor(_app: web.Application) -> None:
            task = _app.get(MONITOR_TASK)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        app.on_startup.append(start_monitor)
        app.on_shutdown.append(stop_monitor)

    async def on_cleanup(_app: web.Application) -> None:
        await runtime.jobs.drain()
        if backup is not None:
            await backup.close(store)
        await store.close()
        if hasattr(executor, "close"):
            await executor.close()

    app.on_cleanup.append(on_cleanup)
    return app, runtime


async def serve(settings: Any, *, announce: str | None = None, init_db: bool = False) -> None:
    # TLS and the sockets first: a bad port, address or key must not open the database.
    ssl_context = (
        listen.tls_context(settings.cert_file, settings.key_file) if settings.enable_tls else None
    )
    sockets = listen.bind(settings.listen, int(settings.port))
    try:
        app, _runtime = await build(settings, init_db=init_db)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server_state = app[SERVER]

    def reset_admin_state() -> None:
        log.info("SIGUSR2: admin state reset to normal")
        server_state.admin_state = "normal"

    loop.add_signal_handler(signal.SIGUSR2, reset_admin_state)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    runner = GuardedAppRunner(app, settings.heketipy.http, access_log=None)
    await runner.setup()
    for sock in sockets:
        await web.SockSite(runner, sock, ssl_context=ssl_context).start()
    if announce:
        print(announce, flush=True)
    log.info("heketipy listening on %s:%s", settings.listen, settings.port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
