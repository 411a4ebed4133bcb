"""The pure half of a rebuild: entities from the topology file and the facts read from nodes.

What comes from where (the README's ``heketipy db rebuild`` section repeats it):

* clusters and nodes: the topology file (hostnames, zone, tags, the file/block flags). Nodes
  keep no Heketi id, so each gets a new one; a cluster keeps the id its nodes name in their
  ``cluster`` field, else gets a new one. Every new id is listed in ``Rebuilt.new_ids``.
* devices: the id from the VG name ``vg_<id>``; size, extent, PV uuid and paths from LVM; the
  name is the topology's device whose path LVM lists for the PV (else the PV path), its tags
  the topology's; used space is the charge (thin pool + metadata) of its bricks, free the rest.
* volumes: ``gluster volume info`` of the trusted pool: id from ``user.heketi.id`` (else from a
  ``vol_<id>`` name), name, durability from the type and counts, bricks in set order, options
  (less what glusterd and the settings put there); the size inverted from the brick sizes as
  placement derives them; the snapshot factor from thin pool size over brick size; the gid
  from the brick directories' group; block hosting from the block-hosting options.
* bricks: id and device from the path ``.../vg_<device>/brick_<id>/brick`` (a clone's: the
  tags of the LV glusterd mounted), size from the thin LV, thin pool size from its pool, pool
  metadata from the space formula, set and position from gluster's order.
* block volumes: ``gluster-block info`` of each block-hosting volume: the id from a
  ``blockvol_<id>`` name (else new), size, hosts, IQN, credentials; the BHV's free and
  reserved space follow from its size and its block volumes.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from heketipy.config.settings import Settings
from heketipy.domain import entities as ent
from heketipy.domain import validators
from heketipy.domain.placement.sizes import arbiter_brick_kib
from heketipy.domain.space import space_needed
from heketipy.domain.units import KIB_PER_GIB, MOUNTS_ROOT, bhv_usable_gib, bricks_per_set
from heketipy.executors.base import BlockVolumeInfo, GlusterVolume, NodeLogicalVolume
from heketipy.executors.commands_lvm import BRICK_TAG_PREFIX, MIN_XFS_KIB
from heketipy.models.topology_file import TopologyFile, devices
from heketipy.operations.placement_view import policy_for
from heketipy.rebuild.facts import NodeFacts, RebuildError

HEKETI_ID_OPTION = "user.heketi.id"
# Options glusterd 10 sets by itself on a new volume (seen in captured ``volume info``): they
# were never part of a create request.
GLUSTERD_OWN_OPTIONS = frozenset({
    "nfs.disable", "transport.address-family", "storage.fips-mode-rchecksum",
    "performance.client-io-threads", "cluster.granular-entry-heal",
})  # fmt: skip
# What ``volume set <v> group gluster-block`` expands to (glusterd's groups/gluster-block):
# a real glusterd lists these instead of the group; the simulator lists ``group``.
OPTION_GROUPS = {
    "gluster-block": {
        "performance.quick-read": "off", "performance.read-ahead": "off",
        "performance.io-cache": "off", "performance.stat-prefetch": "off",
        "performance.open-behind": "off", "performance.readdir-ahead": "off",
        "performance.strict-o-direct": "on", "performance.client-io-threads": "on",
        "performance.io-thread-count": "32", "performance.high-prio-threads": "32",
        "performance.normal-prio-threads": "32", "performance.low-prio-threads": "32",
        "performance.least-prio-threads": "4", "client.event-threads": "8",
        "server.event-threads": "8", "network.remote-dio": "disable",
        "cluster.eager-lock": "enable", "cluster.quorum-type": "auto",
        "cluster.data-self-heal-algorithm": "full", "cluster.locking-scheme": "granular",
        "cluster.shd-max-threads": "8", "cluster.shd-wait-qlength": "10000",
        "features.shard": "on", "features.shard-block-size": "64MB", "user.cifs": "off",
        "server.allow-insecure": "on", "cluster.choose-local": "off",
        "cluster.lookup-optimize": "off",
    },
}  # fmt: skip
_HEKETI_BRICK = re.compile(
    re.escape(MOUNTS_ROOT) + r"/vg_([0-9a-f]{32})/brick_([0-9a-f]{32})/brick"
)
_VOLUME_NAME = re.compile(r"vol_([0-9a-f]{32})")
_BLOCK_NAME = re.compile(r"blockvol_([0-9a-f]{32})")
VG_NAME = re.compile(r"vg_([0-9a-f]{32})")
_DECIMALS = range(0, 7)


@dataclass
class Rebuilt:
    """The reconstructed database: entities, the ids that had to be made up, warnings."""

    entities: list[ent.Entity] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for entity in self.entities:
            counts[entity.kind] += 1
        return dict(counts)


@dataclass(frozen=True)
class TopologyNodeEntry:
    cluster_index: int
    cluster_id: str  # the id every node of the cluster names, or ""
    manage: tuple[str, ...]
    storage: tuple[str, ...]
    zone: int
    tags: dict[str, str]
    device_tags: dict[str, dict[str, str]]  # device name -> tags


def topology_nodes(topology: TopologyFile) -> list[TopologyNodeEntry]:
    """The topology's nodes, flattened; RebuildError for a node without hostnames or one
    listed twice."""
    entries: list[TopologyNodeEntry] = []
    seen: set[str] = set()
    for index, cluster in enumerate(topology.clusters):
        if cluster is None:
            continue
        nodes = [n for n in cluster.nodes if n is not None]
        named = {n.node.cluster for n in nodes}
        cluster_id = named.pop() if len(named) == 1 else ""
        if not validators.is_generated_id(cluster_id):
            cluster_id = ""
        for node in nodes:
            manage = tuple(node.node.hostnames.manage or ())
            storage = tuple(node.node.hostnames.storage or ())
            if not manage or not storage:
                raise RebuildError(
                    f"topology cluster {index + 1}: a node without manage and storage hostnames"
                )
            if manage[0] in seen:
                raise RebuildError(f"topology: node {manage[0]} is listed twice")
            seen.add(manage[0])
            entries.append(TopologyNodeEntry(
                cluster_index=index, cluster_id=cluster_id, manage=manage, storage=storage,
                zone=node.node.zone, tags=dict(node.node.tags),
                device_tags={d.name: dict(d.tags) for d in devices(node)},
            ))  # fmt: skip
    if not entries:
        raise RebuildError("the topology file lists no node")
    return entries


def _option_pairs(entries: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for entry in entries:
        key, _, value = entry.strip().partition(" ")
        if key:
            pairs.append((key, value.strip()))
    return pairs


def _split(value: str | None) -> list[str]:
    """Go's strings.Split(value, ","), as a create splits the configured option lists."""
    return (value or "").split(",")


