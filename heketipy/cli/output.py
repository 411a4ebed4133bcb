"""heketi-cli's human-readable output, line for line (contract section 13 and its errata).

Pure functions from client models to text. Ids are padded into fixed columns (`Id:%-35v`)
exactly as Go's fmt does; failed nodes and devices are shown as `removed`.
"""

from __future__ import annotations

from heketipy.client.models import (
    BlockVolume,
    Device,
    Node,
    OperationsInfo,
    PendingOperation,
    TopologyInfo,
    Volume,
)

KIB_PER_GIB = 1024 * 1024


def gib(kib: int) -> int:
    return kib // KIB_PER_GIB


def shown_state(state: str) -> str:
    return "removed" if state == "failed" else state


def go_bool(value: bool) -> str:
    return "true" if value else "false"


def go_list(items: list[str]) -> str:
    """Go's `%v` of a []string: `[a b c]`."""
    return "[" + " ".join(items) + "]"


def _tag_lines(tags: dict[str, str] | None) -> str:
    if not tags:
        return ""
    return "Tags:\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(tags.items()))


def node_summary(node: Node) -> str:
    manage = node.hostnames.manage[0] if node.hostnames.manage else ""
    storage = node.hostnames.storage[0] if node.hostnames.storage else ""
    return (
        f"Node Id: {node.id}\n"
        f"State: {shown_state(node.state)}\n"
        f"Cluster Id: {node.cluster}\n"
        f"Zone: {node.zone}\n"
        f"Management Hostname: {manage}\n"
        f"Storage Hostname: {storage}\n" + _tag_lines(node.tags)
    )


def node_info(node: Node) -> str:
    lines = [node_summary(node), "Devices:\n"]
    for d in node.devices:
        lines.append(
            f"Id:{d.id:<35}Name:{d.name:<20}State:{shown_state(d.state):<10}"
            f"Size (GiB):{gib(d.storage.total):<8}Used (GiB):{gib(d.storage.used):<8}"
            f"Free (GiB):{gib(d.storage.free):<8}Bricks:{len(d.bricks):<8}\n"
        )
    return "".join(lines)


def device_info(device: Device) -> str:
    lines = [
        f"Device Id: {device.id}\n",
        f"State: {shown_state(device.state)}\n",
        f"Size (GiB): {gib(device.storage.total)}\n",
        f"Used (GiB): {gib(device.storage.used)}\n",
        f"Free (GiB): {gib(device.storage.free)}\n",
        f"Create Path: {device.name}\n",
        f"Physical Volume UUID: {device.pv_uuid}\n",
        f"Known Paths: {' '.join(device.paths or [])}\n",
        _tag_lines(device.tags),
        "Bricks:\n",
    ]
    for b in device.bricks:
        lines.append(f"Id:{b.id:<35}Size (GiB):{gib(b.size):<8}Path: {b.path}\n")
    return "".join(lines)


def _set_size(volume: Volume) -> int:
    kind = volume.durability.type
    if kind == "replicate":
        return volume.durability.replicate.replica or 2
    if kind == "disperse":
        d = volume.durability.disperse
        return (d.data + d.redundancy) or 1
    return 1


def volume_info(volume: Volume) -> str:
    mount = volume.mount.glusterfs
    info = volume.blockinfo
    out = (
        f"Name: {volume.name}\n"
        f"Size: {volume.size}\n"
        f"Volume Id: {volume.id}\n"
        f"Cluster Id: {volume.cluster}\n"
        f"Mount: {mount.device}\n"
        f"Mount Options: backup-volfile-servers={mount.options.get('backup-volfile-servers', '')}\n"
        f"Block: {go_bool(volume.block)}\n"
        f"Free Size: {info.freesize}\n"
        f"Reserved Size: {info.reservedsize}\n"
        f"Block Hosting Restriction: {info.restriction or '(none)'}\n"
        f"Block Volumes: {go_list(info.blockvolume)}\n"
        f"Durability Type: {volume.durability.type}\n"
        f"Distribute Count: {len(volume.bricks) // _set_size(volume)}\n"
    )
    if volume.durability.type == "replicate":
        out += f"Replica Count: {_set_size(volume)}\n"
    elif volume.durability.type == "disperse":
        out += (
            f"Disperse Data Count: {volume.durability.disperse.data}\n"
            f"Disperse Redundancy Count: {volume.durability.disperse.redundancy}\n"
        )
    if volume.snapshot.enable:
        out += f"Snapshot Factor: {volume.snapshot.factor:.2f}\n\n"
    return out


