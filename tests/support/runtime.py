"""An operation ``Runtime`` for unit tests of ``heketipy.operations``: the mock executor, a
SQLite store in the test's temporary directory, no HTTP. Helpers build a small topology with
the operations themselves and wait for the background work they start."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from heketipy.config import load_settings
from heketipy.executors.mock import MockExecutor
from heketipy.operations import clusters, nodes
from heketipy.operations.jobs import Job
from heketipy.operations.runtime import Runtime
from heketipy.operations.volumes import VolumeSpec
from heketipy.store.sqlite import Store


@contextlib.asynccontextmanager
async def mock_runtime(
    tmp_path: Path, *, max_inflight: int = 8, wait_queue_size: int = 16, **glusterfs: Any
) -> AsyncIterator[Runtime]:
    """A runtime over an empty database; ``glusterfs`` overrides heketi.json settings."""
    config = {
        "use_auth": False,
        "glusterfs": {
            "executor": "mock",
            "db": str(tmp_path / "heketi.db"),
            "max_inflight_operations": max_inflight,
            **glusterfs,
        },
        "heketipy": {"data_dir": str(tmp_path), "wait_queue_size": wait_queue_size},
    }
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps(config))
    settings = load_settings(str(path), {})
    store = Store(settings.glusterfs.db)
    state = await store.open()
    rt = Runtime(state, store, MockExecutor(), settings)
    try:
        yield rt
    finally:
        await rt.jobs.drain()
        await store.close()


async def finished(rt: Runtime, queue_id: str) -> Job:
    """The job behind ``queue_id`` once it has ended (its result collected, as /queue does)."""
    while True:
        await rt.jobs.wait(queue_id, 5.0)
        job = rt.jobs.get(queue_id)
        assert job is not None, f"no job {queue_id}"
        if job.done:
            return job


async def succeeded(rt: Runtime, queue_id: str) -> str | None:
    """The Location of a job that must have succeeded."""
    job = await finished(rt, queue_id)
    assert job.error is None, job.error
    return job.location


async def topology(rt: Runtime, nodes_count: int = 3, *, block: bool = True) -> str:
    """One cluster of ``nodes_count`` nodes in their own zones, one device each; its id."""
    cluster = await clusters.create_cluster(rt, file=True, block=block)
    for i in range(1, nodes_count + 1):
        location = await succeeded(rt, await nodes.add_node(
            rt, cluster.id, i, [f"node{i}.example.test"], [f"10.0.0.{i}"], {},
        ))
        assert location is not None
        node_id = location.rsplit("/", 1)[1]
        await succeeded(rt, await nodes.add_device(rt, node_id, "/dev/sdb", {}, False))
    return cluster.id


def volume_spec(
    size_gib: int = 5, *, durability: str = "replicate", replica: int = 3, data: int = 0,
    redundancy: int = 0, name: str = "", block: bool = False, clusters: list[str] | None = None,
) -> VolumeSpec:
    """A volume create request as the route hands it to ``operations.volumes``."""
    return VolumeSpec(
        size_gib=size_gib, name=name, cluster_ids=list(clusters or []),
        durability_echo={"type": durability}, durability=durability,
        replica=replica if durability == "replicate" else 1, data=data, redundancy=redundancy,
        gid=0, request_options=[], block=block, snapshot_enable=False, snapshot_factor=1.0,
    )