def _has(options: dict[str, str], key: str, value: str) -> bool:
    if key == "group":
        group = OPTION_GROUPS.get(value)
        return options.get("group") == value or bool(group) and all(
            options.get(k) == v for k, v in (group or {}).items()
        )
    return options.get(key) == value


def is_block_hosting(volume: GlusterVolume, settings: Settings) -> bool:
    """Whether the volume carries every block-hosting option the settings configure."""
    wanted = _option_pairs(_split(settings.glusterfs.block_hosting_volume_options))
    return bool(wanted) and all(_has(volume.options, k, v) for k, v in wanted)


def volume_id_of(volume: GlusterVolume) -> str:
    """The heketipy id of a gluster volume; "" for a volume heketipy did not make."""
    heketi_id = volume.options.get(HEKETI_ID_OPTION, "")
    if validators.is_generated_id(heketi_id):
        return heketi_id
    match = _VOLUME_NAME.fullmatch(volume.name)
    return match.group(1) if match else ""


def _configured_keys(settings: Settings, block: bool) -> set[str]:
    gluster = settings.glusterfs
    entries = _split(gluster.pre_request_volume_options) + _split(
        gluster.post_request_volume_options
    )
    if block:
        entries += _split(gluster.block_hosting_volume_options)
    keys: set[str] = set()
    for key, value in _option_pairs(entries):
        keys.add(key)
        if key == "group":
            keys |= set(OPTION_GROUPS.get(value, {}))
    return keys


