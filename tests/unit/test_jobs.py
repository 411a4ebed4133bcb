"""JobQueue and Throttle: held /queue polls, single delivery, FIFO admission."""

from __future__ import annotations

import asyncio

import pytest

from heketipy.domain.errors import Busy
from heketipy.operations.jobs import JobQueue, Throttle
from tests.support.clock import FakeClock


async def test_a_held_poll_returns_when_the_job_finishes() -> None:
    jobs = JobQueue()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "/volumes/abc"

    job_id = jobs.submit(work, name="create")
    poll = asyncio.create_task(jobs.wait(job_id, timeout_s=600))
    await asyncio.sleep(0)
    assert not poll.done()  # held while the job runs
    release.set()
    await poll  # returns with the job, long before the 600 s hold
    job = jobs.get(job_id)
    assert job is not None and job.done and job.location == "/volumes/abc"
    assert jobs.get(job_id) is None  # delivered once


async def test_a_held_poll_of_a_long_job_ends_pending() -> None:
    jobs = JobQueue()
    never = asyncio.Event()
    job_id = jobs.submit(never.wait, name="slow")
    await jobs.wait(job_id, timeout_s=0.01)
    job = jobs.get(job_id)
    assert job is not None and not job.done
    assert jobs.get(job_id) is job  # a pending job is not consumed by a read
    await jobs.drain()


async def test_waiting_on_unknown_or_finished_jobs_does_not_block() -> None:
    jobs = JobQueue()

    async def work() -> None:
        return None

    job_id = jobs.submit(work, name="quick")
    await jobs.wait(job_id, timeout_s=600)
    await jobs.wait(job_id, timeout_s=600)  # already done: no hold
    await jobs.wait("0" * 32, timeout_s=600)  # unknown: no hold
    job = jobs.get(job_id)
    assert job is not None and job.done and job.location is None


async def test_throttle_queues_in_order_and_refuses_only_when_full() -> None:
    throttle = Throttle(max_inflight=1, wait_queue_size=2)
    order: list[int] = []
    throttle.admit()
    await throttle.acquire_slot()  # the one slot
    waiters = []
    for index in range(2):
        throttle.admit()

        async def queued(index: int = index) -> None:
            await throttle.acquire_slot()
            order.append(index)
            throttle.release(had_slot=True)

        waiters.append(asyncio.create_task(queued()))
    await asyncio.sleep(0)
    with pytest.raises(Busy):
        throttle.admit()  # 1 running + 2 waiting: full
    throttle.release(had_slot=True)
    await asyncio.gather(*waiters)
    assert order == [0, 1]


# ---------------------------------------------------------------------------------------
# Uncollected results expire (an injected clock: no sleeping, no timing)
# ---------------------------------------------------------------------------------------


async def _quick() -> str:
    return "/volumes/abc"


async def _finished_job(jobs: JobQueue) -> str:
    job_id = jobs.submit(_quick, name="create")
    await jobs.wait(job_id, timeout_s=600)
    return job_id


async def test_a_result_is_delivered_until_its_ttl_passes() -> None:
    clock = FakeClock()
    jobs = JobQueue(result_ttl_s=60, clock=clock)
    job_id = await _finished_job(jobs)
    clock.now += 60  # exactly the TTL: still collectable
    job = jobs.get(job_id)
    assert job is not None and job.location == "/volumes/abc"


async def test_an_uncollected_result_expires_after_its_ttl() -> None:
    clock = FakeClock()
    jobs = JobQueue(result_ttl_s=60, clock=clock)
    job_id = await _finished_job(jobs)
    clock.now += 60.5
    assert jobs.get(job_id) is None  # the poll answers 404 Id not found, as for a read result
    assert len(jobs) == 0


async def test_the_ttl_counts_from_the_end_of_the_job_not_its_start() -> None:
    clock = FakeClock()
    jobs = JobQueue(result_ttl_s=60, clock=clock)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "/volumes/slow"

    job_id = jobs.submit(slow, name="create")
    clock.now += 3600  # a running job never expires
    assert jobs.get(job_id) is not None and len(jobs) == 1
    release.set()
    await jobs.wait(job_id, timeout_s=600)
    clock.now += 30
    job = jobs.get(job_id)
    assert job is not None and job.location == "/volumes/slow"


async def test_uncollected_results_do_not_accumulate() -> None:
    clock = FakeClock()
    jobs = JobQueue(result_ttl_s=60, clock=clock)
    for _ in range(500):  # e.g. user-role creates: the user role cannot poll /queue
        await _finished_job(jobs)
        clock.now += 1
    # Only the results of the last TTL are kept, however many were never collected.
    assert len(jobs) <= 61
    clock.now += 61
    await _finished_job(jobs)
    assert len(jobs) == 1
