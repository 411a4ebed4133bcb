"""The simulated ``gluster``/``gluster-block`` command lines (heketipy/simulator/gluster_cli.py).

Every argv comes from the real builders of ``executors/commands_gluster.py`` and every answer is
read back with the real parsers RemoteExecutor uses; the last tests run RemoteExecutor itself
over a runner that hands the gluster argv to the simulator.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

import pytest

from heketipy.domain.errors import NodeCommandError
from heketipy.executors import commands_gluster as gcmd
from heketipy.executors.base import (
    BlockVolumeRequest,
    BrickAddress,
    VolumeDoesNotExist,
    VolumeRequest,
)
from heketipy.executors.commands_common import CommandOptions, UnsafeArgument
from heketipy.executors.remote import RemoteExecutor
from heketipy.executors.runner import CommandResult
from heketipy.simulator import gluster_cli
from heketipy.simulator import node as sim_node
from heketipy.simulator.gluster import GLUSTERD_DOWN
from heketipy.simulator.state import NodeState, SimState

OPTIONS = CommandOptions()
HOSTS = ("n1", "n2", "n3", "n4", "n5", "n6")
GIB_KIB = 1024 * 1024
UNRECOGNIZED = "unrecognized word: frobnicate (position 1)"


def vg_of(host: str) -> str:
    return f"vg_{(host * 32)[:32]}"


def add_node(state: SimState, host: str) -> NodeState:
    node = state.nodes[host] = NodeState(host=host)
    sim_node.ensure_disk(node, "/dev/sdb", 100 * GIB_KIB)
    sim_node.pvcreate(node, "/dev/sdb")
    sim_node.vgcreate(node, vg_of(host), "/dev/sdb")
    return node


def make_brick(state: SimState, host: str, size_gib: int = 10) -> BrickAddress:
    """A brick as brick_create leaves it: thin LV, xfs, mounted, brick directory inside."""
    node = state.nodes[host]
    brick_id = uuid.uuid4().hex
    vg = vg_of(host)
    sim_node.lvcreate_pool(node, vg, f"tp_{brick_id}", size_gib * GIB_KIB, 16384)
    sim_node.lvcreate_thin_lv(node, vg, f"tp_{brick_id}", f"brick_{brick_id}", size_gib * GIB_KIB)
    device = sim_node.dm_path(vg, f"brick_{brick_id}")
    sim_node.mkfs_xfs(node, device)
    mount_point = f"/var/lib/heketi/mounts/{vg}/brick_{brick_id}"
    sim_node.mkdir_p(node, mount_point)
    sim_node.mount(node, device, mount_point)
    sim_node.mkdir_in_mount(node, f"{mount_point}/brick")
    return BrickAddress(host, f"{mount_point}/brick")


def run(state: SimState, host: str, argv: Sequence[str]) -> tuple[int, str, str]:
    return gluster_cli.run(state, state.nodes[host], argv)


def ok(state: SimState, host: str, argv: Sequence[str]) -> str:
    exit_code, stdout, stderr = run(state, host, argv)
    assert (exit_code, stderr) == (0, ""), (argv, exit_code, stdout, stderr)
    return stdout


@pytest.fixture
def state() -> SimState:
    """Six nodes in one trusted pool, probed from n1."""
    state = SimState()
    for host in HOSTS:
        add_node(state, host)
    for host in HOSTS[1:]:
        assert ok(state, "n1", gcmd.peer_probe(OPTIONS, host)) == "peer probe: success\n"
    return state


def replica3(state: SimState, name: str = "vol_a", sets: int = 1, arbiter: bool = False):
    bricks = tuple(make_brick(state, HOSTS[i % 3 + 3 * (i // 3 % 2)]) for i in range(3 * sets))
    return VolumeRequest(
        name=name, bricks=bricks, durability="replicate", replica=3, arbiter=arbiter
    )


def create(state: SimState, request: VolumeRequest) -> None:
    """The argv sequence RemoteExecutor.volume_create issues, without the start."""
    ok(state, "n1", gcmd.volume_create(OPTIONS, request))
    rest = request.bricks[gcmd.set_size(request) :]
    for words in gcmd.add_brick_groups(request, rest):
        ok(state, "n1", gcmd.volume_add_brick(OPTIONS, request.name, words))


def info(state: SimState, name: str):
    return gcmd.parse_volume_info(ok(state, "n1", gcmd.volume_info(OPTIONS, name)))[0]


def info_fields(state: SimState, name: str) -> dict[str, str]:
    root = ElementTree.fromstring(ok(state, "n1", gcmd.volume_info(OPTIONS, name)))
    volume = root.find("volInfo/volumes/volume")
    assert volume is not None
    return {child.tag: (child.text or "") for child in volume if len(child) == 0}


def lv_names(state: SimState) -> set[tuple[str, str]]:
    return {(n.host, lv) for n in state.nodes.values() for vg in n.vgs.values() for lv in vg.lvs}


def pool_volumes(state: SimState):
    return state.pools[state.nodes["n1"].pool].volumes


# -- peers -----------------------------------------------------------------------------------


def test_peer_probe_joins_the_pool_and_peer_status_lists_the_peers(state: SimState) -> None:
    pool = state.pools[state.nodes["n1"].pool]
    assert pool.members == list(HOSTS)
    assert all(state.nodes[h].pool == pool.id for h in HOSTS)
    peers = gcmd.parse_peer_status(ok(state, "n1", gcmd.peer_status(OPTIONS)))
    assert [p.hostname for p in peers] == list(HOSTS[1:])
    assert all(p.connected and p.state == "Peer in Cluster" for p in peers)
    assert len({p.uuid for p in peers}) == len(peers)
    state.nodes["n3"].glusterd_down = True
    peers = gcmd.parse_peer_status(ok(state, "n1", gcmd.peer_status(OPTIONS)))
    assert [p.connected for p in peers] == [True, False, True, True, True]


def test_peer_probe_of_itself_or_a_peer_needs_nothing(state: SimState) -> None:
    assert ok(state, "n1", gcmd.peer_probe(OPTIONS, "n1")) == (
        "peer probe: Probe on localhost not needed\n"
    )
    assert ok(state, "n1", gcmd.peer_probe(OPTIONS, "n2")) == (
        "peer probe: Host n2 port 24007 already in peer list\n"
    )


def test_peer_probe_of_a_node_without_glusterd_fails(state: SimState) -> None:
    add_node(state, "n7").glusterd_down = True
    assert run(state, "n1", gcmd.peer_probe(OPTIONS, "n7")) == (
        1, "", "peer probe: failed: Probe returned with Transport endpoint is not connected\n"
    )  # fmt: skip


def test_peer_detach(state: SimState) -> None:
    assert ok(state, "n1", gcmd.peer_detach(OPTIONS, "n6")) == "peer detach: success\n"
    assert "n6" not in state.pools[state.nodes["n1"].pool].members
    assert run(state, "n1", gcmd.peer_detach(OPTIONS, "n6")) == (
        1, "", "peer detach: failed: n6 is not part of cluster\n"
    )  # fmt: skip
    assert run(state, "n1", gcmd.peer_detach(OPTIONS, "n1")) == (
        1, "", "peer detach: failed: n1 is localhost\n"
    )  # fmt: skip
    create(state, replica3(state))
    exit_code, _, stderr = run(state, "n1", gcmd.peer_detach(OPTIONS, "n2"))
    assert exit_code == 1 and stderr.startswith("peer detach: failed: Peer n2 hosts one or more")


def test_snapshot_limit_after_probe(state: SimState) -> None:
    options = CommandOptions(snapshot_limit=14)
    assert ok(state, "n1", gcmd.snapshot_limit(options)) == (
        "snapshot config: snap-max-hard-limit for System set successfully\n"
    )


# -- glusterd down and unknown words ---------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        gcmd.volume_info(OPTIONS),
        gcmd.volume_info(OPTIONS, "vol_a"),
        gcmd.volume_start(OPTIONS, "vol_a"),
        gcmd.peer_probe(OPTIONS, "n2"),
        gcmd.peer_status(OPTIONS),
        gcmd.heal_info(OPTIONS, "vol_a"),
        gcmd.snapshot_create(OPTIONS, "s", "vol_a"),
    ],
)
def test_glusterd_down_answers_connection_failed_on_stdout(
    state: SimState, argv: list[str]
) -> None:
    state.nodes["n1"].glusterd_down = True
    exit_code, stdout, stderr = run(state, "n1", argv)
    assert (exit_code, stdout, stderr) == (1, GLUSTERD_DOWN + "\n", "")
    # RemoteExecutor reports stdout when stderr is empty; --xml readers find no XML in it.
    with pytest.raises(Exception, match="no XML"):
        gcmd.parse_cli_status(stdout)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["gluster", "--mode=script", "volume", "frobnicate", "x"], UNRECOGNIZED),
        (["gluster", "--mode=script", "frobnicate"], "unrecognized word: frobnicate (position 0)"),
        (["gluster", "--mode=script", "snapshot", "frobnicate"], UNRECOGNIZED),
    ],
)
def test_unknown_words_are_refused_as_gluster_does(
    state: SimState, argv: list[str], expected: str
) -> None:
    exit_code, stdout, stderr = run(state, "n1", argv)
    assert exit_code == 1 and stderr == ""
    assert stdout.startswith(expected + "\n\n Usage: gluster [options]")


def test_other_programs_are_not_gluster(state: SimState) -> None:
    assert run(state, "n1", ["lvs"])[0] == 127


# -- volume create, add-brick, info ----------------------------------------------------------


def test_replica_volume_create_and_info(state: SimState) -> None:
    request = replica3(state)
    assert ok(state, "n1", gcmd.volume_create(OPTIONS, request)) == (
        "volume create: vol_a: success: please start the volume to access data\n"
    )
    volume = pool_volumes(state)["vol_a"]
    assert (volume.type, volume.replica, volume.status) == ("replicate", 3, "Created")
    parsed = info(state, "vol_a")
    assert parsed.name == "vol_a" and parsed.id == volume.id and parsed.status == "Created"
    assert [(b.host, b.path) for b in parsed.bricks] == [(b.host, b.path) for b in request.bricks]
    fields = info_fields(state, "vol_a")
    assert fields["typeStr"] == "Replicate" and fields["type"] == "2"
    assert (fields["brickCount"], fields["distCount"], fields["replicaCount"]) == ("3", "1", "3")
    assert fields["status"] == "0" and fields["arbiterCount"] == "0"


def test_distributed_replicate_after_add_brick(state: SimState) -> None:
    request = replica3(state, sets=2)
    create(state, request)
    assert len(pool_volumes(state)["vol_a"].bricks) == 6
    fields = info_fields(state, "vol_a")
    # glusterfs 10 (captured): a 2 x 3 volume is type 7, distCount 2
    assert (fields["type"], fields["typeStr"]) == ("7", "Distributed-Replicate")
    assert (fields["brickCount"], fields["distCount"]) == ("6", "2")


def test_arbiter_volume_marks_the_last_brick_of_each_set(state: SimState) -> None:
    request = replica3(state, sets=2, arbiter=True)
    create(state, request)
    stdout = ok(state, "n1", gcmd.volume_info(OPTIONS, "vol_a"))
    assert gcmd.arbiter_bricks(stdout) == [False, False, True] * 2
    assert info_fields(state, "vol_a")["arbiterCount"] == "1"


def test_distribute_and_disperse_volumes(state: SimState) -> None:
    plain = VolumeRequest(name="vol_d", bricks=(make_brick(state, "n1"), make_brick(state, "n1")))
    create(state, plain)
    fields = info_fields(state, "vol_d")
    assert (fields["typeStr"], fields["brickCount"], fields["distCount"]) == (
        "Distribute",
        "2",
        "2",
    )
    bricks = tuple(make_brick(state, h) for h in HOSTS)
    disperse = VolumeRequest(
        name="vol_e", bricks=bricks[:3] + bricks[3:], durability="disperse", data=2, redundancy=1
    )
    create(state, disperse)
    volume = pool_volumes(state)["vol_e"]
    assert (volume.type, volume.data, volume.redundancy, len(volume.bricks)) == (
        "disperse", 2, 1, 6
    )  # fmt: skip
    fields = info_fields(state, "vol_e")
    assert (fields["typeStr"], fields["type"]) == ("Distributed-Disperse", "9")
    assert (fields["disperseCount"], fields["redundancyCount"]) == ("3", "1")


def test_volume_create_refusals(state: SimState) -> None:
    request = replica3(state)
    create(state, request)
    again = run(state, "n1", gcmd.volume_create(OPTIONS, request))
    assert again == (1, "", "volume create: vol_a: failed: Volume vol_a already exists\n")
    taken = VolumeRequest(name="vol_b", bricks=request.bricks[:1])
    exit_code, _, stderr = run(state, "n1", gcmd.volume_create(OPTIONS, taken))
    brick = f"{request.bricks[0].host}:{request.bricks[0].path}"
    assert exit_code == 1 and stderr == (
        f"volume create: vol_b: failed: Brick: {brick} not available. Brick may be containing or "
        "be contained by an existing brick.\n"
    )
    missing = VolumeRequest(name="vol_c", bricks=(BrickAddress("n2", "/nowhere/brick"),))
    exit_code, _, stderr = run(state, "n1", gcmd.volume_create(OPTIONS, missing))
    assert exit_code == 1 and stderr.startswith(
        "volume create: vol_c: failed: Staging failed on n2. Error: Failed to create brick "
        "directory for brick n2:/nowhere/brick. Reason : No such file or directory"
    )
    same_node = VolumeRequest(
        name="vol_d", bricks=tuple(make_brick(state, "n1") for _ in range(3)),
        durability="replicate", replica=3,
    )  # fmt: skip
    exit_code, _, stderr = run(state, "n1", gcmd.volume_create(OPTIONS, same_node))
    assert exit_code == 1 and "Multiple bricks of a replicate volume are present" in stderr
    ok(state, "n1", [*gcmd.volume_create(OPTIONS, same_node), "force"])
    outsider = VolumeRequest(name="vol_e", bricks=(BrickAddress("n9", "/b/brick"),))
    assert run(state, "n1", gcmd.volume_create(OPTIONS, outsider)) == (
        1, "", "volume create: vol_e: failed: Host n9 is not in 'Peer in Cluster' state\n"
    )  # fmt: skip
    assert set(pool_volumes(state)) == {"vol_a", "vol_d"}


def test_add_brick_refusals(state: SimState) -> None:
    request = replica3(state)
    create(state, request)
    one = [gcmd.brick_word(make_brick(state, "n1"))]
    assert run(state, "n1", gcmd.volume_add_brick(OPTIONS, "vol_a", one)) == (
        1, "", "volume add-brick: failed: Incorrect number of bricks supplied 1 with count 3\n"
    )  # fmt: skip
    assert run(state, "n1", gcmd.volume_add_brick(OPTIONS, "nosuch", one)) == (
        1, "", "volume add-brick: failed: Unable to get volinfo for volume name nosuch\n"
    )  # fmt: skip
    assert len(pool_volumes(state)["vol_a"].bricks) == 3


def test_volume_info_of_all_and_of_a_missing_volume(state: SimState) -> None:
    empty = ok(state, "n1", gcmd.volume_info(OPTIONS))
    assert gcmd.parse_volume_info(empty) == [] and gcmd.parse_cli_status(empty).ok
    create(state, replica3(state, "vol_b"))
    create(state, replica3(state, "vol_a"))
    assert [v.name for v in gcmd.parse_volume_info(ok(state, "n2", gcmd.volume_info(OPTIONS)))] == [
        "vol_a",
        "vol_b",
    ]
    # glusterfs 10 (tests/data/gluster/volume_info_missing.xml): exit 0, the failure in opRet
    exit_code, stdout, stderr = run(state, "n1", gcmd.volume_info(OPTIONS, "nosuch"))
    assert (exit_code, stderr) == (0, "")
    status = gcmd.parse_cli_status(stdout)
    assert (status.op_ret, status.op_errno, status.op_errstr) == (
        -1,
        30806,
        "Volume does not exist",
    )
    assert status.op_errno == gcmd.EG_NOVOL
    assert gcmd.parse_volume_info(stdout) == []


def test_volume_info_renders_hostile_looking_option_values_as_text(state: SimState) -> None:
    create(state, replica3(state))
    with pytest.raises(UnsafeArgument):  # the builder never sends it ...
        gcmd.volume_set(OPTIONS, "vol_a", "user.note <a&b>")
    # ... but gluster would take it, and its XML escapes it
    ok(state, "n1", ["gluster", "--mode=script", "volume", "set", "vol_a", "user.note", "<a&b>"])
    assert info(state, "vol_a").options["user.note"] == "<a&b>"


# -- set, start, stop, delete ----------------------------------------------------------------


def test_set_start_stop_delete(state: SimState) -> None:
    create(state, replica3(state))
    option = "user.heketi.id 0123456789abcdef0123456789abcdef"
    assert ok(state, "n1", gcmd.volume_set(OPTIONS, "vol_a", option)) == "volume set: success\n"
    assert ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a")) == "volume start: vol_a: success\n"
    parsed = info(state, "vol_a")
    assert parsed.status == "Started"
    assert parsed.options["user.heketi.id"] == "0123456789abcdef0123456789abcdef"
    assert run(state, "n1", gcmd.volume_start(OPTIONS, "vol_a")) == (
        1, "", "volume start: vol_a: failed: Volume vol_a already started\n"
    )  # fmt: skip
    assert run(state, "n1", gcmd.volume_delete(OPTIONS, "vol_a")) == (
        1, "", "volume delete: vol_a: failed: Volume vol_a has been started.Volume needs to be "
        "stopped before deletion.\n",
    )  # fmt: skip
    assert ok(state, "n1", gcmd.volume_stop(OPTIONS, "vol_a")) == "volume stop: vol_a: success\n"
    assert info(state, "vol_a").status == "Stopped"
    # glusterfs 10 (captured): "stop force" of a volume that is not started succeeds
    assert ok(state, "n1", gcmd.volume_stop(OPTIONS, "vol_a")) == "volume stop: vol_a: success\n"
    assert (
        ok(state, "n1", gcmd.volume_delete(OPTIONS, "vol_a")) == "volume delete: vol_a: success\n"
    )
    assert "vol_a" not in pool_volumes(state)


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (gcmd.volume_start(OPTIONS, "nosuch"), "volume start: nosuch: failed: Volume nosuch does not exist"),
        (gcmd.volume_stop(OPTIONS, "nosuch"), "volume stop: nosuch: failed: Volume nosuch does not exist"),
        (gcmd.volume_delete(OPTIONS, "nosuch"), "volume delete: nosuch: failed: Volume nosuch does not exist"),
        (gcmd.volume_set(OPTIONS, "nosuch", "a.b c"), "volume set: failed: Volume nosuch does not exist"),
        (gcmd.rebalance_start(OPTIONS, "nosuch"), "volume rebalance: nosuch: failed: Volume nosuch does not exist"),
    ],
)  # fmt: skip
def test_missing_volume_texts(state: SimState, argv: list[str], stderr: str) -> None:
    assert run(state, "n1", argv) == (1, "", stderr + "\n")


# -- status, heal, rebalance, replace-brick --------------------------------------------------


def test_volume_status(state: SimState) -> None:
    request = replica3(state)
    create(state, request)
    stdout = ok(state, "n1", gcmd.volume_status(OPTIONS, "vol_a"))
    assert gcmd.parse_cli_status(stdout).op_errstr == "Volume vol_a is not started"
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a"))
    state.nodes["n2"].glusterd_down = True
    rows = gcmd.parse_volume_status(ok(state, "n1", gcmd.volume_status(OPTIONS, "vol_a")))
    bricks = [r for r in rows if not r.daemon]
    assert [(r.host, r.path) for r in bricks] == [(b.host, b.path) for b in request.bricks]
    assert [r.online for r in bricks] == [True, False, True]
    assert len([r for r in rows if r.daemon]) == 3


def test_heal_info(state: SimState) -> None:
    create(state, replica3(state))
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a"))
    stdout = ok(state, "n1", gcmd.heal_info(OPTIONS, "vol_a"))
    bricks = gcmd.parse_heal_info(stdout)
    assert len(bricks) == 3 and gcmd.heal_is_clean(bricks)
    pool_volumes(state)["vol_a"].heal_pending = True
    assert not gcmd.heal_is_clean(
        gcmd.parse_heal_info(ok(state, "n1", gcmd.heal_info(OPTIONS, "vol_a")))
    )
    pool_volumes(state)["vol_a"].heal_pending = False
    state.nodes["n3"].unreachable = True
    bricks = gcmd.parse_heal_info(ok(state, "n1", gcmd.heal_info(OPTIONS, "vol_a")))
    assert [(b.status, b.entries) for b in bricks][2] == (
        "Transport endpoint is not connected",
        None,
    )
    assert not gcmd.heal_is_clean(bricks)


def test_heal_info_failures_carry_the_reason_in_the_xml(state: SimState) -> None:
    create(state, VolumeRequest(name="vol_d", bricks=(make_brick(state, "n1"),)))
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_d"))
    for name, reason in (
        ("nosuch", "Volume nosuch does not exist"),
        ("vol_d", "Volume vol_d is not of type replicate/disperse"),
    ):
        exit_code, stdout, stderr = run(state, "n1", gcmd.heal_info(OPTIONS, name))
        assert (exit_code, stderr) == (254, "")  # glusterfs 10 (captured)
        assert gcmd.parse_cli_status(stdout).op_errstr == reason


def test_rebalance_start(state: SimState) -> None:
    create(state, replica3(state, sets=2))
    assert run(state, "n1", gcmd.rebalance_start(OPTIONS, "vol_a")) == (
        1, "", "volume rebalance: vol_a: failed: Volume vol_a needs to be started to perform "
        "rebalance\n",
    )  # fmt: skip
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a"))
    stdout = ok(state, "n1", gcmd.rebalance_start(OPTIONS, "vol_a"))
    assert stdout.startswith(
        "volume rebalance: vol_a: success: Rebalance on vol_a has been started successfully."
    )
    create(state, replica3(state, "vol_b"))
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_b"))
    exit_code, _, stderr = run(state, "n1", gcmd.rebalance_start(OPTIONS, "vol_b"))
    assert exit_code == 1 and "is not a distribute volume or contains only 1 brick" in stderr


def test_replace_brick(state: SimState) -> None:
    request = replica3(state)
    create(state, request)
    old, new = request.bricks[1], make_brick(state, "n5")
    assert ok(state, "n1", gcmd.replace_brick(OPTIONS, "vol_a", old, new)) == (
        "volume replace-brick: success: replace-brick commit force operation successful\n"
    )
    assert info(state, "vol_a").bricks[1].host == "n5"
    exit_code, _, stderr = run(
        state, "n1", gcmd.replace_brick(OPTIONS, "vol_a", old, make_brick(state, "n6"))
    )
    assert exit_code == 1 and stderr == (
        f"volume replace-brick: failed: brick: {gcmd.brick_word(old)} does not exist in volume: "
        "vol_a\n"
    )


# -- snapshots and clones --------------------------------------------------------------------


def test_snapshot_clone_sequence(state: SimState) -> None:
    request = replica3(state)
    create(state, request)
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a"))
    before = lv_names(state)
    created = ok(state, "n1", gcmd.snapshot_create(OPTIONS, "tmpsnap_1", "vol_a"))
    assert gcmd.parse_cli_status(created).ok
    snapshot = state.pools[state.nodes["n1"].pool].snapshots["tmpsnap_1"]
    assert ElementTree.fromstring(created).findtext("snapCreate/snap/uuid") == snapshot.id
    snap_hex = uuid.UUID(snapshot.volume_id).hex
    # one thin snapshot LV per brick, mounted where glusterd mounts snapshot bricks
    assert lv_names(state) - before == {(h, f"{snap_hex}_0") for h in ("n1", "n2", "n3")}
    assert [b.partition(":")[2] for b in snapshot.bricks] == [
        f"/run/gluster/snaps/{snap_hex}/brick{i}/brick" for i in (1, 2, 3)
    ]
    for argv in (
        gcmd.snapshot_activate(OPTIONS, "tmpsnap_1"),
        gcmd.snapshot_clone(OPTIONS, "vol_clone", "tmpsnap_1"),
    ):
        assert gcmd.parse_cli_status(ok(state, "n1", argv)).ok
    clone_hex = uuid.UUID(pool_volumes(state)["vol_clone"].id).hex
    clone_lvs = {(h, f"{clone_hex}_0") for h in ("n1", "n2", "n3")}
    assert clone_lvs <= lv_names(state)
    assert info_fields(state, "vol_a")["snapshotCount"] == "1"
    ok(state, "n1", gcmd.volume_stop(OPTIONS, "vol_a"))
    exit_code, _, stderr = run(state, "n1", gcmd.volume_delete(OPTIONS, "vol_a"))
    assert exit_code == 1 and "Cannot delete Volume vol_a ,as it has 1 snapshots" in stderr
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_clone"))
    for argv in (
        gcmd.snapshot_deactivate(OPTIONS, "tmpsnap_1"),
        gcmd.snapshot_delete(OPTIONS, "tmpsnap_1"),
    ):
        assert gcmd.parse_cli_status(ok(state, "n1", argv)).ok
    assert state.pools[state.nodes["n1"].pool].snapshots == {}
    assert lv_names(state) == before | clone_lvs  # the snapshot's own LVs are gone
    clone = info(state, "vol_clone")
    assert clone.status == "Started" and len(clone.bricks) == 3
    assert [b.host for b in clone.bricks] == [b.host for b in request.bricks]
    assert all(b.path.startswith("/run/gluster/snaps/") for b in clone.bricks)


@pytest.mark.parametrize(
    ("argv", "errno", "reason"),
    [
        (gcmd.snapshot_create(OPTIONS, "s1", "nosuch"), 30806, "Volume (nosuch) does not exist "),
        (gcmd.snapshot_activate(OPTIONS, "nosnap"), 30807, "Snapshot (nosnap) does not exist."),
        (gcmd.snapshot_deactivate(OPTIONS, "nosnap"), 30807, "Snapshot (nosnap) does not exist."),
        (gcmd.snapshot_delete(OPTIONS, "nosnap"), 30807, "Snapshot (nosnap) does not exist"),
        (gcmd.snapshot_clone(OPTIONS, "c1", "nosnap"), 30800, "Failed to find :nosnap snap"),
    ],
)
def test_snapshot_failures_exit_zero_with_the_reason_in_the_xml(
    state: SimState, argv: list[str], errno: int, reason: str
) -> None:
    exit_code, stdout, stderr = run(state, "n1", argv)
    assert (exit_code, stderr) == (0, "")  # glusterfs 10 (captured)
    root = ElementTree.fromstring(stdout)
    assert (root.findtext("opRet"), root.findtext("opErrno")) == ("-1", str(errno))
    assert root.findtext("opErrstr") == reason
    assert not gcmd.parse_cli_status(stdout).ok


# -- gluster-block ---------------------------------------------------------------------------


def block_hosting(state: SimState) -> None:
    create(state, replica3(state, "vol_bhv"))
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_bhv"))


def test_block_create_info_list_modify_delete(state: SimState) -> None:
    block_hosting(state)
    request = BlockVolumeRequest(
        name="blk_a", size_gib=2, bhv_name="vol_bhv", hosts=("n1", "n2", "n3"), hacount=3,
        auth=True,
    )  # fmt: skip
    document = gcmd.parse_block_json(ok(state, "n1", gcmd.block_create(OPTIONS, request)))
    assert gcmd.block_failed(document) is None
    assert gcmd.block_portals(document) == ("n1", "n2", "n3")
    block = pool_volumes(state)["vol_bhv"].block_volumes["blk_a"]
    assert document["IQN"] == f"iqn.2016-12.org.gluster-block:{block.gbid}"
    assert (document["USERNAME"], document["PASSWORD"]) == (block.username, block.password)
    listed = gcmd.parse_block_json(ok(state, "n1", gcmd.block_list("vol_bhv")))
    assert listed["blocks"] == ["blk_a"]
    described = gcmd.parse_block_json(ok(state, "n1", gcmd.block_info("vol_bhv", "blk_a")))
    assert gcmd.parse_block_size_gib(described["SIZE"]) == 2
    assert described["EXPORTED ON"] == ["n1", "n2", "n3"]
    modified = gcmd.parse_block_json(ok(state, "n1", gcmd.block_modify_size("vol_bhv", "blk_a", 5)))
    assert gcmd.block_failed(modified) is None and block.size_gib == 5
    deleted = gcmd.parse_block_json(ok(state, "n1", gcmd.block_delete("vol_bhv", "blk_a")))
    assert gcmd.block_failed(deleted) is None
    assert pool_volumes(state)["vol_bhv"].block_volumes == {}


def test_block_failures(state: SimState) -> None:
    block_hosting(state)
    exit_code, stdout, _ = run(state, "n1", gcmd.block_delete("vol_bhv", "blk_x"))
    document = gcmd.parse_block_json(stdout)
    assert exit_code != 0 and gcmd.block_failed(document)
    assert gcmd.block_missing(document, "vol_bhv", "blk_x")
    too_big = BlockVolumeRequest(
        name="blk_b", size_gib=500, bhv_name="vol_bhv", hosts=("n1",), hacount=1
    )
    exit_code, stdout, _ = run(state, "n1", gcmd.block_create(OPTIONS, too_big))
    assert exit_code != 0 and "Not enough space" in str(
        gcmd.block_failed(gcmd.parse_block_json(stdout))
    )
    no_bhv = BlockVolumeRequest(
        name="blk_c", size_gib=1, bhv_name="nosuch", hosts=("n1",), hacount=1
    )
    exit_code, stdout, _ = run(state, "n1", gcmd.block_create(OPTIONS, no_bhv))
    assert exit_code != 0 and gcmd.block_failed(gcmd.parse_block_json(stdout))
    assert pool_volumes(state)["vol_bhv"].block_volumes == {}


# -- hostile names never reach the simulator -------------------------------------------------


@pytest.mark.parametrize("name", ["vol; rm -rf /", "$(reboot)", "../etc", "-x", "a b", ""])
def test_builders_refuse_hostile_names(name: str) -> None:
    with pytest.raises(UnsafeArgument):
        gcmd.volume_start(OPTIONS, name)
    with pytest.raises(UnsafeArgument):
        gcmd.block_delete("vol_bhv", name)
    with pytest.raises(UnsafeArgument):
        gcmd.peer_probe(OPTIONS, name)


# -- RemoteExecutor on top -------------------------------------------------------------------


class GlusterOnlyRunner:
    """A CommandRunner that runs the gluster side on the simulator (no LVM here)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.calls: list[list[str]] = []

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        words = list(argv)
        if words[:2] == ["sudo", "-n"]:
            words = words[3:] if words[2:3] == ["--"] else words[2:]
        if words[:2] == ["env", "LC_ALL=C"]:
            words = words[2:]
        self.calls.append(words)
        exit_code, stdout, stderr = gluster_cli.run(self.state, self.state.nodes[host], words)
        return CommandResult(tuple(argv), exit_code, stdout, stderr)

    async def close(self) -> None:
        return None


