#!/usr/bin/python3
"""Test-only thin-LVM shim for testbed nodes (this kernel has no device-mapper).

Bind-mounted over ``/usr/sbin/lvm`` inside each testbed node's mount namespace, so ``lvm <sub>``,
``/sbin/lvm <sub>`` and the ``lvcreate``/``lvs``/... symlinks all land here. It reads the node's
description from ``/run/testbed/node.json`` (written by testbed.sh).

* Physical volumes and volume groups are real: ``pvcreate``, ``vgcreate``, ``vgdisplay``, ``pvs``,
  ``vgs``, ``pvremove`` ... run the real lvm binary, restricted by a ``global_filter`` to the
  node's own loop devices (so nodes do not see each other's disks).
* A thin pool is a real, inactive linear LV (created with ``--driverloaded n``) of the pool's
  data + metadata size, so it consumes real extents and ``vgdisplay`` free space is real.
* A thin LV is a sparse image file attached to a loop device, with a block device node at
  ``/dev/mapper/<vg>-<lv>`` (a private tmpfs in the node), so ``mkfs.xfs``/``mount`` run for real.
* ``lvs`` is emulated (thin pools and thin LVs with tags, sizes, thin_count, data_percent...).
* LVM's pool metadata spare is modelled as LVM keeps it: a real linear LV (``SPARE_LV``: LVM
  reserves the ``_pmspare`` suffix) made with a VG's first thin pool, grown to the largest pool
  metadata (a larger pool, ``lvextend --poolmetadatasize``), never shrunk, removed with the VG's
  last pool; a pool that leaves no room for it is refused. So VG free lacks its extents as on
  real LVM. ``lvs -a`` lists it as ``[lvol0_pmspare]`` with each pool's ``[_tdata]``/``[_tmeta]``;
  plain ``lvs`` does not.
* ``lvextend``/``lvreduce`` with an absolute ``--size`` or (pools) ``--poolmetadatasize``: a pool's
  real LV grows by the difference (real extents, real VG free); a thin LV's image file grows and
  its loop device learns the new capacity (``losetup -c``), so ``xfs_growfs`` on the mount really
  grows. A pool never shrinks, and a thin LV never below its XFS (read from the superblock), as
  LVM 2.03.17+ refuses.
* Fault injection: if ``<faults_dir>/<subcommand>`` exists (e.g. ``lvcreate``), it is consumed
  and that one invocation fails with exit code 5 and the file's text (or a default) on stderr;
  ``<faults_dir>/<subcommand>.always`` fails every invocation while it exists.
* Holding: while ``<faults_dir>/<subcommand>.hold`` exists, an invocation adds its pid to
  ``<subcommand>.held`` and waits (at most ``HOLD_LIMIT_S``) before running, so a test knows an
  operation is in flight on that node and can land a fault there (stop glusterd, link down).

Unsupported forms fail loudly (exit 3, "testbed lvm shim: ...") rather than pretending.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import subprocess
import sys
import time
import uuid

NODE_CONFIG = "/run/testbed/node.json"
EXTENT_KIB = 4096
HOLD_LIMIT_S = 300
EMULATED = {"lvcreate", "lvremove", "lvs", "lvchange", "vgremove", "lvextend", "lvreduce"}
UNSUPPORTED = {"lvresize", "lvrename", "lvconvert", "vgchange", "lvscan"}
SPARE_LV = "testbed-lvol0-pmspare"  # the real LV behind the VG's hidden [lvol0_pmspare]
SPARE_NAME = "lvol0_pmspare"

FIELDS = {
    # name: (header, numeric)
    "lv_name": ("LV", False),
    "vg_name": ("VG", False),
    "lv_attr": ("Attr", False),
    "lv_size": ("LSize", True),
    "pool_lv": ("Pool", False),
    "origin": ("Origin", False),
    "data_percent": ("Data%", True),
    "metadata_percent": ("Meta%", True),
    "lv_tags": ("LV Tags", False),
    "segtype": ("Type", False),
    "thin_count": ("#Thins", True),
    "lv_uuid": ("LV UUID", False),
    "lv_path": ("Path", False),
    "lv_dm_path": ("DMPath", False),
    "lv_full_name": ("LV", False),
    "lv_metadata_size": ("LMetaSize", True),
    "chunk_size": ("Chunk", True),
    "lv_active": ("Active", False),
    "devices": ("Devices", False),
    "lv_kernel_major": ("KMaj", True),
    "lv_kernel_minor": ("KMin", True),
}
SIZE_FIELDS = {"lv_size", "lv_metadata_size", "chunk_size"}
DEFAULT_FIELDS = [
    "lv_name", "vg_name", "lv_attr", "lv_size", "pool_lv", "origin", "data_percent",
    "metadata_percent",
]
ALIASES = {"name": "lv_name", "size": "lv_size", "tags": "lv_tags", "attr": "lv_attr",
           "uuid": "lv_uuid", "path": "lv_path", "dm_path": "lv_dm_path",
           "full_name": "lv_full_name", "metadata_size": "lv_metadata_size",
           "pool": "pool_lv", "lv_pool": "pool_lv", "seg_type": "segtype",
           "data_lv_percent": "data_percent"}
VALUE_OPTIONS = {
    "-L": "size", "--size": "size", "-V": "virtualsize", "--virtualsize": "virtualsize",
    "-n": "name", "--name": "name", "--thinpool": "thinpool", "--type": "type",
    "--poolmetadatasize": "poolmetadatasize", "-c": "chunksize", "--chunksize": "chunksize",
    "--addtag": "addtag", "--deltag": "deltag", "-A": "autobackup", "--autobackup": "autobackup",
    "-Z": "zero", "--zero": "zero", "--activate": "activate",
    "-k": "setactivationskip", "--setactivationskip": "setactivationskip",
    "-W": "wipesignatures", "--wipesignatures": "wipesignatures", "--config": "config",
    "-o": "options", "--options": "options", "--units": "units", "--separator": "separator",
    "--reportformat": "reportformat", "-O": "sort", "--sort": "sort", "-S": "select",
    "--select": "select", "--driverloaded": "driverloaded", "--poolmetadataspare": "spare",
    "--discards": "discards", "-l": "extents", "--extents": "extents",
}
FLAG_OPTIONS = {
    "-T": "thin", "--thin": "thin", "-f": "force", "--force": "force", "-ff": "force",
    "-y": "yes", "--yes": "yes", "-q": "quiet", "-qq": "quiet", "--quiet": "quiet",
    "-v": "verbose", "--verbose": "verbose", "--noheadings": "noheadings",
    "--nosuffix": "nosuffix", "--all": "all", "--aligned": "aligned",
    "--unquoted": "unquoted", "--nameprefixes": "nameprefixes", "--readonly": "readonly",
    "--nolocking": "nolocking", "-s": "snapshot", "--snapshot": "snapshot",
}
# What LVM prints on this kernel because device-mapper is missing (not seen on real nodes).
DM_NOISE = ("/dev/mapper/control: open failed", "Failure to communicate with kernel device-mapper",
            "Check that device-mapper is available", "Incompatible libdevmapper",
            "WARNING: Activation disabled", "/sbin/modprobe")
FILTER_NOISE = DM_NOISE + ("WARNING: Logical volume", "not zeroed",
                "File descriptor", "compiled without activation support")


class ShimError(Exception):
    def __init__(self, message: str, code: int = 5) -> None:
        super().__init__(message)
        self.code = code


def main(argv: list[str]) -> int:
    program = os.path.basename(argv[0])
    args = argv[1:]
    if program == "lvm" or program.endswith(".py"):
        if not args:
            return passthrough(load_node(), "lvm", [])
        sub, args = args[0], args[1:]
    else:
        sub = program
    node = load_node()
    code = 3
    try:
        code = _main(node, sub, args)
        return code
    finally:
        log_call(node, sub, args, code)


def _main(node: dict, sub: str, args: list[str]) -> int:
    try:
        inject_fault(node, sub)
        if sub in UNSUPPORTED:
            raise ShimError(f"testbed lvm shim: {sub} is not emulated", 3)
        if sub not in EMULATED or "--help" in args:
            return passthrough(node, sub, args)
        with node_lock(node):
            return Emulator(node).dispatch(sub, args)
    except ShimError as exc:
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
        return exc.code


def log_call(node: dict, sub: str, args: list[str], code: int) -> None:
    """Append every call (argv and exit code) to ``<state_dir>/calls.log``: the record of what
    glusterd/heketipy asked of LVM, so an unsupported form can be read back and emulated."""
    try:
        with open(os.path.join(node["state_dir"], "calls.log"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": [sub, *args], "exit": code}) + "\n")
    except OSError:
        pass


# -- node description, locking, faults -------------------------------------------------------


def load_node() -> dict:
    with open(NODE_CONFIG, encoding="utf-8") as handle:
        node = json.load(handle)
    os.makedirs(os.path.join(node["state_dir"], "lvs"), exist_ok=True)
    os.makedirs(os.path.join(node["state_dir"], "images"), exist_ok=True)
    return node


class node_lock:  # noqa: N801 - used as a context manager
    def __init__(self, node: dict) -> None:
        self.path = os.path.join(node["state_dir"], ".lock")

    def __enter__(self) -> None:
        self.handle = open(self.path, "a")  # noqa: SIM115
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def hold(marker: str) -> None:
    if not os.path.exists(marker + ".hold"):
        return
    with open(marker + ".held", "a", encoding="utf-8") as held:
        held.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + HOLD_LIMIT_S
    while os.path.exists(marker + ".hold") and time.monotonic() < deadline:
        time.sleep(0.05)


def inject_fault(node: dict, sub: str) -> None:
    marker = os.path.join(node.get("faults_dir", "/nonexistent"), sub)
    hold(marker)
    if os.path.exists(marker + ".always"):  # fails every time until the file is removed
        with open(marker + ".always", encoding="utf-8") as handle:
            raise ShimError(handle.read().strip() or f"testbed fault injected into {sub}", 5)
    claimed = marker + f".claimed.{os.getpid()}"
    try:
        os.rename(marker, claimed)  # atomic: exactly one invocation consumes a marker
    except OSError:
        return
    with open(claimed, encoding="utf-8") as handle:
        text = handle.read().strip()
    os.unlink(claimed)
    raise ShimError(text or f"testbed fault injected into {sub}", 5)


def filter_config(node: dict) -> str:
    accept = "".join(f'"a|^{re.escape(device)}$|",' for device in node["devices"])
    return f'devices {{ global_filter=[{accept}"r|.*|"] }}'


def real_lvm(node: dict, sub: str, args: list[str], *, driverless: bool = False,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [node["real_lvm"], sub, "--config", filter_config(node)]
    if driverless:
        argv += ["--driverloaded", "n"]
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
    done = subprocess.run(argv + args, capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise ShimError(clean_stderr(done.stderr) or f"lvm {sub} failed", done.returncode)
    return done


def clean_stderr(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(FILTER_NOISE))


def passthrough(node: dict, sub: str, args: list[str]) -> int:
    """Run the real lvm; stdout verbatim, stderr without this kernel's device-mapper noise."""
    argv = [node["real_lvm"], *([sub] if sub else [])]
    if sub and sub not in ("version", "help"):
        argv += ["--config", filter_config(node)]
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
    done = subprocess.run(argv + args, stdout=sys.stdout, stderr=subprocess.PIPE, text=True,
                          env=env, check=False)
    for line in done.stderr.splitlines():
        if not line.strip().startswith(DM_NOISE):
            print(line, file=sys.stderr)
    return done.returncode


