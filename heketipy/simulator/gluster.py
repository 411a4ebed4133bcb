"""The gluster side of the simulator: trusted pools, peers, volumes, snapshots and gluster-block
volumes. ``simulator/gluster_cli.py`` parses the real argv into calls of these functions and
renders their results and refusals as the gluster and gluster-block command lines print them.

Volumes belong to a trusted pool, as glusterd replicates them to every peer. Nodes are keyed by
manage host while gluster speaks storage hostnames; a storage name is tied to its node when
registered, or learned from a brick path (``.../vg_<device id>/...`` names the node holding that
VG). Each function is one gluster command: it applies fully or raises ``NodeCommandError`` with
glusterd's wording and leaves the state untouched.
"""

from __future__ import annotations

import posixpath
import re
import uuid

from heketipy.domain.errors import NodeCommandError
from heketipy.domain.units import GLUSTER_SNAPS_ROOT as SNAPS_ROOT
from heketipy.executors.base import VolumeDoesNotExist
from heketipy.simulator.node import (
    dm_path,
    lv_for_device,
    lv_mounted_at,
    lvremove,
    mkdir_p,
    path_exists,
    rmdir,
    thin_snapshot,
    umount,
)
from heketipy.simulator.node import mount as mount_device
from heketipy.simulator.state import (
    BlockVolumeState,
    GlusterVolumeState,
    NodeState,
    SimState,
    SnapshotState,
    TrustedPool,
)

GLUSTER = ["gluster", "--mode=script", "--timeout=600"]
GLUSTERD_DOWN = "Connection failed. Please check if gluster daemon is operational."
_VG_IN_PATH = re.compile(r"/(vg_[^/]+)/")


def gluster_argv(*words: str) -> list[str]:
    return [*GLUSTER, *words]


def new_pool(state: SimState, first_member: str) -> TrustedPool:
    pool = TrustedPool(id=uuid.uuid4().hex, members=[first_member])
    state.pools[pool.id] = pool
    return pool


def pool_of(state: SimState, node: NodeState) -> TrustedPool:
    pool = state.pools.get(node.pool)
    if pool is None:
        pool = new_pool(state, node.host)
        node.pool = pool.id
    return pool


def identity(state: SimState, name: str) -> str:
    return state.aliases.get(name, name)


def learn_alias(state: SimState, storage: str, manage: str) -> None:
    """Tie a storage hostname to its node, merging a pending pool membership into the node."""
    if storage == manage or state.aliases.get(storage) == manage:
        return
    state.aliases[storage] = manage
    node = state.nodes.get(manage)
    for pool in list(state.pools.values()):
        if storage not in pool.members:
            continue
        pool.members = [manage if m == storage else m for m in pool.members]
        pool.members = list(dict.fromkeys(pool.members))
        if node is not None and node.pool != pool.id:
            old = state.pools.get(node.pool)
            if old is not None:
                old.members = [m for m in old.members if m != manage]
                if not old.members and not old.volumes:
                    del state.pools[old.id]
            node.pool = pool.id


def resolve_brick_host(state: SimState, host: str, path: str) -> str:
    """The node (manage host) serving ``host:path``; learns the alias from the VG in the path."""
    if host in state.aliases or host in state.nodes:
        return identity(state, host)
    match = _VG_IN_PATH.search(path)
    if match:
        for node in state.nodes.values():
            if match.group(1) in node.vgs:
                learn_alias(state, host, node.host)
                return node.host
    return host


def live_pool(state: SimState, exec_node: NodeState, argv: list[str]) -> TrustedPool:
    """The trusted pool as the glusterd on ``exec_node`` sees it; refused when it is down."""
    if exec_node.glusterd_down or exec_node.unreachable:
        raise NodeCommandError(exec_node.host, argv, 1, GLUSTERD_DOWN)
    return pool_of(state, exec_node)


def _failed(node: NodeState, argv: list[str], what: str, message: str) -> NodeCommandError:
    return NodeCommandError(node.host, argv, 1, f"{what}: failed: {message}")


# -- peers ---------------------------------------------------------------------------------


