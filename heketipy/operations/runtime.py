"""The operation runtime: plan -> journal -> execute -> finalize | roll back.

An ``Operation`` plans synchronously inside one ``Transaction`` (placement errors reach the
client directly), the plan and its journal record are committed before the client sees 202,
then the work runs in the background under the ``Throttle``. Every completed node step is
recorded in the journal record, so a restarted server can finish or undo it (``recover``).

Each step is one log line (``step``: operation type, target ids, journal id, step name,
duration, outcome) carrying the operation's ``/queue`` id: plan, every journaled node step,
finalize, and on failure the failed execution, rollback, re-plan and recovery.

``metrics`` (``operations.metrics``) counts every operation ``start`` accepts and times it to
its end; the store's group commits and, on real or simulated nodes, every node command report
to it too (``_instrument``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from heketipy import logctx
from heketipy.config import Settings
from heketipy.domain.entities import Entity, PendingOperation, new_id
from heketipy.domain.errors import HeketiError
from heketipy.domain.state import State, Transaction
from heketipy.executors.base import Executor
from heketipy.executors.remote import RemoteExecutor
from heketipy.operations.jobs import JobQueue, Throttle
from heketipy.operations.metrics import RuntimeMetrics
from heketipy.store.sqlite import Store

log = logging.getLogger("heketipy.operations")

# Journal data keys naming the entities an operation works on, and how step lines label them.
TARGET_LABELS = {
    "volume": "volume", "source": "volume", "clone": "clone", "blockvolume": "blockvolume",
    "node": "node", "device": "device", "old": "brick",
}


def _targets(record: PendingOperation | None) -> list[str]:
    if record is None:
        return []
    return [
        f"{TARGET_LABELS[key]}:{value}"
        for key, value in record.data.items()
        if key in TARGET_LABELS and isinstance(value, str) and value
    ]


def error_text(error: BaseException) -> str:
    """What ``/queue`` reports for a failed job (as ``JobQueue`` words it)."""
    return error.text if isinstance(error, HeketiError) else str(error) or type(error).__name__


class Runtime:
    """Everything an operation needs: state, store, executor, settings, jobs, throttle."""

    def __init__(
        self,
        state: State,
        store: Store,
        executor: Executor,
        settings: Settings,
    ) -> None:
        self.state = state
        self.store = store
        self.executor = executor
        self.settings = settings
        self.jobs = JobQueue(result_ttl_s=settings.heketipy.queue_result_ttl_s)
        self.throttle = Throttle(
            settings.glusterfs.max_inflight_operations, settings.heketipy.wait_queue_size
        )
        self.in_flight_ops: set[str] = set()
        self.reserved_hosts: dict[str, str] = {}  # hostnames of nodes being added
        self.down_nodes: set[str] = set()  # nodes the health monitor last saw down
        self.failed_count = 0
        self._step_marks: dict[str, float] = {}  # journal id -> when its current step began
        self.metrics = RuntimeMetrics()
        self._instrument()

    def _instrument(self) -> None:
        """Report group commits and node commands to ``metrics``; publish the queue's capacity."""
        self.store.on_commit = self.metrics.db_commit
        self.metrics.queue_capacity.set(self.throttle.wait_queue_size)
        if isinstance(self.executor, RemoteExecutor):
            self.executor.observe_commands(self.metrics.node_commands(self.state))

    async def commit(self, tx: Transaction) -> None:
        try:
            await self.store.commit(tx)
        except Exception:
            tx.undo()
            raise
        finally:
            self.state.refresh_visibility(tx.touched("volume"))

    async def apply(self, mutate: Callable[[Transaction], Any]) -> Any:
        """Run a synchronous mutation in one transaction and make it durable."""
        tx = Transaction(self.state)
        try:
            result = mutate(tx)
        except BaseException:
            tx.undo()
            raise
        await self.commit(tx)
        return result

    # -- running operations ---------------------------------------------------------------
    async def start(self, op: Operation | Unjournaled) -> str:
        """The one way to start work behind ``/queue``; returns the /queue id.

        A journaled ``Operation`` is planned now (its errors answer the request) and executed
        in the background; ``Unjournaled`` work runs in the background as it is. Throttled
        work takes a place in the throttle's queue first (``Busy`` when it is full).
        """
        try:
            if op.throttled:
                self.throttle.admit()
        except BaseException as exc:
            if isinstance(op, Operation):
                op.ended(None, exc)
            raise
        if isinstance(op, Unjournaled):
            return self._submit(op.type_name, self._measured(op, op.run), throttled=op.throttled)
        started = time.perf_counter()
        try:
            await self.apply(op.plan)
        except BaseException as exc:
            if op.throttled:
                self.throttle.release(had_slot=False)
            if isinstance(exc, Exception):  # nothing was journaled: no targets to name
                self.log_step(op.type_name, None, "plan", started, exc)
                self.metrics.placement_refused(exc)
            op.ended(None, exc)
            raise

        async def work() -> str | None:
            try:
                location = await self.execute(op)
            except BaseException as exc:
                op.ended(None, exc)
                raise
            op.ended(location, None)
            return location

        measured = self._measured(op, work, started)
        queue_id = self._submit(op.type_name, measured, throttled=op.throttled)
        self.log_step(op.type_name, op.record, "plan", started, queue_id=queue_id)
        return queue_id

    def _measured(
        self,
        op: Operation | Unjournaled,
        work: Callable[[], Awaitable[str | None]],
        started: float | None = None,
    ) -> Callable[[], Awaitable[str | None]]:
        """``work``, counted as started now and as finished (with its outcome and the time since
        ``started``) when it ends; in flight while it runs (after any wait for a slot)."""
        metrics = self.metrics
        metrics.operation_started(op.type_name)
        accepted = time.perf_counter() if started is None else started

        async def measured() -> str | None:
            metrics.operations_in_flight.inc()
            outcome = "failed"
            try:
                result = await work()
                outcome = "succeeded"
                return result
            except asyncio.CancelledError:
                outcome = ""  # shutting down: the journal resumes it, it has not ended
                raise
            except Exception:
                if isinstance(op, Operation) and op.rolled_back:
                    outcome = "rolled_back"
                raise
            finally:
                metrics.operations_in_flight.dec()
                if outcome:
                    metrics.operation_finished(
                        op.type_name, outcome, time.perf_counter() - accepted
                    )

        return measured

    def _submit(
        self, name: str, work: Callable[[], Awaitable[str | None]], *, throttled: bool
    ) -> str:
        """Run admitted work as a job; throttled work waits for a slot and frees it after."""
        if not throttled:
            return self.jobs.submit(work, name=name)
        slot = {"held": False}

        async def guarded() -> str | None:
            await self.throttle.acquire_slot()
            slot["held"] = True
            return await work()

        def done() -> None:
            self.throttle.release(had_slot=slot["held"])

        return self.jobs.submit(guarded, name=name, on_done=done)

    async def execute(self, op: Operation) -> str | None:
        attempt = 1
        while True:
            record_id = op.record.id if op.record else None
            if record_id:
                self.in_flight_ops.add(record_id)
                self._step_marks[record_id] = time.perf_counter()
            try:
                try:
                    await op.execute()
                except Exception as exc:
                    error = exc if isinstance(exc, HeketiError) else HeketiError(str(exc))
                    self.log_step(
                        op.type_name, op.record, "execute", self._step_mark(op.record), exc,
                        attempt=attempt,
                    )
                    rolled_back = op.rolled_back = await self._rollback(op)
                    if not rolled_back or attempt >= op.attempts():
                        raise error from exc
                else:
                    return await self._finalize(op)
            finally:
                if record_id:
                    self.in_flight_ops.discard(record_id)
                    self._step_marks.pop(record_id, None)
            attempt += 1
            started = time.perf_counter()
            try:
                # A retry places the bricks afresh: the failed nodes may be avoided this time.
                await self.apply(op.plan)
            except HeketiError as exc:
                self.log_step(op.type_name, op.record, "replan", started, exc, attempt=attempt)
                raise error from None
            self.log_step(op.type_name, op.record, "replan", started, attempt=attempt)

    async def _finalize(self, op: Operation) -> str | None:
        if op.record is not None:
            await self.set_phase(op.record, "finalizing")
        started = time.perf_counter()
        try:
            location = await self.apply(op.finalize)
        except Exception as exc:
            self.log_step(op.type_name, op.record, "finalize", started, exc)
            raise
        self.log_step(op.type_name, op.record, "finalize", started)
        return location

    async def _rollback(self, op: Operation) -> bool:
        """Undo ``op``; False (and the op marked failed) if that was impossible."""
        if op.record is not None:
            await self.set_phase(op.record, "rolling-back")
        record = op.record
        started = time.perf_counter()
        try:
            await op.undo_steps()
            await self.apply(op.release)
        except Exception as exc:
            self.log_step(
                op.type_name, record, "rollback", started, exc,
                level=logging.ERROR, status="failed",
            )
            self.failed_count += 1
            if record is not None and record.id in self.state.operations:
                await self.apply(lambda tx: setattr(tx.touch(record), "status", "failed"))
            return False
        self.log_step(op.type_name, record, "rollback", started)
        return True

    def log_step(
        self,
        type_name: str,
        record: PendingOperation | None,
        step: str,
        started: float | None,
        error: BaseException | None = None,
        *,
        queue_id: str | None = None,
        level: int | None = None,
        **fields: object,
    ) -> None:
        """One step line. A failure is a warning, a crash (not a HeketiError) an error with its
        traceback; ``level`` overrides. ``queue_id`` names the operation outside its job (the
        plan step runs before the job exists)."""
        crashed = error is not None and not isinstance(error, HeketiError)
        if level is None:
            level = logging.INFO if error is None else logging.ERROR if crashed else logging.WARNING
        if error is not None:
            fields = {"error": error_text(error), **fields}
        logctx.event(
            log,
            level,
            "step",
            op=queue_id,
            exc_info=error if crashed else None,
            type=type_name,
            targets=_targets(record),
            journal=record.id if record is not None else None,
            step=step,
            ms=None if started is None else round((time.perf_counter() - started) * 1000, 1),
            outcome="ok" if error is None else "failed",
            **fields,
        )

    def _step_mark(self, record: PendingOperation | None) -> float | None:
        return self._step_marks.get(record.id) if record is not None else None

    async def set_phase(self, record: PendingOperation, phase: str) -> None:
        def mutate(tx: Transaction) -> None:
            tx.touch(record).phase = phase

        await self.apply(mutate)

    async def step_done(self, record: PendingOperation | None, *steps: str) -> None:
        if record is None:
            return

        def mutate(tx: Transaction) -> None:
            tx.touch(record).done_steps.extend(steps)

        await self.apply(mutate)
        started = self._step_mark(record)
        if started is not None:
            self._step_marks[record.id] = time.perf_counter()
        self.log_step(record.type_name, record, ",".join(steps), started)

    def new_record(self, tx: Transaction, type_name: str, **data: Any) -> PendingOperation:
        record = PendingOperation(
            id=new_id(), type_name=type_name, timestamp=int(time.time()), data=dict(data)
        )
        return tx.add(record)

    # -- recovery -------------------------------------------------------------------------
    async def recover(self, only: set[str] | None = None) -> int:
        """Finish or undo every operation a previous process left unfinished.

        ``only`` limits recovery to those journal ids (the on-demand cleanup). Operations that
        are executing in this process are never touched.
        """
        # Imported here, not at the top: the catalog imports every operation module, and
        # they all import this one.
        from heketipy.operations.catalog import OPERATION_TYPES

        recovered = 0
        for record in sorted(self.state.operations.values(), key=lambda r: r.timestamp):
            if record.parent_id or record.id in self.in_flight_ops:
                continue
            if only is not None and record.id not in only:
                continue
            op_type = OPERATION_TYPES.get(record.type_name)
            if op_type is None:
                log.error("cannot recover op %s of unknown type %s", record.id, record.type_name)
                continue
            op = op_type.resume(self, record)
            self.in_flight_ops.add(record.id)
            started = self._step_marks[record.id] = time.perf_counter()
            try:
                direction = "forward"
                if record.phase != "finalizing":
                    direction = await op.recovery_direction()
                self.log_step(
                    record.type_name, record, "recover", started,
                    phase=record.phase, direction=direction,
                )
                if direction == "forward":
                    step = "complete"
                    started = self._step_marks[record.id] = time.perf_counter()
                    try:
                        await op.complete()
                        self.log_step(record.type_name, record, step, started)
                        step, started = "finalize", time.perf_counter()
                        await self.apply(op.finalize)
                        self.log_step(record.type_name, record, step, started)
                    except Exception as exc:
                        self.log_step(
                            record.type_name, record, step, started, exc,
                            level=logging.ERROR, status="failed",
                        )
                        self.failed_count += 1

                        def mark_failed(tx: Transaction, failed: PendingOperation = record) -> None:
                            tx.touch(failed).status = "failed"

                        await self.apply(mark_failed)
                        continue
                elif not await self._rollback(op):
                    continue
                recovered += 1
            finally:
                self.in_flight_ops.discard(record.id)
                self._step_marks.pop(record.id, None)
        return recovered

    async def gather_steps(self, coros: list[Awaitable[Any]]) -> list[Any]:
        """Run independent node steps concurrently; raise the first failure after all end."""
        results = await asyncio.gather(*coros, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return list(results)


@dataclass(frozen=True)
class Unjournaled:
    """Background work without a journal record: Heketi's operations without a pending op
    (node add/delete/state, device state/resync, tags, brick evict, cleanup). Nothing to
    resume after a crash; ``run`` returns the result's Location or None."""

    type_name: str
    run: Callable[[], Awaitable[str | None]]
    throttled: bool = False


class Operation:
    """One journaled mutation. Subclasses implement the four phases."""

    type_name: ClassVar[str] = "unknown"
    throttled: ClassVar[bool] = True
    #: attribute -> key of the journal record's data that the default ``load`` restores it from
    journal_fields: ClassVar[dict[str, str]] = {}
    #: whether the last failed execution was undone (the metrics' ``rolled_back`` outcome)
    rolled_back: bool = False

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.record: PendingOperation | None = None

    @classmethod
    def resume(cls, rt: Runtime, record: PendingOperation) -> Operation:
        op = cls.__new__(cls)
        Operation.__init__(op, rt)
        op.record = record
        op.load(record)
        return op

    def attempts(self) -> int:
        """How many times the execution phase may run (re-planned in between)."""
        return 1

    def ended(self, location: str | None, error: BaseException | None) -> None:
        """Called once by ``Runtime.start`` when this operation is over: finalized (its
        ``location``) or failed for good (``error``), also when planning failed. Nothing by
        default; a create tells the retries that joined it (``operations.named_creates``)."""

    def load(self, record: PendingOperation) -> None:
        """Rebuild the in-memory fields from a journal record (for recovery)."""
        for attribute, key in self.journal_fields.items():
            setattr(self, attribute, record.data[key])

    async def recovery_direction(self) -> str:
        """After a crash: ``"back"`` (undo) or ``"forward"`` (``complete()`` + finalize)."""
        return "back"

    async def complete(self) -> None:
        """Idempotently finish the node work of an operation recovered forward."""

    def plan(self, tx: Transaction) -> None:
        raise NotImplementedError

    async def execute(self) -> None:
        raise NotImplementedError

    def finalize(self, tx: Transaction) -> str | None:
        raise NotImplementedError

    async def undo_steps(self) -> None:
        """Undo node steps (idempotent: safe whether or not each step happened)."""

    def release(self, tx: Transaction) -> None:
        """Drop what plan() reserved."""

    def drop_record(self, tx: Transaction) -> None:
        """Delete this operation's journal record (finalize and release end with it)."""
        if self.record is not None and self.record.id in self.rt.state.operations:
            tx.delete(self.record)

    def settle(self, tx: Transaction, entities: Iterable[Entity]) -> None:
        """End the operation: ``entities`` lose their pending mark, the journal record goes."""
        for entity in entities:
            tx.touch(entity).pending_op = ""
        self.drop_record(tx)

