"""Import of a Heketi database dump (``heketi db export`` / ``GET /db/dump``) into heketipy.

``entities_from_dump(doc)`` is pure: it turns the dump JSON (Go field names, KiB sizes, pending
operations, bricks with ``LvmThinPool`` and ``SubType``) into heketipy entities, the database
attributes and a list of warnings about what the dump holds that heketipy cannot represent
(links a parent lists but the child does not confirm, non-standard brick paths, operation types
heketipy cannot recover). Every id, name, hostname, device path, option and tag is checked with
the API's rules (``domain.validators``): a dump is data from outside like any request.
``import_dump(doc, db_path)`` writes them into a fresh SQLite store, moved into place only when
complete, and refuses a target that already holds any entity.

Like Heketi's own import: durability is rebuilt from ``Info.durability``, the hostname registry
is not needed (heketipy indexes hostnames from the nodes), and a new ``DB_GENERATION_ID`` is
written, since the imported database is a new lineage.

What a dump does not say and is derived here:

* the replica/disperse set of each brick (``set_index``/``position``): bricks are grouped so a
  set never repeats a node where that is possible, arbiter bricks last in their set. That is
  only a guess (for a volume Heketi expanded it is often wrong): the volume is recorded with
  ``sets_verified`` false until ``operations.replica_sets`` has read Gluster's real sets
  (``heketipy db import --config``, the first start, or before a brick eviction);
* the journal data of pending operations (what ``recover()`` reads), rebuilt from the actions.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from heketipy.domain import entities as ent
from heketipy.domain import validators
from heketipy.domain.changes import CHANGE_DESCRIPTIONS, change_code
from heketipy.domain.consistency import mislinked_children
from heketipy.domain.state import Transaction
from heketipy.domain.tags import arbiter_requested
from heketipy.heketidump.export import OPERATION_TYPE_CODES
from heketipy.store.readonly import check_no_unfinished_changes, held_for_import, read_database
from heketipy.store.sqlite import Store, StoreError

BUCKETS = (
    "clusterentries",
    "volumeentries",
    "brickentries",
    "nodeentries",
    "deviceentries",
    "blockvolumeentries",
    "dbattributeentries",
    "pendingoperations",
)
GENERATION_KEY = "DB_GENERATION_ID"
DEFAULT_EXTENT_KIB = 4096
OPERATION_TYPE_NAMES = {code: name for name, code in OPERATION_TYPE_CODES.items()}
_THIN_POOL = re.compile(r"^tp_([0-9a-f]{32})$")


class DumpFormatError(ValueError):
    """The document is not a Heketi dump heketipy can load."""


class ImportRefused(StoreError):
    """The target database already holds a topology."""


@dataclass
class ImportReport:
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    generation_id: str = ""

    def summary(self) -> str:
        parts = ", ".join(f"{count} {name}" for name, count in self.counts.items())
        return f"imported {parts}"


@dataclass
class ParsedDump:
    entities: list[ent.Entity]
    attributes: dict[str, str]
    warnings: list[str]


# -- small typed readers ---------------------------------------------------------------------
def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DumpFormatError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DumpFormatError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _int(value: Any, where: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DumpFormatError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise DumpFormatError(f"{where}: expected a whole number, got {value!r}")
    return int(value)


def _str(value: Any, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise DumpFormatError(f"{where}: expected a string, got {value!r}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    return [_str(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where))]


def _tags(value: Any, where: str) -> dict[str, str]:
    return {str(k): _str(v, f"{where}.{k}") for k, v in _object(value, where).items()}


class _Fields:
    """One object of the dump, read field by field: each read checks the type and names the
    field's place (``where.key``) in its error."""

    __slots__ = ("data", "where")

    def __init__(self, value: Any, where: str) -> None:
        self.data = _object(value, where)
        self.where = where

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def fields(self, key: str) -> _Fields:
        return _Fields(self.data.get(key), self._at(key))

    def number(self, key: str, default: int = 0) -> int:
        return _int(self.data.get(key), self._at(key), default)

    def text(self, key: str, default: str = "") -> str:
        return _str(self.data.get(key), self._at(key), default)

    def texts(self, key: str) -> list[str]:
        return _strings(self.data.get(key), self._at(key))

    def tags(self, key: str) -> dict[str, str]:
        return _tags(self.data.get(key), self._at(key))

    def state(self) -> str:
        return self.text("State", default="online") or "online"

    def pending_id(self) -> str:
        return self.fields("Pending").text("Id")

    def entry_id(self, key: str, info: _Fields) -> str:
        """The id of a bucket entry: its ``Info.id``, which must be its key."""
        entity_id = info.text("id", default=key) or key
        if entity_id != key:
            raise DumpFormatError(f"{self.where}: key {key} differs from Info.id {entity_id}")
        return entity_id