async def test_remote_executor_runs_volumes_clones_and_blocks_on_the_simulator(
    state: SimState,
) -> None:
    runner = GlusterOnlyRunner(state)
    executor = RemoteExecutor(runner, OPTIONS, name="sim")
    request = replica3(state, sets=1)
    await executor.volume_create(
        "n1", VolumeRequest(**{**request.__dict__, "options": ("user.heketi.id abc",)})
    )
    volume = await executor.volume_info("n1", "vol_a")
    assert volume.status == "Started" and volume.options["user.heketi.id"] == "abc"
    more = replica3(state, sets=1)
    await executor.volume_expand(
        "n1", VolumeRequest(**{**request.__dict__, "bricks": request.bricks + more.bricks})
    )
    assert len((await executor.volume_info("n1", "vol_a")).bricks) == 6
    assert any(call[3:5] == ["volume", "rebalance"] for call in runner.calls)
    assert await executor.heal_info_ok("n1", "vol_a")
    clone = await executor.volume_clone("n1", "vol_a", "vol_c")
    assert clone.status == "Started" and len(clone.bricks) == 6
    assert state.pools[state.nodes["n1"].pool].snapshots == {}
    names = [v.name for v in await executor.volumes_info("n2")]
    assert names == ["vol_a", "vol_c"]
    block = await executor.block_volume_create(
        "n1", BlockVolumeRequest("blk", 1, "vol_a", ("n1", "n2"), 2, auth=False)
    )
    assert block.hosts == ("n1", "n2") and block.iqn.startswith("iqn.2016-12.org.gluster-block:")
    await executor.block_volume_expand("n1", "vol_a", "blk", 3)
    await executor.block_volume_destroy("n1", "vol_a", "blk")
    await executor.block_volume_destroy("n1", "vol_a", "blk")  # missing counts as destroyed
    await executor.volume_destroy("n1", "vol_c")
    await executor.volume_destroy("n1", "vol_a")
    assert pool_volumes(state) == {}
    with pytest.raises(VolumeDoesNotExist):
        await executor.volume_info("n1", "vol_a")
    with pytest.raises(VolumeDoesNotExist):
        await executor.volume_destroy("n1", "vol_a")


