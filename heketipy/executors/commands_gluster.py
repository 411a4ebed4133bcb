"""Pure argv builders and output parsers for the gluster CLI and gluster-block.

Covers internals 2.6-2.8: volume create/add-brick/set/start/stop/delete/info/status, heal
info, replace-brick, rebalance, peer probe/detach/status, snapshot and clone, and gluster-block
create/delete/modify/info/list. The XML parsers take the shapes real glusterd prints (see
tests/data/gluster): a ``<brick>`` whose text is ``host:path`` followed by child elements, self-
heal daemon rows in ``volume status``, and ``opRet``/``opErrstr`` failures that exit 0.
"""

from __future__ import annotations

import contextlib
import errno
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from heketipy.domain.units import MAX_SETS_PER_ADD_BRICK, set_width
from heketipy.executors.base import (
    BlockVolumeInfo,
    BlockVolumeRequest,
    BrickAddress,
    GlusterBrick,
    GlusterVolume,
    VolumeRequest,
)
from heketipy.executors.commands_common import (
    CommandOptions,
    UnsafeArgument,
    safe_hostname,
    safe_option_words,
    safe_path,
    safe_positive_int,
    safe_volume_name,
)
from heketipy.executors.commands_lvm import ParseError

GLUSTER = "gluster"
GLUSTER_BLOCK = "gluster-block"
# glusterd's own error numbers, reported as ``opErrno`` by ``--xml`` commands (glusterd-errno.h).
EG_ANOTRANS = 30802  # another transaction is in progress
EG_NOVOL = 30806  # the volume does not exist
TRANSACTION_CONFLICT_TEXTS = (
    "another transaction is in progress",
    "another transaction could be in progress",
    "locking failed",
    "unable to acquire lock",
    "lock request timed out",
)


def gluster(options: CommandOptions, *words: str) -> list[str]:
    return [GLUSTER, "--mode=script", f"--timeout={options.gluster_cli_timeout}", *words]


def brick_word(brick: BrickAddress) -> str:
    return f"{safe_hostname(brick.host)}:{safe_path(brick.path, 'brick path')}"


def set_size(volume: VolumeRequest) -> int:
    # At least one brick: the first `volume create` and each add-brick batch slice by it.
    # Disperse widths are validated (4+2 ...), so the guard only turns a replica below 1 into 1.
    return max(1, set_width(volume))


def _durability_words(volume: VolumeRequest) -> list[str]:
    if volume.durability == "replicate":
        replica = safe_positive_int(volume.replica, "replica count")
        words = ["replica", str(replica)]
        if volume.arbiter:
            words += ["arbiter", "1"]
        return words
    if volume.durability == "disperse":
        return [
            "disperse-data", str(safe_positive_int(volume.data, "disperse data count")),
            "redundancy", str(safe_positive_int(volume.redundancy, "redundancy count")),
        ]  # fmt: skip
    if volume.durability != "none":
        raise UnsafeArgument("durability", volume.durability)
    return []


def volume_create(options: CommandOptions, volume: VolumeRequest) -> list[str]:
    """``volume create`` with the first brick set only; the rest follow by ``add-brick``."""
    first = volume.bricks[: set_size(volume)]
    if not first:
        raise UnsafeArgument("brick list", volume.bricks)
    return gluster(
        options, "volume", "create", safe_volume_name(volume.name), *_durability_words(volume),
        *(brick_word(b) for b in first),
    )  # fmt: skip


def add_brick_groups(volume: VolumeRequest, bricks: Sequence[BrickAddress]) -> list[list[str]]:
    """Brick words per ``add-brick`` command: whole sets, upstream's sets-per-command cap."""
    per_command = set_size(volume) * MAX_SETS_PER_ADD_BRICK.get(volume.durability, 1)
    words = [brick_word(b) for b in bricks]
    return [words[i : i + per_command] for i in range(0, len(words), per_command)]


def volume_add_brick(options: CommandOptions, name: str, brick_words: Sequence[str]) -> list[str]:
    for word in brick_words:
        host, _, path = word.partition(":")
        brick_word(BrickAddress(host, path))
    return gluster(options, "volume", "add-brick", safe_volume_name(name), *brick_words)


def volume_set(options: CommandOptions, name: str, option: str) -> list[str]:
    """One ``"key value"`` option, split into words as upstream's shell did."""
    return gluster(options, "volume", "set", safe_volume_name(name), *safe_option_words(option))


def volume_start(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "start", safe_volume_name(name))


def volume_stop(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "stop", safe_volume_name(name), "force")


def volume_delete(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "delete", safe_volume_name(name))


def volume_info(options: CommandOptions, name: str | None = None) -> list[str]:
    words = ["volume", "info"] + ([safe_volume_name(name)] if name is not None else [])
    return gluster(options, *words, "--xml")


