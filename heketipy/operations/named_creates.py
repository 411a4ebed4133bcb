"""Idempotent named volume creates (a deliberate difference from Heketi, issue 13 item 2).

A client whose create got no answer (the active server died, the connection broke) retries it.
When the request names the volume, the name identifies the create: a retry with the same
parameters gets the volume that create made, or joins the create while it runs, instead of a
second volume (Heketi gives a second volume in another cluster, or "already in use").

The decision, taken synchronously right before the create is planned (no ``await`` between
the two, so it is atomic with respect to every other operation of the runtime):

* a running create of this process with the same name and parameters, whose request named the
  same clusters or whose volume sits in one of ours -> join it: a fresh ``/queue`` id whose
  job ends as the running create does (its Location, or its error text);
* else exactly one stored volume of that name in the request's candidate clusters (its
  ``clusters``, or every cluster), with the same parameters:
  - complete -> a ``/queue`` id whose job answers 303 to ``/volumes/<id>``;
  - left pending by a create whose rollback failed (journal status ``failed``) -> a job that
    retries that rollback (the pending-operations cleanup), then creates afresh;
* otherwise Heketi's behaviour, unchanged: the create is planned, and a taken name answers
  ``Failed to allocate new volume: Volume name '<n>' already in use``.

A create that crashed was rolled back by the recovery at start-up (or takeover), and one that
failed and was rolled back left no volume: neither blocks the retry, which simply creates.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from heketipy.domain.entities import Volume
from heketipy.domain.errors import OperationFailed
from heketipy.operations import pending
from heketipy.operations.runtime import Runtime, Unjournaled, error_text

CREATE_TYPE = "create-volume"

Starter = Callable[[], Awaitable[str]]


def same_request(stored: Volume, wanted: Volume) -> bool:
    """Whether ``stored`` is what a create asking for ``wanted`` makes: both are volume records
    as a create builds them (defaults applied, the configured pre/post options added).

    Compared: size, durability type with its replica or data/redundancy counts, gid, the option
    list (which also decides arbiter), the block flag and snapshot enable/factor. Not compared:
    the durability echo (how the request spelled the defaults) and the clusters, which the
    volume does not record; its cluster must be one the request allows.
    """
    return (
        stored.size_gib == wanted.size_gib
        and stored.durability == wanted.durability
        and stored.replica == wanted.replica
        and stored.data == wanted.data
        and stored.redundancy == wanted.redundancy
        and stored.gid == wanted.gid
        and list(stored.options) == list(wanted.options)
        and stored.block == wanted.block
        and stored.snapshot_enable == wanted.snapshot_enable
        and stored.snapshot_factor == wanted.snapshot_factor
    )


@dataclass(frozen=True)
class Outcome:
    """How a create ended: its Location, or the text ``/queue`` reports for its failure."""

    location: str | None
    error: str | None


@dataclass
class RunningCreate:
    """A named create started by this process and not yet over."""

    volume_id: str
    wanted: Volume
    cluster_ids: tuple[str, ...]
    outcome: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# name -> the named creates of that name running in a runtime (usually one)
_RUNNING: weakref.WeakKeyDictionary[Runtime, dict[str, list[RunningCreate]]] = (
    weakref.WeakKeyDictionary()
)


def _running(rt: Runtime) -> dict[str, list[RunningCreate]]:
    return _RUNNING.setdefault(rt, {})


def create_ended(rt: Runtime, volume_id: str, name: str, location: str | None,
                 error: BaseException | None) -> None:
    """A create is over (``Operation.ended``): the retries that joined it learn its outcome."""
    running = _running(rt)
    creates = running.get(name, [])
    for create in [c for c in creates if c.volume_id == volume_id]:
        creates.remove(create)
        if not create.outcome.done():
            create.outcome.set_result(
                Outcome(location, None if error is None else error_text(error))
            )
    if not creates:
        running.pop(name, None)


def _candidate_clusters(rt: Runtime, cluster_ids: tuple[str, ...]) -> set[str]:
    return set(cluster_ids) if cluster_ids else set(rt.state.clusters)


def _joinable(rt: Runtime, wanted: Volume, cluster_ids: tuple[str, ...]) -> RunningCreate | None:
    candidates = _candidate_clusters(rt, cluster_ids)
    for create in _running(rt).get(wanted.name, []):
        if not same_request(create.wanted, wanted):
            continue
        volume = rt.state.volumes.get(create.volume_id)
        # Between two attempts the volume is briefly gone (released, not yet re-planned).
        if create.cluster_ids == cluster_ids or (
            volume is not None and volume.cluster_id in candidates
        ):
            return create
    return None


def _stored(rt: Runtime, wanted: Volume, cluster_ids: tuple[str, ...]) -> Volume | None:
    """The one volume of the name among the candidate clusters with the wanted parameters.
    Two of that name there were not made by one create: none of them is the retry's."""
    candidates = _candidate_clusters(rt, cluster_ids)
    named = [
        volume for volume_id in rt.state.volume_ids_named(wanted.name)
        if (volume := rt.state.volumes[volume_id]).cluster_id in candidates
    ]
    if len(named) != 1 or not same_request(named[0], wanted):
        return None
    return named[0]