async def test_remote_executor_sees_glusterd_down(state: SimState) -> None:
    executor = RemoteExecutor(GlusterOnlyRunner(state), OPTIONS, name="sim")
    state.nodes["n1"].glusterd_down = True
    with pytest.raises(NodeCommandError, match="Connection failed") as caught:
        await executor.volumes_info("n1")
    assert not isinstance(caught.value, VolumeDoesNotExist)
    with pytest.raises(NodeCommandError, match="Connection failed"):
        await executor.peer_probe("n1", "n2")


def test_block_json_is_one_line_of_json(state: SimState) -> None:
    block_hosting(state)
    stdout = ok(state, "n1", gcmd.block_list("vol_bhv"))
    assert json.loads(stdout) == {"blocks": [], "RESULT": "SUCCESS"}


# -- glusterd's cluster lock -----------------------------------------------------------------


def test_locked_answers_with_glusterds_texts() -> None:
    request = VolumeRequest(name="vol_x", bricks=(BrickAddress("n1", "/b/brick"),))
    expected = (Path(__file__).parents[1] / "data/gluster/volume_create_locked.txt").read_text()
    assert gluster_cli.locked(gcmd.volume_create(OPTIONS, request)) == (1, "", expected)
    exit_code, _, stderr = gluster_cli.locked(gcmd.volume_set(OPTIONS, "vol_x", "a.b c"))
    assert exit_code == 1 and stderr.startswith("volume set: failed: Another transaction")
    exit_code, _, stderr = gluster_cli.locked(gcmd.peer_probe(OPTIONS, "n2"))
    assert exit_code == 1 and stderr.startswith("peer probe: failed: Another transaction")
    assert gcmd.is_transaction_conflict(stderr)