def volume_status(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "status", safe_volume_name(name), "--xml")


def heal_info(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "heal", safe_volume_name(name), "info", "--xml")


def rebalance_start(options: CommandOptions, name: str) -> list[str]:
    return gluster(options, "volume", "rebalance", safe_volume_name(name), "start")


def replace_brick(
    options: CommandOptions, name: str, old: BrickAddress, new: BrickAddress
) -> list[str]:
    return gluster(
        options, "volume", "replace-brick", safe_volume_name(name), brick_word(old),
        brick_word(new), "commit", "force",
    )  # fmt: skip


def peer_probe(options: CommandOptions, host: str) -> list[str]:
    return gluster(options, "peer", "probe", safe_hostname(host))


def peer_detach(options: CommandOptions, host: str) -> list[str]:
    return gluster(options, "peer", "detach", safe_hostname(host))


def peer_status(options: CommandOptions) -> list[str]:
    return gluster(options, "peer", "status", "--xml")


def snapshot_limit(options: CommandOptions) -> list[str]:
    return gluster(
        options, "snapshot", "config", "snap-max-hard-limit",
        str(safe_positive_int(options.snapshot_limit, "snapshot limit")),
    )  # fmt: skip


def snapshot_create(options: CommandOptions, snap: str, volume: str) -> list[str]:
    return gluster(
        options, "snapshot", "create", safe_volume_name(snap), safe_volume_name(volume),
        "no-timestamp", "--xml",
    )  # fmt: skip


def snapshot_activate(options: CommandOptions, snap: str) -> list[str]:
    return gluster(options, "snapshot", "activate", safe_volume_name(snap), "--xml")


def snapshot_clone(options: CommandOptions, clone: str, snap: str) -> list[str]:
    return gluster(
        options, "snapshot", "clone", safe_volume_name(clone), safe_volume_name(snap), "--xml"
    )


def snapshot_deactivate(options: CommandOptions, snap: str) -> list[str]:
    return gluster(options, "snapshot", "deactivate", safe_volume_name(snap), "--xml")


def snapshot_delete(options: CommandOptions, snap: str) -> list[str]:
    return gluster(options, "snapshot", "delete", safe_volume_name(snap), "--xml")


# -- gluster-block -------------------------------------------------------------------------------


def _block_target(bhv_name: str, name: str) -> str:
    return f"{safe_volume_name(bhv_name)}/{safe_volume_name(name)}"


def block_create(options: CommandOptions, request: BlockVolumeRequest) -> list[str]:
    hosts = [safe_hostname(h) for h in request.hosts]
    if not hosts:
        raise UnsafeArgument("block hosts", request.hosts)
    hacount = safe_positive_int(request.hacount, "hacount") or len(hosts)
    return [
        GLUSTER_BLOCK, "create", _block_target(request.bhv_name, request.name),
        "ha", str(hacount), "auth", "enable" if request.auth else "disable",
        "prealloc", options.block_prealloc, ",".join(hosts),
        f"{safe_positive_int(request.size_gib, 'block size')}GiB", "--json",
    ]  # fmt: skip


def block_delete(bhv_name: str, name: str) -> list[str]:
    return [GLUSTER_BLOCK, "delete", _block_target(bhv_name, name), "--json"]


def block_modify_size(bhv_name: str, name: str, size_gib: int) -> list[str]:
    size = safe_positive_int(size_gib, "block size")
    return [GLUSTER_BLOCK, "modify", _block_target(bhv_name, name), "size", f"{size}GiB", "--json"]


def block_info(bhv_name: str, name: str) -> list[str]:
    return [GLUSTER_BLOCK, "info", _block_target(bhv_name, name), "--json"]


def block_list(bhv_name: str) -> list[str]:
    return [GLUSTER_BLOCK, "list", safe_volume_name(bhv_name), "--json"]


# -- XML parsers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliStatus:
    op_ret: int
    op_errno: int
    op_errstr: str

    @property
    def ok(self) -> bool:
        return self.op_ret == 0 and not self.op_errstr


@dataclass(frozen=True)
class BrickStatus:
    """One ``<node>`` of ``volume status --xml``; daemons (self-heal, NFS, ...) are flagged."""

    host: str
    path: str
    peer_id: str
    online: bool
    port: str
    pid: str
    daemon: bool


@dataclass(frozen=True)
class HealBrick:
    host: str
    path: str
    status: str
    entries: int | None  # None when gluster printed "-" (brick unreachable)


@dataclass(frozen=True)
class Peer:
    uuid: str
    hostname: str
    hostnames: tuple[str, ...]
    connected: bool
    state: str


