"""How the bricks gluster made for a clone are read back (operations.volumes.clone_brick_layout):
glusterd's real layout, as seen on glusterd 10.3 with the testbed's thin snapshots."""

from __future__ import annotations

from heketipy.domain.entities import Brick, new_id
from heketipy.executors.base import GlusterBrick, GlusterVolume
from heketipy.operations.volumes import clone_brick_layout

UUID = "f1026824203a4a67b769449f12fb4fe8"


def _planned(nodes: list[str]) -> list[Brick]:
    return [
        Brick(id=new_id(), volume_id="v", device_id=f"dev{node}", node_id=node, size_kib=1,
              tp_size_kib=0, pool_metadata_kib=0)
        for node in nodes
    ]  # fmt: skip


def _served(count: int, prefix: str = f"/run/gluster/snaps/{UUID}") -> GlusterVolume:
    return GlusterVolume(
        name="c", bricks=tuple(
            GlusterBrick(host=f"h{i}", path=f"{prefix}/brick{i + 1}/brick") for i in range(count)
        ),
    )  # fmt: skip


def test_lv_numbers_count_per_node_while_paths_count_the_volume() -> None:
    # 2 x 3 over three nodes: paths brick1..brick6, LVs <uuid>_0 then <uuid>_1 on each node
    planned = _planned(["a", "b", "c", "a", "b", "c"])
    layout = clone_brick_layout(planned, _served(6))
    assert layout is not None
    assert [b.id for b in layout] == [b.id for b in planned]
    assert [b.lv for b in layout] == [f"{UUID}_{k}" for k in (0, 0, 0, 1, 1, 1)]
    assert [b.served_path for b in layout] == [
        f"/run/gluster/snaps/{UUID}/brick{n}/brick" for n in range(1, 7)
    ]


def test_paths_in_no_known_layout_are_not_adopted() -> None:
    assert clone_brick_layout(_planned(["a"]), _served(1, "/srv/elsewhere")) is None
    assert clone_brick_layout(_planned(["a", "b"]), _served(1)) is None
