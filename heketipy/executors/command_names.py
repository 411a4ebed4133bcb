"""Bounded names for node commands, the labels of the node-command metrics.

``command_name`` reduces an argv to the tool and its subcommand from a fixed vocabulary
(``lvcreate``, ``mkfs.xfs``, ``gluster volume create``, ``gluster-block delete``...): only words
listed here can come out, never a word of the argv itself, so a volume name, hostname or
option value never becomes a label. A command outside the vocabulary is ``other``.
``failure_label`` names how a command failed: its exit code, ``timeout`` or ``unreachable``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from heketipy.executors.commands_common import unwrap

OTHER = "other"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"

# Tools whose name alone is the command.
PLAIN_TOOLS = frozenset({
    "awk", "blkid", "cat", "chmod", "chown", "install", "lsof", "mkdir", "mkfs.xfs", "mount",
    "mountpoint", "rm", "rmdir", "sed", "stat", "systemctl", "udevadm", "umount", "wipefs",
    "xfs_growfs",
})  # fmt: skip
# ``lvm <subcommand>``: the subcommand is the command (as if run through its symlink).
LVM_SUBCOMMANDS = frozenset({
    "lvchange", "lvcreate", "lvextend", "lvreduce", "lvremove", "lvresize", "lvs", "pvcreate",
    "pvremove", "pvs", "vgcreate", "vgdisplay", "vgextend", "vgremove", "vgs",
})  # fmt: skip
GLUSTER_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "volume": frozenset({
        "add-brick", "create", "delete", "get", "heal", "info", "list", "rebalance",
        "remove-brick", "replace-brick", "reset", "set", "start", "status", "stop",
    }),
    "peer": frozenset({"detach", "probe", "status"}),
    "pool": frozenset({"list"}),
    "snapshot": frozenset({
        "activate", "clone", "config", "create", "deactivate", "delete", "info", "list",
    }),
}  # fmt: skip
GLUSTER_BLOCK_SUBCOMMANDS = frozenset({"create", "delete", "info", "list", "modify"})

# How many leading words may be a wrapper (``lvm_wrapper``) before the tool.
_MAX_WRAPPER_WORDS = 4


def _subcommand(tool: str, rest: Sequence[str]) -> str:
    if tool == "lvm":
        word = posixpath.basename(rest[0]) if rest else ""
        return word if word in LVM_SUBCOMMANDS else OTHER
    words = [w for w in rest if not w.startswith("-")]
    if tool == "gluster":
        group, verb = (words + ["", ""])[:2]
        return f"gluster {group} {verb}" if verb in GLUSTER_SUBCOMMANDS.get(group, ()) else OTHER
    verb = words[0] if words else ""
    return f"gluster-block {verb}" if verb in GLUSTER_BLOCK_SUBCOMMANDS else OTHER


def command_name(argv: Sequence[str]) -> str:
    """The tool (and subcommand) ``argv`` runs, from the fixed vocabulary; ``other`` if none."""
    words = unwrap(argv)
    for index, word in enumerate(words[: _MAX_WRAPPER_WORDS + 1]):
        tool = posixpath.basename(word)
        if tool in PLAIN_TOOLS or tool in LVM_SUBCOMMANDS:
            return tool
        if tool in ("lvm", "gluster", "gluster-block"):
            return _subcommand(tool, words[index + 1 :])
    return OTHER


def failure_label(exit_code: int | None, text: str = "") -> str:
    """The exit code as text; a failure without one is ``timeout`` when its text says it timed
    out, else ``unreachable`` (the transport never got an exit status)."""
    if exit_code is not None:
        return str(int(exit_code))
    lowered = text.lower()
    return TIMEOUT if "timeout" in lowered or "timed out" in lowered else UNREACHABLE