# -- one reader per bucket -------------------------------------------------------------------
def _bucket_entry(bucket: str, key: str, entry: dict[str, Any]) -> tuple[_Fields, _Fields, str]:
    """The entry ``key`` of ``bucket``, its ``Info`` object and its id (checked against the key
    before any other field is read)."""
    fields = _Fields(entry, f"{bucket}.{key}")
    info = fields.fields("Info")
    return fields, info, fields.entry_id(key, info)


def _cluster(key: str, entry: dict[str, Any]) -> ent.Cluster:
    fields, info, entity_id = _bucket_entry("clusterentries", key, entry)
    # A dump from before the file/block flags existed: Heketi's upgrade allows both.
    return ent.Cluster(
        id=entity_id,
        file=bool(info.get("file", True)),
        block=bool(info.get("block", True)),
    )


def _node(key: str, entry: dict[str, Any]) -> ent.Node:
    fields, info, entity_id = _bucket_entry("nodeentries", key, entry)
    hostnames = info.fields("hostnames")
    manage = hostnames.texts("manage")
    storage = hostnames.texts("storage")
    if not manage or not storage:
        raise DumpFormatError(f"{fields.where}: a node needs manage and storage hostnames")
    return ent.Node(
        id=entity_id,
        cluster_id=info.text("cluster"),
        zone=info.number("zone"),
        manage=manage,
        storage=storage,
        tags=info.tags("tags"),
        state=fields.state(),
    )


def _device(key: str, entry: dict[str, Any], owner_of: dict[str, str]) -> ent.Device:
    fields, info, device_id = _bucket_entry("deviceentries", key, entry)
    storage = info.fields("storage")
    return ent.Device(
        id=device_id,
        node_id=fields.text("NodeId") or owner_of.get(device_id, ""),
        name=info.text("name"),
        total_kib=storage.number("total"),
        free_kib=storage.number("free"),
        used_kib=storage.number("used"),
        extent_kib=fields.number("ExtentSize") or DEFAULT_EXTENT_KIB,
        tags=info.tags("tags"),
        state=fields.state(),
        pv_uuid=info.text("pv_uuid"),
        paths=info.texts("paths"),
    )


def _brick(key: str, entry: dict[str, Any], owner_of: dict[str, str], warnings: list[str]) -> ent.Brick:
    fields, info, brick_id = _bucket_entry("brickentries", key, entry)
    # Very old dumps lack the brick's volume id; Heketi back-fills it from the volume's list.
    volume_id = info.text("volume") or owner_of.get(brick_id, "")
    subtype = fields.number("SubType", default=ent.BRICK_NORMAL)
    if subtype not in (ent.BRICK_NORMAL, ent.BRICK_ARBITER):
        subtype = ent.BRICK_NORMAL
    pool = fields.text("LvmThinPool")
    tp_id = ""
    match = _THIN_POOL.match(pool)
    if match and match.group(1) != brick_id:
        tp_id = match.group(1)
    elif pool and not match:
        warnings.append(f"Brick {brick_id}: thin pool name {pool!r} is not tp_<id>; using tp_{brick_id}")
    brick = ent.Brick(
        id=brick_id,
        volume_id=volume_id,
        device_id=info.text("device"),
        node_id=info.text("node"),
        size_kib=info.number("size"),
        tp_size_kib=fields.number("TpSize"),
        pool_metadata_kib=fields.number("PoolMetadataSize"),
        subtype=subtype,
        pending_op=fields.pending_id(),
        tp_id=tp_id,
    )
    path = info.text("path")
    lv = fields.text("LvmLv")
    volume_uuid = ent.gluster_layout_uuid(path)
    if volume_uuid is not None:  # a clone's brick, where gluster put it
        brick.served_path = path
        # Heketi stores <uuid>_0 for every clone brick: right with one brick per node
        brick.lv = lv if lv.startswith(f"{volume_uuid}_") else f"{volume_uuid}_0"
    if path != brick.path:
        warnings.append(f"Brick {brick_id}: path {path!r} differs from the standard {brick.path!r}")
    if lv and lv != brick.lv_name:
        warnings.append(f"Brick {brick_id}: logical volume {lv!r} differs from {brick.lv_name!r}")
    return brick


