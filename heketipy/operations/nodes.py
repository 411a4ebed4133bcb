"""Node and device lifecycle: add, delete, state changes, resync, tags.

Device add and delete are journaled; the rest are Heketi's "operations without a pending op"
(``Unjournaled`` background work). Moving bricks off a device being removed is delegated to
``operations.bricks`` (brick evict).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable

from heketipy.domain.entities import Device, Node, new_id
from heketipy.domain.errors import (
    TARGET_IN_USE,
    Conflict,
    InvalidRequest,
    NotFound,
    OperationFailed,
)
from heketipy.domain.state import Transaction
from heketipy.operations.bricks import remove_device_bricks
from heketipy.operations.runtime import Operation, Runtime, Unjournaled


def check_hostnames_free(rt: Runtime, manage: list[str], storage: list[str]) -> None:
    for host in list(manage) + list(storage):
        owner = rt.state.hostnames.get(host) or rt.reserved_hosts.get(host)
        if owner is not None:
            # Heketi names the manage hostname first; its text ends with two newlines.
            raise Conflict(f"Hostname {host} already used by node with id {owner}\n")


async def add_node(
    rt: Runtime, cluster_id: str, zone: int, manage: list[str], storage: list[str],
    tags: dict[str, str],
) -> str:
    """Synchronous checks, then a background job; returns the /queue id."""
    if cluster_id not in rt.state.clusters:
        raise NotFound("Cluster id does not exist")
    check_hostnames_free(rt, manage, storage)
    node = Node(
        id=new_id(), cluster_id=cluster_id, zone=zone, manage=list(manage),
        storage=list(storage), tags=dict(tags),
    )
    peers = [rt.state.nodes[n] for n in rt.state.node_ids(cluster_id)]
    online_peers = [p for p in peers if p.state == "online"]
    rt.executor.register_node(node.manage, node.storage)
    try:
        await rt.executor.glusterd_check(node.manage_host)
    except Exception as exc:
        raise InvalidRequest("New Node doesn't have glusterd running") from exc
    for host in node.manage + node.storage:
        rt.reserved_hosts[host] = node.id

    async def work() -> str:
        try:
            if online_peers:
                await rt.executor.peer_probe(online_peers[0].manage_host, node.storage_host)
            await rt.apply(lambda tx: tx.add(node))
        finally:
            for host in node.manage + node.storage:
                if rt.reserved_hosts.get(host) == node.id:
                    del rt.reserved_hosts[host]
        return f"/nodes/{node.id}"

    return await rt.start(Unjournaled("add-node", work))


async def delete_node(rt: Runtime, node: Node) -> str:
    if rt.state.node_devices.get(node.id):
        raise Conflict(f"Unable to delete node [{node.id}] because it contains devices")

    async def work() -> None:
        others = [
            rt.state.nodes[n] for n in rt.state.node_ids(node.cluster_id)
            if n != node.id and rt.state.nodes[n].state == "online"
        ]
        if others:
            await rt.executor.peer_detach(others[0].manage_host, node.storage_host)
        await rt.apply(lambda tx: tx.delete(node))
        return None

    return await rt.start(Unjournaled("delete-node", work))


async def set_node_state(rt: Runtime, node: Node, new_state: str) -> str:
    return await _start_state_change(
        rt, "node-state", lambda: change_node_state(rt, node, new_state), new_state
    )


async def change_node_state(rt: Runtime, node: Node, new_state: str) -> None:
    async def move_bricks_off() -> None:
        for device_id in rt.state.device_ids(node.id):
            device = rt.state.devices[device_id]
            if device.state != "failed":
                await remove_device_bricks(rt, device, node_removal=True)

                def fail_device(tx: Transaction, failed: Device = device) -> None:
                    tx.touch(failed).state = "failed"

                await rt.apply(fail_device)

    # A failed node is final; a failed device may still go offline.
    await _change_state(rt, node, "Node", new_state, (), move_bricks_off)


async def _start_state_change(
    rt: Runtime, type_name: str, change: Callable[[], Awaitable[None]], new_state: str
) -> str:
    """Moving to ``failed`` moves every brick off: throttled like other brick work."""

    async def work() -> None:
        await change()
        return None

    return await rt.start(Unjournaled(type_name, work, throttled=new_state == "failed"))


async def _change_state(
    rt: Runtime,
    entity: Node | Device,
    kind: str,
    new_state: str,
    leaves_failed_for: tuple[str, ...],
    move_bricks_off: Callable[[], Awaitable[None]],
) -> None:
    """Heketi's node and device state machine: online <-> offline, offline -> failed (which
    first moves every brick off), and out of failed only to ``leaves_failed_for``."""
    current = entity.state
    if current == new_state:
        return
    if current == "failed" and new_state not in leaves_failed_for:
        raise OperationFailed(f"Cannot move a failed/removed {kind.lower()} to {new_state} state")
    if new_state in ("online", "offline"):
        await rt.apply(lambda tx: setattr(tx.touch(entity), "state", new_state))
        return
    if current == "online":
        raise OperationFailed(
            f"{kind} must be offline before remove operation is performed,"
            f" {kind.lower()}:{entity.id}"
        )
    await move_bricks_off()
    await rt.apply(lambda tx: setattr(tx.touch(entity), "state", "failed"))


def apply_tags(current: dict[str, str], change_type: str, tags: dict[str, str]) -> dict[str, str]:
    if change_type == "set":
        return dict(tags)
    if change_type == "update":
        merged = dict(current)
        merged.update(tags)
        return merged
    return {k: v for k, v in current.items() if k not in tags}


async def set_node_tags(rt: Runtime, node: Node, change_type: str,
                        tags: dict[str, str]) -> dict[str, str]:
    return await _retag(rt, node, change_type, tags)


async def set_device_tags(rt: Runtime, device: Device, change_type: str,
                          tags: dict[str, str]) -> dict[str, str]:
    return await _retag(rt, device, change_type, tags)


async def _retag(rt: Runtime, entity: Node | Device, change_type: str,
                 tags: dict[str, str]) -> dict[str, str]:
    """Synchronous, as in Heketi: the answer is the entity's new tags, sorted."""
    new_tags = apply_tags(entity.tags, change_type, tags)

    def mutate(tx: Transaction) -> None:
        tx.touch(entity).tags = new_tags

    await rt.apply(mutate)
    return dict(sorted(new_tags.items()))


