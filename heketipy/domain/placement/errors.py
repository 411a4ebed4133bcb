"""Placement's errors: Heketi's exact texts plus our explanation of why a request failed.

Every failure is a PlacementError whose `upstream_text` is what the REST layer must answer
and whose `explanation` says why, for logs and our own clients.
"""

from __future__ import annotations

from collections.abc import Sequence


class PlacementError(Exception):
    """Base of placement failures: `upstream_text` is Heketi's exact text; `summary`, where
    set, is one readable sentence saying why, and `explanation` the detail behind it."""

    def __init__(self, upstream_text: str, explanation: str = "", summary: str = "") -> None:
        super().__init__(upstream_text)
        self.upstream_text = upstream_text
        self.explanation = explanation
        self.summary = summary

    def __str__(self) -> str:
        return self.upstream_text


class NoSpaceError(PlacementError):
    """Upstream `ErrNoSpace`; `str()` is ``No space: <summary> Detail: <explanation>`` (Heketi's
    text stays the prefix clients match on)."""

    UPSTREAM_TEXT = "No space"

    def __init__(self, explanation: str = "", summary: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation, summary)

    def __str__(self) -> str:
        if self.summary and self.explanation:
            return f"{self.upstream_text}: {self.summary} Detail: {self.explanation}"
        if self.summary or self.explanation:
            return f"{self.upstream_text}: {self.summary or self.explanation}"
        return self.upstream_text


class MinimumBrickSizeError(PlacementError):
    """Halving went below `brick_min_kib` (upstream `ErrMinimumBrickSize`)."""

    UPSTREAM_TEXT = "Minimum brick size limit reached.  Out of space."

    def __init__(self, explanation: str = "", summary: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation, summary)


class MaxBricksError(PlacementError):
    """Existing plus new bricks would exceed `max_bricks_per_volume` (`ErrMaxBricks`)."""

    UPSTREAM_TEXT = "Maximum number of bricks reached."

    def __init__(self, explanation: str = "", summary: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation, summary)


class InvalidTagRuleError(PlacementError):
    """A `user.heketi.device-tag-match` value that is not `<k>=<v>` or `<k>!=<v>`."""

    def __init__(self, rule: str) -> None:
        super().__init__(
            f"Invalid tag match rule: {rule}",
            "a tag rule is <key>=<value> or <key>!=<value> of [a-zA-Z0-9.-_] characters",
        )
        self.rule = rule

    @property
    def allocation_text(self) -> str:
        """The text upstream puts after `Failed to allocate new volume: ` (it wraps once more)."""
        return f"Invalid tag matching rule: {self.upstream_text}"


class NoNodesError(PlacementError):
    """The cluster has no nodes (`ErrEmptyCluster`)."""

    UPSTREAM_TEXT = "No nodes in cluster"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class NoOnlineDevicesError(PlacementError):
    """No online device on an online node of the cluster (`ErrNoStorage`)."""

    UPSTREAM_TEXT = "No online storage devices in cluster"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class NoReplacementError(PlacementError):
    """No device can take the replacement of an evicted brick (`ErrNoReplacement`)."""

    UPSTREAM_TEXT = "No Replacement was found for resource requested to be removed"

    def __init__(self, explanation: str = "") -> None:
        super().__init__(self.UPSTREAM_TEXT, explanation)


class ClusterNotEligibleError(PlacementError):
    """Every candidate cluster was dropped before placement (contract 9.1).

    `reasons` holds `(cluster_id, reason)` in candidate order. One reason is answered as is,
    several as `No eligible cluster for volume` plus `Cluster <id>: <reason>` lines.
    """

    HEADER = "No eligible cluster for volume"

    def __init__(self, reasons: Sequence[tuple[str, str]]) -> None:
        self.reasons = tuple(reasons)
        if len(self.reasons) == 1:
            text = self.reasons[0][1]
        else:
            text = "\n".join([self.HEADER, *(f"Cluster {cid}: {why}" for cid, why in self.reasons)])
        super().__init__(text, "; ".join(f"cluster {cid}: {why}" for cid, why in self.reasons))


class AllClustersFailedError(PlacementError):
    """Placement failed in several clusters; `failures` holds `(cluster_id, error)`."""

    HEADER = "Unable to create volume on any cluster:"

    def __init__(self, failures: Sequence[tuple[str, PlacementError]]) -> None:
        self.failures = tuple(failures)
        lines = [f"Cluster {cid}: {err.upstream_text}" for cid, err in self.failures]
        explanation = "; ".join(
            f"cluster {cid}: {err.explanation or err.upstream_text}" for cid, err in self.failures
        )
        super().__init__("\n".join([self.HEADER, *lines]), explanation)