def _volume(key: str, entry: dict[str, Any], has_arbiter_brick: bool) -> ent.Volume:
    fields, info, entity_id = _bucket_entry("volumeentries", key, entry)
    echo = info.fields("durability")
    durability = echo.text("type") or "none"
    replicate = echo.fields("replicate")
    disperse = echo.fields("disperse")
    if durability not in ("none", "replicate", "disperse"):
        raise DumpFormatError(f"{fields.where}: unknown durability type {durability!r}")
    replica = replicate.number("replica")
    options = fields.texts("GlusterVolumeOptions")
    snapshot = info.fields("snapshot")
    snapshot_enable = bool(snapshot.get("enable", False))
    factor = snapshot.get("factor", 1)
    if isinstance(factor, bool) or not isinstance(factor, int | float):
        raise DumpFormatError(f"{snapshot.where}.factor: expected a number, got {factor!r}")
    blockinfo = info.fields("blockinfo")
    is_disperse = durability == "disperse"
    return ent.Volume(
        id=entity_id,
        name=info.text("name"),
        cluster_id=info.text("cluster"),
        size_gib=info.number("size"),
        durability_echo=echo.data,
        durability=durability,
        # A replicate request without a count means replica 2, as at create time.
        replica=(replica or 2) if durability == "replicate" else 1,
        data=disperse.number("data") if is_disperse else 0,
        redundancy=disperse.number("redundancy") if is_disperse else 0,
        arbiter=durability == "replicate" and (arbiter_requested(options) or has_arbiter_brick),
        gid=info.number("gid"),
        options=options,
        block=bool(info.get("block", False)),
        snapshot_enable=snapshot_enable,
        snapshot_factor=float(factor) if snapshot_enable else 1.0,
        block_free_gib=blockinfo.number("freesize"),
        block_reserved_gib=blockinfo.number("reservedsize"),
        block_restriction=blockinfo.text("restriction"),
        pending_op=fields.pending_id(),
    )


def _blockvolume(key: str, entry: dict[str, Any], owner_of: dict[str, str]) -> ent.BlockVolume:
    fields, info, bv_id = _bucket_entry("blockvolumeentries", key, entry)
    target = info.fields("blockvolume")
    username = target.text("username")
    return ent.BlockVolume(
        id=bv_id,
        name=info.text("name"),
        cluster_id=info.text("cluster"),
        bhv_id=info.text("blockhostingvolume") or owner_of.get(bv_id, ""),
        size_gib=info.number("size"),
        usable_size_gib=info.number("usablesize"),
        hacount=info.number("hacount"),
        # Heketi omits ``auth`` when false; credentials exist only for an auth volume.
        auth=bool(info.get("auth", bool(username))),
        hosts=target.texts("hosts"),
        iqn=target.text("iqn"),
        lun=target.number("lun"),
        username=username,
        password=target.text("password"),
        pending_op=fields.pending_id(),
    )


def _operation(
    key: str,
    entry: dict[str, Any],
    blockvolumes: dict[str, ent.BlockVolume],
    warnings: list[str],
) -> ent.PendingOperation:
    fields = _Fields(entry, f"pendingoperations.{key}")
    op_id = fields.text("Id", default=key) or key
    if op_id != key:
        raise DumpFormatError(f"{fields.where}: key {key} differs from Id {op_id}")
    type_name = OPERATION_TYPE_NAMES.get(fields.number("Type"), "unknown")
    changes = []
    for i, item in enumerate(_list(entry.get("Actions"), fields._at("Actions"))):
        action = _Fields(item, f"{fields.where}.Actions[{i}]")
        change = {"change": action.number("Change"), "id": action.text("Id"), "delta": action.get("Delta")}
        # Stored like heketipy's own journal: the description, which ``change_code`` reads.
        change["change"] = CHANGE_DESCRIPTIONS.get(change_code(change), "Unknown")
        changes.append(change)
    record = ent.PendingOperation(
        id=op_id,
        type_name=type_name,
        timestamp=fields.number("Timestamp"),
        changes=changes,
        status=fields.text("Status"),
    )
    record.data, problem = _journal_data(record, blockvolumes)
    parent = _first(record, "Belongs to parent operation")
    record.parent_id = parent["id"] if parent else ""
    if problem:
        warnings.append(f"Pending operation {op_id} ({type_name}): {problem}")
    return record


