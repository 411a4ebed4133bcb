"""The one set of rules for user-supplied values that end up on storage nodes or in the database:
ids, device paths, node hostnames, volume/block volume/clone names, tags and gluster volume
options.

Every function is pure and returns ``None`` for an acceptable value or a short problem text
(worded to follow a field name, ozzo-validation style: ``must be in a valid format``). Callers
turn the text into their own error: the API into Heketi's ``validation failed: <field>:
<problem>.`` 400, ``heketipy db import`` into a refusal naming the dump entry, and the command
builders and the simulator into ``UnsafeArgument``. So a value the API accepts is never refused
later at a node, and a value a node would refuse never gets stored.

Heketi's own rules come first (its regular expressions and texts); heketipy adds what Heketi
lacked: device paths confined to ``/dev`` without ``.``/``..`` components, bounded name and
path lengths, no leading ``-`` (it would read as an option), no words gluster reserves, no
control characters in tag values, and IP addresses without a zone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

# glusterd keeps volume names in a 256-byte buffer (GD_VOLUME_NAME_MAX) and refuses longer ones.
MAX_NAME_CHARS = 255
# Far beyond real device paths (udev's /dev/disk/by-id names stay well under 128 characters).
MAX_DEVICE_PATH_CHARS = 255
# A DNS name: 253 characters (254 with the root's trailing dot).
MAX_HOSTNAME_CHARS = 254
MAX_TAGS = 32
MAX_TAG_NAME_CHARS = 32
MAX_TAG_VALUE_CHARS = 64

DEVICE_DIR = "/dev/"

_ID_RE = re.compile(r"[0-9a-fA-F]{32}")  # Heketi's id rule
_DEVICE_PATH_RE = re.compile(r"/[a-zA-Z0-9_.:/-]+")  # Heketi's device name rule
_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")  # Heketi's volume name rule
_TAG_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]+")
# A DNS name as Heketi's host check accepts it: labels of letters, digits, '_' and
# '-' (not leading '-'), at most 63 characters, optional trailing '.' or '_'.
_DNS_NAME_RE = re.compile(
    r"[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62}(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?"
)
# A gluster option word: keys (``performance.rsize``) and values (``10.0.0.1,10.0.0.2``,
# ``*``, ``HIGH:!SSLv2``); shell metacharacters, quotes and whitespace are refused, and a
# word never starts with ``-`` (gluster's CLI takes ``--`` words anywhere on its line).
_OPTION_WORD_RE = re.compile(r"[A-Za-z0-9_.,:/*@=+%!~^#\[\]][A-Za-z0-9_.,:/*@=+%!~^#\[\]-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# gluster refuses these words as volume names (they are keywords of its CLI).
GLUSTER_RESERVED_NAMES = frozenset({
    "volume", "type", "subvolumes", "option", "end-volume", "all", "volume_not_in_ring",
    "description", "force", "snap-max-hard-limit", "snap-max-soft-limit", "auto-delete",
    "activate-on-create",
})  # fmt: skip

INVALID_FORMAT = "must be in a valid format"


def _too_long(limit: int) -> str:
    return f"the length must be no more than {limit}"


SHOWN_CHARS = 60


def shown(value: object) -> str:
    """``value`` as an error message quotes it: its repr, cut after ``SHOWN_CHARS`` characters
    (a 5,000-character name must not make a 5 kB message)."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}... ({len(str(value))} characters)"


def is_valid_id(value: str) -> bool:
    """A Heketi id: 32 hex digits, either case (it names VGs, LVs and brick directories on the
    nodes). The one id rule: the API, the dump import and the node command builders use it."""
    return _ID_RE.fullmatch(value) is not None


def is_generated_id(value: str) -> bool:
    """An id as heketipy (and Heketi) generate them: a valid id in lowercase only, so e.g. a
    ``user.heketi.id`` another tool wrote in capitals is not taken for heketipy's own."""
    return is_valid_id(value) and value == value.lower()


def id_problem(value: str) -> str | None:
    return None if is_valid_id(value) else "must be 32 hexadecimal digits"


def name_problem(name: str) -> str | None:
    """A gluster volume, clone, snapshot or block volume name."""
    if not _NAME_RE.fullmatch(name):
        return INVALID_FORMAT
    if len(name) > MAX_NAME_CHARS:
        return _too_long(MAX_NAME_CHARS)
    if name.startswith("-"):
        return "must not start with '-'"
    if name in GLUSTER_RESERVED_NAMES:
        return "is a word gluster reserves"
    return None


def device_path_problem(path: str) -> str | None:
    """A block device: an absolute, normalised path under ``/dev/`` in Heketi's alphabet."""
    if not _DEVICE_PATH_RE.fullmatch(path):
        return INVALID_FORMAT
    if len(path) > MAX_DEVICE_PATH_CHARS:
        return _too_long(MAX_DEVICE_PATH_CHARS)
    if not path.startswith(DEVICE_DIR) or path == DEVICE_DIR:
        return f"must be a device path under {DEVICE_DIR}"
    parts = path[len(DEVICE_DIR) :].split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "must not contain empty, '.' or '..' path components"
    if any(part.startswith("-") for part in parts):
        return "must not have a path component starting with '-'"
    return None


def is_valid_host(host: str) -> bool:
    """An IP address (v4 or v6, no zone) or a DNS name; underscores are accepted."""
    if not host or len(host) > MAX_HOSTNAME_CHARS:
        return False
    if "%" not in host:
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
    return _DNS_NAME_RE.fullmatch(host) is not None


def host_problem(host: str) -> str | None:
    """A node's manage or storage hostname (also a block volume's target host)."""
    return None if is_valid_host(host) else "is not a valid hostname"


def tags_problem(tags: Mapping[str, str]) -> str | None:
    """Heketi's tag map check (names in sorted order, Go's map order being random), plus: a
    value holds no control characters (NUL, newline, escape sequences)."""
    if len(tags) > MAX_TAGS:
        return f"too many tags specified ({len(tags)}), up to {MAX_TAGS} supported"
    for name in sorted(tags):
        if name == "":
            return "tag names may not be empty"
        if not _TAG_NAME_RE.fullmatch(name):
            return f"invalid characters in tag name {name}"
        if len(name) > MAX_TAG_NAME_CHARS:
            return f"tag name {name}: the length must be between 1 and {MAX_TAG_NAME_CHARS}"
        value = tags[name]
        if len(value) > MAX_TAG_VALUE_CHARS:
            return f"value of tag {name}: {_too_long(MAX_TAG_VALUE_CHARS)}"
        if _CONTROL_RE.search(value):
            return f"value of tag {name}: must not contain control characters"
    return None


def option_words(option: str) -> list[str]:
    """A ``"key value"`` gluster option split into words, as upstream's shell did."""
    return [word for word in option.split(" ") if word]


def option_problem(option: str) -> str | None:
    """One entry of ``glustervolumeoptions``: words of the gluster option alphabet."""
    if _CONTROL_RE.search(option):
        return "must not contain control characters"
    words = option_words(option)
    if not words:
        return "must not be blank"
    if not all(_OPTION_WORD_RE.fullmatch(word) for word in words):
        return "must be words of letters, digits and .,:/*@=+%!~^#[]- not starting with '-'"
    return None