def volume_options(volume: GlusterVolume, settings: Settings, block: bool) -> list[str]:
    """The options as a create stored them: the configured ones around what the request
    added, which is what gluster lists (newest first) less glusterd's own, ``user.heketi.id``
    and the configured ones."""
    gluster = settings.glusterfs
    skip = GLUSTERD_OWN_OPTIONS | {HEKETI_ID_OPTION} | _configured_keys(settings, block)
    requested = [f"{k} {v}" for k, v in reversed(volume.options.items()) if k not in skip]
    options = _split(gluster.pre_request_volume_options)
    if block:
        options += _split(gluster.block_hosting_volume_options)
    return options + requested + _split(gluster.post_request_volume_options)


def _durability(volume: GlusterVolume) -> tuple[str, int, int, int, bool]:
    """(durability, replica, data, redundancy, arbiter) from gluster's type and counts."""
    kind = volume.type.lower()
    if "disperse" in kind:
        return "disperse", 1, volume.disperse - volume.redundancy, volume.redundancy, False
    if "replicate" in kind:
        return "replicate", volume.replica, 0, 0, volume.arbiter > 0
    return "none", 1, 0, 0, False


def _durability_echo(durability: str, replica: int, data: int, redundancy: int) -> dict:
    return {
        "type": durability,
        "replicate": {"replica": replica} if durability == "replicate" else {},
        "disperse": {"data": data, "redundancy": redundancy} if durability == "disperse" else {},
    }


@dataclass
class _PlacedBrick:
    brick: ent.Brick
    node: ent.Node
    lv: NodeLogicalVolume
    pool: NodeLogicalVolume | None
    extent_kib: int


def _snapshot_factor(pairs: list[tuple[int, int, int]]) -> float | None:
    """The factor ``f`` with ``space_needed(brick, f)`` giving each pool size, the one with the
    fewest decimals; None when no factor up to 6 decimals fits. ``pairs``: (brick, pool,
    extent) KiB."""
    if not pairs:
        return 1.0
    brick, pool, _ = max(pairs)
    for decimals in _DECIMALS:
        factor = round(pool / brick, decimals) if brick else 1.0
        for candidate in {factor, round(factor + 10**-decimals, decimals)}:
            if candidate >= 1 and all(
                space_needed(b, candidate, e)[0] == p for b, p, e in pairs
            ):
                return candidate
    return None


