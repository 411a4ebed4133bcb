"""Tag rules for placement: node/device tag merging, `device-tag-match` rules, arbiter roles.

Owns how the `user.heketi.device-tag-match` option is parsed and evaluated, how the
`arbiter` tag steers arbiter placement (internals 1.7, 1.8; contract 9.2 and errata), and
reading a volume's `user.heketi.*` options (`heketi_options`, `arbiter_requested`).
Pure functions, standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

# Upstream's rule grammar. `.-_` inside the classes is a character RANGE (0x2E-0x5F), which
# admits digits, upper case and `/:;<=>?@[\]^` but not `!`; matching is greedy, so `a=b=c`
# reads as key `a=b`, value `c`. fullmatch (not `$`) so a trailing newline is rejected too.
_TAG_RULE = re.compile(r"([a-zA-Z0-9.-_]+)(!?=)([a-zA-Z0-9.-_]+)")

ARBITER_TAG = "arbiter"
_TRUE_WORDS = ("true", "yes", "1", "on")


def heketi_options(options: Iterable[str]) -> dict[str, str]:
    """``user.heketi.*`` keys of a volume's option list (last duplicate wins)."""
    found: dict[str, str] = {}
    for option in options:
        key, _, value = option.strip().partition(" ")
        if key.startswith("user.heketi."):
            found[key] = value.strip()
    return found


def arbiter_requested(options: Iterable[str]) -> bool:
    """Whether the options ask for an arbiter volume (``user.heketi.arbiter true``)."""
    return heketi_options(options).get("user.heketi.arbiter", "").lower() in _TRUE_WORDS


def merge_tags(node_tags: Mapping[str, str], device_tags: Mapping[str, str]) -> dict[str, str]:
    """Return the tags placement sees for a device: the node's, overridden by the device's."""
    return {**node_tags, **device_tags}


@dataclass(frozen=True)
class TagRule:
    """One `device-tag-match` rule: `key=value` (equality) or `key!=value` (inequality)."""

    key: str
    value: str
    negated: bool

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether a device with these merged tags passes; a missing tag reads as ``""``."""
        equal = tags.get(self.key, "") == self.value
        return not equal if self.negated else equal

    def __str__(self) -> str:
        return f"{self.key}{'!=' if self.negated else '='}{self.value}"


def parse_tag_rule(text: str) -> TagRule | None:
    """Parse a rule; return None when it does not follow upstream's grammar."""
    match = _TAG_RULE.fullmatch(text)
    if match is None:
        return None
    key, operator, value = match.groups()
    return TagRule(key=key, value=value, negated=operator == "!=")


class ArbiterRole(Enum):
    """What a device may host in an arbiter volume, from its merged `arbiter` tag."""

    REQUIRED = "required"  # arbiter bricks only
    SUPPORTED = "supported"  # either kind
    DISABLED = "disabled"  # data bricks only


def arbiter_role(tags: Mapping[str, str]) -> ArbiterRole:
    """Return the device's arbiter role; a missing or unknown value counts as supported."""
    try:
        return ArbiterRole(tags.get(ARBITER_TAG, ArbiterRole.SUPPORTED.value))
    except ValueError:
        return ArbiterRole.SUPPORTED