class AddDevice(Operation):
    """Journaled so a crash between ``pvcreate``/``vgcreate`` and the database write leaves
    no volume group the database does not know."""

    type_name = "add-device"
    throttled = False
    journal_fields = {"node_id": "node", "name": "name", "tags": "tags",
                      "destroy_data": "destroy", "device_id": "device"}

    def __init__(self, rt: Runtime, node: Node, name: str, tags: dict[str, str],
                 destroy_data: bool) -> None:
        super().__init__(rt)
        self.node_id = node.id
        self.name = name
        self.tags = dict(tags)
        self.destroy_data = destroy_data
        self.device_id = new_id()

    def plan(self, tx: Transaction) -> None:
        self.record = self.rt.new_record(
            tx, self.type_name, node=self.node_id, name=self.name, tags=self.tags,
            destroy=self.destroy_data, device=self.device_id,
        )

    async def execute(self) -> None:
        node = self.rt.state.nodes[self.node_id]
        info = await self.rt.executor.device_setup(
            node.manage_host, self.name, self.device_id, self.destroy_data
        )
        if info.pv_uuid:
            for other in self.rt.state.devices.values():
                if other.pv_uuid == info.pv_uuid:
                    raise OperationFailed(f"Device already in use (ID: {other.id})")
        assert self.record is not None
        self.record.data["info"] = dataclasses.asdict(info)
        await self.rt.step_done(self.record, "setup")

    def finalize(self, tx: Transaction) -> str | None:
        info = self.record.data["info"] if self.record else {}
        tx.add(Device(
            id=self.device_id, node_id=self.node_id, name=self.name,
            total_kib=info["total_kib"], free_kib=info["free_kib"], used_kib=info["used_kib"],
            extent_kib=info["extent_kib"], tags=self.tags, pv_uuid=info["pv_uuid"],
            paths=list(info["paths"]),
        ))
        if self.record is not None:
            tx.delete(self.record)
        return None

    async def recovery_direction(self) -> str:
        return "forward" if self.record and "info" in self.record.data else "back"

    async def undo_steps(self) -> None:
        node = self.rt.state.nodes.get(self.node_id)
        if node is not None:
            with contextlib.suppress(Exception):
                await self.rt.executor.device_teardown(node.manage_host, self.name, self.device_id)

    def release(self, tx: Transaction) -> None:
        self.drop_record(tx)


