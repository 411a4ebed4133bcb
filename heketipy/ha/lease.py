"""Leadership through a Kubernetes ``coordination.k8s.io/v1`` Lease, as client-go elects leaders.

``KubernetesLease`` meets ``heketipy.ha.leadership.Leadership`` with one Lease object:

- ``acquire`` reads the Lease (creating it when missing; a create that loses the race with
  ``409 AlreadyExists`` reads it again) and takes it when it is free (no ``holderIdentity``) or
  when the holder's record has not changed for the lease duration *on this process's monotonic
  clock*, counted from the moment this process first saw that record (the duration is ours or
  the record's ``leaseDurationSeconds``, whichever is longer). ``renewTime`` is never compared
  with the local wall clock: the two machines' clocks need not agree, only tick at about the
  same rate.
- Every write is a replace carrying the ``metadata.resourceVersion`` it read; the API server
  refuses a stale one with ``409 Conflict``, and the writer reads again and decides again. Of
  standbys racing for one expired Lease exactly one write succeeds; the others then see the
  winner's fresh record and wait a whole lease duration again.
- ``hold`` renews every ``retry_period_s`` and returns as soon as no renewal has succeeded for
  ``renew_deadline_s`` (API unreachable or too slow, the Lease taken or deleted). The deadline
  counts from the moment the last successful renewal was *sent*, which is no later than the
  moment the API server stored it, so this process gives leadership up at least
  ``lease_duration_s - renew_deadline_s`` before any standby that saw that record may take
  over.
- ``release`` clears ``holderIdentity`` (with ``leaseDurationSeconds: 1``, as client-go) only
  when this process still holds the Lease, so a standby takes over at its next poll.

``leaseTransitions`` grows by one each time the Lease goes to a holder other than the previous
one; ``acquireTime`` and ``renewTime`` are MicroTimes (RFC 3339, microseconds, UTC).

The ``kubernetes`` client blocks: its calls run in a small thread pool of this object, each
with a request timeout shorter than the renew deadline, and ``hold`` stops waiting for a call
at the deadline whatever the call does. A call the deadline abandoned may still reach the API
server later; it carries an old resourceVersion or renews our own record, so at worst it
delays a takeover, never causes a second leader. RBAC: ``get``, ``create`` and ``update`` on
``leases`` in the namespace (the ``kube`` extra provides the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubernetes import client as kube_client
from kubernetes.client.rest import ApiException

from heketipy import kubeapi
from heketipy.ha.leadership import Leadership, LeaseTiming

log = logging.getLogger("heketipy.ha.lease")

API_VERSION = "coordination.k8s.io/v1"
# Re-reads after 409s within one attempt; each 409 means another writer got in, so a few
# suffice before the attempt counts as "not ours" and the next retry period tries again.
MAX_CONFLICTS = 5
RELEASED_DURATION_S = 1  # what client-go writes on release


class LeaseApiError(Exception):
    """The API answered a Lease request with an unexpected ``status``, or (0) not at all."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(
            f"kubernetes API answered {status}: {message}"
            if status
            else f"kubernetes API unreachable: {message}"
        )
        self.status = status


class _Lost(Exception):
    """While renewing: the Lease is no longer ours (the reason is the message)."""


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits."""
    moment = moment.astimezone(UTC)
    if moment.microsecond == 0:
        # The client re-serialises the body through ``datetime.isoformat``, which drops a zero
        # fraction; the API server's MicroTime parser requires it. One microsecond is harmless.
        moment = moment.replace(microsecond=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _copied(lease: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``lease`` to write back, its MicroTimes in the form ``micro_time`` gives."""
    body = copy.deepcopy(lease)
    spec = body.setdefault("spec", {})
    for key in ("acquireTime", "renewTime"):
        if isinstance(spec.get(key), str):
            with contextlib.suppress(ValueError):
                spec[key] = micro_time(datetime.fromisoformat(spec[key]))
    return body