class LockedOnce(GlusterOnlyRunner):
    """glusterd's lock is held during the first ``volume start``."""

    def __init__(self, state: SimState) -> None:
        super().__init__(state)
        self.refused = 0

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        if "start" in argv and not self.refused:
            self.refused += 1
            return CommandResult(tuple(argv), *gluster_cli.locked(argv))
        return await super().run(host, argv, timeout_s=timeout_s)


async def test_remote_executor_retries_while_glusterd_is_locked(state: SimState) -> None:
    async def no_wait(_: float) -> None:
        return None

    runner = LockedOnce(state)
    executor = RemoteExecutor(runner, OPTIONS, name="sim", sleep=no_wait)
    await executor.volume_create("n1", replica3(state))
    volume = await executor.volume_info("n1", "vol_a")
    assert runner.refused == 1 and volume.status == "Started"


def test_volume_info_without_xml_is_glusterds_text(state: SimState) -> None:
    create(state, replica3(state, sets=2, arbiter=True))
    stdout = ok(state, "n1", ["gluster", "volume", "info", "vol_a"])
    assert "\nVolume Name: vol_a\nType: Distributed-Replicate\n" in stdout
    assert "Number of Bricks: 2 x (2 + 1) = 6\n" in stdout and stdout.count("(arbiter)") == 2
    assert run(state, "n1", ["gluster", "volume", "info", "nosuch"]) == (
        1, "", "Volume nosuch does not exist\n"
    )  # fmt: skip