async def add_device(rt: Runtime, node_id: str, name: str, tags: dict[str, str],
                     destroy_data: bool) -> str:
    node = rt.state.nodes.get(node_id)
    if node is None:
        raise NotFound("Node id does not exist")
    return await rt.start(AddDevice(rt, node, name, tags, destroy_data))


class DeleteDevice(Operation):
    """Journaled: the volume group is torn down, then the device forgotten."""

    type_name = "delete-device"
    throttled = False
    journal_fields = {"device_id": "device", "force_forget": "forget"}

    def __init__(self, rt: Runtime, device: Device, force_forget: bool) -> None:
        super().__init__(rt)
        self.device_id = device.id
        self.force_forget = force_forget

    def plan(self, tx: Transaction) -> None:
        device = self.rt.state.devices[self.device_id]
        if device.state != "failed":
            raise InvalidRequest(f"device: {device.id} is not in failed state")
        if self.rt.state.device_bricks.get(device.id):
            raise Conflict(f"Unable to delete device [{device.id}] because it contains bricks")
        self.record = self.rt.new_record(
            tx, self.type_name, device=device.id, forget=self.force_forget
        )

    async def execute(self) -> None:
        await self.complete()

    async def complete(self) -> None:
        device = self.rt.state.devices.get(self.device_id)
        if device is None or self.force_forget:
            return
        node = self.rt.state.nodes[device.node_id]
        await self.rt.executor.device_teardown(node.manage_host, device.name, device.id)

    async def recovery_direction(self) -> str:
        return "forward"

    def finalize(self, tx: Transaction) -> str | None:
        device = self.rt.state.devices.get(self.device_id)
        if device is not None:
            tx.delete(device)
        self.drop_record(tx)
        return None

    def release(self, tx: Transaction) -> None:
        self.drop_record(tx)


async def delete_device(rt: Runtime, device: Device, force_forget: bool) -> str:
    return await rt.start(DeleteDevice(rt, device, force_forget))


async def set_device_state(rt: Runtime, device: Device, new_state: str) -> str:
    return await _start_state_change(
        rt, "device-state", lambda: change_device_state(rt, device, new_state), new_state
    )


async def change_device_state(rt: Runtime, device: Device, new_state: str) -> None:
    async def move_bricks_off() -> None:
        await remove_device_bricks(rt, device, node_removal=False)

    await _change_state(rt, device, "Device", new_state, ("offline",), move_bricks_off)


async def resync_device(rt: Runtime, device: Device) -> str:
    node = rt.state.nodes[device.node_id]

    async def work() -> None:
        for brick_id in rt.state.brick_ids_of_device(device.id):
            if rt.state.bricks[brick_id].pending_op:
                raise OperationFailed(TARGET_IN_USE)
        info = await rt.executor.device_info(node.manage_host, device.name, device.id)

        def mutate(tx: Transaction) -> None:
            tx.touch(device)
            device.total_kib = info.total_kib
            device.free_kib = info.free_kib
            device.used_kib = info.used_kib
            device.extent_kib = info.extent_kib or device.extent_kib
            if info.pv_uuid:
                device.pv_uuid = info.pv_uuid
            if info.paths:
                device.paths = list(info.paths)

        await rt.apply(mutate)
        return None

    return await rt.start(Unjournaled("resync-device", work))