def _first(record: ent.PendingOperation, description: str) -> dict[str, Any] | None:
    for change in record.changes:
        if change["change"] == description:
            return change
    return None


def _delta_int(change: dict[str, Any] | None) -> int:
    value = change.get("delta") if change else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _journal_data(
    record: ent.PendingOperation, blockvolumes: dict[str, ent.BlockVolume]
) -> tuple[dict[str, Any], str]:
    """What each operation's ``load()`` reads, rebuilt from the persisted actions.

    Returns (data, problem): ``problem`` explains why start-up recovery cannot handle it.
    """
    name = record.type_name

    def target(description: str) -> str:
        change = _first(record, description)
        return change["id"] if change else ""

    if name in ("create-volume", "delete-volume"):
        volume = target("Add volume" if name == "create-volume" else "Delete volume")
        return {"volume": volume}, "" if volume else "no volume action"
    if name == "expand-volume":
        change = _first(record, "Expand volume")
        if change is None:
            return {}, "no expand action"
        return {"volume": change["id"], "delta": _delta_int(change)}, ""
    if name in ("create-block-volume", "delete-block-volume", "expand-block-volume"):
        description = {
            "create-block-volume": "Add block volume",
            "delete-block-volume": "Delete block volume",
            "expand-block-volume": "Expand block volume",
        }[name]
        change = _first(record, description)
        bv = blockvolumes.get(change["id"]) if change else None
        if change is None or bv is None:
            return {}, "its block volume is not in the dump"
        data: dict[str, Any] = {"blockvolume": bv.id}
        if name == "create-block-volume":
            data.update(
                bhv=bv.bhv_id,
                bhv_created=_first(record, "Add volume") is not None,
                size=bv.size_gib,
                hacount=bv.hacount,
                auth=bv.auth,
            )
        elif name == "expand-block-volume":
            delta = _delta_int(change)
            data.update(new_size=bv.size_gib + delta, delta=delta)
        return data, ""
    if name == "evict-brick":
        old, new = target("Delete brick"), target("Add brick")
        return {"old": old, "new": new}, "" if old and new else "incomplete brick actions"
    if name == "clone-volume":
        source, clone = target("Clone volume from"), target("Expand volume to")
        return {"source": source, "clone": clone, "name": ""}, (
            "a clone cannot be cleaned up; remove it by hand after checking the nodes"
        )
    return {}, "heketipy cannot resume this operation type; clean it up by hand"


# -- derived structure -----------------------------------------------------------------------
def _set_size(volume: ent.Volume) -> int:
    # At least 1: bricks are grouped and counted in sets of this width.
    return max(volume.set_size, 1)


def _assign_sets(volume: ent.Volume, bricks: list[ent.Brick]) -> None:
    """Group a volume's bricks into sets: no node twice in a set where avoidable, arbiter last."""
    size = _set_size(volume)
    set_count = max(1, math.ceil(len(bricks) / size))
    members: list[list[ent.Brick]] = [[] for _ in range(set_count)]
    arbiters = [b for b in bricks if b.subtype == ent.BRICK_ARBITER]
    data = sorted((b for b in bricks if b.subtype != ent.BRICK_ARBITER), key=lambda b: (b.node_id, b.id))
    data_per_set = size - 1 if arbiters else size
    for brick in data:
        open_sets = [m for m in members if len(m) < data_per_set] or members
        fitting = [m for m in open_sets if all(b.node_id != brick.node_id for b in m)]
        chosen = min(fitting or open_sets, key=len)
        chosen.append(brick)
    for brick in sorted(arbiters, key=lambda b: b.id):
        open_sets = [m for m in members if len(m) < size] or members
        fitting = [m for m in open_sets if all(b.node_id != brick.node_id for b in m)]
        min(fitting or open_sets, key=len).append(brick)
    for set_index, set_bricks in enumerate(members):
        set_bricks.sort(key=lambda b: (b.subtype == ent.BRICK_ARBITER, b.id))
        for position, brick in enumerate(set_bricks):
            brick.set_index = set_index
            brick.position = position


