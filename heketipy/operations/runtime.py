"""The operation runtime: plan -> journal -> execute -> finalize | roll back.

An ``Operation`` plans synchronously inside one ``Transaction`` (placement errors reach the
client directly), the plan and its journal record are committed before the client sees 202,
then the work runs in the background under the ``Throttle``. Every completed node step is
recorded in the journal record, so a restarted server can finish or undo it (``recover``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from heketipy.domain.entities import PendingOperation, new_id
from heketipy.domain.errors import HeketiError
from heketipy.domain.state import State, Transaction
from heketipy.executors.base import Executor
from heketipy.operations.jobs import DEFAULT_RESULT_TTL_S, JobQueue, Throttle
from heketipy.store.sqlite import Store

log = logging.getLogger("heketipy.operations")


class Runtime:
    """Everything an operation needs: state, store, executor, settings, jobs, throttle."""

    def __init__(
        self,
        state: State,
        store: Store,
        executor: Executor,
        settings: Any,
        *,
        max_inflight: int = 8,
        wait_queue_size: int = 1024,
        queue_result_ttl_s: float = DEFAULT_RESULT_TTL_S,
    ) -> None:
        self.state = state
        self.store = store
        self.executor = executor
        self.settings = settings
        self.jobs = JobQueue(result_ttl_s=queue_result_ttl_s)
        self.throttle = Throttle(max_inflight, wait_queue_size)
        self.in_flight_ops: set[str] = set()
        self.reserved_hosts: dict[str, str] = {}  # hostnames of nodes being added
        self.down_nodes: set[str] = set()  # nodes the health monitor last saw down
        self.failed_count = 0

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
    async def start(self, op: Operation) -> str:
        """Plan ``op`` now, then execute it in the background. Returns the /queue id."""
        if op.throttled:
            self.throttle.admit()
        try:
            await self.apply(op.plan)
        except BaseException:
            if op.throttled:
                self.throttle.release(had_slot=False)
            raise
        slot = {"held": False}

        async def work() -> str | None:
            if op.throttled:
                await self.throttle.acquire_slot()
                slot["held"] = True
            return await self.execute(op)

        def done() -> None:
            if op.throttled:
                self.throttle.release(had_slot=slot["held"])

        return self.jobs.submit(work, name=op.type_name, on_done=done)

    def submit_plain(
        self, work: Callable[[], Awaitable[str | None]], name: str, *, throttled: bool = False
    ) -> str:
        """Background work without a journal record (node/device add, tags, state)."""
        if not throttled:
            return self.jobs.submit(work, name=name)
        self.throttle.admit()
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
            try:
                try:
                    await op.execute()
                except Exception as exc:
                    error = exc if isinstance(exc, HeketiError) else HeketiError(str(exc))
                    if isinstance(exc, HeketiError):
                        log.warning("op %s %s failed: %s", record_id, op.type_name, exc.text)
                    else:
                        log.exception("op %s %s crashed", record_id, op.type_name)
                    rolled_back = await self._rollback(op)
                    if not rolled_back or attempt >= op.attempts():
                        raise error from exc
                else:
                    if op.record is not None:
                        await self.set_phase(op.record, "finalizing")
                    return await self.apply(op.finalize)
            finally:
                if record_id:
                    self.in_flight_ops.discard(record_id)
            attempt += 1
            try:
                # A retry places the bricks afresh: the failed nodes may be avoided this time.
                await self.apply(op.plan)
            except HeketiError:
                raise error from None
            log.info("retrying op %s (attempt %d of %d)", op.type_name, attempt, op.attempts())

    async def _rollback(self, op: Operation) -> bool:
        """Undo ``op``; False (and the op marked failed) if that was impossible."""
        if op.record is not None:
            await self.set_phase(op.record, "rolling-back")
        try:
            await op.undo_steps()
            await self.apply(op.release)
        except Exception:
            log.exception("rollback of op %s failed; marking it failed", op.record and op.record.id)
            self.failed_count += 1
            if op.record is not None and op.record.id in self.state.operations:
                await self.apply(lambda tx: setattr(tx.touch(op.record), "status", "failed"))
            return False
        return True

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
        from heketipy.operations import catalog  # noqa: F401 - fills OPERATION_TYPES

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
            try:
                direction = "forward"
                if record.phase != "finalizing":
                    direction = await op.recovery_direction()
                log.info(
                    "recovering op %s %s (phase %s): %s",
                    record.id, record.type_name, record.phase, direction,
                )
                if direction == "forward":
                    try:
                        await op.complete()
                        await self.apply(op.finalize)
                    except Exception:
                        log.exception("rolling op %s forward failed; marking it failed", record.id)
                        self.failed_count += 1
                        await self.apply(lambda tx, r=record: setattr(tx.touch(r), "status", "failed"))
                        continue
                elif not await self._rollback(op):
                    continue
                recovered += 1
            finally:
                self.in_flight_ops.discard(record.id)
        return recovered

    async def gather_steps(self, coros: list[Awaitable[Any]]) -> list[Any]:
        """Run independent node steps concurrently; raise the first failure after all end."""
        results = await asyncio.gather(*coros, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return list(results)


class Operation:
    """One journaled mutation. Subclasses implement the four phases."""

    type_name: ClassVar[str] = "unknown"
    throttled: ClassVar[bool] = True

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

    def load(self, record: PendingOperation) -> None:
        """Rebuild the in-memory fields from a journal record (for recovery)."""

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


OPERATION_TYPES: dict[str, type[Operation]] = {}


def register(cls: type[Operation]) -> type[Operation]:
    OPERATION_TYPES[cls.type_name] = cls
    return cls