class _Builder:
    def __init__(self, topology: TopologyFile, nodes: dict[str, NodeFacts], settings: Settings):
        self.settings = settings
        self.entries = topology_nodes(topology)
        self.topology = topology
        self.facts = nodes
        self.out = Rebuilt()
        self.problems: list[str] = []
        self.node_of_host: dict[str, ent.Node] = {}
        self.facts_of_node: dict[str, NodeFacts] = {}
        self.cluster_of_node: dict[str, str] = {}
        self.devices: dict[str, ent.Device] = {}
        self.charges: dict[str, int] = defaultdict(int)
        self.claimed_lvs: set[tuple[str, str, str]] = set()  # (host, vg, lv)
        self.charged_pools: set[str] = set()  # host/vg/pool

    # -- clusters, nodes, devices --------------------------------------------------------------
    def clusters_and_nodes(self) -> None:
        cluster_ids: dict[int, str] = {}
        topology_clusters = list(self.topology.clusters)
        for entry in self.entries:
            if entry.cluster_index in cluster_ids:
                continue
            cluster = topology_clusters[entry.cluster_index]
            cid = entry.cluster_id or ent.new_id()
            cluster_ids[entry.cluster_index] = cid
            self.out.entities.append(ent.Cluster(id=cid, file=cluster.file, block=cluster.block))
            members = [e.manage[0] for e in self.entries if e.cluster_index == entry.cluster_index]
            if not entry.cluster_id:
                self.out.new_ids.append(f"cluster {cid}: new id (nodes {', '.join(members)})")
        for entry in self.entries:
            facts = self.facts.get(entry.manage[0])
            if facts is None:
                raise RebuildError(f"node {entry.manage[0]}: nothing was read from it")
            node = ent.Node(
                id=ent.new_id(), cluster_id=cluster_ids[entry.cluster_index], zone=entry.zone,
                manage=list(entry.manage), storage=list(entry.storage), tags=dict(entry.tags),
            )  # fmt: skip
            self.out.entities.append(node)
            self.out.new_ids.append(f"node {node.id}: new id ({entry.manage[0]})")
            for host in (*entry.manage, *entry.storage):
                self.node_of_host.setdefault(host, node)
            self.facts_of_node[node.id] = facts
            self.cluster_of_node[node.id] = node.cluster_id
            self._devices(node, entry, facts)

    def _devices(self, node: ent.Node, entry: TopologyNodeEntry, facts: NodeFacts) -> None:
        matched: set[str] = set()
        for device_id, info in sorted(facts.devices.items()):
            name = next((n for n in entry.device_tags if n in info.paths), "")
            if not name:
                name = info.paths[0] if info.paths else ""
                self.out.warnings.append(
                    f"node {node.manage_host}: device {device_id} ({name}) is not in the "
                    "topology file; rebuilt without tags"
                )
            matched.add(name)
            device = ent.Device(
                id=device_id, node_id=node.id, name=name, total_kib=info.total_kib,
                free_kib=info.total_kib, used_kib=0, extent_kib=info.extent_kib,
                tags=dict(entry.device_tags.get(name, {})), pv_uuid=info.pv_uuid,
                paths=list(info.paths),
            )  # fmt: skip
            self.devices[device_id] = device
            self.out.entities.append(device)
        for name in sorted(set(entry.device_tags) - matched):
            self.problems.append(
                f"node {node.manage_host}: topology device {name} holds no heketipy volume "
                "group (is this the right node? a device never added belongs out of the file)"
            )

    # -- volumes and bricks --------------------------------------------------------------------
    def cluster_volumes(self) -> dict[str, list[GlusterVolume]]:
        """Each cluster's gluster volumes (its nodes' pool), in the order gluster lists them."""
        found: dict[str, dict[str, GlusterVolume]] = defaultdict(dict)
        for node_id, facts in self.facts_of_node.items():
            cluster_id = self.cluster_of_node[node_id]
            for volume in facts.volumes:
                found[cluster_id].setdefault(volume.name, volume)
        return {cid: list(volumes.values()) for cid, volumes in found.items()}

    def _lv(self, facts: NodeFacts, vg: str, name: str) -> NodeLogicalVolume | None:
        return next((lv for lv in facts.inventory.lvs if lv.vg == vg and lv.name == name), None)

    def _brick(self, volume_id: str, host: str, path: str,
               earlier_on_node: int) -> _PlacedBrick | None:
        """The brick gluster serves at ``host:path``; ``earlier_on_node`` counts the volume's
        bricks before it on the same node (glusterd's LV names for a clone's bricks)."""
        node = self.node_of_host.get(host)
        where = f"volume {volume_id} brick {host}:{path}"
        if node is None:
            self.problems.append(f"{where}: host {host} is not in the topology file")
            return None
        facts = self.facts_of_node[node.id]
        layout = _HEKETI_BRICK.fullmatch(path)
        if layout:
            device_id, brick_id = layout.groups()
            vg, lv_name, served, lv_field = f"vg_{device_id}", f"brick_{brick_id}", "", ""
            lv = self._lv(facts, vg, lv_name)
        else:
            snap_uuid = ent.gluster_layout_uuid(path)
            lv = None
            if snap_uuid:
                lv_name = f"{snap_uuid}_{earlier_on_node}"
                lv = next((x for x in facts.inventory.lvs if x.name == lv_name), None)
            tag = next(
                (t for t in (lv.tags if lv else ()) if t.startswith(BRICK_TAG_PREFIX)), ""
            )
            vg_match = VG_NAME.fullmatch(lv.vg) if lv else None
            brick_id = tag.removeprefix(BRICK_TAG_PREFIX)
            if lv is None or vg_match is None or not validators.is_generated_id(brick_id):
                self.problems.append(f"{where}: not a brick path heketipy made")
                return None
            device_id, vg, served, lv_field = vg_match.group(1), lv.vg, path, lv.name
        if lv is None:
            self.problems.append(f"{where}: no LV {vg}/{lv_name} on {node.manage_host}")
            return None
        device = self.devices.get(device_id)
        if device is None or device.node_id != node.id:
            self.problems.append(f"{where}: no device {device_id} on {node.manage_host}")
            return None
        pool = self._lv(facts, vg, lv.pool) if lv.pool else None
        if pool is None:
            self.problems.append(f"{where}: LV {vg}/{lv.name} has no thin pool")
            return None
        tp_id = pool.name.removeprefix("tp_")
        brick = ent.Brick(
            id=brick_id, volume_id=volume_id, device_id=device_id, node_id=node.id,
            size_kib=lv.size_kib, tp_size_kib=0, pool_metadata_kib=0,
            tp_id="" if tp_id == brick_id else tp_id, served_path=served, lv=lv_field,
        )  # fmt: skip
        self.claimed_lvs.add((node.manage_host, vg, lv.name))
        return _PlacedBrick(brick, node, lv, pool, device.extent_kib)

    def volumes(self) -> dict[str, ent.Volume]:
        rebuilt: dict[str, ent.Volume] = {}
        seq = 0
        for cluster_id, volumes in self.cluster_volumes().items():
            for gluster in volumes:
                volume_id = volume_id_of(gluster)
                if not volume_id:
                    self.out.warnings.append(
                        f"gluster volume {gluster.name} has no heketipy id: not heketipy's, "
                        "left out"
                    )
                    continue
                if volume_id in rebuilt:
                    self.problems.append(
                        f"volume id {volume_id} is on gluster volumes {rebuilt[volume_id].name}"
                        f" and {gluster.name}"
                    )
                    continue
                seq += 1
                volume = self._volume(cluster_id, volume_id, gluster, seq)
                if volume is not None:
                    rebuilt[volume.id] = volume
        return rebuilt

    def _volume(self, cluster_id: str, volume_id: str, gluster: GlusterVolume,
                seq: int) -> ent.Volume | None:
        durability, replica, data, redundancy, arbiter = _durability(gluster)
        width = max(1, bricks_per_set(durability, replica, data, redundancy))
        if not gluster.bricks or len(gluster.bricks) % width:
            self.problems.append(
                f"volume {gluster.name}: {len(gluster.bricks)} bricks do not make whole sets "
                f"of {width}"
            )
            return None
        placed: list[_PlacedBrick] = []
        per_node: dict[str, int] = defaultdict(int)
        for index, gb in enumerate(gluster.bricks):
            node = self.node_of_host.get(gb.host)
            earlier = per_node[node.id] if node else 0
            if node:
                per_node[node.id] += 1
            found = self._brick(volume_id, gb.host, gb.path, earlier)
            if found is None:
                return None
            found.brick.set_index, found.brick.position = divmod(index, width)
            if arbiter and found.brick.position == width - 1:
                found.brick.subtype = ent.BRICK_ARBITER
            placed.append(found)
        if {p.node.cluster_id for p in placed} != {cluster_id}:
            self.problems.append(f"volume {gluster.name}: bricks on nodes of another cluster")
            return None
        block = is_block_hosting(gluster, self.settings)
        options = volume_options(gluster, self.settings, block)
        gids = self._gids(gluster.name, placed)
        if gids is None:
            return None
        sized = self._sizes(gluster.name, placed, durability, data, options, arbiter)
        if sized is None:
            return None
        chunks, factor = sized
        volume = ent.Volume(
            id=volume_id, name=gluster.name, cluster_id=cluster_id, size_gib=sum(chunks),
            durability_echo=_durability_echo(durability, replica, data, redundancy),
            durability=durability, replica=replica, data=data, redundancy=redundancy,
            arbiter=arbiter, gid=gids, options=options, block=block,
            snapshot_enable=factor != 1.0, snapshot_factor=factor, created_seq=seq,
        )  # fmt: skip
        if block:
            usable = sum(bhv_usable_gib(chunk) for chunk in chunks)
            volume.block_free_gib = usable
            volume.block_reserved_gib = volume.size_gib - usable
        self._charge(placed)
        self.out.entities.append(volume)
        self.out.entities.extend(p.brick for p in placed)
        return volume

    def _gids(self, name: str, placed: list[_PlacedBrick]) -> int | None:
        gids = set()
        for p in placed:
            gid = self.facts_of_node[p.node.id].recovery.brick_gids.get(p.brick.path)
            if gid is None:
                self.problems.append(f"volume {name}: no group id read for {p.brick.path}")
                return None
            gids.add(gid)
        if len(gids) != 1:
            self.problems.append(f"volume {name}: brick directories differ in group {sorted(gids)}")
            return None
        return gids.pop()

    def _sizes(self, name: str, placed: list[_PlacedBrick], durability: str, data: int,
               options: list[str], arbiter: bool) -> tuple[list[int], float] | None:
        """(volume size in GiB per creation chunk, snapshot factor); sizes set on the bricks."""
        own_pool = [p for p in placed if not p.brick.served_path]
        data_bricks = [p for p in own_pool if p.brick.subtype == ent.BRICK_NORMAL]
        sized = [p for p in data_bricks if p.lv.size_kib > MIN_XFS_KIB]
        factor = _snapshot_factor(
            [(p.lv.size_kib, p.pool.size_kib, p.extent_kib) for p in sized if p.pool]
        )
        if factor is None:
            self.problems.append(f"volume {name}: no snapshot factor gives its thin pool sizes")
            return None
        policy = policy_for(self.settings, options, factor)
        for p in own_pool:
            assert p.pool is not None
            if p.brick.subtype == ent.BRICK_ARBITER:
                data_kib = next(
                    (q.brick.size_kib for q in placed
                     if q.brick.set_index == p.brick.set_index and q is not p), 0,
                )  # fmt: skip
                if data_kib:
                    p.brick.size_kib = max(
                        arbiter_brick_kib(data_kib, policy.average_file_size_kib),
                        policy.min_filesystem_kib,
                    )
            elif p.lv.size_kib <= MIN_XFS_KIB and factor == 1.0:
                p.brick.size_kib = min(p.lv.size_kib, p.pool.size_kib)
            pool_kib, metadata_kib = space_needed(p.brick.size_kib, factor, p.extent_kib)
            if pool_kib != p.pool.size_kib:
                self.problems.append(
                    f"volume {name}: brick {p.brick.id} of {p.brick.size_kib} KiB cannot have a "
                    f"thin pool of {p.pool.size_kib} KiB at snapshot factor {factor}"
                )
                return None
        multiplier = data if durability == "disperse" else 1
        sets: dict[int, int] = {}
        for p in placed:
            if p.brick.subtype == ent.BRICK_NORMAL:
                sets.setdefault(p.brick.set_index, p.brick.size_kib)
        chunks: list[int] = []
        run: list[int] = []
        for index in sorted(sets):
            brick_kib = sets[index]
            # A create (or an expansion) splits into several equal sets only when one brick
            # would exceed the maximum: equal sets of smaller bricks were separate requests.
            if run and (brick_kib != run[0] or 2 * brick_kib <= policy.brick_max_kib):
                chunks.append(math.ceil(len(run) * run[0] * multiplier / KIB_PER_GIB))
                run = []
            run.append(brick_kib)
        if run:
            chunks.append(math.ceil(len(run) * run[0] * multiplier / KIB_PER_GIB))
        return chunks, factor

    def _charge(self, placed: list[_PlacedBrick]) -> None:
        """Each thin pool is charged once: to the brick named after it, else to the first of
        the bricks living in it (a clone's, once its source is gone)."""
        for p in placed:
            assert p.pool is not None
            key = f"{p.node.manage_host}/{p.pool.vg}/{p.pool.name}"
            if key in self.charged_pools:
                continue
            if p.brick.served_path and self._pool_has_own_brick(p):
                continue
            self.charged_pools.add(key)
            pool_kib, metadata_kib = space_needed(p.pool.size_kib, 1.0, p.extent_kib)
            p.brick.tp_size_kib = pool_kib
            p.brick.pool_metadata_kib = metadata_kib
            self.charges[p.brick.device_id] += pool_kib + metadata_kib

    def _pool_has_own_brick(self, p: _PlacedBrick) -> bool:
        facts = self.facts_of_node[p.node.id]
        assert p.pool is not None
        return any(
            lv.vg == p.pool.vg and lv.pool == p.pool.name and lv.name.startswith("brick_")
            for lv in facts.inventory.lvs
        )

    # -- block volumes -------------------------------------------------------------------------
    def block_volumes(self, volumes: dict[str, ent.Volume]) -> None:
        infos: dict[tuple[str, str], BlockVolumeInfo] = {}
        for node_id, facts in self.facts_of_node.items():
            cluster_id = self.cluster_of_node[node_id]
            for hosting, blocks in facts.recovery.block_volumes.items():
                for info in blocks:
                    infos.setdefault((cluster_id, f"{hosting}\0{info.name}"), info)
        by_name = {(v.cluster_id, v.name): v for v in volumes.values()}
        for (cluster_id, key), info in sorted(infos.items()):
            bhv_name = key.split("\0", 1)[0]
            bhv = by_name.get((cluster_id, bhv_name))
            if bhv is None:
                self.problems.append(f"block volume {info.name}: its volume {bhv_name} is unknown")
                continue
            match = _BLOCK_NAME.fullmatch(info.name)
            block_id = match.group(1) if match else ent.new_id()
            if not match:
                self.out.new_ids.append(f"blockvolume {block_id}: new id ({info.name})")
            bhv.block = True
            bhv.block_free_gib -= info.size_gib
            self.out.entities.append(ent.BlockVolume(
                id=block_id, name=info.name, cluster_id=cluster_id, bhv_id=bhv.id,
                size_gib=info.size_gib, usable_size_gib=info.usable_size_gib,
                hacount=len(info.hosts), auth=bool(info.password), hosts=list(info.hosts),
                iqn=info.iqn, lun=info.lun, username=info.username, password=info.password,
            ))  # fmt: skip

    def unclaimed_bricks(self) -> None:
        for facts in self.facts_of_node.values():
            for lv in facts.inventory.lvs:
                if lv.kind == "thin-pool" or not VG_NAME.fullmatch(lv.vg):
                    continue
                if (facts.host, lv.vg, lv.name) not in self.claimed_lvs and any(
                    t.startswith(BRICK_TAG_PREFIX) for t in lv.tags
                ):
                    self.out.warnings.append(
                        f"node {facts.host}: LV {lv.vg}/{lv.name} is in no gluster volume; "
                        "left out (drift reports it as orphaned)"
                    )

    def finish_devices(self) -> None:
        for device in self.devices.values():
            device.used_kib = self.charges.get(device.id, 0)
            device.free_kib = device.total_kib - device.used_kib


def reconstruct(topology: TopologyFile, nodes: dict[str, NodeFacts], settings: Settings) -> Rebuilt:
    """The database the nodes describe; RebuildError (listing every problem) when any volume
    cannot be rebuilt exactly."""
    builder = _Builder(topology, nodes, settings)
    builder.clusters_and_nodes()
    volumes = builder.volumes()
    builder.block_volumes(volumes)
    builder.unclaimed_bricks()
    builder.finish_devices()
    if builder.problems:
        raise RebuildError(
            "the nodes do not describe a database that can be rebuilt exactly:\n  "
            + "\n  ".join(builder.problems)
        )
    return builder.out
