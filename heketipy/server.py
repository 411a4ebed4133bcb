"""Server assembly: settings -> executor, store, runtime, recovery, aiohttp app; signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from aiohttp import web

from heketipy.api.app import KUBE_BACKUP, SERVER, create_app
from heketipy.api.connections import GuardedAppRunner
from heketipy.executors.factory import create_executor
from heketipy.operations import monitor
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup, marker
from heketipy.store.sqlite import Store

log = logging.getLogger("heketipy.server")
MONITOR_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("monitor", asyncio.Task)


async def build(settings: Any, *, init_db: bool = False) -> tuple[web.Application, Runtime]:
    data_dir = settings.heketipy.data_dir
    backup = kube_backup.from_settings(settings)
    await kube_backup.restore_if_missing(settings.glusterfs.db, backup)
    marker.check_before_open(settings.glusterfs.db, data_dir, init_db=init_db)
    executor = create_executor(settings)
    if hasattr(executor, "start"):
        await executor.start()
    store = Store(settings.glusterfs.db)
    state = await store.open()
    marker.record_after_open(settings.glusterfs.db, data_dir, state.attributes["DB_GENERATION_ID"])
    for node in state.nodes.values():
        executor.register_node(node.manage, node.storage)
    runtime = Runtime(
        state,
        store,
        executor,
        settings,
        max_inflight=settings.glusterfs.max_inflight_operations or 8,
        wait_queue_size=settings.heketipy.wait_queue_size,
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
    app, _runtime = await build(settings, init_db=init_db)
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
    ssl_context = None
    if settings.enable_tls:
        import ssl

        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(settings.cert_file, settings.key_file)
    site = web.TCPSite(runner, settings.listen, int(settings.port), ssl_context=ssl_context)
    await site.start()
    if announce:
        print(announce, flush=True)
    log.info("heketipy listening on %s:%s", settings.listen, settings.port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
