"""A fenced store (its server lost leadership) commits nothing: later commits fail, queued ones
fail, and a batch the writer thread is in is rolled back before COMMIT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heketipy.domain.entities import Cluster
from heketipy.domain.state import State, Transaction
from heketipy.store.sqlite import Store, StoreFenced


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[tuple[Store, State]]:
    """An open store; each test closes it before it reads the file back."""
    store = Store(str(tmp_path / "heketi.db"))
    state = await store.open()
    try:
        yield store, state
    finally:
        if store._conn is not None:  # the test failed before it closed the store
            await store.close()


def _cluster_tx(state: State, letter: str) -> Transaction:
    tx = Transaction(state)
    tx.add(Cluster(id=letter * 32, file=True, block=True))
    return tx


async def _stored_clusters(path: str) -> set[str]:
    store = Store(path)
    try:
        return set((await store.open()).clusters)
    finally:
        await store.close()


async def test_no_commit_reaches_the_database_after_the_fence(
    tmp_path: Path, opened: tuple[Store, State]
) -> None:
    store, state = opened
    await store.commit(_cluster_tx(state, "a"))
    store.fence()
    assert store.fenced
    with pytest.raises(StoreFenced, match="lost leadership"):
        await store.commit(_cluster_tx(state, "b"))
    await store.close()
    assert await _stored_clusters(store.path) == {"a" * 32}


async def test_a_batch_in_the_writer_is_rolled_back_when_fenced_before_commit(
    opened: tuple[Store, State],
) -> None:
    store, state = opened
    conn = store._conn
    assert conn is not None
    real_execute = conn.execute

    class FencesMidBatch:
        """The connection, fencing the store as the batch's last statement runs."""

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT OR REPLACE INTO clusters"):
                store.fence()  # leadership is lost while the writer thread is in the batch
            return real_execute(sql, *args)

    store._conn = FencesMidBatch()  # type: ignore[assignment]
    try:
        with pytest.raises(StoreFenced):
            await store.commit(_cluster_tx(state, "c"))
    finally:
        store._conn = conn
    await store.close()
    assert await _stored_clusters(store.path) == set()