def _peer_command(
    state: SimState, exec_node: NodeState, verb: str, storage: str
) -> tuple[list[str], TrustedPool, str]:
    """How ``peer probe|detach <storage>`` starts: glusterd must answer; then the argv, the
    pool of the node that runs it and the node that ``storage`` names."""
    argv = gluster_argv("peer", verb, storage)
    return argv, live_pool(state, exec_node, argv), identity(state, storage)


def peer_probe(state: SimState, exec_node: NodeState, storage: str) -> str:
    argv, pool, target = _peer_command(state, exec_node, "probe", storage)
    if target == exec_node.host:
        return "peer probe: Probe on localhost not needed"
    if target in pool.members:
        return f"peer probe: Host {storage} port 24007 already in peer list"
    node = state.nodes.get(target)
    if node is None:
        pool.members.append(target)
        return "peer probe: success"
    if node.glusterd_down or node.unreachable:
        raise _failed(
            exec_node, argv, "peer probe", "Probe returned with Transport endpoint is not connected"
        )
    other = pool_of(state, node)
    if len(other.members) > 1 or other.volumes:
        raise _failed(
            exec_node,
            argv,
            "peer probe",
            f"{storage} is either already part of another cluster or having volumes configured",
        )
    del state.pools[other.id]
    pool.members.append(target)
    node.pool = pool.id
    return "peer probe: success"


def peer_detach(state: SimState, exec_node: NodeState, storage: str) -> None:
    argv, pool, target = _peer_command(state, exec_node, "detach", storage)
    if target == exec_node.host:
        raise _failed(exec_node, argv, "peer detach", f"{storage} is localhost")
    if target not in pool.members:
        raise _failed(exec_node, argv, "peer detach", f"{storage} is not part of cluster")
    for volume in pool.volumes.values():
        if any(identity(state, brick.split(":", 1)[0]) == target for brick in volume.bricks):
            raise _failed(
                exec_node,
                argv,
                "peer detach",
                f"Peer {storage} hosts one or more bricks. If the peer is in not recoverable "
                "state then use either replace-brick or remove-brick command with force to "
                "remove all bricks from the peer and attempt the peer detach again.",
            )
    pool.members.remove(target)
    node = state.nodes.get(target)
    if node is not None:
        node.pool = new_pool(state, node.host).id


# -- volumes ---------------------------------------------------------------------------------


def require_volume(
    state: SimState, exec_node: NodeState, name: str, argv: list[str], what: str
) -> GlusterVolumeState:
    volume = live_pool(state, exec_node, argv).volumes.get(name)
    if volume is None:
        raise VolumeDoesNotExist(
            exec_node.host, argv, 1, f"{what}: failed: Volume {name} does not exist"
        )
    return volume


def check_new_bricks(
    state: SimState,
    exec_node: NodeState,
    argv: list[str],
    what: str,
    volume_type: str,
    set_size: int,
    bricks: list[str],
    force: bool = False,
) -> None:
    """Reject bricks gluster would refuse: not peers, missing dirs, in use, doubled in a set
    (that last one only without ``force``)."""
    pool = pool_of(state, exec_node)
    if len(set(bricks)) != len(bricks):
        duplicate = next(b for b in bricks if bricks.count(b) > 1)
        raise _failed(exec_node, argv, what, f"Found duplicate exports {duplicate}")
    in_use = {brick for volume in pool.volumes.values() for brick in volume.bricks}
    set_hosts: list[str] = []
    for index, brick in enumerate(bricks):
        host, _, path = brick.partition(":")
        member = resolve_brick_host(state, host, path)
        if member not in pool.members:
            raise _failed(exec_node, argv, what, f"Host {host} is not in 'Peer in Cluster' state")
        node = state.nodes.get(member)
        if node is None or node.glusterd_down or node.unreachable:
            raise _failed(exec_node, argv, what, f"Host {host} not connected")
        if not path_exists(node, path):
            reason = (
                f"Failed to create brick directory for brick {brick}. "
                "Reason : No such file or directory "
            )
            if member != exec_node.host:
                reason = f"Staging failed on {host}. Error: {reason}"
            raise _failed(exec_node, argv, what, reason)
        if brick in in_use:
            raise _failed(
                exec_node,
                argv,
                what,
                f"Brick: {brick} not available. Brick may be containing or be contained by an "
                "existing brick.",
            )
        if index % set_size == 0:
            set_hosts = []
        if volume_type != "none" and member in set_hosts and not force:
            kind = "replicate" if volume_type == "replicate" else "disperse"
            raise _failed(
                exec_node,
                argv,
                what,
                f"Multiple bricks of a {kind} volume are present on the same server. This setup "
                "is not optimal. Bricks should be on different nodes to have best fault tolerant "
                "configuration. Use 'force' at the end of the command if you want to override "
                "this behavior. ",
            )
        set_hosts.append(member)