def _failed_create(rt: Runtime, volume: Volume) -> str | None:
    """The journal id of the create that left ``volume`` pending after its rollback failed."""
    record = rt.state.operations.get(volume.pending_op)
    if record is None or record.type_name != CREATE_TYPE or record.status != "failed":
        return None
    return record.id


async def create(
    rt: Runtime,
    wanted: Volume,
    volume_id: str,
    cluster_ids: tuple[str, ...],
    start: Starter,
    again: Starter,
) -> str:
    """Start the named create of ``wanted`` (``start``: the runtime starts the create whose
    volume will be ``volume_id``), or answer the create it repeats; the /queue id either way.

    ``again`` is this whole named create once more, for after a failed create's clean-up.
    """
    joined = _joinable(rt, wanted, cluster_ids)
    if joined is not None:
        return await rt.start(Unjournaled(CREATE_TYPE, lambda: _follow(joined)))
    stored = _stored(rt, wanted, cluster_ids)
    if stored is not None and not stored.pending_op:
        location = f"/volumes/{stored.id}"

        async def existing() -> str:
            return location

        return await rt.start(Unjournaled(CREATE_TYPE, existing))
    failed = _failed_create(rt, stored) if stored is not None else None
    if failed is not None:
        return await rt.start(Unjournaled(CREATE_TYPE, lambda: _after_failure(rt, failed,
                                                                              start, again)))
    running = RunningCreate(volume_id, wanted, cluster_ids)
    # Registered before the plan, in the same step: a retry arriving while the plan commits
    # finds it. ``create_ended`` removes it, also when the plan fails.
    _running(rt).setdefault(wanted.name, []).append(running)
    return await start()


async def _follow(create: RunningCreate) -> str | None:
    """A joined create's outcome, as its own client's /queue reports it."""
    outcome = await asyncio.shield(create.outcome)
    if outcome.error is not None:
        raise OperationFailed(outcome.error)
    return outcome.location


async def _collect(rt: Runtime, queue_id: str) -> str | None:
    """Wait for the job behind ``queue_id`` (started by this job) and take its result."""
    job = await rt.jobs.collect(queue_id)
    if job is None:
        raise OperationFailed(f"create {queue_id} ended without a result")
    if job.error is not None:
        raise OperationFailed(job.error)
    return job.location


async def _after_failure(rt: Runtime, record_id: str, start: Starter, again: Starter) -> str | None:
    """Retry the rollback of the failed create first; if the volume is then gone, create
    afresh (as a named create: racing retries join each other); if the rollback failed again,
    the plan answers Heketi's "already in use"."""
    await pending.retry_operations(rt, [record_id])
    queue_id = await (start() if record_id in rt.state.operations else again())
    return await _collect(rt, queue_id)
