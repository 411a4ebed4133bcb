"""The ``lvm`` command of a simulated node: argv in, exit code and output out.

Interprets the subcommands heketipy's builders (``executors/commands_lvm.py``) run - pvcreate,
vgcreate, pvs, vgs, lvs, vgdisplay, lvcreate (thin pool, thin LV, or both in one), lvchange --addtag,
lvremove, vgremove, pvremove - over a ``NodeState``, answering as LVM 2.03 does: exit 5 for
a failed command, 3 for a bad command line, LVM's English messages (two-space indented) on
stderr, and ``--reportformat=json`` / ``--noheadings`` / ``vgdisplay -c`` output on stdout.
``lvextend``/``lvreduce`` take absolute sizes (``--size``, ``--poolmetadatasize``), as the
expansion in place runs them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from heketipy.domain.errors import NodeCommandError
from heketipy.simulator import node as lvm
from heketipy.simulator.state import PV_DATA_OFFSET_KIB, LogicalVolume, NodeState, VolumeGroup

INVALID_CMD_LINE = 3
FAILED = lvm.LVM_EXIT
Result = tuple[int, str, str]

# Options that take a value (as the next word or after "="); the rest are flags.
VALUED_OPTIONS = {
    "-o", "--options", "--type", "--poolmetadatasize", "--chunksize", "--size", "-L",
    "--addtag", "--name", "-n", "--virtualsize", "-V", "--units", "--reportformat",
    "--metadatasize", "--dataalignment", "--physicalextentsize", "-s", "--autobackup", "-A",
}  # fmt: skip
_FLAGS = {
    "-q", "-qq", "-f", "-ff", "-c", "--noheadings", "--nosuffix", "--thin", "-T", "-y", "-a",
    "--all",
}  # fmt: skip
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([bBsSkKmMgGtTpPeE]?)")
_UNIT_KIB = {"": 1024, "b": 1 / 1024, "s": 0.5, "k": 1, "m": 1024, "g": 1024**2, "t": 1024**3,
             "p": 1024**4, "e": 1024**5}  # fmt: skip


class _Usage(Exception):
    """A command line LVM itself would refuse (exit 3)."""


class _Args:
    def __init__(self, command: str, words: Sequence[str]) -> None:
        self.values: dict[str, list[str]] = {}
        self.flags: set[str] = set()
        self.positional: list[str] = []
        items = list(words)
        while items:
            word = items.pop(0)
            if not word.startswith("-") or word == "-":
                self.positional.append(word)
                continue
            name, has_value, value = word.partition("=")
            if name in VALUED_OPTIONS:
                if not has_value:
                    if not items:
                        raise _Usage(f"{command}: option '{name}' requires an argument")
                    value = items.pop(0)
                self.values.setdefault(name, []).append(value)
            elif word in _FLAGS:
                self.flags.add(word)
            else:
                raise _Usage(f"{command}: unrecognized option '{word}'")

    def one(self, *names: str) -> str | None:
        for name in names:
            if name in self.values:
                return self.values[name][-1]
        return None

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


def size_kib(value: str, default_unit: str = "m") -> int:
    """An LVM size (``512K``, ``2g``, ``100``: MiB unless a unit is given) in KiB."""
    match = _SIZE.fullmatch(value)
    if not match:
        raise _Usage(f"Invalid argument for --size: {value}")
    unit = (match.group(2) or default_unit).lower()
    return int(float(match.group(1)) * _UNIT_KIB[unit] + 0.999999)


def _size_text(kib: float, args: _Args) -> str:
    units = (args.one("--units") or "h").lower()
    suffix = "" if "--nosuffix" in args.flags else units
    divisor = {"k": 1, "m": 1024, "g": 1024**2, "t": 1024**3}.get(units)
    if divisor is None:  # human-readable, as LVM's default
        return f"{kib / 1024**2:.2f}g"
    return f"{kib / divisor:.2f}{suffix}"


def _report(section: str, rows: list[dict[str, str]], args: _Args, fields: list[str]) -> str:
    if (args.one("--reportformat") or "") == "json":
        lines = ",\n".join(
            "                  {" + ", ".join(f"{json.dumps(k)}:{json.dumps(row[k])}"
                                             for k in fields) + "}"
            for row in rows
        )  # fmt: skip
        body = f"\n{lines}\n              " if rows else ""
        return (
            '  {\n      "report": [\n          {\n'
            f"              {json.dumps(section)}: [{body}]\n"
            "          }\n      ]\n  }\n"
        )
    widths = {k: max([len(row[k]) for row in rows] + [len(_HEADINGS.get(k, k))]) for k in fields}
    out = []
    if "--noheadings" not in args.flags:
        out.append("  " + " ".join(_HEADINGS.get(k, k).ljust(widths[k]) for k in fields))
    for row in rows:
        out.append("  " + " ".join(row[k].rjust(widths[k]) for k in fields))
    return "\n".join(out) + ("\n" if out else "")


_HEADINGS = {
    "pv_name": "PV", "pv_uuid": "PV UUID", "vg_name": "VG", "lv_name": "LV", "lv_size": "LSize",
    "pool_lv": "Pool", "lv_tags": "LV Tags", "segtype": "Type", "vg_free": "VFree",
    "vg_size": "VSize", "vg_extent_size": "Ext", "thin_count": "#Thins",
    "lv_metadata_size": "LMetaSize",
    "data_percent": "Data%", "metadata_percent": "Meta%",
}  # fmt: skip


def _fields(args: _Args, default: str) -> list[str]:
    fields = [f for spec in (args.all("-o") + args.all("--options")) for f in spec.split(",")]
    fields = [f.strip() for f in fields if f.strip()] or default.split(",")
    unknown = [f for f in fields if f not in _HEADINGS]
    if unknown:
        raise _Usage(f"Unrecognised field: {unknown[0]}")
    return fields


def _vg_row(node: NodeState, vg: VolumeGroup, args: _Args) -> dict[str, str]:
    pv = node.pvs.get(vg.pv)
    return {
        "vg_name": vg.name,
        "vg_free": _size_text(vg.free_kib, args),
        "vg_size": _size_text(vg.total_kib, args),
        "vg_extent_size": _size_text(vg.extent_kib, args),
        "pv_name": vg.pv,
        "pv_uuid": pv.uuid if pv else "",
    }


def _lv_row(node: NodeState, vg: VolumeGroup, lv: LogicalVolume, args: _Args) -> dict[str, str]:
    count = lvm.thin_count(node, vg.name, lv.name) if lv.kind == "thin-pool" else None
    return {
        "vg_name": vg.name,
        "lv_name": lv.name,
        "lv_size": _size_text(lv.size_kib, args),
        "pool_lv": lv.pool,
        "lv_tags": ",".join(lv.tags),
        "segtype": lv.kind,
        "thin_count": "" if count is None else str(count),
        "lv_metadata_size": _size_text(lv.metadata_kib, args) if lv.kind == "thin-pool" else "",
        # Simulated thin LVs hold no data: a pool's data and metadata are empty.
        "data_percent": "0.00" if lv.kind == "thin-pool" else "",
        "metadata_percent": "0.00" if lv.kind == "thin-pool" else "",
    }


# -- subcommands -----------------------------------------------------------------------------


def _listing(
    args: _Args,
    section: str,
    default_fields: str,
    everything: list[str],
    rows_of: Callable[[str], list[dict[str, str]]],
) -> Result:
    """pvs, vgs and lvs: the rows of each object named (of all by default) as one report; a
    name that does not exist fails the command (``rows_of`` raises LVM's refusal)."""
    fields = _fields(args, default_fields)
    rows = [row for target in args.positional or everything for row in rows_of(target)]
    return 0, _report(section, rows, args, fields), ""


def _pvs(node: NodeState, args: _Args) -> Result:
    def rows_of(device: str) -> list[dict[str, str]]:
        pv = node.pvs.get(device)
        if pv is None:
            missing = f'  Failed to find physical volume "{device}".'
            raise lvm.lvm_fail(node, [lvm.LVM, "pvs", device], missing)
        return [{"pv_name": device, "pv_uuid": pv.uuid, "vg_name": pv.vg}]

    return _listing(args, "pv", "pv_name,vg_name", sorted(node.pvs), rows_of)


def _vgs(node: NodeState, args: _Args) -> Result:
    def rows_of(name: str) -> list[dict[str, str]]:
        return [_vg_row(node, lvm.require_vg(node, name, [lvm.LVM, "vgs", name]), args)]

    return _listing(args, "vg", "vg_name,vg_size,vg_free", sorted(node.vgs), rows_of)


def _hidden_lvs(vg: VolumeGroup) -> list[LogicalVolume]:
    """The LVs LVM keeps for itself, which ``lvs -a`` lists in brackets: each thin pool's data
    and metadata (``[pool_tdata]``, ``[pool_tmeta]``) and the VG's ``[lvol0_pmspare]``."""
    hidden = [
        LogicalVolume(name=f"[{pool.name}_{part}]", kind="linear", size_kib=size)
        for pool in vg.lvs.values() if pool.kind == "thin-pool"
        for part, size in (("tdata", pool.size_kib), ("tmeta", pool.metadata_kib))
    ]  # fmt: skip
    if vg.pmspare_kib:
        hidden.append(LogicalVolume(name="[lvol0_pmspare]", kind="linear", size_kib=vg.pmspare_kib))
    return hidden


def _lvs(node: NodeState, args: _Args) -> Result:
    every = bool({"-a", "--all"} & args.flags)

    def rows_of(target: str) -> list[dict[str, str]]:
        vg_name, _, lv_name = target.partition("/")
        argv = [lvm.LVM, "lvs", target]
        vg = lvm.require_vg(node, vg_name, argv)
        lvs = [lvm.require_lv(node, vg, lv_name, argv)] if lv_name else list(vg.lvs.values())
        if every and not lv_name:
            lvs += _hidden_lvs(vg)
        return [_lv_row(node, vg, lv, args) for lv in lvs]

    return _listing(args, "lv", "lv_name,vg_name,lv_size,pool_lv", sorted(node.vgs), rows_of)


def _vgdisplay(node: NodeState, args: _Args) -> Result:
    if "-c" not in args.flags:
        raise _Usage("vgdisplay: the simulator prints only the colon format (-c)")
    lines = []
    for name in args.positional or sorted(node.vgs):
        vg = lvm.require_vg(node, name, [lvm.LVM, "vgdisplay", name])
        ext = vg.extent_kib
        total, free = vg.total_kib // ext, vg.free_kib // ext
        pools = sum(1 for lv in vg.lvs.values() if lv.kind == "thin-pool")
        fields = [
            vg.name, "r/w", "772", "-1", "0", str(len(vg.lvs)), "0", "-1", "0", "1", "1",
            str(vg.total_kib), str(ext), str(total), str(total - free), str(free),
            f"sim-{pools}-{vg.name}",
        ]  # fmt: skip
        lines.append("  " + ":".join(fields))
    return 0, "\n".join(lines) + "\n", ""


def _one_positional(args: _Args, command: str) -> str:
    if len(args.positional) != 1:
        raise _Usage(f"{command}: exactly one argument is needed, got {args.positional}")
    return args.positional[0]


def _pvcreate(node: NodeState, args: _Args) -> Result:
    device = _one_positional(args, "pvcreate")
    lvm.pvcreate(node, device)
    return 0, "", ""


def _vgcreate(node: NodeState, args: _Args) -> Result:
    if len(args.positional) != 2:
        raise _Usage("vgcreate: Please provide volume group name and physical volumes")
    vg_name, device = args.positional
    vg = lvm.vgcreate(node, vg_name, device)
    extent = args.one("--physicalextentsize", "-s")
    if extent:
        vg.extent_kib = size_kib(extent)
        usable = node.disks[device].size_kib - PV_DATA_OFFSET_KIB
        vg.total_kib = usable // vg.extent_kib * vg.extent_kib
    return 0, "", ""


def _lvcreate(node: NodeState, args: _Args) -> Result:
    target = _one_positional(args, "lvcreate")
    name = args.one("--name", "-n")
    tags = tuple(args.all("--addtag"))
    if not name:
        raise _Usage("lvcreate: the simulator needs --name")
    if args.one("--type") == "thin-pool":
        size = args.one("--size", "-L")
        if not size:
            raise _Usage("lvcreate: Please specify either size or extents.")
        metadata = size_kib(args.one("--poolmetadatasize") or "0")
        lvm.lvcreate_pool(node, target, name, size_kib(size), metadata, tags)
        return 0, "", ""
    if "--thin" in args.flags or "-T" in args.flags or args.one("--type") == "thin":
        virtual = args.one("--virtualsize", "-V")
        vg_name, _, pool = target.partition("/")
        if not virtual or not pool:
            raise _Usage("lvcreate: a thin LV needs --virtualsize and VG/ThinPool")
        size = args.one("--size", "-L")
        if size:  # pool and thin LV in one command: LVM gives both the tags
            metadata = size_kib(args.one("--poolmetadatasize") or "0")
            spare = node.vgs[vg_name].pmspare_kib if vg_name in node.vgs else 0
            lvm.lvcreate_pool(node, vg_name, pool, size_kib(size), metadata, tags)
            try:
                lvm.lvcreate_thin_lv(node, vg_name, pool, name, size_kib(virtual), tags)
            except NodeCommandError:
                # LVM backs out the pool it just made, and the spare as it was before.
                lvm.lvremove(node, vg_name, pool)
                node.vgs[vg_name].pmspare_kib = spare
                raise
            return 0, "", ""
        lvm.lvcreate_thin_lv(node, vg_name, pool, name, size_kib(virtual), tags)
        return 0, "", ""
    raise _Usage("lvcreate: the simulator creates only thin pools and thin LVs")


def _split_lv(target: str, command: str) -> tuple[str, str]:
    vg_name, _, lv_name = target.partition("/")
    if not lv_name:
        raise _Usage(f"{command}: expected VG/LV, got {target!r}")
    return vg_name, lv_name


def _lvchange(node: NodeState, args: _Args) -> Result:
    vg_name, lv_name = _split_lv(_one_positional(args, "lvchange"), "lvchange")
    lvm.lvchange_addtag(node, vg_name, lv_name, tuple(args.all("--addtag")))
    return 0, "", ""


def _resize(node: NodeState, args: _Args, *, grow: bool) -> Result:
    """``lvextend``/``lvreduce [-f] --size S | --poolmetadatasize M VG/LV`` (absolute sizes;
    one of the two per call, as heketipy runs them)."""
    command = "lvextend" if grow else "lvreduce"
    target = _one_positional(args, command)
    vg_name, lv_name = _split_lv(target, command)
    size, metadata = args.one("--size", "-L"), args.one("--poolmetadatasize")
    if bool(size) == bool(metadata):
        raise _Usage(f"{command}: the simulator needs exactly one of --size, --poolmetadatasize")
    if any(v.startswith(("+", "-")) for v in (size or "", metadata or "")):
        raise _Usage(f"{command}: the simulator takes absolute sizes only")
    if not grow and "-f" not in args.flags:
        raise _Usage("lvreduce: the simulator answers no prompt: use -f")
    argv = [lvm.LVM, command, target]
    lvm.lvresize(
        node, vg_name, lv_name, argv, grow=grow,
        size_kib=size_kib(size) if size else 0,
        metadata_kib=size_kib(metadata) if metadata else 0,
    )  # fmt: skip
    return 0, "", ""


def _lvextend(node: NodeState, args: _Args) -> Result:
    return _resize(node, args, grow=True)


def _lvreduce(node: NodeState, args: _Args) -> Result:
    return _resize(node, args, grow=False)


def _lvremove(node: NodeState, args: _Args) -> Result:
    vg_name, lv_name = _split_lv(_one_positional(args, "lvremove"), "lvremove")
    lvm.lvremove(node, vg_name, lv_name)
    return 0, "", ""


def _vgremove(node: NodeState, args: _Args) -> Result:
    vg_name = _one_positional(args, "vgremove")
    lvm.require_vg(node, vg_name, [lvm.LVM, "vgremove", vg_name])
    lvm.vgremove(node, vg_name)
    return 0, "", ""


def _pvremove(node: NodeState, args: _Args) -> Result:
    device = _one_positional(args, "pvremove")
    if device not in node.pvs:
        if device not in node.disks:
            return FAILED, "", f"  Cannot use {device}: device not found\n"
        return FAILED, "", f"  No PV found on device {device}.\n"
    lvm.pvremove(node, device)
    return 0, "", ""


SUBCOMMANDS: dict[str, Callable[[NodeState, _Args], Result]] = {
    "pvs": _pvs,
    "vgs": _vgs,
    "lvs": _lvs,
    "vgdisplay": _vgdisplay,
    "pvcreate": _pvcreate,
    "vgcreate": _vgcreate,
    "lvcreate": _lvcreate,
    "lvchange": _lvchange,
    "lvextend": _lvextend,
    "lvreduce": _lvreduce,
    "lvremove": _lvremove,
    "vgremove": _vgremove,
    "pvremove": _pvremove,
}
READ_ONLY = frozenset({"pvs", "vgs", "lvs", "vgdisplay"})


def lock_target(words: Sequence[str]) -> str:
    """What LVM locks for this command: the VG named (``vg`` or ``vg/lv``), else the device
    or, for a report over everything, the global lock."""
    for word in words[1:]:
        if word.startswith("vg_"):
            return word.split("/", 1)[0]
    devices = [word for word in words[1:] if word.startswith("/dev/")]
    return devices[-1] if devices else "#global"


def run(node: NodeState, words: Sequence[str]) -> Result:
    """``lvm <subcommand> ...`` (``words`` starts at the subcommand) on ``node``."""
    if not words:
        return INVALID_CMD_LINE, "", "  No command specified.\n"
    handler = SUBCOMMANDS.get(words[0])
    if handler is None:
        return INVALID_CMD_LINE, "", f"  No such command '{words[0]}'.  Try 'help'.\n"
    try:
        return handler(node, _Args(words[0], words[1:]))
    except _Usage as error:
        return INVALID_CMD_LINE, "", f"  {error}\n  Run `{words[0]} --help' for more information.\n"
    except NodeCommandError as error:
        return _as_result(error)


def _as_result(error: NodeCommandError) -> Result:
    stderr = error.stderr if error.stderr.endswith("\n") else error.stderr + "\n"
    return (error.exit_code if error.exit_code is not None else FAILED), "", stderr