def volume_create(
    state: SimState,
    exec_node: NodeState,
    draft: GlusterVolumeState,
    first_set: list[str],
    force: bool = False,
) -> None:
    argv = gluster_argv("volume", "create", draft.name, *first_set)
    what = f"volume create: {draft.name}"
    pool = live_pool(state, exec_node, argv)
    if draft.name in pool.volumes:
        raise _failed(exec_node, argv, what, f"Volume {draft.name} already exists")
    if len(first_set) % draft.set_size:
        kind = "disperse" if draft.type == "disperse" else "replica"
        raise _failed(exec_node, argv, what, f"number of bricks is not a multiple of {kind} count")
    check_new_bricks(state, exec_node, argv, what, draft.type, draft.set_size, first_set, force)
    draft.bricks = list(first_set)
    pool.volumes[draft.name] = draft


def volume_add_brick(
    state: SimState, exec_node: NodeState, name: str, bricks: list[str], force: bool = False
) -> None:
    argv = gluster_argv("volume", "add-brick", name, *bricks)
    what = "volume add-brick"
    volume = live_pool(state, exec_node, argv).volumes.get(name)
    if volume is None:
        # glusterd's wording here does not say "does not exist"
        raise _failed(exec_node, argv, what, f"Unable to get volinfo for volume name {name}")
    if len(bricks) % volume.set_size:
        kind = "disperse" if volume.type == "disperse" else "replica"
        raise _failed(
            exec_node,
            argv,
            what,
            f"Incorrect number of bricks supplied {len(bricks)} with count {volume.set_size}"
            if kind == "replica"
            else "number of bricks is not a multiple of disperse count",
        )
    check_new_bricks(state, exec_node, argv, what, volume.type, volume.set_size, bricks, force)
    volume.bricks.extend(bricks)


def volume_set(state: SimState, exec_node: NodeState, name: str, option: str) -> None:
    key, _, value = option.strip().partition(" ")
    argv = gluster_argv("volume", "set", name, key, value.strip())
    volume = require_volume(state, exec_node, name, argv, "volume set")
    if not key or not value.strip():
        raise _failed(exec_node, argv, "volume set", f"option {option!r} needs a key and a value")
    volume.options[key] = value.strip()


def volume_start(state: SimState, exec_node: NodeState, name: str) -> None:
    argv = gluster_argv("volume", "start", name)
    volume = require_volume(state, exec_node, name, argv, f"volume start: {name}")
    if volume.status == "Started":
        raise _failed(exec_node, argv, f"volume start: {name}", f"Volume {name} already started")
    volume.status = "Started"


def volume_stop(state: SimState, exec_node: NodeState, name: str, force: bool = True) -> None:
    argv = gluster_argv("volume", "stop", name, *(["force"] if force else []))
    volume = require_volume(state, exec_node, name, argv, f"volume stop: {name}")
    if volume.status != "Started" and not force:
        raise _failed(
            exec_node, argv, f"volume stop: {name}", f"Volume {name} is not in the started state"
        )
    volume.status = "Stopped"


def volume_delete(state: SimState, exec_node: NodeState, name: str) -> None:
    argv = gluster_argv("volume", "delete", name)
    what = f"volume delete: {name}"
    volume = require_volume(state, exec_node, name, argv, what)
    if volume.status == "Started":
        raise _failed(
            exec_node,
            argv,
            what,
            f"Volume {name} has been started.Volume needs to be stopped before deletion.",
        )
    pool = pool_of(state, exec_node)
    snapshots = snapshots_of(pool, name)
    if snapshots:
        raise _failed(
            exec_node,
            argv,
            what,
            f"Cannot delete Volume {name} ,as it has {len(snapshots)} snapshots. To delete the "
            "volume, first delete all the snapshots under it.",
        )
    del pool.volumes[name]


