"""Drift report: the database compared with what the nodes really have, and orphan repair.

For every node the executor reports its inventory (LVs with tags, brick mounts, fstab lines,
gluster volumes); each is matched against the bricks, devices and volumes of the database.
Findings are *missing on node* (the database has it, the node does not), *orphaned on node*
(the node has it, the database does not, and it carries heketipy's marks: LV tags
``heketi-brick-<id>``/``heketi-device-<id>``, a ``user.heketi.id`` on a gluster volume),
*foreign* (the node has it unmarked: someone else made it; reported, never touched, and
no drift unless it sits inside a VG heketipy manages, which is heketipy's alone),
*mismatched* (both have it, sizes or bricks differ) and *set-mismatch* (a volume has the same
bricks on both sides, but the database groups them into replica/disperse sets, or orders them
within a set, differently from gluster's brick order). Objects of operations still in flight are
left out of both directions: they are expected to be half-made. Repair only ever removes
orphans, and only when asked to.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

from heketipy.domain import replica_sets, validators
from heketipy.domain.entities import Brick, Node, gluster_managed
from heketipy.domain.units import brick_lv_name, thin_pool_name, vg_name
from heketipy.executors.base import BrickRequest, NodeInventory, NodeLogicalVolume
from heketipy.executors.commands_lvm import MIN_XFS_KIB
from heketipy.operations.runtime import Runtime

log = logging.getLogger("heketipy.drift")

HEKETI_TAG_PREFIXES = ("heketi-brick-", "heketi-device-")
PROBLEMS = ("missing", "orphaned", "foreign", "mismatched", "set-mismatch", "unreachable")


@dataclass(frozen=True)
class Finding:
    problem: str  # missing | orphaned | foreign | mismatched | set-mismatch | unreachable
    kind: str  # device | brick-pool | brick-lv | mount | fstab | gluster-volume | replica-sets | node
    node: str  # manage hostname
    name: str
    detail: str = ""


def _expected_bricks(rt: Runtime, node: Node) -> list[Brick]:
    return [
        rt.state.bricks[b]
        for d in rt.state.device_ids(node.id)
        for b in rt.state.brick_ids_of_device(d)
    ]


def _heketipy_made(lv: NodeLogicalVolume) -> bool:
    """Whether heketipy created the LV: it tags every thin pool and brick LV it makes."""
    return any(tag.startswith(HEKETI_TAG_PREFIXES) for tag in lv.tags)


def _lv_of_mount(mount_point: str) -> tuple[str, str]:
    """``(vg, lv)`` a mount point under the mounts root is named after (``.../vg_x/brick_y``)."""
    vg_dir, _, lv = mount_point.rstrip("/").rpartition("/")
    return vg_dir.rpartition("/")[2], lv


def _unknown(problem_lv: NodeLogicalVolume | None) -> str:
    """Problem kind of something on the node the database does not know."""
    return "orphaned" if problem_lv is None or _heketipy_made(problem_lv) else "foreign"


def _vg_of(finding: Finding) -> str | None:
    """The VG an LV, mount or fstab finding lies in; None for anything else."""
    if finding.kind in ("brick-lv", "brick-pool"):
        return finding.name.partition("/")[0]
    if finding.kind == "mount":
        return _lv_of_mount(finding.name)[0]
    if finding.kind == "fstab":
        fields = finding.name.split()
        return _lv_of_mount(fields[1])[0] if len(fields) > 1 else None
    return None


def _compare_node(rt: Runtime, node: Node, inv: NodeInventory) -> list[Finding]:
    state = rt.state
    host = node.manage_host
    findings: list[Finding] = []
    busy = {b.id for b in _expected_bricks(rt, node) if b.pending_op}
    lvs = {(lv.vg, lv.name): lv for lv in inv.lvs}
    expected_lvs: set[tuple[str, str]] = set()
    expected_mounts: set[str] = set()
    known_vgs = {vg_name(d) for d in state.device_ids(node.id)}
    for device_id in state.device_ids(node.id):
        device = state.devices[device_id]
        vg = vg_name(device_id)
        if device.state == "failed":
            continue
        settled = not any(state.bricks[b].pending_op for b in state.brick_ids_of_device(device_id))
        if vg not in inv.vg_free_kib:
            findings.append(Finding("missing", "device", host, vg, f"device {device.name}"))
            continue
        # LVM's pool metadata spare takes VG free space no device is charged for (nor in
        # Heketi's database): it is free space as far as the database is concerned. A device
        # resync takes LVM's numbers as they are, spare included as used: that agrees too.
        spare, node_free = inv.pmspare_kib(vg), inv.vg_free_kib[vg]
        if settled and device.free_kib not in (node_free + spare, node_free):
            findings.append(Finding(
                "mismatched", "device", host, vg,
                f"database free {device.free_kib} KiB, node free {node_free} KiB"
                + (f" (+ {spare} KiB lvol0_pmspare)" if spare else ""),
            ))
    for brick in _expected_bricks(rt, node):
        vg = vg_name(brick.device_id)
        pool_key, lv_key = (vg, brick.tp_name), (vg, brick.lv_name)
        expected_lvs |= {pool_key, lv_key}
        expected_mounts.add(brick.mount_path)
        if brick.id in busy:
            continue
        if pool_key not in lvs:
            findings.append(Finding("missing", "brick-pool", host, f"{vg}/{brick.tp_name}"))
        if lv_key not in lvs:
            findings.append(Finding("missing", "brick-lv", host, f"{vg}/{brick.lv_name}"))
        # A brick under mkfs.xfs's minimum (an arbiter's) is made with that virtual size.
        elif lvs[lv_key].size_kib != max(brick.size_kib, MIN_XFS_KIB):
            findings.append(Finding(
                "mismatched", "brick-lv", host, f"{vg}/{brick.lv_name}",
                f"database {brick.size_kib} KiB, node {lvs[lv_key].size_kib} KiB",
            ))
        if brick.mount_path not in inv.mounts:
            findings.append(Finding("missing", "mount", host, brick.mount_path))
        if not gluster_managed(brick.mount_path) and not any(
            brick.mount_path in line for line in inv.fstab
        ):
            findings.append(Finding("missing", "fstab", host, brick.mount_path))
    pending_ids = {b.id for b in state.bricks.values() if b.pending_op}
    for (vg, name), lv in lvs.items():
        # Hidden LVs are LVM's own (a pool's _tdata/_tmeta, the VG's pmspare): never a brick.
        if lv.hidden or vg not in known_vgs or (vg, name) in expected_lvs:
            continue
        owner = name.removeprefix("brick_").removeprefix("tp_")
        if owner in pending_ids or any(owner == state.bricks[b].tp_id for b in pending_ids):
            continue
        kind = "brick-pool" if lv.kind == "thin-pool" else "brick-lv"
        findings.append(Finding(_unknown(lv), kind, host, f"{vg}/{name}", ",".join(lv.tags)))
    pending_mounts = {state.bricks[b].mount_path for b in pending_ids}
    for mount in inv.mounts:
        if mount not in expected_mounts and mount not in pending_mounts:
            findings.append(Finding(_unknown(lvs.get(_lv_of_mount(mount))), "mount", host, mount))
    for line in inv.fstab:
        if not any(m in line for m in expected_mounts | pending_mounts):
            fields = line.split()
            mounted = lvs.get(_lv_of_mount(fields[1])) if len(fields) > 1 else None
            findings.append(Finding(_unknown(mounted), "fstab", host, line.strip()))
    return findings


def _compare_volumes(rt: Runtime, cluster_id: str, inv: NodeInventory, host: str) -> list[Finding]:
    state = rt.state
    findings: list[Finding] = []
    on_nodes = {v.name: v for v in inv.volumes}
    mine = {state.volumes[v].name: state.volumes[v] for v in state.cluster_volumes.get(cluster_id, ())}
    for name, volume in sorted(mine.items()):
        if volume.pending_op:
            continue
        bricks = state.bricks_of_volume(volume.id)
        if any(b.pending_op for b in bricks):
            continue
        gluster = on_nodes.get(name)
        if gluster is None:
            findings.append(Finding("missing", "gluster-volume", host, name, volume.id))
            continue
        placed = [
            (b.set_index, b.position, (state.nodes[b.node_id].storage_host, b.path))
            for b in bricks
        ]
        wanted = [address for _, _, address in placed]
        served = [(b.host, b.path) for b in gluster.bricks]
        if sorted(wanted) != sorted(served):
            findings.append(Finding(
                "mismatched", "gluster-volume", host, name,
                f"database bricks {sorted(wanted)}, gluster bricks {sorted(served)}",
            ))
        else:
            # The same bricks, but are they the same sets, each brick at its position?
            regrouped = replica_sets.sets_mismatch(
                replica_sets.database_sets(placed),
                replica_sets.gluster_sets(served, volume.set_size),
            )
            if regrouped:
                findings.append(Finding("set-mismatch", "replica-sets", host, name, regrouped))
        heketi_id = gluster.options.get("user.heketi.id")
        if heketi_id and heketi_id != volume.id:
            findings.append(Finding(
                "mismatched", "gluster-volume", host, name,
                f"user.heketi.id {heketi_id}, database id {volume.id}",
            ))
    for name, gluster in sorted(on_nodes.items()):
        if name not in mine:
            # Only a volume carrying an id heketipy writes is its own; any other was made by
            # someone else and must never be removed.
            heketi_id = gluster.options.get("user.heketi.id", "")
            problem = "orphaned" if validators.is_generated_id(heketi_id) else "foreign"
            findings.append(Finding(problem, "gluster-volume", host, name, heketi_id))
    return findings


Inventories = list[tuple[Node, NodeInventory | Exception]]


async def inventories(rt: Runtime) -> Inventories:
    """Every node's inventory (not failed nodes'), or why it could not be read."""
    nodes = [n for n in rt.state.nodes.values() if n.state != "failed"]

    async def inventory(node: Node) -> tuple[Node, NodeInventory | Exception]:
        try:
            return node, await rt.executor.node_inventory(node.manage_host)
        except Exception as exc:  # noqa: BLE001 - reported per node
            return node, exc

    return list(await asyncio.gather(*(inventory(n) for n in nodes)))


async def report(rt: Runtime) -> dict[str, Any]:
    """The drift report as a JSON-able dict."""
    return report_of(rt, await inventories(rt))


def report_of(rt: Runtime, results: Inventories) -> dict[str, Any]:
    """The drift report of inventories just read (``inventories``)."""
    findings: list[Finding] = []
    volumes_checked: set[str] = set()
    for node, inv in sorted(results, key=lambda item: item[0].manage_host):
        if isinstance(inv, Exception):
            findings.append(Finding("unreachable", "node", node.manage_host, node.id, str(inv)))
            continue
        findings += _compare_node(rt, node, inv)
        # One node per cluster is enough for the pool-wide gluster volume list.
        if node.cluster_id not in volumes_checked and node.state == "online":
            volumes_checked.add(node.cluster_id)
            findings += _compare_volumes(rt, node.cluster_id, inv, node.manage_host)
    managed_vgs = {vg_name(d) for d in rt.state.devices}
    grouped: dict[str, list[dict[str, str]]] = {problem: [] for problem in PROBLEMS}
    for finding in findings:
        grouped[finding.problem].append(asdict(finding))
    return {
        "in_flight": len(rt.state.operations),
        "nodes": len(results),
        # What others made on the nodes is reported but is no drift of heketipy's, except
        # inside heketipy's own VGs: those are wholly heketipy's, so anything there is a leak.
        "clean": not any(
            f.problem != "foreign" or _vg_of(f) in managed_vgs for f in findings
        ),
        **grouped,
    }


HEKETIPY_LV_PREFIXES = ("brick_", "tp_")


async def remove_orphans(rt: Runtime, drift: dict[str, Any]) -> list[str]:
    """Remove what the report found orphaned on the nodes; returns what was removed.

    Only ``orphaned`` findings are acted on: they carry heketipy's marks. ``foreign`` ones are
    someone else's and are left alone.
    """
    removed: list[str] = []
    for finding in drift["orphaned"]:
        if finding["problem"] != "orphaned":
            continue
        host, name = finding["node"], finding["name"]
        try:
            if finding["kind"] == "gluster-volume":
                await rt.executor.volume_destroy(host, name)
            elif finding["kind"] in ("brick-lv", "brick-pool"):
                vg, lv = name.split("/", 1)
                if not lv.startswith(HEKETIPY_LV_PREFIXES):
                    # Tagged by heketipy but named by gluster (a clone's snapshot LV): a brick
                    # request cannot name its mount, so it is left for an operator.
                    log.warning("orphan %s on %s is not in heketipy's brick layout; left in "
                                "place, remove it by hand", name, host)
                    continue
                device_id = vg.removeprefix("vg_")
                owner = lv.removeprefix("brick_").removeprefix("tp_")
                await rt.executor.brick_destroy(host, BrickRequest(
                    device_id=device_id, brick_id=owner, tp_name=thin_pool_name(owner),
                    lv_name=brick_lv_name(owner), tp_size_kib=0, size_kib=0, pool_metadata_kib=0,
                ))
            else:
                continue  # mounts and fstab lines go with their brick LV
            removed.append(f"{finding['kind']} {host}:{name}")
        except Exception as exc:  # noqa: BLE001 - report and go on with the rest
            log.warning("could not remove orphan %s on %s: %s", name, host, exc)
    return removed


async def repair(rt: Runtime) -> dict[str, Any]:
    """``POST /internal/state/drift/repair``: remove the orphans a fresh report finds, then
    report again (what was removed, and what drift is left)."""
    removed = await remove_orphans(rt, await report(rt))
    return {"removed": removed, "report": await report(rt)}
