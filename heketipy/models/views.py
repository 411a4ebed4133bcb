"""Heketi's JSON response shapes, built from the in-memory state.

Field order is Heketi's emission order (contract section 6); ``omitempty`` fields are left out
when empty. Only plain dicts/lists are produced, encoded by ``heketipy.gocompat.json_encode``.
"""

from __future__ import annotations

from typing import Any

from heketipy.domain.entities import BlockVolume, Brick, Device, Node, Volume
from heketipy.domain.replica_sets import database_sets
from heketipy.domain.state import State


def cluster_view(state: State, cluster_id: str) -> dict[str, Any]:
    cluster = state.clusters[cluster_id]
    return {
        "id": cluster.id,
        "nodes": state.node_ids(cluster.id),
        "volumes": state.visible_volume_ids(cluster.id),
        "block": cluster.block,
        "file": cluster.file,
        "blockvolumes": state.visible_blockvolume_ids(cluster.id),
    }


def brick_view(brick: Brick) -> dict[str, Any]:
    return {
        "id": brick.id,
        "path": brick.path,
        "device": brick.device_id,
        "node": brick.node_id,
        "volume": brick.volume_id,
        "size": brick.size_kib,
    }


def device_info(device: Device) -> dict[str, Any]:
    """Heketi's DeviceInfo: the device fields shared by the API view and the DB dump."""
    info: dict[str, Any] = {"name": device.name}
    if device.tags:
        info["tags"] = dict(sorted(device.tags.items()))
    info["storage"] = {
        "total": device.total_kib,
        "free": device.free_kib,
        "used": device.used_kib,
    }
    info["id"] = device.id
    if device.paths:
        info["paths"] = list(device.paths)
    if device.pv_uuid:
        info["pv_uuid"] = device.pv_uuid
    return info


def device_view(state: State, device: Device) -> dict[str, Any]:
    view = device_info(device)
    view["state"] = device.state
    view["bricks"] = [
        brick_view(state.bricks[b]) for b in state.brick_ids_of_device(device.id)
    ]
    return view


def node_info(node: Node) -> dict[str, Any]:
    """Heketi's ``NodeInfo``: what the node view and the dump's node entry share."""
    info: dict[str, Any] = {
        "zone": node.zone,
        "hostnames": {"manage": list(node.manage), "storage": list(node.storage)},
        "cluster": node.cluster_id,
    }
    if node.tags:
        info["tags"] = dict(sorted(node.tags.items()))
    info["id"] = node.id
    return info


def node_view(state: State, node: Node) -> dict[str, Any]:
    view = node_info(node)
    view["state"] = node.state
    view["devices"] = [device_view(state, state.devices[d]) for d in state.device_ids(node.id)]
    return view


def mount_view(state: State, volume: Volume) -> dict[str, Any]:
    hosts = state.mount_hosts(volume.cluster_id)
    first = hosts[0] if hosts else ""
    return {
        "glusterfs": {
            "hosts": hosts,
            "device": f"{first}:{volume.name}",
            "options": {"backup-volfile-servers": ",".join(hosts[1:])},
        }
    }


def volume_view(state: State, volume: Volume) -> dict[str, Any]:
    view: dict[str, Any] = {"size": volume.size_gib, "name": volume.name}
    view["durability"] = volume.durability_echo
    if volume.gid:
        view["gid"] = volume.gid
    if volume.options:
        view["glustervolumeoptions"] = list(volume.options)
    if volume.block:
        view["block"] = True
    factor = volume.snapshot_factor if volume.snapshot_enable else 1
    if float(factor).is_integer():
        factor = int(factor)
    view["snapshot"] = {"enable": volume.snapshot_enable, "factor": factor}
    view["id"] = volume.id
    view["cluster"] = volume.cluster_id
    view["mount"] = mount_view(state, volume)
    blockinfo: dict[str, Any] = {}
    if volume.block_free_gib:
        blockinfo["freesize"] = volume.block_free_gib
    if volume.block_reserved_gib:
        blockinfo["reservedsize"] = volume.block_reserved_gib
    block_volumes = sorted(state.bhv_blockvolumes.get(volume.id, ()))
    if block_volumes:
        blockinfo["blockvolume"] = block_volumes
    if volume.block_restriction:
        blockinfo["restriction"] = volume.block_restriction
    view["blockinfo"] = blockinfo
    # Heketi's order: it keeps a volume's bricks sorted by id (its database order), which
    # is not the set order; clients reading the list see what Heketi showed them.
    bricks = sorted(state.volume_bricks.get(volume.id, ()))
    view["bricks"] = [brick_view(state.bricks[b]) for b in bricks]
    return view


def volume_sets_view(state: State, volume: Volume) -> dict[str, Any]:
    """heketipy's ``GET /internal/state/volumes/{id}/sets``: the volume's brick ids by set, in
    position order, and whether the sets were verified from gluster."""
    sets = database_sets(
        (b.set_index, b.position, b.id) for b in state.bricks_of_volume(volume.id)
    )
    return {"volume": volume.id, "verified": volume.sets_verified, "sets": sets}


def blockvolume_view(state: State, bv: BlockVolume) -> dict[str, Any]:
    view: dict[str, Any] = {"size": bv.size_gib, "name": bv.name}
    if bv.hacount:
        view["hacount"] = bv.hacount
    view["id"] = bv.id
    view["blockvolume"] = {
        "hosts": list(bv.hosts),
        "iqn": bv.iqn,
        "lun": bv.lun,
        "username": bv.username,
        "password": bv.password,
    }
    if bv.cluster_id:
        view["cluster"] = bv.cluster_id
    if bv.bhv_id:
        view["blockhostingvolume"] = bv.bhv_id
    if bv.usable_size_gib:
        view["usablesize"] = bv.usable_size_gib
    return view
