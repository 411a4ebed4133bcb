"""The ``gluster`` and ``gluster-block`` command lines of a simulated node.

``run(state, node, argv)`` interprets the real argv that ``executors/commands_gluster.py``
builds (``sudo -n --`` and ``env LC_ALL=C`` already stripped by the caller) over the simulator
state, and answers as the real tools do: exit code, stdout, stderr. The effects are the
one-command functions of ``simulator/gluster.py``; this module parses argv, renders glusterd's
output (plain text, or the ``cliOutput`` XML with ``--xml``; gluster-block's JSON) and turns
``NodeCommandError`` into the texts and exit codes the real CLIs print. Where glusterd's
behaviour was captured (glusterfs 10, tests/data/gluster and the captures noted below), these
are its texts: failures on stderr with exit 1, "Connection failed" on stdout, ``--xml``
failures inside the XML with exit 0 (``volume heal ... info --xml``: 254). ``locked(argv)`` is
glusterd's answer while another transaction holds its lock, for fault injection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from heketipy.domain.errors import NodeCommandError
from heketipy.simulator import gluster
from heketipy.simulator.state import (
    BlockVolumeState,
    GlusterVolumeState,
    NodeState,
    SimState,
    SnapshotState,
)

Result = tuple[int, str, str]
Handler = Callable[[SimState, NodeState, list[str], bool], Result]

XML_HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
USAGE = (
    "\n Usage: gluster [options] <help> <peer> <pool> <volume>\n"
    " Options:\n"
    " --help  Shows the help information\n"
    " --version  Shows the version\n"
    " --print-logdir  Shows the log directory\n"
    " --print-statedumpdir Shows the state dump directory\n"
)
# glusterd's opErrno values in --xml failures (captured: volume info 30806, volume status 30800).
ERRNO_VOLUME_INFO = 30806
ERRNO_VOLUME_STATUS = 30800
ERRNO_NOT_FOUND = 2
ERRNO_SNAPSHOT_MISSING = 30807
HEAL_XML_FAILURE_EXIT = 254
BLOCK_IQN_PREFIX = "iqn.2016-12.org.gluster-block:"
BLOCK_PORT = 3260
# gf_cluster_type and the CLI's vol_type_str: a volume of several sets adds 5 ("Distributed-").
_TYPE_CODES = {
    "none": (0, "Distribute"),
    "replicate": (2, "Replicate"),
    "disperse": (4, "Disperse"),
}
_STATUS_CODES = {"Created": 0, "Started": 1, "Stopped": 2}


class _Unrecognized(Exception):
    """A word gluster's command tree does not know, at ``position`` among the command words."""

    def __init__(self, word: str, position: int) -> None:
        super().__init__(word)
        self.word = word
        self.position = position


def run(state: SimState, node: NodeState, argv: Sequence[str]) -> Result:
    """Run one ``gluster`` or ``gluster-block`` argv on ``node``: (exit code, stdout, stderr)."""
    words = list(argv)
    if not words:
        return 127, "", "command not found\n"
    if words[0] == "gluster":
        return _gluster(state, node, words[1:])
    if words[0] == "gluster-block":
        return _gluster_block(state, node, words[1:])
    return 127, "", f"{words[0]}: command not found\n"


def locked(argv: Sequence[str]) -> Result:
    """What glusterd answers ``argv`` while another transaction holds its cluster lock (for
    fault injection): ``volume create: vol_x: failed: Another transaction is in progress for
    vol_x. Please try again after some time.`` (tests/data/gluster/volume_create_locked.txt),
    ``volume set: failed: ...`` for commands whose failures name no volume. RemoteExecutor
    retries on it."""
    words = [w for w in argv[1:] if not w.startswith("--")]
    group, command = (words + ["", ""])[:2]
    name = words[2] if len(words) > 2 else ""
    text = (
        f"Another transaction is in progress for {name}. Please try again after some time."
        if group == "volume" and name
        else "Another transaction is in progress. Please try again after some time."
    )
    what = f"{group} {command}".strip()
    if group == "volume" and command in _NAMED_FAILURES and name:
        what = f"{what}: {name}"
    return 1, "", f"{what}: failed: {text}\n"


# -- gluster ---------------------------------------------------------------------------------