def volume_replace_brick(
    state: SimState, exec_node: NodeState, name: str, old: str, new: str
) -> None:
    argv = gluster_argv("volume", "replace-brick", name, old, new, "commit", "force")
    what = "volume replace-brick"
    volume = require_volume(state, exec_node, name, argv, what)
    if old not in volume.bricks:
        if new in volume.bricks:
            return  # already replaced: a replayed step
        raise _failed(exec_node, argv, what, f"brick: {old} does not exist in volume: {name}")
    check_new_bricks(state, exec_node, argv, what, "none", 1, [new])
    volume.bricks[volume.bricks.index(old)] = new


def snap_bricks(
    state: SimState,
    exec_node: NodeState,
    bricks: list[str],
    volume_uuid: uuid.UUID,
    argv: list[str],
    what: str,
) -> list[str]:
    """Thin snapshots of ``bricks`` in gluster's own layout (as real glusterd 10 does): brick N
    (1-based) is mounted at ``/run/gluster/snaps/<volume uuid hex>/brickN`` (no fstab line:
    glusterd mounts it) from the LV ``<volume uuid hex>_<K>`` in the source brick's VG and thin
    pool, K counting the earlier bricks on the same node. All bricks are checked first."""
    plan = []
    for brick in bricks:
        host, _, path = brick.partition(":")
        node = state.nodes.get(resolve_brick_host(state, host, path))
        mount_point = posixpath.dirname(path)
        device = node.mounts.get(mount_point) if node else None
        found = lv_for_device(node, device) if node and device else None
        if node is None or found is None or node.glusterd_down or node.unreachable:
            raise _failed(exec_node, argv, what, f"brick {brick} is not available")
        plan.append((host, node, found[0].name, found[1].name, posixpath.basename(path)))
    new_bricks = []
    on_node: dict[str, int] = {}
    for index, (host, node, vg_name, lv_name, brick_dir) in enumerate(plan):
        on_node[node.host] = on_node.get(node.host, -1) + 1
        new_lv = f"{volume_uuid.hex}_{on_node[node.host]}"
        thin_snapshot(node, vg_name, lv_name, new_lv)
        new_mount = f"{SNAPS_ROOT}/{volume_uuid.hex}/brick{index + 1}"
        mkdir_p(node, new_mount)
        mount_device(node, dm_path(vg_name, new_lv), new_mount)
        new_bricks.append(f"{host}:{new_mount}/{brick_dir}")
    return new_bricks


def _clone_volume(
    state: SimState,
    exec_node: NodeState,
    volume: GlusterVolumeState,
    bricks: list[str],
    clone: str,
    argv: list[str],
) -> GlusterVolumeState:
    pool = pool_of(state, exec_node)
    if clone in pool.volumes:
        raise _failed(exec_node, argv, "snapshot clone", f"Volume with name:{clone} already exists")
    clone_uuid = uuid.uuid4()
    copy = GlusterVolumeState(
        name=clone,
        id=str(clone_uuid),
        type=volume.type,
        replica=volume.replica,
        data=volume.data,
        redundancy=volume.redundancy,
        arbiter=volume.arbiter,
        bricks=snap_bricks(state, exec_node, bricks, clone_uuid, argv, "snapshot clone"),
        options=dict(volume.options),
    )
    pool.volumes[clone] = copy
    return copy


def volume_clone(
    state: SimState, exec_node: NodeState, source: str, clone: str
) -> GlusterVolumeState:
    """``snapshot create`` + ``snapshot clone`` in one step: the clone's bricks are thin
    snapshots of the source's (see ``snap_bricks``)."""
    argv = gluster_argv("snapshot", "clone", clone, f"tmpsnap_{source}")
    volume = require_volume(state, exec_node, source, argv, "snapshot create")
    return _clone_volume(state, exec_node, volume, list(volume.bricks), clone, argv)


