"""The database consistency check (``GET /db/check``, ``heketi db check``): a pure function
from the state to Heketi's report.

Per bucket ``{total, pending, ok, notok, inconsistencies}`` plus ``totalinconsistencies``: every
entity is checked against the tables it links to (parents exist, listed children exist and point
back, device sizes add up, pending markers name a known operation and the operation's changes
name the entities pending on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from heketipy.domain.changes import CHANGE_DESCRIPTIONS, PENDING_CHANGE_TABLES, change_code
from heketipy.domain.entities import BlockVolume, Brick, Device, Node, PendingOperation, Volume
from heketipy.domain.state import State

CHECK_BUCKETS = (
    "clusters",
    "volumes",
    "bricks",
    "nodes",
    "devices",
    "blockvolumes",
    "dbattributes",
    "pendingoperations",
)

_Checked = TypeVar("_Checked")


class _Bucket:
    """Counts of one bucket of the check report."""

    def __init__(self) -> None:
        self.total = 0
        self.pending = 0
        self.ok = 0
        self.notok = 0
        self.inconsistencies: list[str] = []

    def record(self, problems: list[str], pending: bool = False) -> None:
        self.total += 1
        self.pending += int(pending)
        if problems:
            self.notok += 1
            self.inconsistencies.extend(problems)
        else:
            self.ok += 1

    def report(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "pending": self.pending,
            "ok": self.ok,
            "notok": self.notok,
            # Go's nil slice: null when there is nothing to report.
            "inconsistencies": list(self.inconsistencies) or None,
        }


def _bucket(
    table: Mapping[str, _Checked],
    problems_of: Callable[[str, _Checked], list[str]],
    pending_of: Callable[[_Checked], str] | None = None,
) -> _Bucket:
    """Check every entry of ``table`` in id order; ``pending_of`` names its pending operation
    for the tables whose entries can be pending."""
    bucket = _Bucket()
    for entity_id in sorted(table):
        entity = table[entity_id]
        pending = bool(pending_of(entity)) if pending_of is not None else False
        bucket.record(problems_of(entity_id, entity), pending=pending)
    return bucket


def _unknown(kind: str, entity_id: str, what: str, target_id: str, table: Mapping[str, Any]) -> list[str]:
    """The problem of an entity whose link ``target_id`` names nothing in ``table``."""
    if target_id in table:
        return []
    return [f"{kind} {entity_id} unknown {what} {target_id}"]


def _pending_problems(state: State, kind: str, entity_id: str, op_id: str) -> list[str]:
    if not op_id:
        return []
    return _unknown(kind, entity_id, "pending operation", op_id, state.operations)


def _linked_children(
    kind: str,
    parent_id: str,
    children: Iterable[str],
    table: Mapping[str, Any],
    child_kind: str,
    back_link: str,
) -> list[str]:
    """Problems of an index entry: every child listed under the parent exists and points back."""
    problems = []
    for child_id, owner in mislinked_children(parent_id, sorted(children), table, back_link):
        if owner is None:
            problems.append(f"{kind} {parent_id} unknown {child_kind} {child_id}")
        else:
            problems.append(
                f"{kind} {parent_id} lists {child_kind} {child_id} which belongs to {owner}"
            )
    return problems


def mislinked_children(
    parent_id: str, children: Iterable[str], table: Mapping[str, Any], back_link: str
) -> Iterator[tuple[str, str | None]]:
    """The children listed under ``parent_id`` that do not link back to it, in listed order:
    ``(child id, None)`` for a child missing from ``table``, ``(child id, its parent)`` for one
    whose ``back_link`` attribute names another parent."""
    for child_id in children:
        child = table.get(child_id)
        if child is None:
            yield child_id, None
        elif (owner := getattr(child, back_link)) != parent_id:
            yield child_id, owner


def _cluster_problems(state: State, cid: str) -> list[str]:
    problems = _linked_children(
        "Cluster", cid, state.cluster_nodes.get(cid, ()), state.nodes, "node", "cluster_id"
    )
    problems += _linked_children(
        "Cluster", cid, state.cluster_volumes.get(cid, ()), state.volumes, "volume", "cluster_id"
    )
    problems += _linked_children(
        "Cluster", cid, state.cluster_blockvolumes.get(cid, ()), state.blockvolumes,
        "block volume", "cluster_id",
    )
    return problems


def _node_problems(state: State, nid: str, node: Node) -> list[str]:
    problems = _unknown("Node", nid, "cluster", node.cluster_id, state.clusters)
    problems += _linked_children(
        "Node", nid, state.node_devices.get(nid, ()), state.devices, "device", "node_id"
    )
    return problems


def _device_problems(state: State, did: str, device: Device) -> list[str]:
    problems = _unknown("Device", did, "node", device.node_id, state.nodes)
    brick_ids = state.device_bricks.get(did, ())
    problems += _linked_children("Device", did, brick_ids, state.bricks, "brick", "device_id")
    if device.total_kib != device.free_kib + device.used_kib:
        problems.append(
            f"Device {did} total size {device.total_kib} != free {device.free_kib}"
            f" + used {device.used_kib}"
        )
    charged = sum(state.bricks[b].charge_kib for b in brick_ids if b in state.bricks)
    if device.used_kib != charged:
        problems.append(f"Device {did} used size {device.used_kib} != size of its bricks {charged}")
    return problems


def _brick_problems(state: State, bid: str, brick: Brick) -> list[str]:
    problems = _unknown("Brick", bid, "volume", brick.volume_id, state.volumes)
    problems += _unknown("Brick", bid, "device", brick.device_id, state.devices)
    device = state.devices.get(brick.device_id)
    if brick.node_id not in state.nodes:
        problems.append(f"Brick {bid} unknown node {brick.node_id}")
    elif device is not None and device.node_id != brick.node_id:
        problems.append(
            f"Brick {bid} node {brick.node_id} differs from node {device.node_id}"
            f" of device {device.id}"
        )
    return problems + _pending_problems(state, "Brick", bid, brick.pending_op)


def _volume_problems(state: State, vid: str, volume: Volume) -> list[str]:
    problems = _unknown("Volume", vid, "cluster", volume.cluster_id, state.clusters)
    problems += _linked_children(
        "Volume", vid, state.volume_bricks.get(vid, ()), state.bricks, "brick", "volume_id"
    )
    if volume.block:
        hosted = state.bhv_blockvolumes.get(vid, ())
        hosted_gib = sum(state.blockvolumes[b].size_gib for b in hosted if b in state.blockvolumes)
        used_gib = volume.size_gib - volume.block_free_gib - volume.block_reserved_gib
        if used_gib != hosted_gib:
            problems.append(
                f"Block hosting volume {vid} size {volume.size_gib} - free"
                f" {volume.block_free_gib} - reserved {volume.block_reserved_gib}"
                f" != size of its block volumes {hosted_gib}"
            )
    return problems + _pending_problems(state, "Volume", vid, volume.pending_op)


def _blockvolume_problems(state: State, bid: str, bv: BlockVolume) -> list[str]:
    problems = _unknown("Block volume", bid, "cluster", bv.cluster_id, state.clusters)
    problems += _unknown("Block volume", bid, "block hosting volume", bv.bhv_id, state.volumes)
    hosting = state.volumes.get(bv.bhv_id)
    if hosting is not None and not hosting.block:
        problems.append(f"Block volume {bid} hosted by volume {bv.bhv_id} without block")
    return problems + _pending_problems(state, "Block volume", bid, bv.pending_op)


def _operation_problems(state: State, oid: str, record: PendingOperation) -> list[str]:
    problems = []
    for change in record.changes:
        kind = PENDING_CHANGE_TABLES.get(change_code(change))
        if kind is None:
            continue
        target_id = str(change.get("id", ""))
        target = state.table(kind).get(target_id)
        label = CHANGE_DESCRIPTIONS[change_code(change)]
        if target is None:
            problems.append(f"Pending operation {oid} ({label}) unknown {kind} {target_id}")
        elif target.pending_op != oid:
            problems.append(
                f"Pending operation {oid} ({label}) {kind} {target_id} is pending on"
                f" {target.pending_op or 'nothing'}"
            )
    if record.parent_id and record.parent_id not in state.operations:
        problems.append(f"Pending operation {oid} unknown parent operation {record.parent_id}")
    return problems


def _pending_op(entity: Brick | Volume | BlockVolume) -> str:
    return entity.pending_op


def check(state: State) -> dict[str, Any]:
    """The consistency report of ``GET /db/check``; all zeros and nulls on a consistent state."""
    buckets = {
        "clusters": _bucket(state.clusters, lambda cid, _c: _cluster_problems(state, cid)),
        "volumes": _bucket(
            state.volumes, lambda vid, v: _volume_problems(state, vid, v), _pending_op
        ),
        "bricks": _bucket(state.bricks, lambda bid, b: _brick_problems(state, bid, b), _pending_op),
        "nodes": _bucket(state.nodes, lambda nid, n: _node_problems(state, nid, n)),
        "devices": _bucket(state.devices, lambda did, d: _device_problems(state, did, d)),
        "blockvolumes": _bucket(
            state.blockvolumes, lambda bid, bv: _blockvolume_problems(state, bid, bv), _pending_op
        ),
        # Heketi never evaluates the attributes bucket.
        "dbattributes": _Bucket(),
        "pendingoperations": _bucket(
            state.operations, lambda oid, op: _operation_problems(state, oid, op)
        ),
    }
    report: dict[str, Any] = {name: buckets[name].report() for name in CHECK_BUCKETS}
    report["totalinconsistencies"] = sum(len(b.inconsistencies) for b in buckets.values())
    return report
