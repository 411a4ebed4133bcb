"""Simulator knobs: the latency model, fault injection, and the command trace tests read.

``FaultInjector`` rules name an executor method ("brick_create", "volume_create", ...): a rule
fails one call (the n-th from now, optionally only on one node) or every call on a node. A rule
with ``after=True`` lets the call take effect and then reports failure, the way a lost reply or a
timeout looks to the server; recovery code must cope with both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heketipy.domain.errors import NodeCommandError


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds one command of each family takes."""

    lvm_ms: float = 0
    fs_ms: float = 0
    gluster_ms: float = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> LatencyModel:
        values = values or {}
        return cls(
            lvm_ms=float(values.get("lvm", values.get("lvm_ms", 0)) or 0),
            fs_ms=float(values.get("fs", values.get("fs_ms", 0)) or 0),
            gluster_ms=float(values.get("gluster", values.get("gluster_ms", 0)) or 0),
        )

    def for_family(self, family: str) -> float:
        return {"lvm": self.lvm_ms, "fs": self.fs_ms, "gluster": self.gluster_ms}.get(family, 0)


@dataclass
class _FaultRule:
    kind: str
    node: str | None
    nth: int | None  # None: every matching call
    after: bool
    seen: int = 0
    spent: bool = False

    def matches(self, kind: str, node: str) -> bool:
        return not self.spent and self.kind == kind and (self.node is None or self.node == node)


class FaultInjector:
    """Decides which executor calls fail; configured by tests or from a JSON dict."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._rules: list[_FaultRule] = []
        if config:
            self.configure(config)

    def fail_nth(self, kind: str, n: int, node: str | None = None, after: bool = False) -> None:
        """Fail the n-th call (1 = the next) of ``kind`` from now, counting only ``node``'s if given."""
        if n < 1:
            raise ValueError("n counts from 1")
        self._rules.append(_FaultRule(kind, node, n, after))

    def fail_on_node(self, kind: str, node: str, after: bool = False) -> None:
        """Fail every call of ``kind`` on ``node`` until ``clear``."""
        self._rules.append(_FaultRule(kind, node, None, after))

    def clear(self, kind: str | None = None, node: str | None = None) -> None:
        self._rules = [
            rule
            for rule in self._rules
            if not ((kind is None or rule.kind == kind) and (node is None or rule.node == node))
        ]

    def configure(self, config: Mapping[str, Any]) -> None:
        """``{"faults": [{"kind": "brick_create", "nth": 2, "node": "h1", "after": false}, ...]}``.

        An entry without ``nth`` fails every call on ``node``; a bare list is accepted too.
        """
        entries = config.get("faults", []) if isinstance(config, Mapping) else config
        for entry in entries:
            kind = str(entry["kind"])
            node = entry.get("node")
            after = bool(entry.get("after", False))
            if entry.get("nth") is not None:
                self.fail_nth(kind, int(entry["nth"]), node, after)
            elif node:
                self.fail_on_node(kind, str(node), after)
            else:
                raise ValueError(f"fault for {kind} needs 'nth' or 'node'")

    def check(self, kind: str, node: str) -> bool | None:
        """Count one call. None: no fault; False: fail before acting; True: fail after acting."""
        decision: bool | None = None
        for rule in self._rules:
            if not rule.matches(kind, node):
                continue
            if rule.nth is None:
                decision = rule.after if decision is None else decision
                continue
            rule.seen += 1
            if rule.seen == rule.nth:
                rule.spent = True
                decision = rule.after if decision is None else decision
        return decision

    @staticmethod
    def error(kind: str, node: str) -> NodeCommandError:
        return NodeCommandError(node, [kind], 1, f"simulated failure of {kind} on {node}")


@dataclass(frozen=True)
class TraceEvent:
    """One edge of one command: ``phase`` is "start" or "end"."""

    seq: int
    phase: str
    family: str  # "lvm" | "fs" | "gluster"
    host: str
    command: str  # first words of the argv, e.g. "lvm lvcreate"
    pool: str = ""  # trusted pool id for gluster commands


class Trace:
    """Bounded log of command start/end events, in the order they happened."""

    def __init__(self, limit: int = 20000) -> None:
        self.events: deque[TraceEvent] = deque(maxlen=limit)
        self._seq = 0

    def record(self, phase: str, family: str, host: str, command: str, pool: str = "") -> None:
        self._seq += 1
        self.events.append(TraceEvent(self._seq, phase, family, host, command, pool))

    def clear(self) -> None:
        self.events.clear()
