"""Property tests of space accounting through the real operations (plan, execute, finalize)
with the mock executor: after any sequence of creates, expands, clones and deletes (sources
before or after their clones) every device has used + free == total and used == what its
bricks charge, each thin pool charged exactly once; deleting everything restores all."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heketipy.api.app import RUNTIME
from heketipy.config import load_settings
from heketipy.domain.entities import Cluster, Device, Node, new_id
from heketipy.domain.errors import HeketiError
from heketipy.operations.runtime import Runtime
from heketipy.operations.volumes import (
    CloneVolume,
    CreateVolume,
    DeleteVolume,
    ExpandVolume,
    VolumeSpec,
)
from heketipy.server import build

DEVICE_KIB = 40 * 1024 * 1024

action = st.one_of(
    st.tuples(st.just("create"), st.integers(1, 12), st.sampled_from(["none", "replicate", "disperse"])),
    st.tuples(st.just("expand"), st.integers(0, 20), st.integers(1, 6)),
    st.tuples(st.just("delete"), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("clone"), st.integers(0, 20), st.just(0)),
)


def make_settings(directory: str) -> Any:
    path = Path(directory) / "heketi.json"
    path.write_text(json.dumps({
        "port": "0",
        "jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
        "glusterfs": {"executor": "mock", "db": str(Path(directory) / "heketi.db")},
        "heketipy": {"data_dir": directory},  # the marker registry stays with the test
    }))
    return load_settings(str(path), {})


async def seed_topology(rt: Runtime, zones: int = 3, nodes_per_zone: int = 2) -> None:
    def mutate(tx: Any) -> None:
        cluster = tx.add(Cluster(id=new_id(), file=True, block=True))
        for zone in range(1, zones + 1):
            for n in range(nodes_per_zone):
                node = tx.add(Node(id=new_id(), cluster_id=cluster.id, zone=zone,
                                   manage=[f"n{zone}-{n}"], storage=[f"10.{zone}.0.{n}"]))
                for d in range(2):
                    tx.add(Device(id=new_id(), node_id=node.id, name=f"/dev/sd{d}",
                                  total_kib=DEVICE_KIB, free_kib=DEVICE_KIB))

    await rt.apply(mutate)


async def run_to_end(rt: Runtime, queue_id: str) -> None:
    while True:
        job = rt.jobs.get(queue_id)
        if job is None or job.done:
            return
        await asyncio.sleep(0)


def check_accounting(rt: Runtime) -> None:
    # The incrementally kept listing equals the one derived from scratch.
    assert rt.state.visible_volumes == sorted(
        v.id for v in rt.state.volumes.values() if not v.pending_op
    )
    for device in rt.state.devices.values():
        assert device.used_kib + device.free_kib == device.total_kib
        charged = sum(rt.state.bricks[b].charge_kib for b in rt.state.brick_ids_of_device(device.id))
        assert device.used_kib == charged
        assert device.free_kib >= 0
        pools: dict[str, int] = {}
        for brick_id in rt.state.brick_ids_of_device(device.id):
            brick = rt.state.bricks[brick_id]
            pools[brick.tp_name] = pools.get(brick.tp_name, 0) + (brick.charge_kib > 0)
        assert all(count == 1 for count in pools.values()), pools  # no pool free, none twice
    for volume in rt.state.volumes.values():
        for brick in rt.state.bricks_of_volume(volume.id):
            set_nodes = [b.node_id for b in rt.state.bricks_of_volume(volume.id)
                         if b.set_index == brick.set_index]
            assert len(set_nodes) == len(set(set_nodes)), "a set shares a node"


def spec(size: int, durability: str) -> VolumeSpec:
    return VolumeSpec(
        size_gib=size * (2 if durability == "disperse" else 1), name="", cluster_ids=[],
        durability_echo={"type": durability}, durability=durability,
        replica=3 if durability == "replicate" else 1,
        data=2 if durability == "disperse" else 0,
        redundancy=1 if durability == "disperse" else 0,
        gid=0, request_options=[], block=False, snapshot_enable=False, snapshot_factor=1.0,
    )


async def scenario(actions: list[tuple[str, int, Any]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        runner = web.AppRunner(build(make_settings(directory)))
        await runner.setup()
        rt = runner.app[RUNTIME]
        try:
            await seed_topology(rt)
            for kind, a, b in actions:
                volumes = sorted(rt.state.volumes)
                try:
                    if kind == "create":
                        queue_id = await rt.start(CreateVolume(rt, spec(a, b)))
                    elif kind == "expand" and volumes:
                        volume = rt.state.volumes[volumes[a % len(volumes)]]
                        queue_id = await rt.start(ExpandVolume(rt, volume, b))
                    elif kind == "delete" and volumes:
                        volume = rt.state.volumes[volumes[a % len(volumes)]]
                        queue_id = await rt.start(DeleteVolume(rt, volume))
                    elif kind == "clone" and volumes:
                        volume = rt.state.volumes[volumes[a % len(volumes)]]
                        queue_id = await rt.start(CloneVolume(rt, volume, ""))
                    else:
                        continue
                except HeketiError:
                    check_accounting(rt)  # a refused plan changes nothing
                    continue
                await run_to_end(rt, queue_id)
                check_accounting(rt)
            for volume_id in sorted(rt.state.volumes):
                await run_to_end(rt, await rt.start(DeleteVolume(rt, rt.state.volumes[volume_id])))
            check_accounting(rt)
            assert rt.state.bricks == {} and rt.state.operations == {}
            for device in rt.state.devices.values():
                assert device.free_kib == device.total_kib
        finally:
            await runner.cleanup()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=15))
def test_space_is_accounted_after_any_sequence(actions: list[tuple[str, int, Any]]) -> None:
    asyncio.run(scenario(actions))