def _xml_root(stdout: str) -> ElementTree.Element:
    start = stdout.find("<")
    if start < 0:
        raise ParseError(f"no XML in gluster output: {stdout!r}")
    try:
        return ElementTree.fromstring(stdout[start:].encode())
    except ElementTree.ParseError as error:
        raise ParseError(f"bad gluster XML: {error}") from error


def _text(element: ElementTree.Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path)
    return (found.text or "").strip() if found is not None else default


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def parse_cli_status(stdout: str) -> CliStatus:
    root = _xml_root(stdout)
    return CliStatus(
        op_ret=_int(_text(root, "opRet", "0")),
        op_errno=_int(_text(root, "opErrno", "0")),
        op_errstr=_text(root, "opErrstr"),
    )


def _split_brick(name: str) -> GlusterBrick:
    host, _, path = name.rpartition(":")
    return GlusterBrick(host=host, path=path)


def parse_volume_info(stdout: str) -> list[GlusterVolume]:
    """``volume info --xml``; raises ``ParseError`` on a failed ``opRet`` (see ``cli_status``)."""
    root = _xml_root(stdout)
    volumes = []
    for volume in root.iterfind("volInfo/volumes/volume"):
        bricks = []
        for brick in volume.iterfind("bricks/brick"):
            # Real glusterd writes the name both as the element's text and as <name>.
            name = _text(brick, "name") or (brick.text or "").strip()
            bricks.append(_split_brick(name))
        options = {
            _text(option, "name"): _text(option, "value")
            for option in volume.iterfind("options/option")
        }
        volumes.append(
            GlusterVolume(
                name=_text(volume, "name"),
                id=_text(volume, "id"),
                status=_text(volume, "statusStr"),
                bricks=tuple(bricks),
                options=options,
                type=_text(volume, "typeStr"),
                replica=_int(_text(volume, "replicaCount", "0")),
                arbiter=_int(_text(volume, "arbiterCount", "0")),
                disperse=_int(_text(volume, "disperseCount", "0")),
                redundancy=_int(_text(volume, "redundancyCount", "0")),
            )
        )
    return volumes


def arbiter_bricks(stdout: str) -> list[bool]:
    """``isArbiter`` of each brick of the first volume, in brick order."""
    root = _xml_root(stdout)
    volume = root.find("volInfo/volumes/volume")
    if volume is None:
        return []
    return [_text(b, "isArbiter") == "1" for b in volume.iterfind("bricks/brick")]


def parse_volume_status(stdout: str) -> list[BrickStatus]:
    root = _xml_root(stdout)
    rows = []
    for node in root.iterfind("volStatus/volumes/volume/node"):
        host = _text(node, "hostname")
        path = _text(node, "path")
        # Daemons report a description as hostname and "localhost" as path.
        daemon = not path.startswith("/")
        rows.append(
            BrickStatus(
                host=host,
                path=path,
                peer_id=_text(node, "peerid"),
                online=_text(node, "status") == "1",
                port=_text(node, "port"),
                pid=_text(node, "pid"),
                daemon=daemon,
            )
        )
    return rows


def parse_heal_info(stdout: str) -> list[HealBrick]:
    root = _xml_root(stdout)
    bricks = []
    for brick in root.iterfind("healInfo/bricks/brick"):
        entries_text = _text(brick, "numberOfEntries")
        entries = int(entries_text) if entries_text.isdigit() else None
        name = _split_brick(_text(brick, "name"))
        bricks.append(HealBrick(name.host, name.path, _text(brick, "status"), entries))
    return bricks


def heal_is_clean(bricks: Sequence[HealBrick]) -> bool:
    """Every brick connected with nothing left to heal."""
    return all(b.status == "Connected" and b.entries == 0 for b in bricks)


def parse_peer_status(stdout: str) -> list[Peer]:
    root = _xml_root(stdout)
    peers = []
    for peer in root.iterfind("peerStatus/peer"):
        hostnames = tuple(
            (h.text or "").strip() for h in peer.iterfind("hostnames/hostname") if h.text
        )
        peers.append(
            Peer(
                uuid=_text(peer, "uuid"),
                hostname=_text(peer, "hostname"),
                hostnames=hostnames,
                connected=_text(peer, "connected") == "1",
                state=_text(peer, "stateStr"),
            )
        )
    return peers


def cli_errno(stdout: str) -> int:
    """The ``opErrno`` of an ``--xml`` command's output; 0 when there is none (plain output)."""
    try:
        return parse_cli_status(stdout).op_errno
    except ParseError:
        return 0


def is_transaction_conflict(stdout: str, stderr: str = "") -> bool:
    """glusterd's cluster lock is held by another transaction: retry later.

    ``--xml`` commands say so with ``opErrno`` EG_ANOTRANS. Plain commands have no other sign
    than the text: the CLI exits 1 for every failure. That text is glusterd's own and stable
    under any locale: glusterfs translates none of its messages (and nodes run LC_ALL=C).
    """
    if cli_errno(stdout) == EG_ANOTRANS:
        return True
    lowered = (stderr + "\n" + stdout).lower()
    return any(marker in lowered for marker in TRANSACTION_CONFLICT_TEXTS)