@dataclass(frozen=True)
class LeaseRecord:
    """The leader-election fields of a Lease's spec: what a standby watches for change."""

    holder: str
    duration_s: int
    acquire_time: str
    renew_time: str
    transitions: int

    @classmethod
    def of(cls, lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_s=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


class KubernetesLease:
    """One process's claim on the Lease ``namespace/name``; see the module docstring.

    ``identity`` must be unique per process (client-go uses ``<hostname>_<uuid>``). Renewals
    happen only while ``hold`` runs and the renew deadline counts from ``acquire``'s write, so
    start ``hold`` as a task as soon as ``acquire`` returns, before the slow part of start-up.
    The caller owns ``api_client`` and closes it after ``release``.
    """

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        identity: str,
        timing: LeaseTiming,
        api_client: kube_client.ApiClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for what, value in (("name", name), ("namespace", namespace), ("identity", identity)):
            if not value:
                raise ValueError(f"a Kubernetes Lease needs a non-empty {what}")
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self._api = kube_client.CoordinationV1Api(api_client)
        self._clock = clock
        # A hung request must not outlive the renew deadline it is meant to meet.
        self._request_timeout_s = timing.renew_deadline_s / 2
        self._duration_s = max(1, math.ceil(timing.lease_duration_s))
        self._pool: ThreadPoolExecutor | None = None
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0  # our clock when ``_observed`` was first seen
        self._renewed_at: float | None = None  # our clock when the last good write was sent
        self._released: asyncio.Event | None = None
        self._previous_holder = ""  # whom our last write took the Lease from (for the log)

    def __repr__(self) -> str:
        return f"KubernetesLease({self.namespace}/{self.name}, identity={self.identity!r})"

    # -- the Leadership contract ---------------------------------------------------------------

    async def acquire(self) -> None:
        waiting_for: str | None = None
        last_error = ""
        while True:
            try:
                holder, sent_at = await self._try_acquire_or_renew(renewing=False)
            except LeaseApiError as exc:
                if str(exc) != last_error:
                    log.warning("lease %s: cannot take it (%s); retrying", self._where(), exc)
                last_error = str(exc)
            else:
                last_error = ""
                if holder == self.identity:
                    self._renewed_at = sent_at
                    self._released = asyncio.Event()
                    record = self._observed
                    log.info(
                        "became leader: lease %s held by %s (previous holder %s, transition %d)",
                        self._where(),
                        self.identity,
                        self._previous_holder or "none",
                        record.transitions if record else 0,
                    )
                    return
                if holder != waiting_for:
                    waiting_for = holder
                    log.info(
                        "standby: lease %s is held by %s; taking over if it goes %.1fs "
                        "without renewal",
                        self._where(),
                        holder or "nobody (contended)",
                        self.timing.lease_duration_s,
                    )
            await asyncio.sleep(self.timing.retry_period_s)

    async def hold(self) -> None:
        released = self._released
        if released is None or (self._renewed_at is None and not released.is_set()):
            raise RuntimeError(f"{self!r}: hold() before acquire()")
        last_error = "no renewal was attempted"
        try:
            while True:
                if released.is_set() or self._renewed_at is None:
                    return
                deadline = self._renewed_at + self.timing.renew_deadline_s
                pause = min(self.timing.retry_period_s, max(0.0, deadline - self._clock()))
                # asyncio.timeout, never wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as the awaited call completes (CPython gh-86296),
                # and a cancelled hold() must stop renewing.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await released.wait()
                if released.is_set():
                    return
                remaining = deadline - self._clock()
                if remaining <= 0:
                    self._give_up(
                        f"no renewal succeeded for {self.timing.renew_deadline_s}s "
                        f"(last: {last_error})"
                    )
                    return
                try:
                    async with asyncio.timeout(remaining):
                        holder, sent_at = await self._try_acquire_or_renew(renewing=True)
                except TimeoutError:
                    self._give_up(
                        f"no renewal succeeded for {self.timing.renew_deadline_s}s "
                        "(the API server did not answer in time)"
                    )
                    return
                except _Lost as lost:
                    log.warning("lost leadership of lease %s: %s", self._where(), lost)
                    return
                except LeaseApiError as exc:
                    last_error = str(exc)
                    log.warning("renewal of lease %s failed: %s", self._where(), exc)
                    continue
                if holder == self.identity:
                    self._renewed_at = sent_at
                else:  # conflicts all through the attempt: counts as a failed renewal
                    last_error = "conflicting writes"
                    log.warning("renewal of lease %s failed: conflicting writes", self._where())
        finally:
            self._renewed_at = None

    async def release(self) -> None:
        if self._released is not None:
            self._released.set()  # a running (or later) hold() stops renewing
        try:
            async with asyncio.timeout(self.timing.renew_deadline_s):
                cleared = await self._clear()
        except TimeoutError:
            log.warning(
                "could not release lease %s: the API server did not answer; a standby takes "
                "over when it expires",
                self._where(),
            )
        except LeaseApiError as exc:
            log.warning("could not release lease %s: %s", self._where(), exc)
        else:
            if cleared:
                log.info("released lease %s", self._where())
        finally:
            if self._pool is not None:  # its threads end once their last calls return
                self._pool.shutdown(wait=False)
                self._pool = None

    # -- deciding --------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.namespace}/{self.name}"

    def _give_up(self, why: str) -> None:
        log.warning("gave up leadership of lease %s: %s", self._where(), why)

    def _observe(self, record: LeaseRecord) -> None:
        """Remember when we first saw ``record``: the standby's expiry counts from there."""
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()

    def _expired(self, record: LeaseRecord) -> bool:
        # Whichever is longer, ours or the holder's declared duration.
        duration = max(self.timing.lease_duration_s, float(record.duration_s))
        return self._clock() >= self._observed_at + duration

    async def _try_acquire_or_renew(self, *, renewing: bool) -> tuple[str, float]:
        """One attempt: the holder afterwards (our identity once ours) and our clock when the
        successful write was sent. While ``renewing``, anything but our own record is ``_Lost``.
        """
        for _ in range(MAX_CONFLICTS):
            status, lease = await self._call("read")
            if status == 404:
                if renewing:
                    raise _Lost("the lease was deleted")
                sent_at = self._clock()
                status, lease = await self._call("create", self._claimed(None))
                if status == 409:  # AlreadyExists: another process created it first
                    continue
                self._previous_holder = ""
                self._expect(status, lease, 201, 200)
                self._observe(LeaseRecord.of(lease))
                return self.identity, sent_at
            self._expect(status, lease, 200)
            record = LeaseRecord.of(lease)
            self._observe(record)
            if record.holder != self.identity:
                if renewing:
                    raise _Lost(f"the lease is now held by {record.holder or 'nobody'}")
                if record.holder and not self._expired(record):
                    return record.holder, 0.0
            self._previous_holder = record.holder
            sent_at = self._clock()
            status, written = await self._call("replace", self._claimed(lease))
            if status == 409:  # Conflict: someone wrote since we read; read and decide again
                continue
            self._expect(status, written, 200)
            self._observe(LeaseRecord.of(written))
            return self.identity, sent_at
        return (self._observed.holder if self._observed else ""), 0.0

    def _claimed(self, lease: dict[str, Any] | None) -> dict[str, Any]:
        """``lease`` (None: a new one) renewed by us, or taken over by us from another."""
        now = micro_time(datetime.now(UTC))
        if lease is None:
            body: dict[str, Any] = {
                "apiVersion": API_VERSION,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"acquireTime": now, "leaseTransitions": 0},
            }
        else:
            body = _copied(lease)  # metadata.resourceVersion makes the replace conditional
            spec = body["spec"]
            if LeaseRecord.of(lease).holder != self.identity:
                spec["acquireTime"] = now
                spec["leaseTransitions"] = LeaseRecord.of(lease).transitions + 1
        body["spec"].update(
            holderIdentity=self.identity, leaseDurationSeconds=self._duration_s, renewTime=now
        )
        return body

    async def _clear(self) -> bool:
        """Clear ``holderIdentity`` if the Lease is still ours; True if it was."""
        for _ in range(MAX_CONFLICTS):
            status, lease = await self._call("read")
            if status == 404:
                return False
            self._expect(status, lease, 200)
            if LeaseRecord.of(lease).holder != self.identity:
                return False
            body = _copied(lease)
            spec = body["spec"]
            spec.pop("holderIdentity", None)
            now = micro_time(datetime.now(UTC))
            spec.update(leaseDurationSeconds=RELEASED_DURATION_S, acquireTime=now, renewTime=now)
            status, written = await self._call("replace", body)
            if status == 409:
                continue
            self._expect(status, written, 200)
            self._observe(LeaseRecord.of(written))
            return True
        return False

    # -- the API, off the event loop ---------------------------------------------------------------

    @staticmethod
    def _expect(status: int, payload: Any, *wanted: int) -> None:
        if status not in wanted:
            message = payload.get("message", "") if isinstance(payload, dict) else str(payload)
            raise LeaseApiError(status, message or "unexpected answer")
        if not isinstance(payload, dict):  # a proxy's page, say: no record to decide on
            raise LeaseApiError(status, "the answer is not a Lease")

    async def _call(self, verb: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """``read``/``create``/``replace`` the Lease: the HTTP status and the decoded answer."""
        if verb == "create":
            args: tuple[Any, ...] = (self.namespace, body)
        elif verb == "replace":
            args = (self.name, self.namespace, body)
        else:
            args = (self.name, self.namespace)
        method = getattr(self._api, f"{verb}_namespaced_lease")

        def call() -> tuple[int, Any]:
            try:
                response = method(
                    *args, _preload_content=False, _request_timeout=self._request_timeout_s
                )
                status, text = response.status, response.data
            except ApiException as exc:
                if not exc.status:
                    raise LeaseApiError(0, kubeapi.error_text(exc)) from None
                status, text = int(exc.status), exc.body
            except Exception as exc:  # noqa: BLE001 - no answer at all: connection, TLS, timeout
                raise LeaseApiError(0, kubeapi.error_text(exc)) from None
            try:
                return status, json.loads(text) if text else None
            except ValueError:
                return status, text

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lease")
        # Cancelling the await (hold's deadline) drops a call still queued; one already sent
        # finishes in its thread within the request timeout.
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


if TYPE_CHECKING:  # mypy holds the class to the contract
    _MEETS_THE_CONTRACT: type[Leadership] = KubernetesLease