def test_snapshot_activate_twice_and_deactivate_twice_are_refused(state: SimState) -> None:
    create(state, replica3(state))
    ok(state, "n1", gcmd.volume_start(OPTIONS, "vol_a"))
    ok(state, "n1", gcmd.snapshot_create(OPTIONS, "s1", "vol_a"))
    snapshot = state.pools[state.nodes["n1"].pool].snapshots["s1"]
    assert gcmd.parse_cli_status(ok(state, "n1", gcmd.snapshot_activate(OPTIONS, "s1"))).ok
    assert snapshot.activated
    again = gcmd.parse_cli_status(ok(state, "n1", gcmd.snapshot_activate(OPTIONS, "s1")))
    assert again.op_errstr == "Snapshot s1 is already activated."
    assert gcmd.parse_cli_status(ok(state, "n1", gcmd.snapshot_deactivate(OPTIONS, "s1"))).ok
    assert not snapshot.activated
    again = gcmd.parse_cli_status(ok(state, "n1", gcmd.snapshot_deactivate(OPTIONS, "s1")))
    assert again.op_errstr == "Snapshot (s1) is not activated."
    refused = gcmd.parse_cli_status(ok(state, "n1", gcmd.snapshot_clone(OPTIONS, "c", "s1")))
    assert refused.op_errstr == "Snapshot s1 is not activated" and "c" not in pool_volumes(state)