# -- gluster-block JSON --------------------------------------------------------------------------


def parse_block_json(*outputs: str) -> dict[str, Any]:
    """The first of ``outputs`` (in order) holding a JSON object; gluster-block prints its
    result on stdout or, for failures, sometimes on stderr."""
    for output in outputs:
        start = output.find("{")
        if start < 0:
            continue
        try:
            document, _ = json.JSONDecoder().raw_decode(output[start:])
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    raise ParseError(f"no gluster-block JSON in: {outputs!r}")


def block_failed(document: dict[str, Any]) -> str | None:
    """The failure message of a gluster-block reply, ``None`` on success."""
    if str(document.get("RESULT", "")).upper() == "FAIL":
        return str(document.get("errMsg") or document.get("errCode") or "gluster-block failed")
    return None


def block_missing(document: dict[str, Any], bhv_name: str, name: str) -> bool:
    """A failed reply saying the block volume (or its hosting volume) is not there.

    gluster-block reports a missing block volume with ``errCode`` ENOENT. Releases that answer
    with another code, and a missing hosting volume (whose initialisation fails with whatever
    errno libgfapi gave), are read from gluster-block's own message, which it never
    translates.
    """
    with contextlib.suppress(TypeError, ValueError):
        if int(document.get("errCode", 0)) == errno.ENOENT:
            return True
    message = str(document.get("errMsg", ""))
    return ("doesn't exist" in message and name in message) or (
        "does not exist" in message and bhv_name in message
    )


def block_portals(document: dict[str, Any]) -> tuple[str, ...]:
    """Hosts of ``PORTAL(S)`` (``host:3260`` entries)."""
    portals = document.get("PORTAL(S)") or document.get("PORTALS") or []
    if isinstance(portals, str):
        portals = [portals]
    return tuple(str(p).rsplit(":", 1)[0] for p in portals)


def parse_block_size_gib(text: str) -> int:
    """gluster-block sizes (``"1.0 GiB"``, ``2TiB``...) as GiB; upstream's unit rules."""
    compact = text.replace(" ", "").upper()
    digits = compact.rstrip("BIKMGTPE")
    unit = compact[len(digits) :].rstrip("B").rstrip("I")
    multiplier = {"G": 1, "T": 1024, "P": 1024**2, "E": 1024**3}.get(unit)
    if multiplier is None:
        raise ParseError(f"bad gluster-block size {text!r}")
    try:
        return int(float(digits) * multiplier)
    except ValueError as error:
        raise ParseError(f"bad gluster-block size {text!r}") from error


BLOCK_IQN_PREFIX = "iqn.2016-12.org.gluster-block:"


def command_missing(exit_code: int | None) -> bool:
    """``env``'s (and the shell's) exit code for a program that is not installed: every node
    command runs as ``env LC_ALL=C <tool>``, so this holds with and without sudo."""
    return exit_code == 127


def parse_block_list(document: dict[str, Any]) -> tuple[str, ...]:
    """The block names of ``gluster-block list <bhv> --json`` (``blocks[]``)."""
    blocks = document.get("blocks") or []
    if not isinstance(blocks, list):
        raise ParseError(f"gluster-block list: blocks is not a list: {blocks!r}")
    return tuple(str(name) for name in blocks)


def parse_block_info(document: dict[str, Any]) -> BlockVolumeInfo:
    """``gluster-block info <bhv>/<name> --json`` as Heketi reads it (internals 2.8): iqn from
    the GBID, the GBID as user name when a password is set, usable size the smallest size a
    resize failed at."""
    gbid = str(document.get("GBID", ""))
    if not document.get("NAME") or not gbid:
        raise ParseError(f"gluster-block info: no NAME or GBID in {sorted(document)}")
    size_gib = parse_block_size_gib(str(document.get("SIZE", "")))
    failed = document.get("RESIZE FAILED ON") or {}
    failed_sizes = [
        parse_block_size_gib(str(size))
        for size in (failed.values() if isinstance(failed, dict) else ())
    ]
    hosts = document.get("EXPORTED ON") or []
    if isinstance(hosts, str):
        hosts = [h for h in hosts.replace(",", " ").split() if h]
    password = str(document.get("PASSWORD", "") or "")
    return BlockVolumeInfo(
        name=str(document["NAME"]),
        size_gib=size_gib,
        usable_size_gib=min([size_gib, *failed_sizes]),
        hosts=tuple(str(h) for h in hosts),
        iqn=BLOCK_IQN_PREFIX + gbid,
        username=gbid if password else "",
        password=password,
    )