def usable_size_kib(state: SimState, volume: GlusterVolumeState) -> int:
    """Capacity of a volume from its bricks' LV virtual sizes (the smallest brick of each set)."""
    sizes = [_brick_size_kib(state, brick) for brick in volume.bricks]
    size = volume.set_size
    total = 0
    for start in range(0, len(sizes), size):
        smallest = min(sizes[start : start + size])
        total += smallest * (volume.data if volume.type == "disperse" else 1)
    return total


def _brick_size_kib(state: SimState, brick: str) -> int:
    host, _, path = brick.partition(":")
    node = state.nodes.get(identity(state, host))
    if node is None:
        return 0
    mount_point = path.rsplit("/", 1)[0]
    lv = lv_mounted_at(node, mount_point)
    return lv.size_kib if lv else 0


# -- gluster-block ---------------------------------------------------------------------------


def _block_failed(node: NodeState, argv: list[str], message: str) -> NodeCommandError:
    return NodeCommandError(node.host, argv, 255, message)


def block_create(
    state: SimState,
    exec_node: NodeState,
    bhv_name: str,
    name: str,
    size_gib: int,
    hosts: list[str],
    auth: bool,
) -> BlockVolumeState:
    argv = [
        "gluster-block", "create", f"{bhv_name}/{name}", "ha", str(len(hosts)),
        "auth", "enable" if auth else "disable", "prealloc", "full", ",".join(hosts),
        f"{size_gib}GiB", "--json",
    ]  # fmt: skip
    pool = pool_of(state, exec_node)
    volume = pool.volumes.get(bhv_name)
    if volume is None or volume.status != "Started":
        raise _block_failed(exec_node, argv, f"volume {bhv_name} does not exist or is not started")
    if name in volume.block_volumes:
        raise _block_failed(exec_node, argv, f"BLOCK with name: '{name}' already EXIST")
    for host in hosts:
        member = identity(state, host)
        node = state.nodes.get(member)
        down = node is not None and (node.glusterd_down or node.unreachable)
        if member not in pool.members or down:
            raise _block_failed(
                exec_node, argv, f"host {host} is not up or not a peer of {bhv_name}"
            )
    used_gib = sum(block.size_gib for block in volume.block_volumes.values())
    if (used_gib + size_gib) * 1024 * 1024 > usable_size_kib(state, volume):
        raise _block_failed(exec_node, argv, f"Not enough space in {bhv_name} for {size_gib}GiB")
    gbid = str(uuid.uuid4())
    block = BlockVolumeState(
        name=name,
        size_gib=size_gib,
        hosts=list(hosts),
        gbid=gbid,
        username=gbid if auth else "",
        password=str(uuid.uuid4()) if auth else "",
    )
    volume.block_volumes[name] = block
    return block


def block_delete(state: SimState, exec_node: NodeState, bhv_name: str, name: str) -> None:
    volume = pool_of(state, exec_node).volumes.get(bhv_name)
    if volume is not None:
        volume.block_volumes.pop(name, None)  # "does not exist" counts as success


def block_modify_size(
    state: SimState, exec_node: NodeState, bhv_name: str, name: str, size_gib: int
) -> None:
    argv = ["gluster-block", "modify", f"{bhv_name}/{name}", "", "size", f"{size_gib}GiB", "--json"]
    volume = pool_of(state, exec_node).volumes.get(bhv_name)
    block = volume.block_volumes.get(name) if volume else None
    if volume is None or block is None:
        raise _block_failed(exec_node, argv, f"block {bhv_name}/{name} doesn't exist")
    if size_gib < block.size_gib:
        raise _block_failed(exec_node, argv, "shrinking of a block volume is not supported")
    used_gib = sum(b.size_gib for b in volume.block_volumes.values()) - block.size_gib
    if (used_gib + size_gib) * 1024 * 1024 > usable_size_kib(state, volume):
        raise _block_failed(exec_node, argv, f"Not enough space in {bhv_name} for {size_gib}GiB")
    block.size_gib = size_gib


# -- snapshots -------------------------------------------------------------------------------


