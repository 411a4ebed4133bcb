"""Asynchronous jobs behind ``/queue/<id>`` and the admission control in front of them.

``JobQueue`` holds results in memory (as Heketi does): a finished result is delivered once and
then forgotten. Unlike Heketi it also forgets a result that nobody collected within
``result_ttl_s`` of the job's end: Heketi's clients poll every 400 ms, but the user role may
not poll ``/queue`` at all, so every user-role create would otherwise leave its result behind
for the life of the process.

``Throttle`` lets at most ``max_inflight`` operations execute; further accepted operations
wait in a bounded FIFO queue (heketipy's answer to Heketi's 429 storm) and only when that
queue is full is a request refused with ``Busy``.

Each job ends with one ``job`` log line (its name, duration and the outcome ``/queue`` will
report), under the job's id, which the context variable ``logctx.operation_id`` carries into
every line logged while the job runs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from heketipy import logctx
from heketipy.config import DEFAULT_QUEUE_RESULT_TTL_S
from heketipy.domain.entities import new_id
from heketipy.domain.errors import Busy, HeketiError

log = logging.getLogger("heketipy.jobs")


@dataclass
class Job:
    id: str
    done: bool = False
    location: str | None = None
    error: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)




class JobQueue:
    def __init__(
        self,
        result_ttl_s: float = DEFAULT_QUEUE_RESULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.result_ttl_s = result_ttl_s
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        # Finished, uncollected jobs -> when they finished; in finishing order, so the
        # oldest are first and expiry only ever looks at the front.
        self._uncollected: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Jobs held: running ones and finished ones whose result is not yet collected."""
        return len(self._jobs)

    def _expire(self) -> None:
        oldest_kept = self._clock() - self.result_ttl_s
        while self._uncollected:
            job_id, finished_at = next(iter(self._uncollected.items()))
            if finished_at >= oldest_kept:
                break
            self._uncollected.popitem(last=False)
            del self._jobs[job_id]
            log.info("result of job %s not collected within %gs: forgotten", job_id,
                     self.result_ttl_s)

    async def wait(self, job_id: str, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for a job to finish (a poll answered late, not early)."""
        job = self._jobs.get(job_id)
        if job is not None and not job.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.finished.wait(), timeout_s)

    async def collect(self, job_id: str) -> Job | None:
        """Wait for a job to finish and take its result (single delivery, as ``get``)."""
        job = self._jobs.get(job_id)
        if job is not None:
            await job.finished.wait()
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        """The job; a finished one is removed by this read (single delivery)."""
        self._expire()
        job = self._jobs.get(job_id)
        if job is not None and job.done:
            del self._jobs[job_id]
            self._uncollected.pop(job_id, None)
        return job

    def submit(
        self,
        work: Callable[[], Awaitable[str | None]],
        *,
        name: str,
        on_done: Callable[[], None] | None = None,
    ) -> str:
        """Run ``work`` in the background; its return value is the result's Location."""
        self._expire()
        job = Job(id=new_id())
        self._jobs[job.id] = job

        async def runner() -> None:
            logctx.operation_id.set(job.id)
            started = time.perf_counter()
            crash: Exception | None = None
            try:
                job.location = await work()
            except HeketiError as exc:
                job.error = exc.text
            except asyncio.CancelledError:
                job.error = "Operation interrupted: server shutting down"
                raise
            except Exception as exc:  # noqa: BLE001 - reported to the client, logged in full
                crash = exc
                job.error = str(exc) or exc.__class__.__name__
            finally:
                level = logging.ERROR if crash else logging.WARNING if job.error else logging.INFO
                logctx.event(
                    log, level, "job", exc_info=crash, name=name,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                    outcome="failed" if job.error else "ok",
                    **({"error": job.error} if job.error else {"location": job.location}),
                )
                job.done = True
                self._uncollected[job.id] = self._clock()
                job.finished.set()
                if on_done is not None:
                    on_done()

        task = asyncio.create_task(runner(), name=f"job-{name}-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job.id

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class Throttle:
    """At most ``max_inflight`` running; at most ``wait_queue_size`` waiting, FIFO."""

    def __init__(self, max_inflight: int, wait_queue_size: int) -> None:
        self.max_inflight = max(1, max_inflight)
        self.wait_queue_size = max(0, wait_queue_size)
        self.running = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.admitted = 0  # accepted and not yet finished (running + waiting)

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def admit(self) -> None:
        """Reserve a place or raise ``Busy``; pair with ``release()`` when the work ends."""
        if self.admitted >= self.max_inflight + self.wait_queue_size:
            raise Busy(retry_after_s=1 + self.waiting // self.max_inflight)
        self.admitted += 1

    async def acquire_slot(self) -> None:
        if self.running < self.max_inflight and not self._waiters:
            self.running += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future in self._waiters:
                self._waiters.remove(future)
            elif future.done() and not future.cancelled():
                self._release_slot()
            raise

    def _release_slot(self) -> None:
        self.running -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.running += 1
                waiter.set_result(None)
                break

    def release(self, *, had_slot: bool) -> None:
        self.admitted -= 1
        if had_slot:
            self._release_slot()