def blockvolume_info(bv: BlockVolume) -> str:
    target = bv.blockvolume
    return (
        f"Name: {bv.name}\n"
        f"Size: {bv.size}\n"
        f"UsableSize: {bv.usablesize}\n"
        f"Volume Id: {bv.id}\n"
        f"Cluster Id: {bv.cluster}\n"
        f"Hosts: {go_list(target.hosts)}\n"
        f"IQN: {target.iqn}\n"
        f"LUN: {target.lun}\n"
        f"Hacount: {bv.hacount}\n"
        f"Username: {target.username}\n"
        f"Password: {target.password}\n"
        f"Block Hosting Volume: {bv.blockhostingvolume}\n"
    )


def list_line(item_id: str, cluster: str, name: str, block: bool = False) -> str:
    return f"Id:{item_id:<35} Cluster:{cluster:<35} Name:{name}" + (" [block]" if block else "")


def operations_counts(info: OperationsInfo) -> str:
    return (
        "Operation Counts:\n"
        f"  Total: {info.total}\n"
        f"  In-Flight: {info.in_flight}\n"
        f"  New: {info.new}\n"
        f"  Failed: {info.failed}\n"
        f"  Stale: {info.stale}\n"
    )


def operation_status(op: PendingOperation) -> str:
    return f"{op.status or 'New'} {op.sub_status}"


def operation_line(op: PendingOperation) -> str:
    return f"Id:{op.id}  Type:{op.type_name}  Status:{operation_status(op)}\n"


def operation_details(op: PendingOperation) -> str:
    out = f"\nId: {op.id}\nType: {op.type_name}\nStatus: {operation_status(op)}\nChanges:\n"
    return out + "".join(f"    {c.description}: {c.id}\n" for c in op.changes)


def _inline_tags(tags: dict[str, str] | None) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted((tags or {}).items()))


def topology_info(topology: TopologyInfo) -> str:
    out: list[str] = []
    for cluster in topology.clusters:
        out.append(f"\nCluster Id: {cluster.id}\n")
        out.append(f"\n    File:  {go_bool(cluster.file)}\n    Block: {go_bool(cluster.block)}\n")
        out.append("\n    Volumes:\n")
        for v in cluster.volumes:
            mount = v.mount.glusterfs
            out.append(
                f"\n\tName: {v.name}\n\tSize: {v.size}\n\tId: {v.id}\n\tCluster Id: {v.cluster}\n"
                f"\tMount: {mount.device}\n"
                f"\tMount Options: backup-volfile-servers="
                f"{mount.options.get('backup-volfile-servers', '')}\n"
                f"\tDurability Type: {v.durability.type}\n"
            )
            if v.durability.type == "replicate":
                out.append(f"\tReplica: {_set_size(v)}\n")
            elif v.durability.type == "disperse":
                out.append(
                    f"\tDisperse Data: {v.durability.disperse.data}\n"
                    f"\tDisperse Redundancy: {v.durability.disperse.redundancy}\n"
                )
            if v.snapshot.enable:
                out.append(f"\tSnapshot: Enabled\n\tSnapshot Factor: {v.snapshot.factor:.2f}\n")
            else:
                out.append("\tSnapshot: Disabled\n")
            out.append("\n\t\tBricks:\n")
            for b in v.bricks:
                out.append(
                    f"\t\t\tId: {b.id}\n\t\t\tPath: {b.path}\n\t\t\tSize (GiB): {gib(b.size)}\n"
                    f"\t\t\tNode: {b.node}\n\t\t\tDevice: {b.device}\n\n"
                )
        # After the volumes, not after each: a cluster without volumes shows two empty lines
        # before "Nodes:", and volumes are two empty lines apart.
        out.append("\n")
        out.append("\n    Nodes:\n")
        for n in cluster.nodes:
            out.append(
                f"\n\tNode Id: {n.id}\n\tState: {n.state}\n\tCluster Id: {n.cluster}\n"
                f"\tZone: {n.zone}\n"
                f"\tManagement Hostnames: {' '.join(n.hostnames.manage)}\n"
                f"\tStorage Hostnames: {' '.join(n.hostnames.storage)}\n"
            )
            if n.tags:
                out.append(f"\tTags: {_inline_tags(n.tags)}\n\n")
            out.append("\tDevices:\n")
            for d in n.devices:
                out.append(
                    f"\t\tId:{d.id:<35}State:{d.state:<10}Size (GiB):{gib(d.storage.total):<8}"
                    f"Used (GiB):{gib(d.storage.used):<8}Free (GiB):{gib(d.storage.free):<8}\n"
                )
                if d.tags:
                    out.append(f"\t\t\tTags: {_inline_tags(d.tags)}\n\n")
                out.append(f"\t\t\tKnown Paths: {' '.join(d.paths or [d.name])}\n\n")
                out.append("\t\t\tBricks:\n")
                for b in d.bricks:
                    out.append(f"\t\t\t\tId:{b.id:<35}Size (GiB):{gib(b.size):<8}Path: {b.path}\n")
    out.append("\n")
    return "".join(out)