def _gluster(state: SimState, node: NodeState, args: list[str]) -> Result:
    # The CLI takes its "--" options wherever they stand (--mode=script, --timeout=N, --xml).
    xml = "--xml" in args
    words = [w for w in args if not w.startswith("--")]
    handler = _COMMANDS.get(tuple(words[:2]))
    if handler is None:
        position = 0 if not words or words[0] not in _TOP_WORDS else 1
        word = words[position] if position < len(words) else ""
        return 1, f"unrecognized word: {word} (position {position})\n{USAGE}", ""
    if node.glusterd_down or node.unreachable:
        return 1, gluster.GLUSTERD_DOWN + "\n", ""
    try:
        return handler(state, node, words[2:], xml)
    except _Unrecognized as error:
        return 1, f"unrecognized word: {error.word} (position {error.position})\n{USAGE}", ""
    except NodeCommandError as error:
        return _plain_failure(error)


def _plain_failure(error: NodeCommandError) -> Result:
    if error.stderr == gluster.GLUSTERD_DOWN:
        return 1, error.stderr + "\n", ""
    return error.exit_code or 1, "", error.stderr + "\n"


def _reason(error: NodeCommandError) -> str:
    """glusterd's own message, without the CLI's ``<command>: failed:`` prefix."""
    return error.stderr.split(": failed: ", 1)[-1].lstrip()


def _arg(args: list[str], index: int, position: int) -> str:
    if index >= len(args):
        raise _Unrecognized("", position + index)
    return args[index]


# -- peers -----------------------------------------------------------------------------------


