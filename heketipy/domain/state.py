"""The in-memory topology: every entity by id plus the parent -> children indexes.

One ``State`` is the working set of a server; ``heketipy.store`` persists it. All reads in
request handlers are dictionary and index lookups (no scans of all volumes or bricks).
Mutations go through a ``Transaction`` so they can be persisted as one unit and undone in
memory if the plan fails half-way.
"""

from __future__ import annotations

import bisect
import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from heketipy.domain.entities import (
    BlockVolume,
    Brick,
    Cluster,
    Device,
    Entity,
    Node,
    PendingOperation,
    Volume,
)


class State:
    def __init__(self) -> None:
        self.clusters: dict[str, Cluster] = {}
        self.nodes: dict[str, Node] = {}
        self.devices: dict[str, Device] = {}
        self.bricks: dict[str, Brick] = {}
        self.volumes: dict[str, Volume] = {}
        self.blockvolumes: dict[str, BlockVolume] = {}
        self.operations: dict[str, PendingOperation] = {}
        self.attributes: dict[str, str] = {}
        self.cluster_nodes: dict[str, set[str]] = defaultdict(set)
        self.cluster_volumes: dict[str, set[str]] = defaultdict(set)
        self.cluster_blockvolumes: dict[str, set[str]] = defaultdict(set)
        self.node_devices: dict[str, set[str]] = defaultdict(set)
        self.device_bricks: dict[str, set[str]] = defaultdict(set)
        self.volume_bricks: dict[str, set[str]] = defaultdict(set)
        self.bhv_blockvolumes: dict[str, set[str]] = defaultdict(set)
        self.hostnames: dict[str, str] = {}  # manage or storage hostname -> node id
        # cluster id -> volume name -> how many volumes carry it (names are unique but for
        # the moment a clone or a create is planned)
        self.cluster_volume_names: dict[str, dict[str, int]] = defaultdict(dict)
        # volume name -> ids of the volumes carrying it in any cluster, pending ones included
        # (GET /volumes?volume_name=, heketipy-csi's idempotency lookup)
        self.volumes_by_name: dict[str, set[str]] = defaultdict(set)
        self.volume_seq = 0
        # Ids of volumes GET /volumes shows (no pending create/delete/clone), kept sorted
        # incrementally so listing 10,000 volumes does not scan and sort them per request;
        # ``visible_version`` changes whenever the list does. Readers cache answers derived
        # from it in ``cache``, tagged with the version they were computed at.
        self.visible_volumes: list[str] = []
        self.visible_version = 0
        self.cache: dict[str, tuple[int, Any]] = {}

    # -- lookup tables per kind -------------------------------------------------------------
    def table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "cluster": self.clusters,
            "node": self.nodes,
            "device": self.devices,
            "brick": self.bricks,
            "volume": self.volumes,
            "blockvolume": self.blockvolumes,
            "operation": self.operations,
        }
        return tables[kind]

    def _index(self, entity: Entity, add: bool) -> None:
        def link(index: dict[str, set[str]], key: str) -> None:
            if add:
                index[key].add(entity.id)
            else:
                members = index.get(key)
                if members is not None:
                    members.discard(entity.id)
                    if not members:
                        del index[key]

        if isinstance(entity, Node):
            link(self.cluster_nodes, entity.cluster_id)
            for host in entity.manage + entity.storage:
                if add:
                    self.hostnames[host] = entity.id
                elif self.hostnames.get(host) == entity.id:
                    del self.hostnames[host]
        elif isinstance(entity, Device):
            link(self.node_devices, entity.node_id)
        elif isinstance(entity, Brick):
            link(self.device_bricks, entity.device_id)
            link(self.volume_bricks, entity.volume_id)
        elif isinstance(entity, Volume):
            link(self.cluster_volumes, entity.cluster_id)
            link(self.volumes_by_name, entity.name)
            names = self.cluster_volume_names[entity.cluster_id]
            count = names.get(entity.name, 0) + (1 if add else -1)
            if count > 0:
                names[entity.name] = count
            else:
                names.pop(entity.name, None)
            if add:
                self.volume_seq = max(self.volume_seq, entity.created_seq)
        elif isinstance(entity, BlockVolume):
            link(self.cluster_blockvolumes, entity.cluster_id)
            link(self.bhv_blockvolumes, entity.bhv_id)

    def insert(self, entity: Entity) -> None:
        self.table(entity.kind)[entity.id] = entity
        self._index(entity, True)

    def discard(self, entity: Entity) -> None:
        table = self.table(entity.kind)
        current = table.pop(entity.id, None)
        if current is not None:
            self._index(current, False)

    def load(self, entities: Iterable[Entity], attributes: dict[str, str]) -> None:
        for entity in entities:
            self.insert(entity)
        self.attributes.update(attributes)
        self.visible_volumes = sorted(v.id for v in self.volumes.values() if not v.pending_op)
        self.visible_version += 1

    def refresh_visibility(self, volume_ids: Iterable[str]) -> None:
        """Re-derive ``visible_volumes`` for volumes a committed transaction touched."""
        for volume_id in volume_ids:
            volume = self.volumes.get(volume_id)
            visible = volume is not None and not volume.pending_op
            index = bisect.bisect_left(self.visible_volumes, volume_id)
            present = (
                index < len(self.visible_volumes) and self.visible_volumes[index] == volume_id
            )
            if visible and not present:
                self.visible_volumes.insert(index, volume_id)
                self.visible_version += 1
            elif present and not visible:
                del self.visible_volumes[index]
                self.visible_version += 1

    # -- derived views --------------------------------------------------------------------
    def node_ids(self, cluster_id: str) -> list[str]:
        return sorted(self.cluster_nodes.get(cluster_id, ()))

    def device_ids(self, node_id: str) -> list[str]:
        return sorted(self.node_devices.get(node_id, ()))

    def brick_ids_of_device(self, device_id: str) -> list[str]:
        return sorted(self.device_bricks.get(device_id, ()))

    def bricks_of_volume(self, volume_id: str) -> list[Brick]:
        bricks = [self.bricks[b] for b in self.volume_bricks.get(volume_id, ())]
        bricks.sort(key=lambda b: (b.set_index, b.position, b.id))
        return bricks

    def volume_hidden(self, volume: Volume) -> bool:
        """Volumes with a pending create/delete/clone are invisible to GETs and lists."""
        return bool(volume.pending_op)

    def blockvolume_hidden(self, bv: BlockVolume) -> bool:
        return bool(bv.pending_op)

    def visible_volume_ids(self, cluster_id: str) -> list[str]:
        return sorted(
            v for v in self.cluster_volumes.get(cluster_id, ())
            if not self.volume_hidden(self.volumes[v])
        )

    def visible_blockvolume_ids(self, cluster_id: str) -> list[str]:
        return sorted(
            b for b in self.cluster_blockvolumes.get(cluster_id, ())
            if not self.blockvolume_hidden(self.blockvolumes[b])
        )

    def mount_hosts(self, cluster_id: str) -> list[str]:
        return [self.nodes[n].storage_host for n in self.node_ids(cluster_id)]

    def volume_ids_named(self, name: str) -> list[str]:
        """Ids of the volumes named ``name``, in any cluster, pending ones included."""
        return sorted(self.volumes_by_name.get(name, ()))

    def volume_names(self, cluster_id: str) -> Mapping[str, int]:
        """The names in use in a cluster (a live view: test membership with ``in``)."""
        return self.cluster_volume_names.get(cluster_id, {})


