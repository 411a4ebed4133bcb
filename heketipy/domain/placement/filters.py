"""Device filters: the named predicates over candidates and the census of what each leaves.

Owns Candidate (a device with its node), the static filters (online, tag rule, not the old
device, arbiter role) and the free-space filter, running them in order while counting
devices, nodes and zones, and the cluster-level storage check that precedes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from heketipy.domain.placement.errors import (
    InvalidTagRuleError,
    NoNodesError,
    NoOnlineDevicesError,
)
from heketipy.domain.placement.snapshot import (
    DeviceView,
    FilterStep,
    NodeView,
    PlacementPolicy,
    _count,
)
from heketipy.domain.space import device_charge_kib, fits
from heketipy.domain.tags import ArbiterRole, TagRule, arbiter_role, parse_tag_rule


@dataclass(frozen=True)
class Candidate:
    """A device together with its node, the unit every filter looks at."""

    node: NodeView
    device: DeviceView

    @property
    def zone(self) -> int:
        return self.node.zone


class DeviceFilter(Protocol):
    """A named, pure predicate over candidates; `name` labels its line in explanations."""

    @property
    def name(self) -> str: ...

    def accepts(self, candidate: Candidate) -> bool: ...


@dataclass(frozen=True)
class OnlineFilter:
    """Online devices of online nodes (a node the health monitor saw down is offline)."""

    name: str = "online"

    def accepts(self, candidate: Candidate) -> bool:
        return candidate.node.online and candidate.device.online


@dataclass(frozen=True)
class TagMatchFilter:
    rule: TagRule

    @property
    def name(self) -> str:
        return f"tag {self.rule}"

    def accepts(self, candidate: Candidate) -> bool:
        return self.rule.matches(candidate.device.tags)


@dataclass(frozen=True)
class NotDeviceFilter:
    """Replacement: the brick must leave its old device."""

    device_id: str

    @property
    def name(self) -> str:
        return "not the old device"

    def accepts(self, candidate: Candidate) -> bool:
        return candidate.device.id != self.device_id


@dataclass(frozen=True)
class ArbiterRoleFilter:
    """Keeps devices whose `arbiter` tag is one of `roles`."""

    roles: frozenset[ArbiterRole]
    label: str

    @property
    def name(self) -> str:
        return self.label

    def accepts(self, candidate: Candidate) -> bool:
        return arbiter_role(candidate.device.tags) in self.roles


@dataclass(frozen=True)
class FreeSpaceFilter:
    """Devices whose snapshot free space is strictly larger than a brick's charge."""

    brick_kib: int
    snapshot_factor: float

    @property
    def name(self) -> str:
        return f"more than {device_charge_kib(self.brick_kib, self.snapshot_factor)} KiB free"

    def accepts(self, candidate: Candidate) -> bool:
        charge = device_charge_kib(
            self.brick_kib, self.snapshot_factor, candidate.device.extent_kib
        )
        return fits(candidate.device.free_kib, charge)


def census(name: str, candidates: Sequence[Candidate]) -> FilterStep:
    return FilterStep(
        name=name,
        devices=len(candidates),
        nodes=len({c.node.id for c in candidates}),
        zones=len({c.zone for c in candidates}),
    )


def run_filters(
    candidates: Sequence[Candidate], filters: Iterable[DeviceFilter]
) -> tuple[list[Candidate], list[FilterStep]]:
    """Apply filters in order; return the survivors and what each filter left."""
    survivors = list(candidates)
    steps: list[FilterStep] = []
    for device_filter in filters:
        survivors = [c for c in survivors if device_filter.accepts(c)]
        steps.append(census(device_filter.name, survivors))
    return survivors, steps


def snapshot_candidates(nodes: Sequence[NodeView]) -> list[Candidate]:
    """Every device of the snapshot, nodes and devices in id order (upstream sorts both)."""
    return [
        Candidate(node, device)
        for node in sorted(nodes, key=lambda n: n.id)
        for device in sorted(node.devices, key=lambda d: d.id)
    ]


def _tag_filters(policy: PlacementPolicy) -> list[DeviceFilter]:
    if not policy.device_tag_match:  # None or "" (option absent or empty): no rule
        return []
    rule = parse_tag_rule(policy.device_tag_match)
    if rule is None:
        raise InvalidTagRuleError(policy.device_tag_match)
    return [TagMatchFilter(rule)]


def _check_cluster_has_storage(nodes: Sequence[NodeView]) -> None:
    if not nodes:
        raise NoNodesError("the cluster has no nodes")
    if not any(node.online and any(d.online for d in node.devices) for node in nodes):
        raise NoOnlineDevicesError(
            f"none of {_count(len(nodes), 'node')} is online with an online device"
        )