def snapshots_of(pool: TrustedPool, volume_name: str) -> list[SnapshotState]:
    """The snapshots taken of one volume."""
    return [s for s in pool.snapshots.values() if s.volume == volume_name]


def require_snapshot(
    state: SimState, exec_node: NodeState, name: str, argv: list[str], what: str
) -> SnapshotState:
    snapshot = live_pool(state, exec_node, argv).snapshots.get(name)
    if snapshot is None:
        # glusterd's texts differ per command (captured from glusterfs 10)
        message = {
            "snapshot delete": f"Snapshot ({name}) does not exist",
            "snapshot clone": f"Failed to find :{name} snap",
        }.get(what, f"Snapshot ({name}) does not exist.")
        raise _failed(exec_node, argv, what, message)
    return snapshot


def snapshot_create(
    state: SimState, exec_node: NodeState, name: str, volume_name: str
) -> SnapshotState:
    argv = gluster_argv("snapshot", "create", name, volume_name, "no-timestamp")
    what = "snapshot create"
    pool = live_pool(state, exec_node, argv)
    volume = pool.volumes.get(volume_name)
    if volume is None:
        raise _failed(exec_node, argv, what, f"Volume ({volume_name}) does not exist ")
    if name in pool.snapshots:
        raise _failed(exec_node, argv, what, f"Snapshot {name} already exists")
    if volume.status != "Started":
        raise _failed(exec_node, argv, what, f"volume {volume_name} is not started")
    volume_uuid = uuid.uuid4()
    bricks = snap_bricks(state, exec_node, list(volume.bricks), volume_uuid, argv, what)
    snapshot = SnapshotState(
        name=name,
        id=str(uuid.uuid4()),
        volume=volume_name,
        volume_id=str(volume_uuid),
        bricks=bricks,
        activated=False,
    )
    pool.snapshots[name] = snapshot
    return snapshot


def snapshot_set_active(
    state: SimState, exec_node: NodeState, name: str, active: bool
) -> SnapshotState:
    """``snapshot activate`` (``active``) or ``snapshot deactivate``."""
    command = "activate" if active else "deactivate"
    argv = gluster_argv("snapshot", command, name)
    snapshot = require_snapshot(state, exec_node, name, argv, f"snapshot {command}")
    if snapshot.activated == active:
        message = (
            f"Snapshot {name} is already activated."
            if active
            else f"Snapshot ({name}) is not activated."
        )
        raise _failed(exec_node, argv, f"snapshot {command}", message)
    snapshot.activated = active
    return snapshot


def snapshot_delete(state: SimState, exec_node: NodeState, name: str) -> SnapshotState:
    argv = gluster_argv("snapshot", "delete", name)
    snapshot = require_snapshot(state, exec_node, name, argv, "snapshot delete")
    for brick in snapshot.bricks:
        host, _, path = brick.partition(":")
        node = state.nodes.get(resolve_brick_host(state, host, path))
        mount_point = posixpath.dirname(path)
        device = node.mounts.get(mount_point) if node else None
        found = lv_for_device(node, device) if node and device else None
        if node is None:
            continue
        umount(node, mount_point)
        if found is not None:
            lvremove(node, found[0].name, found[1].name)
        rmdir(node, mount_point)
        rmdir(node, posixpath.dirname(mount_point))
    del pool_of(state, exec_node).snapshots[name]
    return snapshot


def snapshot_clone(
    state: SimState, exec_node: NodeState, clone: str, snap: str
) -> GlusterVolumeState:
    """``snapshot clone``: a new volume on thin snapshots of the snapshot's bricks."""
    argv = gluster_argv("snapshot", "clone", clone, snap)
    snapshot = require_snapshot(state, exec_node, snap, argv, "snapshot clone")
    if not snapshot.activated:
        raise _failed(exec_node, argv, "snapshot clone", f"Snapshot {snap} is not activated")
    source = pool_of(state, exec_node).volumes.get(snapshot.volume)
    if source is None:
        raise _failed(exec_node, argv, "snapshot clone", f"Failed to find :{snap} snap")
    return _clone_volume(state, exec_node, source, list(snapshot.bricks), clone, argv)