# -- argument parsing ------------------------------------------------------------------------


def parse(args: list[str]) -> tuple[dict, list[str]]:
    options: dict = {"addtag": [], "deltag": [], "options": []}
    positional: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        name, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if word in ("-an", "-ay", "-aey", "-aly"):
            options["activate"] = word[2:]
            continue
        if word == "-a":
            if index < len(args) and args[index] in ("y", "n", "ey", "ly"):
                options["activate"] = args[index]
                index += 1
            else:
                options["all"] = True
            continue
        if name in VALUE_OPTIONS:
            value = inline if inline else (args[index] if index < len(args) else "")
            if not inline:
                index += 1
            key = VALUE_OPTIONS[name]
            if key in ("addtag", "deltag", "options"):
                options[key].append(value)
            else:
                options[key] = value
        elif word in FLAG_OPTIONS:
            options[FLAG_OPTIONS[word]] = True
        elif word.startswith("-") and len(word) > 1:
            raise ShimError(f"testbed lvm shim: unsupported option {word}", 3)
        else:
            positional.append(word)
    return options, positional


def size_kib(text: str, default_unit: str = "m") -> int:
    match = re.fullmatch(r"\+?([0-9]+(?:\.[0-9]+)?)([bBsSkKmMgGtTpPeE]?)", text.strip())
    if not match:
        raise ShimError(f'Invalid argument for --size: "{text}"', 3)
    number, unit = float(match.group(1)), (match.group(2) or default_unit).lower()
    factor = {"b": 1 / 1024, "s": 0.5, "k": 1, "m": 1024, "g": 1024**2, "t": 1024**3,
              "p": 1024**4, "e": 1024**5}[unit]
    return int(-(-number * factor // 1))


def round_up(kib: int, unit: int = EXTENT_KIB) -> int:
    return -(-kib // unit) * unit


def mangle(name: str) -> str:
    return name.replace("-", "--")


# -- the emulation ---------------------------------------------------------------------------


class Emulator:
    def __init__(self, node: dict) -> None:
        self.node = node
        self.state_dir = os.path.join(node["state_dir"], "lvs")
        self.images = os.path.join(node["state_dir"], "images")

    # state: one JSON file per emulated LV (kind "pool" or "thin")
    def _path(self, vg: str, lv: str) -> str:
        return os.path.join(self.state_dir, f"{vg}@{lv}.json")

    def emulated(self) -> list[dict]:
        found = []
        for entry in sorted(os.listdir(self.state_dir)):
            if entry.endswith(".json"):
                with open(os.path.join(self.state_dir, entry), encoding="utf-8") as handle:
                    found.append(json.load(handle))
        return found

    def save(self, record: dict) -> None:
        path = self._path(record["vg"], record["name"])
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(path + ".tmp", path)

    def drop(self, record: dict) -> None:
        os.unlink(self._path(record["vg"], record["name"]))

    def real_lvs(self, vgs: list[str] | None = None) -> list[dict]:
        done = real_lvm(self.node, "lvs", ["--reportformat", "json", "--units", "k",
                                           "--nosuffix", "-o",
                                           "vg_name,lv_name,lv_size,lv_tags,lv_uuid",
                                           *(vgs or [])], check=False)
        if done.returncode != 0:
            raise ShimError(clean_stderr(done.stderr), done.returncode)
        rows = json.loads(done.stdout)["report"][0]["lv"]
        return rows

    def real_vgs(self) -> dict[str, int]:
        done = real_lvm(self.node, "vgs", ["--reportformat", "json", "--units", "k",
                                           "--nosuffix", "-o", "vg_name,vg_extent_size"])
        rows = json.loads(done.stdout)["report"][0]["vg"]
        return {row["vg_name"]: int(float(row["vg_extent_size"])) for row in rows}

    def _vg_free_kib(self, vg: str) -> int:
        done = real_lvm(self.node, "vgs", ["--reportformat", "json", "--units", "k",
                                           "--nosuffix", "-o", "vg_free", vg])
        return int(float(json.loads(done.stdout)["report"][0]["vg"][0]["vg_free"]))

    def _spare_kib(self, vg: str) -> int:
        """The size of the VG's pool metadata spare, 0 when it has none."""
        return sum(int(float(row["lv_size"])) for row in self.real_lvs([vg])
                   if row["lv_name"] == SPARE_LV)

    def _grow_spare(self, vg: str, spare_kib: int, metadata_kib: int) -> None:
        """Make the VG's spare as large as a pool metadata of ``metadata_kib`` (LVM's
        ``--poolmetadataspare y``): created with the first pool, extended, never shrunk."""
        if metadata_kib <= spare_kib:
            return
        if spare_kib:
            real_lvm(self.node, "lvextend", ["-qq", "-L", f"{metadata_kib}k", f"{vg}/{SPARE_LV}"],
                     driverless=True)
        else:
            real_lvm(self.node, "lvcreate", ["-an", "-Zn", "-y", "-qq", "-L", f"{metadata_kib}k",
                                             "-n", SPARE_LV, vg], driverless=True)

    def inventory(self) -> list[dict]:
        """Every LV as the shim presents it: pools (from real LVs), thin LVs and the VG's
        pool metadata spare (hidden)."""
        records = {(r["vg"], r["name"]): r for r in self.emulated()}
        result = []
        for row in self.real_lvs():
            key = (row["vg_name"], row["lv_name"])
            record = records.get(key)
            if record and record["kind"] == "pool":
                result.append(record)
            elif key[1] == SPARE_LV:
                result.append({"kind": "linear", "vg": key[0], "name": SPARE_NAME,
                               "real": SPARE_LV, "hidden": True,
                               "size_kib": int(float(row["lv_size"])), "tags": [], "uuid": ""})
            else:
                result.append({"kind": "linear", "vg": key[0], "name": key[1],
                               "size_kib": int(float(row["lv_size"])),
                               "tags": [t for t in row["lv_tags"].split(",") if t],
                               "uuid": row["lv_uuid"]})
        result.extend(r for r in records.values() if r["kind"] == "thin")
        return result

    def resolve(self, target: str, inventory: list[dict]) -> tuple[str, str | None]:
        """``vg``, ``vg/lv``, ``/dev/vg/lv`` or ``/dev/mapper/vg-lv`` -> (vg, lv or None)."""
        if target.startswith("/dev/mapper/"):
            for record in inventory:
                if self.dm_path(record) == target:
                    return record["vg"], record["name"]
            raise ShimError(f'Failed to find logical volume "{target}"')
        if target.startswith("/dev/"):
            target = target[len("/dev/"):]
        vg, _, lv = target.partition("/")
        return vg, (lv or None)

    @staticmethod
    def vg_path(record: dict) -> str:
        return f"/dev/{record['vg']}/{record['name']}"

    @staticmethod
    def dm_path(record: dict) -> str:
        return f"/dev/mapper/{mangle(record['vg'])}-{mangle(record['name'])}"

    def dispatch(self, sub: str, args: list[str]) -> int:
        options, positional = parse(args)
        return getattr(self, sub)(options, positional)

    # -- lvcreate --------------------------------------------------------------------------

    def lvcreate(self, options: dict, positional: list[str]) -> int:
        if options.get("snapshot"):
            return self._create_snapshot(options, positional)
        if len(positional) != 1:
            raise ShimError("testbed lvm shim: lvcreate needs exactly one VG or VG/POOL", 3)
        vg, _, pool = positional[0].partition("/")
        kind = options.get("type", "")
        thin = options.get("thin") or kind in ("thin", "thin-pool") or options.get("thinpool")
        if not thin:
            raise ShimError("testbed lvm shim: only thin pools and thin LVs are emulated", 3)
        pool = pool or options.get("thinpool", "")
        if kind == "thin-pool" and not pool:
            pool = options.get("name", "")
        if not pool:
            raise ShimError("testbed lvm shim: a thin pool name is required", 3)
        inventory = self.inventory()
        if vg not in self.real_vgs():
            raise ShimError(f'Volume group "{vg}" not found\nCannot process volume group {vg}')
        names = {(r["vg"], r["name"]) for r in inventory}
        if "size" in options or "extents" in options:
            if (vg, pool) in names:
                raise ShimError(f'Logical Volume "{pool}" already exists in volume group "{vg}"')
            self._create_pool(vg, pool, options)
            names.add((vg, pool))
        elif (vg, pool) not in names:
            raise ShimError(f'Failed to find logical volume "{vg}/{pool}"')
        if "virtualsize" in options and kind != "thin-pool":
            name = options.get("name") or f"lvol{int(time.time() * 1000) % 100000}"
            if (vg, name) in names:
                raise ShimError(f'Logical Volume "{name}" already exists in volume group "{vg}"')
            self._create_thin(vg, pool, name, options)
        return 0

    def _create_pool(self, vg: str, pool: str, options: dict) -> None:
        if "extents" in options:
            raise ShimError("testbed lvm shim: --extents is not emulated", 3)
        data_kib = round_up(size_kib(options["size"]))
        if "poolmetadatasize" in options:
            meta_kib = round_up(size_kib(options["poolmetadatasize"]))
        else:
            meta_kib = round_up(max(4096, data_kib // 1000))
        spare = self._spare_kib(vg)
        growth = max(0, meta_kib - spare)
        free = self._vg_free_kib(vg)
        if data_kib + meta_kib + growth > free:
            raise ShimError(
                f'Volume group "{vg}" has insufficient free space ({free // EXTENT_KIB} '
                f"extents): {(data_kib + meta_kib + growth) // EXTENT_KIB} required."
            )
        args = ["-an", "-Zn", "-y", "-qq", "-L", f"{data_kib + meta_kib}k", "-n", pool]
        for tag in options["addtag"]:
            args += ["--addtag", tag]
        if "autobackup" in options:
            args += ["--autobackup", options["autobackup"]]
        real_lvm(self.node, "lvcreate", [*args, vg], driverless=True)
        try:
            self._grow_spare(vg, spare, meta_kib)
        except ShimError:
            real_lvm(self.node, "lvremove", ["-f", "-qq", f"{vg}/{pool}"], driverless=True,
                     check=False)
            raise
        chunk = size_kib(options.get("chunksize", "64k"), "k")
        self.save({"kind": "pool", "vg": vg, "name": pool, "size_kib": data_kib,
                   "metadata_kib": meta_kib, "chunk_kib": chunk, "tags": list(options["addtag"]),
                   "uuid": ""})

    def _create_thin(self, vg: str, pool: str, name: str, options: dict) -> None:
        virtual_kib = round_up(size_kib(options["virtualsize"]))
        image = os.path.join(self.images, f"{vg}@{name}.img")
        with open(image, "wb") as handle:
            handle.truncate(virtual_kib * 1024)
        record = {"kind": "thin", "vg": vg, "name": name, "pool": pool, "size_kib": virtual_kib,
                  "tags": list(options["addtag"]), "image": image, "loop": "",
                  "uuid": uuid.uuid4().hex[:32]}
        self._register(record, options, activate=options.get("activate", "y") != "n")

    def _register(self, record: dict, options: dict, *, activate: bool) -> None:
        """Save a new thin LV (activated first if asked); on failure leave nothing behind."""
        try:
            if activate:
                self._activate(record)
            self.save(record)
        except Exception:
            self._deactivate(record, force=True)
            os.unlink(record["image"])
            raise
        if not options.get("quiet"):
            print(f'  Logical volume "{record["name"]}" created.')

    def _create_snapshot(self, options: dict, positional: list[str]) -> int:
        """``lvcreate -s ORIGIN --name [/dev/VG/]NAME [--setactivationskip n]`` (glusterd's
        snapshot/clone form): a thin snapshot of a thin LV, in the origin's pool. Emulated as a
        sparse copy of the origin's image taken after a sync (a real thin snapshot shares the
        origin's blocks; here the copy's blocks count again towards the pool's data%)."""
        if len(positional) != 1 or not options.get("name"):
            raise ShimError("testbed lvm shim: lvcreate -s needs one origin and --name", 3)
        if "size" in options or "extents" in options:
            raise ShimError("testbed lvm shim: only thin snapshots (no --size) are emulated", 3)
        inventory = self.inventory()
        vg, lv = self.resolve(positional[0], inventory)
        origin = next((r for r in inventory if r["vg"] == vg and r["name"] == lv), None)
        if origin is None or lv is None:
            raise ShimError(f'Failed to find logical volume "{vg}/{lv}"')
        if origin["kind"] != "thin":
            raise ShimError("testbed lvm shim: only snapshots of thin LVs are emulated", 3)
        target = options["name"]
        if target.startswith("/dev/"):
            target_vg, _, name = target[len("/dev/"):].partition("/")
            if target_vg != vg:
                raise ShimError(f'Logical volume "{target}" must be in volume group "{vg}"', 3)
        else:
            name = target
        if any(r["vg"] == vg and r["name"] == name for r in inventory):
            raise ShimError(f'Logical Volume "{name}" already exists in volume group "{vg}"')
        os.sync()  # what dm's suspend gives a real snapshot: the origin's writes are on disk
        image = os.path.join(self.images, f"{vg}@{name}.img")
        subprocess.run(["cp", "--sparse=always", origin["image"], image], check=True)
        record = {"kind": "thin", "vg": vg, "name": name, "pool": origin["pool"],
                  "size_kib": origin["size_kib"], "tags": list(options["addtag"]),
                  "image": image, "loop": "", "uuid": uuid.uuid4().hex[:32],
                  "origin": origin["name"]}
        # thin snapshots are skipped at activation unless told otherwise (lvm.conf default)
        activate = options.get("setactivationskip") == "n" or options.get("activate") == "y"
        self._register(record, options, activate=activate)
        return 0

    def _activate(self, record: dict) -> None:
        if record["loop"]:
            return
        done = subprocess.run(["losetup", "--find", "--show", record["image"]],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ShimError(f"testbed lvm shim: losetup failed: {done.stderr.strip()}")
        record["loop"] = done.stdout.strip()
        device = os.stat(record["loop"]).st_rdev
        node_path = self.dm_path(record)
        if os.path.exists(node_path):
            os.unlink(node_path)
        os.mknod(node_path, stat.S_IFBLK | 0o660, device)
        # /dev/VG/LV too (glusterd opens snapshots there). /dev is the host's: VG names are
        # per node (heketipy's vg_<device id>), and deactivation removes the node again.
        os.makedirs(os.path.dirname(self.vg_path(record)), exist_ok=True)
        if os.path.lexists(self.vg_path(record)):
            os.unlink(self.vg_path(record))
        os.mknod(self.vg_path(record), stat.S_IFBLK | 0o660, device)

    def _deactivate(self, record: dict, *, force: bool = False) -> None:
        if not force and self._mounted(record):
            raise ShimError(
                f"Logical volume {record['vg']}/{record['name']} contains a filesystem in use."
            )
        node_path = self.dm_path(record)
        if os.path.exists(node_path):
            os.unlink(node_path)
        if os.path.lexists(self.vg_path(record)):
            os.unlink(self.vg_path(record))
            with contextlib.suppress(OSError):  # other LVs of the VG are still active
                os.rmdir(os.path.dirname(self.vg_path(record)))
        if record["loop"]:
            subprocess.run(["losetup", "-d", record["loop"]], capture_output=True, check=False)
            record["loop"] = ""

    def _mounted(self, record: dict) -> bool:
        sources = {self.dm_path(record), self.vg_path(record)}
        if record.get("loop"):
            sources.add(record["loop"])
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            return any(line.split(" ", 1)[0] in sources for line in handle)

    # -- lvremove / vgremove -----------------------------------------------------------------

    def lvremove(self, options: dict, positional: list[str]) -> int:
        if not positional:
            raise ShimError("Please enter one or more logical volume paths.", 3)
        code = 0
        for target in positional:
            inventory = self.inventory()
            try:
                vg, lv = self.resolve(target, inventory)
                chosen = [r for r in inventory if r["vg"] == vg and (lv is None or r["name"] == lv)]
                if not chosen:
                    if lv is None and vg not in self.real_vgs():
                        raise ShimError(f'Volume group "{vg}" not found')
                    if lv is not None:
                        raise ShimError(f'Failed to find logical volume "{vg}/{lv}"')
                # thin LVs before their pools
                for record in sorted(chosen, key=lambda r: r["kind"] != "thin"):
                    self._remove(record, inventory, options)
            except ShimError as exc:
                for line in str(exc).splitlines():
                    print(f"  {line}", file=sys.stderr)
                code = exc.code
        return code

    def _remove(self, record: dict, inventory: list[dict], options: dict) -> None:
        if record["kind"] == "thin":
            if not os.path.exists(self._path(record["vg"], record["name"])):
                return  # already removed together with its pool
            self._deactivate(record)
            if os.path.exists(record["image"]):
                os.unlink(record["image"])
            self.drop(record)
            for child in self.emulated():  # as LVM does: a removed origin leaves no name behind
                if child.get("origin") == record["name"] and child["vg"] == record["vg"]:
                    self.save({**child, "origin": ""})
        else:
            if record.get("real") == SPARE_LV and not self._spare_kib(record["vg"]):
                return  # the spare already went with the VG's last pool
            if record["kind"] == "pool":
                users = [r for r in self.emulated()
                         if r["kind"] == "thin" and r["vg"] == record["vg"]
                         and r["pool"] == record["name"]]
                if users and not (options.get("force") or options.get("yes")):
                    raise ShimError(
                        f"Removing pool {record['name']} will remove {len(users)} dependent "
                        f"volume(s). Proceed? [y/n]: [n]\n"
                        f"Logical volume {record['name']} not removed."
                    )
                for user in users:
                    self._remove(user, inventory, options)
            args = ["-f", "-qq"]
            if "autobackup" in options:
                args += ["--autobackup", options["autobackup"]]
            real_name = record.get("real", record["name"])
            real_lvm(self.node, "lvremove", [*args, f"{record['vg']}/{real_name}"],
                     driverless=True)
            if record["kind"] == "pool":
                self.drop(record)
                self._drop_spare_after_last_pool(record["vg"], args)
        if not options.get("quiet"):
            print(f'  Logical volume "{record["name"]}" successfully removed.')

    def _drop_spare_after_last_pool(self, vg: str, args: list[str]) -> None:
        """With the VG's last pool LVM removes the spare too: no pool is left to repair."""
        if any(r["kind"] == "pool" and r["vg"] == vg for r in self.emulated()):
            return
        if self._spare_kib(vg):
            real_lvm(self.node, "lvremove", [*args, f"{vg}/{SPARE_LV}"], driverless=True)

    def vgremove(self, options: dict, positional: list[str]) -> int:
        inventory = self.inventory()
        for vg in positional:
            owned = [r for r in inventory if r["vg"] == vg]
            if owned and not options.get("force"):
                raise ShimError(
                    f'Do you really want to remove volume group "{vg}" containing '
                    f"{len([r for r in owned if r['kind'] != 'thin' and not r.get('hidden')])} "
                    "logical volumes? "
                    f"[y/n]: [n]\nVolume group \"{vg}\" not removed"
                )
            for record in sorted(owned, key=lambda r: r["kind"] != "thin"):
                self._remove(record, inventory, {**options, "quiet": True, "force": True})
        args = [word for word in ("-f",) if options.get("force")]
        args += ["-qq", *positional]
        if "autobackup" in options:
            args += ["--autobackup", options["autobackup"]]
        real_lvm(self.node, "vgremove", args, driverless=True)
        if not options.get("quiet"):
            for vg in positional:
                print(f'  Volume group "{vg}" successfully removed')
        return 0

    # -- lvchange -----------------------------------------------------------------------------

    def lvchange(self, options: dict, positional: list[str]) -> int:
        inventory = self.inventory()
        for target in positional:
            vg, lv = self.resolve(target, inventory)
            chosen = [r for r in inventory if r["vg"] == vg and not r.get("hidden")
                      and (lv is None or r["name"] == lv)]
            if not chosen:
                raise ShimError(f'Failed to find logical volume "{target}"')
            for record in chosen:
                tags = [t for t in record["tags"] if t not in options["deltag"]]
                tags += [t for t in options["addtag"] if t not in tags]
                record["tags"] = tags
                if record["kind"] != "thin" and (options["addtag"] or options["deltag"]):
                    args = []
                    for tag in options["addtag"]:
                        args += ["--addtag", tag]
                    for tag in options["deltag"]:
                        args += ["--deltag", tag]
                    real_lvm(self.node, "lvchange", [*args, f"{vg}/{record['name']}"],
                             driverless=True)
                if record["kind"] == "thin" and options.get("activate") in ("y", "ey", "ly"):
                    self._activate(record)
                elif record["kind"] == "thin" and options.get("activate") == "n":
                    self._deactivate(record)
                if record["kind"] in ("thin", "pool"):
                    self.save(record)
        return 0

    # -- lvextend / lvreduce -------------------------------------------------------------------

    def lvextend(self, options: dict, positional: list[str]) -> int:
        return self._resize(options, positional, grow=True)

    def lvreduce(self, options: dict, positional: list[str]) -> int:
        return self._resize(options, positional, grow=False)

    def _resize(self, options: dict, positional: list[str], *, grow: bool) -> int:
        command = "lvextend" if grow else "lvreduce"
        if len(positional) != 1:
            raise ShimError(f"testbed lvm shim: {command} needs exactly one VG/LV", 3)
        size, metadata = options.get("size"), options.get("poolmetadatasize")
        if (size is None) == (metadata is None) or "extents" in options:
            raise ShimError(f"testbed lvm shim: {command} needs one of --size, --poolmetadatasize", 3)
        if (size or metadata or "").startswith(("+", "-")):
            raise ShimError(f"testbed lvm shim: {command} takes absolute sizes only", 3)
        if not grow and not options.get("force"):
            raise ShimError("testbed lvm shim: lvreduce answers no prompt: use -f", 3)
        inventory = self.inventory()
        vg, lv = self.resolve(positional[0], inventory)
        record = next((r for r in inventory if r["vg"] == vg and r["name"] == lv), None)
        if record is None or lv is None:
            raise ShimError(f'Failed to find logical volume "{vg}/{lv}"')
        if record["kind"] not in ("pool", "thin") or (metadata and record["kind"] != "pool"):
            raise ShimError(f"testbed lvm shim: {command} of {record['kind']} LVs is not emulated", 3)
        key = "metadata_kib" if metadata else "size_kib"
        current, wanted = record[key], round_up(size_kib(metadata or size))
        old_ext, new_ext = current // EXTENT_KIB, wanted // EXTENT_KIB
        if new_ext == old_ext:
            raise ShimError(f"New size ({new_ext} extents) matches existing size ({old_ext} extents).")
        if grow != (new_ext > old_ext):
            relation = "not larger than" if grow else "not less than"
            raise ShimError(
                f"New size given ({new_ext} extents) {relation} existing size ({old_ext} extents)"
            )
        if record["kind"] == "pool":
            if not grow:
                raise ShimError(f"Thin pool volumes {vg}/{lv} cannot be reduced in size yet.")
            spare = self._spare_kib(vg)
            growth = max(0, wanted - spare) if metadata else 0
            free = self._vg_free_kib(vg)
            if wanted - current + growth > free:
                raise ShimError(
                    f"Insufficient free space: {(wanted - current + growth) // EXTENT_KIB} "
                    f"extents needed, but only {free // EXTENT_KIB} available"
                )
            total = record["size_kib"] + record["metadata_kib"] + wanted - current
            args = ["-qq", "-L", f"{total}k"]
            if "autobackup" in options:
                args += ["--autobackup", options["autobackup"]]
            real_lvm(self.node, "lvextend", [*args, f"{vg}/{lv}"], driverless=True)
            if metadata:  # the spare follows the largest pool metadata
                self._grow_spare(vg, spare, wanted)
        else:
            filesystem = xfs_size_kib(record["image"])
            if not grow and filesystem > wanted:
                raise ShimError(
                    f"File system xfs found on {vg}/{lv}.\nFile system size ({filesystem}.00k) is "
                    f"larger than the requested size ({wanted}.00k).\n"
                    "File system reduce is required and not supported (xfs)."
                )
            with open(record["image"], "r+b") as handle:
                handle.truncate(wanted * 1024)
            if record.get("loop"):
                subprocess.run(["losetup", "-c", record["loop"]], check=True, capture_output=True)
        record[key] = wanted
        self.save(record)
        if not options.get("quiet"):
            print(f"  Logical volume {vg}/{lv} successfully resized.")
        return 0

    # -- lvs ----------------------------------------------------------------------------------

    def lvs(self, options: dict, positional: list[str]) -> int:
        if options.get("select"):
            raise ShimError("testbed lvm shim: lvs --select is not emulated", 3)
        inventory = self.inventory()
        if options.get("all"):
            inventory += [
                {"kind": "linear", "vg": pool["vg"], "name": f"{pool['name']}_{part}",
                 "hidden": True, "size_kib": pool[key], "tags": [], "uuid": ""}
                for pool in inventory if pool["kind"] == "pool"
                for part, key in (("tdata", "size_kib"), ("tmeta", "metadata_kib"))
            ]
        else:
            inventory = [r for r in inventory if not r.get("hidden")]
        known_vgs = self.real_vgs()
        rows: list[dict] = []
        code = 0
        for target in positional or [None]:
            if target is None:
                rows.extend(inventory)
                continue
            if target.startswith("@"):
                rows.extend(r for r in inventory if target[1:] in r["tags"])
                continue
            try:
                vg, lv = self.resolve(target, inventory)
                if vg not in known_vgs:
                    raise ShimError(f'Volume group "{vg}" not found\nCannot process volume group {vg}')
                chosen = [r for r in inventory if r["vg"] == vg and (lv is None or r["name"] == lv)]
                if lv is not None and not chosen:
                    raise ShimError(f'Failed to find logical volume "{vg}/{lv}"')
                rows.extend(chosen)
            except ShimError as exc:
                for line in str(exc).splitlines():
                    print(f"  {line}", file=sys.stderr)
                code = exc.code
        fields = self._fields(options["options"])
        table = [[self._value(record, name, inventory, options) for name in fields]
                 for record in sorted(rows, key=lambda r: (r["vg"], r["name"]))]
        self._print(fields, table, options)
        return code

    @staticmethod
    def _fields(requested: list[str]) -> list[str]:
        fields: list[str] = []
        for group in requested or [""]:
            if group.startswith("+"):
                fields = (fields or list(DEFAULT_FIELDS)) + []
                group = group[1:]
            for name in filter(None, (part.strip() for part in group.split(","))):
                canonical = ALIASES.get(name, name)
                if canonical not in FIELDS and "lv_" + canonical in FIELDS:
                    canonical = "lv_" + canonical
                if canonical not in FIELDS:
                    raise ShimError(f"Unrecognised field: {name}", 3)
                fields.append(canonical)
        return fields or list(DEFAULT_FIELDS)

    def _value(self, record: dict, name: str, inventory: list[dict], options: dict) -> str:
        kind = record["kind"]
        if name == "lv_name":  # LVM brackets its hidden LVs' names
            return f"[{record['name']}]" if record.get("hidden") else record["name"]
        if name == "vg_name":
            return record["vg"]
        if name == "lv_full_name":
            return f"{record['vg']}/{record['name']}"
        if name == "lv_attr":
            active = "a" if kind != "thin" or record.get("loop") else "-"
            opened = "o" if kind == "thin" and self._mounted(record) else "-"
            return {"pool": "twi-a-tz--", "thin": f"Vwi-{active}{opened}tz--"}.get(
                kind, "-wi-------")
        if name == "segtype":
            return {"pool": "thin-pool", "thin": "thin"}.get(kind, "linear")
        if name == "pool_lv":
            return record.get("pool", "") if kind == "thin" else ""
        if name == "origin":
            return record.get("origin", "") if kind == "thin" else ""
        if name == "lv_tags":
            return ",".join(sorted(record["tags"]))
        if name == "lv_uuid":
            return record.get("uuid", "")
        if name == "lv_path":
            return f"/dev/{record['vg']}/{record['name']}"
        if name == "lv_dm_path":
            return self.dm_path(record)
        if name == "lv_active":
            return "active" if kind != "linear" and (kind == "pool" or record.get("loop")) else ""
        if name == "devices":
            return ""
        if name in ("lv_kernel_major", "lv_kernel_minor"):
            if kind != "thin" or not record.get("loop"):
                return "-1"
            rdev = os.stat(record["loop"]).st_rdev
            return str(os.major(rdev) if name == "lv_kernel_major" else os.minor(rdev))
        if name == "thin_count":
            if kind != "pool":
                return ""
            return str(sum(1 for r in inventory if r["kind"] == "thin" and r["vg"] == record["vg"]
                           and r.get("pool") == record["name"]))
        if name in ("data_percent", "metadata_percent"):
            if kind == "thin":
                return f"{100.0 * self._used_kib(record) / max(1, record['size_kib']):.2f}"
            if kind == "pool":
                if name == "metadata_percent":
                    return "1.00"
                used = sum(self._used_kib(r) for r in inventory if r["kind"] == "thin"
                           and r["vg"] == record["vg"] and r.get("pool") == record["name"])
                return f"{100.0 * used / max(1, record['size_kib']):.2f}"
            return ""
        if name in SIZE_FIELDS:
            value = {"lv_size": record["size_kib"],
                     "lv_metadata_size": record.get("metadata_kib", 0),
                     "chunk_size": record.get("chunk_kib", 0)}[name]
            if name != "lv_size" and kind != "pool":
                return ""
            return format_size(value, options.get("units", "h"), bool(options.get("nosuffix")))
        raise ShimError(f"Unrecognised field: {name}", 3)

    @staticmethod
    def _used_kib(record: dict) -> int:
        try:
            return os.stat(record["image"]).st_blocks // 2
        except OSError:
            return 0

    @staticmethod
    def _print(fields: list[str], table: list[list[str]], options: dict) -> None:
        if options.get("reportformat") == "json":
            entries = [
                "                  {" + ", ".join(
                    f"{json.dumps(f)}:{json.dumps(v)}" for f, v in zip(fields, row, strict=True)
                ) + "}"
                for row in table
            ]
            print("  {\n      \"report\": [\n          {\n              \"lv\": [")
            print(",\n".join(entries))
            print("              ]\n          }\n      ]\n  }")
            return
        separator = options.get("separator")
        if options.get("nameprefixes"):
            for row in table:
                print("  " + " ".join(f"LVM2_{f.upper()}='{v}'"
                                      for f, v in zip(fields, row, strict=True)))
            return
        headers = [FIELDS[name][0] for name in fields]
        if separator is not None:
            lines = [] if options.get("noheadings") else [separator.join(headers)]
            lines += [separator.join(row) for row in table]
            for line in lines:
                print("  " + line)
            return
        widths = [max([len(h)] + [len(row[i]) for row in table]) for i, h in enumerate(headers)]
        def render(cells: list[str]) -> str:
            parts = []
            for i, cell in enumerate(cells):
                numeric = FIELDS[fields[i]][1]
                parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
            return ("  " + " ".join(parts)).rstrip()
        if not options.get("noheadings"):
            print(render(headers))
        for row in table:
            print(render(row))


def xfs_size_kib(image: str) -> int:
    """The data size of the XFS in ``image`` (superblock: magic ``XFSB``, block size at byte 4,
    data blocks at byte 8, big-endian), 0 when there is none."""
    try:
        with open(image, "rb") as handle:
            superblock = handle.read(16)
    except OSError:
        return 0
    if len(superblock) < 16 or superblock[:4] != b"XFSB":
        return 0
    block_size = int.from_bytes(superblock[4:8], "big")
    return int.from_bytes(superblock[8:16], "big") * block_size // 1024


def format_size(kib: int, units: str, nosuffix: bool) -> str:
    unit = units[:1] if units else "h"
    factors = {"b": 1 / 1024, "s": 0.5, "k": 1, "m": 1024, "g": 1024**2, "t": 1024**3}
    if unit.lower() == "h":
        unit = "k"
        for candidate in ("t", "g", "m"):
            if kib >= factors[candidate]:
                unit = candidate
                break
    factor = factors.get(unit.lower())
    if factor is None:
        raise ShimError(f"Invalid argument for --units: {units}", 3)
    value = kib / factor
    text = f"{value:.0f}" if unit.lower() in ("b", "s") else f"{value:.2f}"
    return text if nosuffix else text + unit.lower()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