def _owners(bucket: dict[str, Any], list_key: str, name: str) -> dict[str, str]:
    """child id -> parent id, from the id lists a parent entry keeps."""
    owner: dict[str, str] = {}
    for parent_id, entry in bucket.items():
        for child in _strings(_object(entry, name).get(list_key), f"{name}.{parent_id}.{list_key}"):
            owner.setdefault(child, parent_id)
    return owner


def _info_list(key: str) -> Any:
    return lambda entry: _object(entry.get("Info"), "Info").get(key)


def _link_warnings(
    kind: str,
    bucket: dict[str, Any],
    links: list[tuple[Any, str, dict[str, Any], str]],
) -> list[str]:
    """Warn about children a parent lists that do not exist or point elsewhere.

    ``links``: (entry -> listed ids, child kind, children by id, child's attribute naming
    its parent). heketipy keeps links on the child only, so such a listing cannot survive.
    """
    warnings = []
    for parent_id, entry in sorted(bucket.items()):
        for listed, child_kind, children, back_link in links:
            listed_ids = _strings(listed(entry), f"{kind} {parent_id} {child_kind} list")
            for child_id, owner in mislinked_children(parent_id, listed_ids, children, back_link):
                if owner is None:
                    warnings.append(f"{kind} {parent_id} lists unknown {child_kind} {child_id}")
                else:
                    warnings.append(
                        f"{kind} {parent_id} lists {child_kind} {child_id} which belongs to "
                        f"{owner or 'nothing'}"
                    )
    return warnings


# -- the API's rules, applied to every imported value ----------------------------------------
MAX_REPORTED_PROBLEMS = 10