def test_storage_names_of_peers_and_bricks() -> None:
    """Bricks and peers speak storage names; the node behind one is learnt from its VG."""
    state = SimState()
    for host in ("n1", "n2"):
        add_node(state, host)
    assert ok(state, "n1", gcmd.peer_probe(OPTIONS, "10.0.0.2")) == "peer probe: success\n"
    peers = gcmd.parse_peer_status(ok(state, "n1", gcmd.peer_status(OPTIONS)))
    assert [(p.hostname, p.connected) for p in peers] == [("10.0.0.2", True)]
    brick = make_brick(state, "n2")
    request = VolumeRequest(name="vol_s", bricks=(BrickAddress("10.0.0.2", brick.path),))
    create(state, request)
    assert state.aliases == {"10.0.0.2": "n2"}
    assert info(state, "vol_s").bricks[0].host == "10.0.0.2"
    assert state.nodes["n2"].pool == state.nodes["n1"].pool


def option_list(stdout: str) -> list[tuple[str, str]]:
    root = ElementTree.fromstring(stdout[stdout.find("<") :])
    return [
        (o.findtext("name") or "", o.findtext("value") or "")
        for o in root.iterfind("volInfo/volumes/volume/options/option")
    ]


def captured_options(fixture: str, volume: str) -> list[tuple[str, str]]:
    text = (Path(__file__).parents[1] / "data/gluster" / fixture).read_text()
    root = ElementTree.fromstring(text[text.find("<") :])
    for element in root.iterfind("volInfo/volumes/volume"):
        if element.findtext("name") == volume:
            return [
                (o.findtext("name") or "", o.findtext("value") or "")
                for o in element.iterfind("options/option")
            ]
    raise AssertionError(f"{volume} not in {fixture}")


def test_new_volumes_carry_glusterds_default_options(state: SimState) -> None:
    """The options glusterd 10 sets itself, listed newest first as it lists them."""
    create(state, replica3(state, "vol_r3"))
    ok(state, "n1", gcmd.volume_set(OPTIONS, "vol_r3", "user.heketi.id " + "0123456789abcdef" * 2))
    create(state, replica3(state, "vol_arb", arbiter=True))
    for name, fixture in (("vol_r3", "volume_info_r3.xml"), ("vol_arb", "volume_info_all.xml")):
        stdout = ok(state, "n1", gcmd.volume_info(OPTIONS, name))
        assert option_list(stdout) == captured_options(fixture, name)


def test_distribute_volumes_carry_fewer_default_options(state: SimState) -> None:
    create(state, VolumeRequest(name="vol_dist", bricks=(make_brick(state, "n1"),)))
    assert option_list(ok(state, "n1", gcmd.volume_info(OPTIONS, "vol_dist"))) == (
        captured_options("volume_info_all.xml", "vol_dist")
    )
