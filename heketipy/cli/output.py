"""heketi-cli's human-readable output, line for line (contract section 13 and its errata).

Pure functions from client models to text. Ids are padded into fixed columns (`Id:%-35v`)
exactly as Go's fmt does; failed nodes and devices are shown as `removed`.
"""

from __future__ import annotations

import struct

from heketipy.client.models import (
    BlockVolume,
    Device,
    Node,
    OperationsInfo,
    PendingOperation,
    TopologyInfo,
    Volume,
)
from heketipy.domain.units import KIB_PER_GIB, bricks_per_set


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
    durability = volume.durability
    if durability.type == "replicate":
        # Shown as stored (even negative); an unset (0) count is Heketi's default of 2.
        return durability.replicate.replica or 2
    disperse = durability.disperse
    # At least 1: the distribute count divides by it.
    return bricks_per_set(durability.type, data=disperse.data, redundancy=disperse.redundancy) or 1


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
    """Go ranges over a map in key order: ` k1:v1 k2:v2`, each entry with its leading space."""
    return "".join(f" {k}:{v}" for k, v in sorted((tags or {}).items()))


def go_float32_2f(value: float) -> str:
    """`printf "%.2f"` of a Go float32 (the snapshot factor): round the float32 value, not the
    float64 the JSON was parsed into (1.335 is 1.33500003 as a float32, 1.33499999 as a float64)."""
    (as_float32,) = struct.unpack("f", struct.pack("f", value))
    return f"{as_float32:.2f}"


# `topology info` follows heketi-cli's Go template, whose `{{-` trims put each section's
# newline at its *start*: every piece below begins with "\n" and a cluster, a volume and a
# node each end with one newline of their own; the whole output ends with one more.


def _topology_volume(v: Volume) -> str:
    mount = v.mount.glusterfs
    out = (
        f"\n\tName: {v.name}\n\tSize: {v.size}\n\tId: {v.id}\n\tCluster Id: {v.cluster}"
        f"\n\tMount: {mount.device}"
        "\n\tMount Options: " + "".join(f"{k}={val}" for k, val in sorted(mount.options.items()))
        + f"\n\tDurability Type: {v.durability.type}"
    )
    if v.durability.type == "replicate":
        out += f"\n\tReplica: {v.durability.replicate.replica}"
    elif v.durability.type == "disperse":
        out += (f"\n\tDisperse Data: {v.durability.disperse.data}"
                f"\n\tDisperse Redundancy: {v.durability.disperse.redundancy}")
    if v.snapshot.enable:
        out += f"\n\tSnapshot: Enabled\n\tSnapshot Factor: {go_float32_2f(v.snapshot.factor)}\n"
    else:
        out += "\n\tSnapshot: Disabled\n"
    out += "\n\t\tBricks:"
    for b in v.bricks:
        out += (f"\n\t\t\tId: {b.id}\n\t\t\tPath: {b.path}\n\t\t\tSize (GiB): {gib(b.size)}"
                f"\n\t\t\tNode: {b.node}\n\t\t\tDevice: {b.device}\n")
    return out + "\n"


def _topology_device(d: Device) -> str:
    out = (
        f"\n\t\tId:{d.id:<35}State:{shown_state(d.state):<10}"
        f"Size (GiB):{gib(d.storage.total):<8}Used (GiB):{gib(d.storage.used):<8}"
        f"Free (GiB):{gib(d.storage.free):<8}"
    )
    if d.tags:
        out += f"\n\t\t\tTags:{_inline_tags(d.tags)}\n"
    if d.paths:
        out += "\n\t\t\tKnown Paths:" + "".join(f" {p}" for p in d.paths) + "\n"
    else:
        out += f"\n\t\t\tKnown Paths: {d.name}\n"
    out += "\n\t\t\tBricks:"
    for b in d.bricks:
        out += f"\n\t\t\t\tId:{b.id:<35}Size (GiB):{gib(b.size):<8}Path: {b.path}"
    return out


def _topology_node(n: Node) -> str:
    out = (
        f"\n\tNode Id: {n.id}\n\tState: {shown_state(n.state)}\n\tCluster Id: {n.cluster}"
        f"\n\tZone: {n.zone}"
        f"\n\tManagement Hostnames: {', '.join(n.hostnames.manage)}"
        f"\n\tStorage Hostnames: {', '.join(n.hostnames.storage)}"
    )
    if n.tags:
        out += f"\n\tTags:{_inline_tags(n.tags)}\n"
    out += "\n\tDevices:" + "".join(_topology_device(d) for d in n.devices)
    return out + "\n"


def topology_info(topology: TopologyInfo) -> str:
    out: list[str] = []
    for cluster in topology.clusters:
        out.append(
            f"\nCluster Id: {cluster.id}\n\n    File:  {go_bool(cluster.file)}"
            f"\n    Block: {go_bool(cluster.block)}\n\n    Volumes:\n"
        )
        out += [_topology_volume(v) for v in cluster.volumes]
        out.append("\n\n    Nodes:\n")
        out += [_topology_node(n) for n in cluster.nodes]
    out.append("\n")
    return "".join(out)