class _Problems:
    """Collects every value of a dump that the API would refuse, with where it is."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, where: str, value: str, problem: str | None) -> None:
        if problem:
            self.found.append(f"{where}: {validators.shown(value)} {problem}")

    def ids(self, where: str, *values: str) -> None:
        for value in values:
            if value and not validators.is_valid_id(value):
                self.found.append(f"{where}: {validators.shown(value)} is not a valid id")

    def hosts(self, where: str, hosts: Iterable[str]) -> None:
        for i, host in enumerate(hosts):
            self.check(f"{where}[{i}]", host, validators.host_problem(host))

    def tags(self, where: str, tags: dict[str, str]) -> None:
        problem = validators.tags_problem(tags)
        if problem:
            self.found.append(f"{where}: {problem}")


# Where each kind's entries live in a dump, and which attributes hold ids (-> dump field).
_ID_FIELDS: dict[str, tuple[str, dict[str, str]]] = {
    "cluster": ("clusterentries", {}),
    "node": ("nodeentries", {"cluster_id": "Info.cluster"}),
    "device": ("deviceentries", {"node_id": "NodeId"}),
    "volume": ("volumeentries", {"cluster_id": "Info.cluster", "pending_op": "Pending.Id"}),
    "brick": ("brickentries", {
        "volume_id": "Info.volume", "device_id": "Info.device", "node_id": "Info.node",
        "pending_op": "Pending.Id",
    }),
    "blockvolume": ("blockvolumeentries", {
        "cluster_id": "Info.cluster", "bhv_id": "Info.blockhostingvolume",
        "pending_op": "Pending.Id",
    }),
    "operation": ("pendingoperations", {}),
}  # fmt: skip


def _unsafe_values(entities: Iterable[ent.Entity]) -> list[str]:
    """Every id, name, hostname, device path, option and tag the dump holds, checked with the
    rules of the API and the node command builders (``domain.validators``)."""
    found = _Problems()
    for entity in entities:
        bucket, id_fields = _ID_FIELDS[entity.kind]
        where = f"{bucket}.{entity.id}"
        found.ids(where, entity.id)
        for attribute, field_name in id_fields.items():
            found.ids(f"{where}.{field_name}", getattr(entity, attribute))
        if isinstance(entity, ent.Node):
            found.hosts(f"{where}.Info.hostnames.manage", entity.manage)
            found.hosts(f"{where}.Info.hostnames.storage", entity.storage)
            found.tags(f"{where}.Info.tags", entity.tags)
        elif isinstance(entity, ent.Device):
            name_problem = validators.device_path_problem(entity.name)
            found.check(f"{where}.Info.name", entity.name, name_problem)
            for i, path in enumerate(entity.paths):
                found.check(f"{where}.Info.paths[{i}]", path, validators.device_path_problem(path))
            found.tags(f"{where}.Info.tags", entity.tags)
        elif isinstance(entity, ent.Volume | ent.BlockVolume):
            found.check(f"{where}.Info.name", entity.name, validators.name_problem(entity.name))
        if isinstance(entity, ent.Volume):
            for i, option in enumerate(entity.options):
                if option.strip():  # Heketi stores blank options; they never reach a node
                    problem = validators.option_problem(option)
                    found.check(f"{where}.GlusterVolumeOptions[{i}]", option, problem)
        elif isinstance(entity, ent.BlockVolume):
            found.hosts(f"{where}.Info.blockvolume.hosts", entity.hosts)
        elif isinstance(entity, ent.PendingOperation):
            for i, change in enumerate(entity.changes):
                found.ids(f"{where}.Actions[{i}].Id", change["id"])
    return found.found


def _refuse_unsafe(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    tail = f"\n  ... and {more} more" if more else ""
    raise DumpFormatError(
        f"the dump holds {len(problems)} value(s) the API would refuse:\n  "
        + "\n  ".join(shown)
        + tail
    )


def entities_from_dump(doc: Any) -> ParsedDump:
    """Parse a Heketi dump document into entities, attributes (no generation id) and warnings."""
    doc = _object(doc, "dump")
    missing = [b for b in ("clusterentries", "nodeentries", "deviceentries") if b not in doc]
    if missing:
        raise DumpFormatError(f"not a Heketi database dump: missing {', '.join(missing)}")
    warnings = [f"ignored unknown section {key!r}" for key in sorted(doc) if key not in BUCKETS]
    buckets = {name: _object(doc.get(name), name) for name in BUCKETS}
    for name in BUCKETS:
        if name != "dbattributeentries":
            for key, entry in buckets[name].items():
                _object(entry, f"{name}.{key}")

    device_owner = _owners(buckets["nodeentries"], "Devices", "nodeentries")
    brick_owner = _owners(buckets["volumeentries"], "Bricks", "volumeentries")
    clusters = {k: _cluster(k, e) for k, e in buckets["clusterentries"].items()}
    nodes = {k: _node(k, e) for k, e in buckets["nodeentries"].items()}
    devices = {k: _device(k, e, device_owner) for k, e in buckets["deviceentries"].items()}
    bricks = {k: _brick(k, e, brick_owner, warnings) for k, e in buckets["brickentries"].items()}
    arbiter_volumes = {b.volume_id for b in bricks.values() if b.subtype == ent.BRICK_ARBITER}
    volumes = {
        k: _volume(k, e, k in arbiter_volumes) for k, e in buckets["volumeentries"].items()
    }
    bhv_owner: dict[str, str] = {}
    for volume_id, entry in buckets["volumeentries"].items():
        blockinfo = _object(_object(entry.get("Info"), volume_id).get("blockinfo"), volume_id)
        for bv_id in _strings(blockinfo.get("blockvolume"), f"volumeentries.{volume_id}"):
            bhv_owner.setdefault(bv_id, volume_id)
    blockvolumes = {
        k: _blockvolume(k, e, bhv_owner) for k, e in buckets["blockvolumeentries"].items()
    }
    operations = {
        k: _operation(k, e, blockvolumes, warnings)
        for k, e in sorted(buckets["pendingoperations"].items())
    }

    by_volume: dict[str, list[ent.Brick]] = defaultdict(list)
    for brick in bricks.values():
        by_volume[brick.volume_id].append(brick)
    for volume_id, volume_bricks in by_volume.items():
        volume = volumes.get(volume_id)
        if volume is not None:
            _assign_sets(volume, sorted(volume_bricks, key=lambda b: b.id))
            volume.sets_verified = False
            if len(volume_bricks) % _set_size(volume):
                warnings.append(
                    f"Volume {volume_id}: {len(volume_bricks)} bricks do not fill sets of "
                    f"{_set_size(volume)}"
                )
    # The dump has no creation order; id order is as good as any and deterministic.
    for seq, volume_id in enumerate(sorted(volumes), start=1):
        volumes[volume_id].created_seq = seq

    warnings += _link_warnings("Cluster", buckets["clusterentries"], [
        (_info_list("nodes"), "node", nodes, "cluster_id"),
        (_info_list("volumes"), "volume", volumes, "cluster_id"),
        (_info_list("blockvolumes"), "block volume", blockvolumes, "cluster_id"),
    ])
    warnings += _link_warnings("Node", buckets["nodeentries"], [
        (lambda e: e.get("Devices"), "device", devices, "node_id"),
    ])
    warnings += _link_warnings("Device", buckets["deviceentries"], [
        (lambda e: e.get("Bricks"), "brick", bricks, "device_id"),
    ])
    warnings += _link_warnings("Volume", buckets["volumeentries"], [
        (lambda e: e.get("Bricks"), "brick", bricks, "volume_id"),
        (lambda e: _object(_info_list("blockinfo")(e), "blockinfo").get("blockvolume"),
         "block volume", blockvolumes, "bhv_id"),
    ])

    attributes: dict[str, str] = {}
    for key, entry in buckets["dbattributeentries"].items():
        fields = _Fields(entry, f"dbattributeentries.{key}")
        name = fields.text("Key", default=key) or key
        if name != GENERATION_KEY:
            attributes[name] = fields.text("Value")

    entities: list[ent.Entity] = [
        *clusters.values(), *nodes.values(), *devices.values(), *volumes.values(),
        *bricks.values(), *blockvolumes.values(), *operations.values(),
    ]
    _refuse_unsafe(_unsafe_values(entities))
    return ParsedDump(entities, attributes, warnings)


# -- writing ---------------------------------------------------------------------------------
def _counts(entities: Iterable[ent.Entity]) -> dict[str, int]:
    counts = {kind: 0 for kind in (
        "cluster", "node", "device", "volume", "brick", "blockvolume", "operation"
    )}
    for entity in entities:
        counts[entity.kind] += 1
    return {f"{kind}s": count for kind, count in counts.items()}


async def import_dump(doc: Any, db_path: str) -> ImportReport:
    """Load a Heketi dump into the heketipy database at ``db_path``.

    The target is a new file, an empty file, or a heketipy database without any entity, with
    no unfinished changes beside it; its lock is held as a server holds it throughout. The
    new database is written in a temporary directory beside it and moved into place only
    when complete, so a refusal (``DumpFormatError`` for a malformed or unsafe dump,
    ``ImportRefused`` for a database that holds a topology, ``NotADatabase``, ``StoreError``)
    or a crash leaves every file, and its mode, as it was.
    """
    parsed = entities_from_dump(doc)
    generation = await write_new_database(parsed, db_path)
    return ImportReport(_counts(parsed.entities), parsed.warnings, generation)


async def write_new_database(parsed: ParsedDump, db_path: str) -> str:
    """Write ``parsed`` as the database at ``db_path`` (see ``import_dump`` for the rules and
    refusals); returns the new database's generation id."""
    target = os.path.abspath(db_path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise StoreError(f"directory {directory} does not exist")
    with held_for_import(target):
        # Also beside a missing or zero-byte target: a stale log would be replayed into the
        # imported database the next time it is opened, bringing the old contents back.
        check_no_unfinished_changes(target)
        replacing = os.path.lexists(target)
        if replacing and os.path.getsize(target) > 0:
            entities, _attributes = read_database(target)
            if entities:
                raise ImportRefused(
                    f"database {db_path} is not empty; import only into a new database"
                )
        workdir = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.import-", dir=directory)
        try:
            built = os.path.join(workdir, os.path.basename(target))
            generation = await _write_database(parsed, built)
            _move_into_place(built, target, replacing)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return generation


async def _write_database(parsed: ParsedDump, path: str) -> str:
    """Create the database at ``path`` holding ``parsed``; return its new generation id."""
    store = Store(path)
    state = await store.open()
    try:
        tx = Transaction(state)
        for entity in parsed.entities:
            tx.add(entity)
        for key, value in sorted(parsed.attributes.items()):
            tx.set_attribute(key, value)
        generation = ent.new_id()
        tx.set_attribute(GENERATION_KEY, generation)
        await store.commit(tx)
    finally:
        await store.close()
    return generation


def _move_into_place(built: str, target: str, replacing: bool) -> None:
    if replacing:
        os.replace(built, target)
    else:
        try:
            os.link(built, target)  # never overwrites a file that appeared meanwhile
        except FileExistsError:
            raise ImportRefused(f"{target} appeared during the import; nothing imported") from None
        except OSError:  # a filesystem without hard links
            if os.path.lexists(target):
                raise ImportRefused(f"{target} appeared during the import") from None
            os.rename(built, target)
    fd = os.open(os.path.dirname(target), os.O_RDONLY)
    try:
        os.fsync(fd)  # the new directory entry survives a crash
    finally:
        os.close(fd)
