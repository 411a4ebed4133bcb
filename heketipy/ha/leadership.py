"""The leadership contract between the server and a leader-election mechanism.

Timing follows Kubernetes' leader election (client-go), measured on each process's own
monotonic clock, never by comparing clocks of two machines:

- ``lease_duration_s``: how long a standby waits, after it last saw the holder's record
  change, before it may take the lease over;
- ``renew_deadline_s`` (< ``lease_duration_s``): how long the active keeps trying to renew
  before it gives leadership up and fences itself;
- ``retry_period_s``: the pause between attempts (renewals, and a standby's polls).

An active whose ``hold`` returns has lost leadership (or can no longer prove it holds it)
and must stop accepting mutating requests and stop writing *before* ``lease_duration_s``
has passed since its last successful renewal, which is why ``renew_deadline_s`` is shorter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The defaults and the rule between the three live with the settings (heketipy.ha's).
from heketipy.config.settings import DEFAULT_LEASE_DURATION_S as DEFAULT_LEASE_DURATION_S
from heketipy.config.settings import DEFAULT_RENEW_DEADLINE_S as DEFAULT_RENEW_DEADLINE_S
from heketipy.config.settings import DEFAULT_RETRY_PERIOD_S as DEFAULT_RETRY_PERIOD_S
from heketipy.config.settings import HaSettings, check_lease_timing


@dataclass(frozen=True)
class LeaseTiming:
    lease_duration_s: float = DEFAULT_LEASE_DURATION_S
    renew_deadline_s: float = DEFAULT_RENEW_DEADLINE_S
    retry_period_s: float = DEFAULT_RETRY_PERIOD_S

    def __post_init__(self) -> None:
        check_lease_timing(self.retry_period_s, self.renew_deadline_s, self.lease_duration_s)

    @classmethod
    def of(cls, ha: HaSettings) -> LeaseTiming:
        return cls(ha.lease_duration_s, ha.renew_deadline_s, ha.retry_period_s)


class Leadership(Protocol):
    """One process's claim on leadership; ``identity`` names it in the lease and in logs."""

    identity: str

    async def acquire(self) -> None:
        """Return once this process holds leadership; wait (as a standby) until then."""

    async def hold(self) -> None:
        """Keep leadership renewed; return as soon as it is lost or cannot be renewed in
        time. The caller fences itself at once when this returns."""

    async def release(self) -> None:
        """Give leadership up on a clean shutdown so a standby takes over without waiting
        for the lease to expire. Safe to call when not holding it."""
