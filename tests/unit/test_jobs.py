"""JobQueue and Throttle: held /queue polls, single delivery, FIFO admission."""

from __future__ import annotations

import asyncio

import pytest

from heketipy.domain.errors import Busy
from heketipy.operations.jobs import JobQueue, Throttle


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
