"""Simulator knobs: the latency model, command-level fault injection, and the command trace.

``FaultInjector`` rules name a command by its leading words as ``SimulatedNodes`` labels it
(``lvcreate``, ``mkfs.xfs``, ``gluster volume start``, ``gluster-block create``): a rule fails
one command (the n-th matching one from now, optionally only on one node) or every matching
command on a node, with a chosen exit code and stderr, or as a transport timeout (no exit code).
A rule with ``after=True`` lets the command take effect and then reports the failure, the way a
lost reply looks to the server; recovery code must cope with both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heketipy.domain.errors import NodeCommandError


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds one command of each family takes; ``commands`` overrides it for commands
    whose label starts with the given words (``("gluster volume create", 900.0)``; the longest
    match wins)."""

    lvm_ms: float = 0
    fs_ms: float = 0
    gluster_ms: float = 0
    commands: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> LatencyModel:
        values = values or {}
        commands = values.get("commands") or {}
        return cls(
            lvm_ms=float(values.get("lvm", values.get("lvm_ms", 0)) or 0),
            fs_ms=float(values.get("fs", values.get("fs_ms", 0)) or 0),
            gluster_ms=float(values.get("gluster", values.get("gluster_ms", 0)) or 0),
            commands=tuple(sorted(
                ((" ".join(str(k).split()), float(v)) for k, v in commands.items()),
                key=lambda item: -len(item[0].split()),
            )),
        )  # fmt: skip

    def for_family(self, family: str) -> float:
        return {"lvm": self.lvm_ms, "fs": self.fs_ms, "gluster": self.gluster_ms}.get(family, 0)

    def for_command(self, family: str, label: str) -> float:
        words = label.split()
        for prefix, ms in self.commands:
            wanted = prefix.split()
            if words[: len(wanted)] == wanted:
                return ms
        return self.for_family(family)


@dataclass(frozen=True)
class Fault:
    """What an injected failure looks like: an exit code and stderr, or a timeout."""

    exit_code: int = 1
    stderr: str = ""
    timeout: bool = False
    after: bool = False

    def error(self, host: str, argv: list[str], label: str) -> NodeCommandError:
        if self.timeout:
            return NodeCommandError(host, argv, None, f"command timed out on {host}: {label}")
        stderr = self.stderr or f"simulated failure of {label} on {host}"
        return NodeCommandError(host, argv, self.exit_code, stderr)


@dataclass
class _FaultRule:
    words: tuple[str, ...]
    node: str | None
    nth: int | None  # None: every matching command
    fault: Fault
    seen: int = 0
    spent: bool = False

    def matches(self, label: str, node: str) -> bool:
        return (
            not self.spent
            and tuple(label.split()[: len(self.words)]) == self.words
            and (self.node is None or self.node == node)
        )


class FaultInjector:
    """Decides which commands fail; configured by tests or from the ``faults`` setting."""

    def __init__(self, config: Mapping[str, Any] | list[Any] | None = None) -> None:
        self._rules: list[_FaultRule] = []
        if config:
            self.configure(config)

    @staticmethod
    def _words(command: str) -> tuple[str, ...]:
        words = tuple(command.split())
        if not words:
            raise ValueError("a fault needs the command it fails, e.g. 'lvcreate'")
        return words

    def fail_nth(
        self, command: str, n: int, node: str | None = None, *, after: bool = False,
        exit_code: int = 1, stderr: str = "", timeout: bool = False,
    ) -> None:  # fmt: skip
        """Fail the n-th command (1 = the next) matching ``command`` from now, counting only
        ``node``'s if given."""
        if n < 1:
            raise ValueError("n counts from 1")
        fault = Fault(exit_code, stderr, timeout, after)
        self._rules.append(_FaultRule(self._words(command), node, n, fault))

    def fail_on_node(
        self, command: str, node: str, *, after: bool = False, exit_code: int = 1,
        stderr: str = "", timeout: bool = False,
    ) -> None:  # fmt: skip
        """Fail every command matching ``command`` on ``node`` until ``clear``."""
        fault = Fault(exit_code, stderr, timeout, after)
        self._rules.append(_FaultRule(self._words(command), node, None, fault))

    def clear(self, command: str | None = None, node: str | None = None) -> None:
        words = self._words(command) if command else None
        self._rules = [
            rule
            for rule in self._rules
            if not ((words is None or rule.words == words) and (node is None or rule.node == node))
        ]

    def configure(self, config: Mapping[str, Any] | list[Any]) -> None:
        """``{"faults": [{"command": "lvcreate", "nth": 2, "node": "h1", "exit": 5,
        "stderr": "...", "timeout": false, "after": false}, ...]}``; a bare list works too.

        An entry without ``nth`` fails every matching command on ``node``.
        """
        entries = config.get("faults", []) if isinstance(config, Mapping) else config
        for entry in entries:
            if "command" not in entry:
                raise ValueError(
                    f"fault {dict(entry)} needs 'command' (the command it fails, e.g. "
                    "'lvcreate' or 'gluster volume start'); faults are injected per command"
                )
            command = str(entry["command"])
            node = entry.get("node")
            fault = Fault(
                exit_code=int(entry.get("exit", 1)),
                stderr=str(entry.get("stderr", "")),
                timeout=bool(entry.get("timeout", False)),
                after=bool(entry.get("after", False)),
            )
            nth = entry.get("nth")
            if nth is None and not node:
                raise ValueError(f"fault for {command} needs 'nth' or 'node'")
            if nth is not None and int(nth) < 1:
                raise ValueError("n counts from 1")
            rule = _FaultRule(self._words(command), node, None if nth is None else int(nth), fault)
            self._rules.append(rule)

    def check(self, label: str, node: str) -> Fault | None:
        """Count one command; the fault to inject, if any."""
        decision: Fault | None = None
        for rule in self._rules:
            if not rule.matches(label, node):
                continue
            if rule.nth is None:
                decision = decision or rule.fault
                continue
            rule.seen += 1
            if rule.seen == rule.nth:
                rule.spent = True
                decision = decision or rule.fault
        return decision


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
