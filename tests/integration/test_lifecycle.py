"""The server's start-up and shut-down: whatever started is closed again, also when a later
part of the start-up fails (the database lock released, the executor and the Secret backup
closed, no task left)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from heketipy import server
from heketipy.api.app import RUNTIME
from heketipy.operations.runtime import Runtime
from heketipy.store import kube_backup, marker
from tests.integration.test_operations import settings_for


class ExecutorSpy:
    """Wraps the configured executor's ``create_executor``; remembers what it built."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail_start: bool = False) -> None:
        self.built: list[Any] = []
        self.closed = 0
        inner = server.create_executor

        def create(settings: Any) -> Any:
            executor = inner(settings)
            close = executor.close

            async def failing_start() -> None:
                raise RuntimeError("executor start failed")

            async def counted_close() -> None:
                self.closed += 1
                await close()

            if fail_start:
                executor.start = failing_start
            executor.close = counted_close
            self.built.append(executor)
            return executor

        monkeypatch.setattr(server, "create_executor", create)


async def assert_database_free(settings: Any) -> None:
    """Another server can open the database: the first one's lock is gone."""
    runner = web.AppRunner(server.build(settings))
    await runner.setup()
    try:
        assert runner.app[RUNTIME].store is not None
    finally:
        await runner.cleanup()


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def failing_recover(self: Runtime, only: set[str] | None = None) -> int:
    raise RuntimeError("recovery failed")


@pytest.mark.parametrize("failing", ["executor start", "recovery"])
async def test_a_failed_start_up_closes_the_store_and_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    settings = settings_for(tmp_path)
    spy = ExecutorSpy(monkeypatch, fail_start=failing == "executor start")
    if failing == "recovery":  # a step after the executor's
        monkeypatch.setattr(Runtime, "recover", failing_recover)
    with pytest.raises(RuntimeError, match=f"{failing} failed"):
        await server.serve(settings)
    assert len(spy.built) == 1 and spy.closed == 1
    assert other_tasks() == set()
    monkeypatch.undo()
    await assert_database_free(settings)


async def test_a_stopped_server_closes_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    spy = ExecutorSpy(monkeypatch)
    runner = web.AppRunner(server.build(settings))
    await runner.setup()
    try:
        assert runner.app[RUNTIME].executor is spy.built[0]
        assert spy.closed == 0
    finally:
        await runner.cleanup()
    assert spy.closed == 1
    assert other_tasks() == set()
    await assert_database_free(settings)


async def test_a_refused_database_closes_the_secret_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    marker.marker_path(settings.heketipy.data_dir).write_text("[]")  # corrupt: refused
    backups: list[kube_backup.KubeDbBackup] = []
    closed: list[object] = []

    def configured_backup(_settings: Any) -> kube_backup.KubeDbBackup:
        # Never contacted: start-up stops at the database marker.
        backup = kube_backup.KubeDbBackup(
            kube_backup.KubeApi("http://127.0.0.1:9", "ns"), _settings.kube_db_secret_name
        )
        close = backup.close

        async def counted_close(store: Any = None) -> None:
            closed.append(store)
            await close(store)

        backup.close = counted_close  # type: ignore[method-assign]
        backups.append(backup)
        return backup

    monkeypatch.setattr(kube_backup, "from_settings", configured_backup)
    with pytest.raises(marker.RefusedDatabase, match="corrupt"):
        await server.serve(settings)
    assert len(backups) == 1 and closed == [None]
    assert other_tasks() == set()