def _peer_probe(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    host = _arg(args, 0, 2)
    return 0, gluster.peer_probe(state, node, host) + "\n", ""


def _peer_detach(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    host = _arg(args, 0, 2)
    gluster.peer_detach(state, node, host)
    return 0, "peer detach: success\n", ""


def node_uuid(host: str) -> str:
    """The glusterd UUID of a simulated node: stable, derived from its manage host."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"glusterd.{host}"))


def _storage_names(state: SimState, member: str) -> list[str]:
    names = [alias for alias, manage in state.aliases.items() if manage == member]
    return names or [member]


def _peer_status(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    pool = gluster.pool_of(state, node)
    peers = [m for m in pool.members if m != node.host]
    if not xml:
        lines = [f"Number of Peers: {len(peers)}"]
        for member in peers:
            lines += ["", f"Hostname: {_storage_names(state, member)[0]}",
                      f"Uuid: {node_uuid(member)}", f"State: Peer in Cluster ({_peer_state(state, member)})"]  # fmt: skip
        return 0, "\n".join(lines) + "\n", ""
    body = []
    for member in peers:
        names = _storage_names(state, member)
        connected = _peer_state(state, member) == "Connected"
        body.append(
            "    <peer>\n"
            f"      <uuid>{node_uuid(member)}</uuid>\n"
            f"      <hostname>{escape(names[0])}</hostname>\n"
            "      <hostnames>\n"
            + "".join(f"        <hostname>{escape(n)}</hostname>\n" for n in names)
            + "      </hostnames>\n"
            f"      <connected>{int(connected)}</connected>\n"
            "      <state>3</state>\n"
            "      <stateStr>Peer in Cluster</stateStr>\n"
            "    </peer>\n"
        )
    inner = (
        "  <peerStatus>\n" + "".join(body) + "  </peerStatus>\n" if body else "  <peerStatus/>\n"
    )
    return 0, _xml(_status_lines() + inner), ""


def _down(node: NodeState | None) -> bool:
    # A member known only by its storage name answered its probe: it counts as up.
    return node is not None and (node.glusterd_down or node.unreachable)


def _peer_state(state: SimState, member: str) -> str:
    return "Disconnected" if _down(state.nodes.get(member)) else "Connected"


# -- volumes ---------------------------------------------------------------------------------


def _split_force(args: list[str]) -> tuple[list[str], bool]:
    if args and args[-1] == "force":
        return args[:-1], True
    return args, False


def _count(args: list[str], index: int, position: int) -> int:
    word = _arg(args, index, position)
    if not word.isdigit() or int(word) < 1:
        raise _Unrecognized(word, position + index)
    return int(word)


def _bricks(node: NodeState, words: list[str], what: str) -> list[str]:
    for word in words:
        host, sep, path = word.partition(":")
        if not sep or not host or not path.startswith("/"):
            raise NodeCommandError(
                node.host, [], 1, f"Wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>"
            )
    return words


def _volume_create(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    rest, force = _split_force(args[1:])
    draft = GlusterVolumeState(name=name, id=str(uuid.uuid4()), type="none")
    disperse = 0
    index = 0
    while index < len(rest) and ":" not in rest[index]:
        keyword = rest[index]
        position = 3 + index
        if keyword == "replica":
            draft.type, draft.replica = "replicate", _count(rest, index + 1, 3)
        elif keyword == "arbiter":
            if draft.type != "replicate" or _count(rest, index + 1, 3) != 1:
                raise _Unrecognized(keyword, position)
            draft.arbiter = True
        elif keyword == "disperse":
            draft.type, disperse = "disperse", _count(rest, index + 1, 3)
        elif keyword == "disperse-data":
            draft.type, draft.data = "disperse", _count(rest, index + 1, 3)
        elif keyword == "redundancy":
            draft.type, draft.redundancy = "disperse", _count(rest, index + 1, 3)
        elif keyword == "transport":
            if _arg(rest, index + 1, 3) != "tcp":
                raise _Unrecognized(rest[index + 1], position + 1)
        else:
            raise _Unrecognized(keyword, position)
        index += 2
    if draft.type == "disperse":
        if disperse and not draft.data:
            draft.data = disperse - draft.redundancy
        if draft.data < 1 or draft.redundancy < 1:
            return 1, "", f"volume create: {name}: failed: redundancy must be greater than 0\n"
    bricks = _bricks(node, rest[index:], f"volume create: {name}")
    if not bricks:
        raise _Unrecognized("", 3 + index)
    draft.options = dict(_default_options(draft.type))
    gluster.volume_create(state, node, draft, bricks, force)
    return 0, f"volume create: {name}: success: please start the volume to access data\n", ""


def _default_options(volume_type: str) -> list[tuple[str, str]]:
    """The options glusterd 10 sets on every new volume (captured: volume_info_all.xml)."""
    options = [
        ("nfs.disable", "on"),
        ("transport.address-family", "inet"),
        ("storage.fips-mode-rchecksum", "on"),
    ]
    if volume_type != "none":
        options.insert(0, ("performance.client-io-threads", "off"))
    if volume_type == "replicate":
        options.append(("cluster.granular-entry-heal", "on"))
    return options


def _volume_add_brick(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    rest, force = _split_force(args[1:])
    bricks = _bricks(node, rest, "volume add-brick")
    if not bricks:
        raise _Unrecognized("", 3)
    gluster.volume_add_brick(state, node, name, bricks, force)
    return 0, "volume add-brick: success\n", ""


def _volume_set(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    if len(args) < 3:
        return 1, "", "Usage:\nvolume set <VOLNAME> <KEY> <VALUE>\n"
    gluster.volume_set(state, node, name, " ".join(args[1:]))
    return 0, "volume set: success\n", ""


def _named_volume_command(
    verb: str, effect: Callable[[SimState, NodeState, str, list[str]], object]
) -> Handler:
    """``volume <verb> NAME [...]``: apply ``effect`` (given the words after NAME) and answer
    "volume <verb>: NAME: success" as glusterd does for start, stop and delete."""

    def handler(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
        name = _arg(args, 0, 2)
        effect(state, node, name, args[1:])
        return 0, f"volume {verb}: {name}: success\n", ""

    return handler


_volume_start = _named_volume_command(
    "start", lambda state, node, name, _: gluster.volume_start(state, node, name)
)
_volume_stop = _named_volume_command(
    "stop",
    lambda state, node, name, rest: gluster.volume_stop(state, node, name, _split_force(rest)[1]),
)
_volume_delete = _named_volume_command(
    "delete", lambda state, node, name, _: gluster.volume_delete(state, node, name)
)


def _volume_rebalance(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    if _arg(args, 1, 2) != "start":
        raise _Unrecognized(args[1], 3)
    what = f"volume rebalance: {name}"
    volume = gluster.pool_of(state, node).volumes.get(name)
    if volume is None:
        return 1, "", f"{what}: failed: Volume {name} does not exist\n"
    if volume.status != "Started":
        return 1, "", f"{what}: failed: Volume {name} needs to be started to perform rebalance\n"
    if len(volume.bricks) <= volume.set_size:
        return (
            1,
            "",
            (
                f"{what}: failed: Volume {name} is not a distribute volume or contains only 1 brick.\n"
                "Not performing rebalance\n"
            ),
        )
    return (
        0,
        (
            f"{what}: success: Rebalance on {name} has been started successfully. Use rebalance "
            f"status command to check status of the rebalance process.\nID: {uuid.uuid4()}\n"
        ),
        "",
    )


def _volume_replace_brick(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    old, new = _arg(args, 1, 2), _arg(args, 2, 2)
    if args[3:] != ["commit", "force"]:
        word = (args[3:] + [""])[0] if args[3:4] != ["commit"] else (args[4:] + [""])[0]
        raise _Unrecognized(word, 6 if args[3:4] == ["commit"] else 5)
    _bricks(node, [old, new], "volume replace-brick")
    gluster.volume_replace_brick(state, node, name, old, new)
    return 0, "volume replace-brick: success: replace-brick commit force operation successful\n", ""


def _volume_info(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    pool = gluster.pool_of(state, node)
    names = [a for a in args if a != "all"]
    if names:
        volume = pool.volumes.get(names[0])
        if volume is None:
            if not xml:
                return 1, "", f"Volume {names[0]} does not exist\n"
            return (
                0,
                _xml(
                    _status_lines(-1, ERRNO_VOLUME_INFO, "Volume does not exist")
                    + "  <volInfo>\n    <volumes>\n      <count>0</count>\n    </volumes>\n  </volInfo>\n"
                ),
                "",
            )
        volumes = [volume]
    else:
        volumes = sorted(pool.volumes.values(), key=lambda v: v.name)

    def snapshots(volume: GlusterVolumeState) -> int:
        return len(gluster.snapshots_of(pool, volume.name))

    if not xml:
        if not volumes:
            return 0, "No volumes present\n", ""
        return 0, "\n".join(_volume_text(state, v, snapshots(v)) for v in volumes), ""
    body = "".join(_volume_xml(state, v, snapshots(v)) for v in volumes)
    return (
        0,
        _xml(
            _status_lines()
            + "  <volInfo>\n    <volumes>\n"
            + body
            + f"      <count>{len(volumes)}</count>\n    </volumes>\n  </volInfo>\n"
        ),
        "",
    )


def _type_of(volume: GlusterVolumeState) -> tuple[int, str]:
    code, text = _TYPE_CODES.get(volume.type, _TYPE_CODES["none"])
    if volume.type != "none" and len(volume.bricks) > volume.set_size:
        return code + 5, f"Distributed-{text}"
    return code, text


def _counts(volume: GlusterVolumeState) -> dict[str, int]:
    set_size = volume.set_size
    return {
        "brickCount": len(volume.bricks),
        "distCount": max(1, len(volume.bricks) // set_size),
        "replicaCount": volume.replica if volume.type == "replicate" else 1,
        "arbiterCount": int(volume.arbiter),
        "disperseCount": set_size if volume.type == "disperse" else 0,
        "redundancyCount": volume.redundancy if volume.type == "disperse" else 0,
    }


def _is_arbiter(volume: GlusterVolumeState, index: int) -> bool:
    return volume.arbiter and index % volume.set_size == volume.set_size - 1


def _brick_uuid(state: SimState, brick: str) -> str:
    host, _, path = brick.partition(":")
    return node_uuid(gluster.resolve_brick_host(state, host, path))


def _volume_xml(state: SimState, volume: GlusterVolumeState, snapshots: int) -> str:
    type_code, type_text = _type_of(volume)
    lines = [
        "      <volume>",
        f"        <name>{escape(volume.name)}</name>",
        f"        <id>{volume.id}</id>",
        f"        <status>{_STATUS_CODES.get(volume.status, 0)}</status>",
        f"        <statusStr>{volume.status}</statusStr>",
        f"        <snapshotCount>{snapshots}</snapshotCount>",
        *(f"        <{key}>{value}</{key}>" for key, value in _counts(volume).items()),
        f"        <type>{type_code}</type>",
        f"        <typeStr>{type_text}</typeStr>",
        "        <transport>0</transport>",
        "        <bricks>",
    ]
    for index, brick in enumerate(volume.bricks):
        host_uuid = _brick_uuid(state, brick)
        name = escape(brick)
        lines.append(
            f'          <brick uuid="{host_uuid}">{name}<name>{name}</name>'
            f"<hostUuid>{host_uuid}</hostUuid>"
            f"<isArbiter>{int(_is_arbiter(volume, index))}</isArbiter></brick>"
        )
    lines += ["        </bricks>", f"        <optCount>{len(volume.options)}</optCount>"]
    if volume.options:
        lines.append("        <options>")
        for key, value in reversed(volume.options.items()):
            lines += [
                "          <option>",
                f"            <name>{escape(key)}</name>",
                f"            <value>{escape(value)}</value>",
                "          </option>",
            ]
        lines.append("        </options>")
    else:
        lines.append("        <options/>")
    lines.append("      </volume>")
    return "\n".join(lines) + "\n"


def _brick_layout(volume: GlusterVolumeState, sets: int) -> str:
    """``volume info``'s "Number of Bricks": ``3``, ``2 x 3 = 6``, ``1 x (2 + 1) = 3``."""
    total = len(volume.bricks)
    if volume.type == "disperse":
        return f"{sets} x ({volume.data} + {volume.redundancy}) = {total}"
    if volume.arbiter:
        return f"{sets} x ({volume.replica - 1} + 1) = {total}"
    if volume.set_size > 1:
        return f"{sets} x {volume.set_size} = {total}"
    return str(total)


def _volume_text(state: SimState, volume: GlusterVolumeState, snapshots: int) -> str:
    _, type_text = _type_of(volume)
    counts = _counts(volume)
    sets = counts["distCount"]
    lines = [
        "",
        f"Volume Name: {volume.name}",
        f"Type: {type_text}",
        f"Volume ID: {volume.id}",
        f"Status: {volume.status}",
        f"Snapshot Count: {snapshots}",
        f"Number of Bricks: {_brick_layout(volume, sets)}",
        "Transport-type: tcp",
        "Bricks:",
    ]
    for index, brick in enumerate(volume.bricks):
        suffix = " (arbiter)" if _is_arbiter(volume, index) else ""
        lines.append(f"Brick{index + 1}: {brick}{suffix}")
    lines.append("Options Reconfigured:")
    lines += [f"{key}: {value}" for key, value in reversed(volume.options.items())]
    return "\n".join(lines) + "\n"


def _node_down(state: SimState, brick: str) -> bool:
    host, _, path = brick.partition(":")
    return _down(state.nodes.get(gluster.resolve_brick_host(state, host, path)))


def _volume_status(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    volume = gluster.pool_of(state, node).volumes.get(name)
    message = (
        f"Volume {name} does not exist"
        if volume is None
        else f"Volume {name} is not started"
        if volume.status != "Started"
        else ""
    )
    if message:
        if not xml:
            return 1, "", message + "\n"
        return (
            0,
            _xml(
                _status_lines(-1, ERRNO_VOLUME_STATUS, message)
                + f"  <cliOp>volStatus</cliOp>\n  <output>{escape(message)}</output>\n"
            ),
            "",
        )
    assert volume is not None
    rows = []
    for index, brick in enumerate(volume.bricks):
        host, _, path = brick.partition(":")
        online = not _node_down(state, brick)
        port = str(49152 + index) if online else "N/A"
        rows.append((host, path, _brick_uuid(state, brick), online, port, str(1000 + index)))
    if volume.type != "none":
        members = dict.fromkeys(
            gluster.resolve_brick_host(state, *b.partition(":")[::2]) for b in volume.bricks
        )
        for member in members:
            online = not _down(state.nodes.get(member))
            rows.append(("Self-heal Daemon", "localhost", node_uuid(member), online, "N/A", "1"))
    if not xml:
        lines = [f"Status of volume: {name}"]
        for host, path, _uuid, online, port, pid in rows:
            where = f"Brick {host}:{path}" if path.startswith("/") else f"{host} on {host}"
            lines.append(
                f"{where}\t{port}\t0\t{'Y' if online else 'N'}\t{pid if online else 'N/A'}"
            )
        return 0, "\n".join(lines) + "\n", ""
    nodes = "".join(
        "        <node>\n"
        f"          <hostname>{escape(host)}</hostname>\n"
        f"          <path>{escape(path)}</path>\n"
        f"          <peerid>{peer_id}</peerid>\n"
        f"          <status>{int(online)}</status>\n"
        f"          <port>{port}</port>\n"
        "          <ports>\n"
        f"            <tcp>{port}</tcp>\n"
        "            <rdma>N/A</rdma>\n"
        "          </ports>\n"
        f"          <pid>{pid if online else -1}</pid>\n"
        "        </node>\n"
        for host, path, peer_id, online, port, pid in rows
    )
    return (
        0,
        _xml(
            _status_lines()
            + "  <volStatus>\n    <volumes>\n      <volume>\n"
            + f"        <volName>{escape(name)}</volName>\n"
            + f"        <nodeCount>{len(rows)}</nodeCount>\n"
            + nodes
            + "        <tasks/>\n      </volume>\n    </volumes>\n  </volStatus>\n"
        ),
        "",
    )


def _volume_heal(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    name = _arg(args, 0, 2)
    if args[1:] != ["info"]:
        raise _Unrecognized((args[1:] + [""])[0], 3)
    volume = gluster.pool_of(state, node).volumes.get(name)
    message = ""
    if volume is None:
        message = f"Volume {name} does not exist"
    elif volume.type == "none":
        message = f"Volume {name} is not of type replicate/disperse"
    elif volume.status != "Started":
        message = f"Volume {name} is not started."
    if message:
        if not xml:
            return 1, "", message + "\n"
        inner = "  <healInfo>\n    <bricks/>\n  </healInfo>\n"
        return HEAL_XML_FAILURE_EXIT, _xml(inner + _status_lines(-1, ERRNO_NOT_FOUND, message)), ""
    assert volume is not None
    rows = []
    for brick in volume.bricks:
        if _node_down(state, brick):
            rows.append((brick, "-", "Transport endpoint is not connected", "-"))
        else:
            entries = "1" if volume.heal_pending else "0"
            rows.append((brick, _brick_uuid(state, brick), "Connected", entries))
    if not xml:
        lines = []
        for brick, _uuid, status, entries in rows:
            lines += [f"Brick {brick}", f"Status: {status}", f"Number of entries: {entries}", ""]
        return 0, "\n".join(lines) + "\n", ""
    bricks = "".join(
        f'      <brick hostUuid="{host_uuid}">\n'
        f"        <name>{escape(brick)}</name>\n"
        f"        <status>{status}</status>\n"
        f"        <numberOfEntries>{entries}</numberOfEntries>\n"
        "      </brick>\n"
        for brick, host_uuid, status, entries in rows
    )
    return (
        0,
        _xml(
            "  <healInfo>\n    <bricks>\n"
            + bricks
            + "    </bricks>\n  </healInfo>\n"
            + _status_lines()
        ),
        "",
    )


# -- snapshots -------------------------------------------------------------------------------


def _snapshot_config(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    key = _arg(args, 0, 2)
    if key not in (
        "snap-max-hard-limit",
        "snap-max-soft-limit",
        "auto-delete",
        "activate-on-create",
    ):
        raise _Unrecognized(key, 2)
    value = _arg(args, 1, 2)
    if key == "snap-max-hard-limit" and (not value.isdigit() or not 1 <= int(value) <= 256):
        return (
            1,
            "",
            (
                "snapshot config: failed: Invalid snap-max-hard-limit "
                f"{value}. Expected range 1 - 256\n"
            ),
        )
    return 0, f"snapshot config: {key} for System set successfully\n", ""


def _snapshot_errno(reason: str) -> int:
    if reason.startswith("Volume ("):
        return ERRNO_VOLUME_INFO
    if reason.startswith("Snapshot ("):
        return ERRNO_SNAPSHOT_MISSING
    return ERRNO_VOLUME_STATUS


def _snapshot_result(
    tag: str,
    inner: str,
    effect: Callable[[], SnapshotState | GlusterVolumeState],
    xml: bool,
    text: str,
) -> Result:
    """Run a snapshot effect; with ``--xml`` a refusal is XML on stdout and exit 0 (captured)."""
    try:
        item = effect()
    except NodeCommandError as error:
        if not xml or error.stderr == gluster.GLUSTERD_DOWN:
            return _plain_failure(error)
        reason = _reason(error)
        return 0, _xml(_status_lines(-1, _snapshot_errno(reason), reason)), ""
    if not xml:
        return 0, text.format(name=item.name) + "\n", ""
    status = "        <status>Success</status>\n" if inner == "snapshot" else ""
    return (
        0,
        _xml(
            _status_lines()
            + f"  <{tag}>\n"
            + ("    <snapshots>\n" if inner == "snapshot" else "")
            + f"    <{inner}>\n{status}"
            + f"      <name>{escape(item.name)}</name>\n      <uuid>{item.id}</uuid>\n"
            + f"    </{inner}>\n"
            + ("    </snapshots>\n" if inner == "snapshot" else "")
            + f"  </{tag}>\n"
        ),
        "",
    )


def _snapshot_create(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    snap, volume = _arg(args, 0, 2), _arg(args, 1, 2)
    extra = [w for w in args[2:] if w not in ("no-timestamp", "force")]
    if extra:
        raise _Unrecognized(extra[0], 4)
    return _snapshot_result(
        "snapCreate", "snap",
        lambda: gluster.snapshot_create(state, node, snap, volume), xml,
        "snapshot create: success: Snap {name} created successfully",
    )  # fmt: skip


def _snapshot_activate(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    return _snapshot_toggle(state, node, _arg(args, 0, 2), xml, True)


def _snapshot_deactivate(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    return _snapshot_toggle(state, node, _arg(args, 0, 2), xml, False)


def _snapshot_toggle(state: SimState, node: NodeState, snap: str, xml: bool, on: bool) -> Result:
    word = "activate" if on else "deactivate"
    return _snapshot_result(
        f"snap{word.capitalize()}", "snap",
        lambda: gluster.snapshot_set_active(state, node, snap, on), xml,
        f"Snapshot {word}: {{name}}: Snap {word}d successfully",
    )  # fmt: skip


def _snapshot_delete(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    snap = _arg(args, 0, 2)
    return _snapshot_result(
        "snapDelete", "snapshot", lambda: gluster.snapshot_delete(state, node, snap), xml,
        "snapshot delete: {name}: snap removed successfully",
    )  # fmt: skip


def _snapshot_clone(state: SimState, node: NodeState, args: list[str], xml: bool) -> Result:
    clone, snap = _arg(args, 0, 2), _arg(args, 1, 2)
    return _snapshot_result(
        "CloneCreate", "volume", lambda: gluster.snapshot_clone(state, node, clone, snap), xml,
        "snapshot clone: success: Clone {name} created successfully",
    )  # fmt: skip


# -- XML helpers -----------------------------------------------------------------------------


def _status_lines(op_ret: int = 0, op_errno: int = 0, op_errstr: str = "") -> str:
    errstr = f"<opErrstr>{escape(op_errstr)}</opErrstr>" if op_errstr else "<opErrstr/>"
    return f"  <opRet>{op_ret}</opRet>\n  <opErrno>{op_errno}</opErrno>\n  {errstr}\n"


def _xml(inner: str) -> str:
    return f"{XML_HEADER}\n<cliOutput>\n{inner}</cliOutput>\n"


_COMMANDS: dict[tuple[str, ...], Handler] = {
    ("peer", "probe"): _peer_probe,
    ("peer", "detach"): _peer_detach,
    ("peer", "status"): _peer_status,
    ("volume", "create"): _volume_create,
    ("volume", "add-brick"): _volume_add_brick,
    ("volume", "set"): _volume_set,
    ("volume", "start"): _volume_start,
    ("volume", "stop"): _volume_stop,
    ("volume", "delete"): _volume_delete,
    ("volume", "info"): _volume_info,
    ("volume", "status"): _volume_status,
    ("volume", "heal"): _volume_heal,
    ("volume", "rebalance"): _volume_rebalance,
    ("volume", "replace-brick"): _volume_replace_brick,
    ("snapshot", "config"): _snapshot_config,
    ("snapshot", "create"): _snapshot_create,
    ("snapshot", "activate"): _snapshot_activate,
    ("snapshot", "deactivate"): _snapshot_deactivate,
    ("snapshot", "delete"): _snapshot_delete,
    ("snapshot", "clone"): _snapshot_clone,
}
_TOP_WORDS = {words[0] for words in _COMMANDS}
# The volume commands whose failures read "volume <command>: <name>: failed: ..." (captured).
_NAMED_FAILURES = {"create", "start", "stop", "delete", "rebalance"}


# -- gluster-block ---------------------------------------------------------------------------


def _block_reply(exit_code: int, document: dict[str, object]) -> Result:
    return exit_code, json.dumps(document, separators=(", ", ":")) + "\n", ""


def _block_fail(code: int, message: str) -> Result:
    return _block_reply(code, {"RESULT": "FAIL", "errCode": code, "errMsg": message})


def _block_target(word: str) -> tuple[str, str] | None:
    bhv, sep, name = word.partition("/")
    return (bhv, name) if sep and bhv and name and "/" not in name else None


def _size_gib(word: str) -> int | None:
    digits = word.upper().removesuffix("GIB").removesuffix("G")
    return int(digits) if digits.isdigit() and int(digits) > 0 else None


def _gluster_block(state: SimState, node: NodeState, args: list[str]) -> Result:
    words = [w for w in args if w != "--json"]
    command = words[0] if words else ""
    handler = _BLOCK_COMMANDS.get(command)
    if handler is None:
        return 1, "", f"unknown option '{command}' for gluster-block.\n"
    if node.glusterd_down or node.unreachable:
        return _block_fail(255, f"failed to connect to the glusterd service on {node.host}")
    try:
        return handler(state, node, words[1:])
    except _BlockRefused as refused:
        return refused.result


def _block_create(state: SimState, node: NodeState, args: list[str]) -> Result:
    target = _block_target(args[0]) if args else None
    if target is None:
        return _block_fail(22, "Invalid block name, expected <volume>/<block>")
    settings: dict[str, str] = {}
    index = 1
    while index + 1 < len(args) and args[index] in (
        "ha", "auth", "prealloc", "storage", "ring-buffer", "block-size", "io-timeout",
    ):  # fmt: skip
        settings[args[index]] = args[index + 1]
        index += 2
    if len(args) - index != 2:
        return _block_fail(22, "Inadequate arguments for create")
    hosts = [h for h in args[index].split(",") if h]
    size = _size_gib(args[index + 1])
    ha = int(settings.get("ha", "1")) if settings.get("ha", "1").isdigit() else 0
    if size is None or ha < 1:
        return _block_fail(22, "Invalid size or ha count")
    if ha > len(hosts):
        return _block_fail(
            22, f"Insufficient number of blockhosts ({len(hosts)}) for ha count {ha}"
        )
    bhv, name = target
    try:
        block = gluster.block_create(
            state, node, bhv, name, size, hosts[:ha], settings.get("auth") == "enable"
        )
    except NodeCommandError as error:
        return _block_fail(error.exit_code or 255, error.stderr)
    document: dict[str, object] = {"IQN": BLOCK_IQN_PREFIX + block.gbid}
    if block.username:
        document |= {"USERNAME": block.username, "PASSWORD": block.password}
    document |= {"PORTAL(S)": [f"{h}:{BLOCK_PORT}" for h in block.hosts], "RESULT": "SUCCESS"}
    return _block_reply(0, document)


class _BlockRefused(Exception):
    """gluster-block refuses the command: ``result`` is its answer."""

    def __init__(self, result: Result) -> None:
        super().__init__(result[1])
        self.result = result


def _find_block(
    state: SimState, node: NodeState, word: str
) -> tuple[GlusterVolumeState, BlockVolumeState]:
    """The block-hosting volume and the block that ``<bhv>/<name>`` names."""
    target = _block_target(word)
    if target is None:
        raise _BlockRefused(_block_fail(22, "Invalid block name, expected <volume>/<block>"))
    bhv, name = target
    volume = gluster.pool_of(state, node).volumes.get(bhv)
    if volume is None:
        raise _BlockRefused(_block_fail(ERRNO_NOT_FOUND, f"volume {bhv} does not exist"))
    block = volume.block_volumes.get(name)
    if block is None:
        raise _BlockRefused(_block_fail(ERRNO_NOT_FOUND, f"block {name} doesn't exist"))
    return volume, block


def _block_delete(state: SimState, node: NodeState, args: list[str]) -> Result:
    volume, block = _find_block(state, node, args[0] if args else "")
    gluster.block_delete(state, node, volume.name, block.name)
    return _block_reply(0, {"SUCCESSFUL ON": list(block.hosts), "RESULT": "SUCCESS"})


def _block_modify(state: SimState, node: NodeState, args: list[str]) -> Result:
    volume, block = _find_block(state, node, args[0] if args else "")
    rest = [w for w in args[1:] if w]
    if len(rest) != 2 or rest[0] != "size" or _size_gib(rest[1]) is None:
        return _block_fail(22, "Invalid modify arguments, expected: size <SIZE>")
    size = _size_gib(rest[1])
    assert size is not None
    try:
        gluster.block_modify_size(state, node, volume.name, block.name, size)
    except NodeCommandError as error:
        return _block_fail(error.exit_code or 255, error.stderr)
    return _block_reply(0, {
        "IQN": BLOCK_IQN_PREFIX + block.gbid, "SIZE": f"{size}.0 GiB",
        "SUCCESSFUL ON": list(block.hosts), "RESULT": "SUCCESS",
    })  # fmt: skip


def _block_info(state: SimState, node: NodeState, args: list[str]) -> Result:
    volume, block = _find_block(state, node, args[0] if args else "")
    return _block_reply(0, {
        "NAME": block.name, "VOLUME": volume.name, "GBID": block.gbid,
        "SIZE": f"{block.size_gib}.0 GiB", "HA": len(block.hosts),
        "PASSWORD": block.password, "EXPORTED ON": list(block.hosts),
    })  # fmt: skip


def _block_list(state: SimState, node: NodeState, args: list[str]) -> Result:
    bhv = args[0] if args else ""
    volume = gluster.pool_of(state, node).volumes.get(bhv)
    if volume is None:
        return _block_fail(ERRNO_NOT_FOUND, f"volume {bhv} does not exist")
    return _block_reply(0, {"blocks": sorted(volume.block_volumes), "RESULT": "SUCCESS"})


_BLOCK_COMMANDS: dict[str, Callable[[SimState, NodeState, list[str]], Result]] = {
    "create": _block_create,
    "delete": _block_delete,
    "modify": _block_modify,
    "info": _block_info,
    "list": _block_list,
}