def _snapshot(entity: Entity) -> Entity:
    """A copy for undo: entities hold flat lists and dicts whose items are replaced, never
    mutated in place, so copying each container one level deep suffices (and is several times
    cheaper than ``copy.deepcopy`` on the hot path of every operation)."""
    clone = copy.copy(entity)
    for name, value in vars(entity).items():
        if isinstance(value, list | dict):
            setattr(clone, name, value.copy())
    return clone


class Transaction:
    """Records every change to ``State`` so it can be persisted atomically or undone.

    Call ``touch(entity)`` *before* mutating an existing entity, ``add`` for new ones and
    ``delete`` for removals. ``undo()`` restores the in-memory state exactly.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self._originals: dict[tuple[str, str], Entity | None] = {}
        self.attributes: dict[str, str] = {}

    def _remember(self, entity: Entity) -> None:
        key = (entity.kind, entity.id)
        if key not in self._originals:
            current = self.state.table(entity.kind).get(entity.id)
            self._originals[key] = _snapshot(current) if current is not None else None

    def touch(self, entity: Entity) -> Any:
        self._remember(entity)
        return entity

    def add(self, entity: Entity) -> Any:
        self._remember(entity)
        self.state.insert(entity)
        return entity

    def delete(self, entity: Entity) -> None:
        self._remember(entity)
        self.state.discard(entity)

    def set_attribute(self, key: str, value: str) -> None:
        self.attributes[key] = value
        self.state.attributes[key] = value

    def touched(self, kind: str) -> list[str]:
        """Ids of the entities of ``kind`` this transaction added, changed or deleted."""
        return [entity_id for (k, entity_id) in self._originals if k == kind]

    @property
    def empty(self) -> bool:
        return not self._originals and not self.attributes

    def changes(self) -> tuple[list[Entity], list[tuple[str, str]]]:
        """(entities to write, (kind, id) to delete) as of now."""
        puts: list[Entity] = []
        deletes: list[tuple[str, str]] = []
        for kind, entity_id in self._originals:
            current = self.state.table(kind).get(entity_id)
            if current is None:
                deletes.append((kind, entity_id))
            else:
                puts.append(current)
        return puts, deletes

    def undo(self) -> None:
        for (kind, entity_id), original in reversed(list(self._originals.items())):
            current = self.state.table(kind).get(entity_id)
            if current is not None:
                self.state.discard(current)
            if original is not None:
                self.state.insert(original)
        self._originals.clear()
