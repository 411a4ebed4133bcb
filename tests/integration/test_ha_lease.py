"""Leader election on a Kubernetes Lease (``heketipy.ha.lease``) against the fake API server.

The fake runs on the test's event loop on 127.0.0.1; each contender has its own ``ApiClient``
whose User-Agent is its identity, so the fake can cut one contender off (a partition) and the
tests can count each one's requests. Timings are short (lease 1.5 s, renew deadline 1 s, retry
0.2 s); where the test must decide when a lease expires, the standby gets a hand-driven clock.
Time limits below only stop a broken test from hanging; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from heketipy import kubeapi
from heketipy.ha.leadership import LeaseTiming
from heketipy.ha.lease import KubernetesLease, micro_time
from tests.support.clock import FakeClock
from tests.testbed.fake_apiserver import FakeApiServer

NS, NAME = "storage", "heketipy-leader"
TIMING = LeaseTiming(lease_duration_s=1.5, renew_deadline_s=1.0, retry_period_s=0.2)
MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
LIMIT_S = 60.0  # only against hanging; lease expiries here take a few seconds at most


class Cluster:
    """The fake API server and the contenders (and their tasks) a test made."""

    def __init__(self, server: FakeApiServer, url: str) -> None:
        self.server = server
        self.leases = server.leases
        self.url = url
        self.contenders: list[KubernetesLease] = []
        self.clients: list[Any] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def contender(
        self,
        identity: str,
        *,
        clock: Callable[[], float] | None = None,
    ) -> KubernetesLease:
        client = kubeapi.api_client(kubeapi.configuration(api_url=self.url))
        client.user_agent = identity
        self.clients.append(client)
        extra = {"clock": clock} if clock is not None else {}
        lease = KubernetesLease(
            name=NAME, namespace=NS, identity=identity, timing=TIMING, api_client=client, **extra
        )
        self.contenders.append(lease)
        return lease

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self.tasks.append(task)
        return task

    def spec(self) -> dict[str, Any]:
        spec = self.leases.spec(NS, NAME)
        assert spec is not None, "the lease does not exist"
        return spec

    def version(self) -> str:
        return str(self.leases.leases[(NS, NAME)]["metadata"]["resourceVersion"])

    def reads(self, identity: str, version: str | None = None) -> int:
        """GETs of the lease by ``identity`` (answered with ``version``, when given)."""
        return sum(
            1
            for r in self.leases.requests
            if r.method == "GET"
            and r.user_agent == identity
            and r.status == 200
            and (version is None or r.version == version)
        )

    async def polls(
        self,
        identity: str,
        count: int,
        version: str | None = None,
        *,
        waiting: asyncio.Task[Any] | None = None,
    ) -> None:
        """Wait until ``identity`` has read the lease ``count`` more times, or until its
        ``waiting`` task (which should still be waiting) is done."""
        target = self.reads(identity, version) + count
        await until(
            lambda: self.reads(identity, version) >= target or bool(waiting and waiting.done()),
            f"{identity} reads the lease {count} more times",
        )


async def until(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(LIMIT_S):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def finished(task: asyncio.Task[Any]) -> Any:
    async with asyncio.timeout(LIMIT_S):
        return await asyncio.shield(task)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    server = FakeApiServer(pods=[])
    url = await server.start()
    fake = Cluster(server, url)
    try:
        yield fake
    finally:
        for task in fake.tasks:
            task.cancel()
        async with asyncio.timeout(LIMIT_S):
            await asyncio.gather(*fake.tasks, return_exceptions=True)
        server.restore()
        for lease in fake.contenders:
            await lease.release()  # also stops its worker threads
        for client in fake.clients:
            client.close()
        await server.stop()


async def leader(
    cluster: Cluster, identity: str, **options: Any
) -> tuple[KubernetesLease, asyncio.Task[None]]:
    """A contender that acquired the lease and keeps renewing it (the task runs ``hold``)."""
    lease = cluster.contender(identity, **options)
    await finished(cluster.spawn(lease.acquire()))
    return lease, cluster.spawn(lease.hold())


async def crash(task: asyncio.Task[Any]) -> None:
    """The holder's process dies: it stops renewing without releasing."""
    task.cancel()
    async with asyncio.timeout(LIMIT_S):
        await asyncio.gather(task, return_exceptions=True)


# -- the first holder ------------------------------------------------------------------------


async def test_the_first_contender_creates_the_lease_and_renews_it(cluster: Cluster) -> None:
    await leader(cluster, "a", clock=FakeClock())
    first = cluster.spec()
    assert first["holderIdentity"] == "a"
    assert first["leaseDurationSeconds"] == 2  # 1.5 s, in the whole seconds the field holds
    assert first["leaseTransitions"] == 0
    assert MICRO_TIME.fullmatch(first["acquireTime"]) and MICRO_TIME.fullmatch(first["renewTime"])
    assert cluster.leases.count("POST", status=201) == 1

    renewals = cluster.leases.count("PUT", user_agent="a", status=200)
    await until(
        lambda: cluster.leases.count("PUT", user_agent="a", status=200) >= renewals + 3,
        "three renewals",
    )
    renewed = cluster.spec()
    assert renewed["holderIdentity"] == "a" and renewed["leaseTransitions"] == 0
    assert renewed["acquireTime"] == first["acquireTime"]
    assert renewed["renewTime"] > first["renewTime"]
    puts = [r for r in cluster.leases.requests if r.method == "PUT"]
    assert puts and all(r.sent_version for r in puts)  # every write is conditional


# -- takeover ---------------------------------------------------------------------------------


async def test_a_standby_takes_over_after_the_holder_stops_renewing(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    _, holding = await leader(cluster, "a")
    acquired_at = cluster.spec()["acquireTime"]
    standby = cluster.contender("b")
    taking = cluster.spawn(standby.acquire())
    await cluster.polls("b", 2)
    assert not taking.done()

    await crash(holding)
    await finished(taking)
    spec = cluster.spec()
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] > acquired_at
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "standby: lease storage/heketipy-leader is held by a; taking over if it goes 1.5s "
        "without renewal" in messages
    )
    assert (
        "became leader: lease storage/heketipy-leader held by b (previous holder a, "
        "transition 1)" in messages
    )


async def test_a_standby_counts_expiry_on_its_own_clock_never_by_renew_time(
    cluster: Cluster,
) -> None:
    # A holder that died long ago by the wall clock, whose record declares 2 s.
    cluster.leases.put(
        NS,
        NAME,
        {
            "holderIdentity": "gone",
            "leaseDurationSeconds": 2,
            "leaseTransitions": 4,
            "acquireTime": "2000-01-01T00:00:00.000001Z",
            "renewTime": "2000-01-01T00:00:00.000001Z",
        },
    )
    clock = FakeClock()
    standby = cluster.contender("b", clock=clock)
    taking = cluster.spawn(standby.acquire())
    await cluster.polls("b", 5, waiting=taking)
    assert not taking.done()  # it has seen the record for no time at all on its clock

    clock.now += 1.6  # past our 1.5 s, not past the holder's declared 2 s
    await cluster.polls("b", 3, waiting=taking)
    assert not taking.done()
    assert cluster.spec()["holderIdentity"] == "gone"

    clock.now += 0.5
    await finished(taking)
    assert cluster.spec()["holderIdentity"] == "b"
    assert cluster.spec()["leaseTransitions"] == 5


async def test_no_takeover_while_the_holder_renews(cluster: Cluster) -> None:
    # The holder's clock stands still so that a slow machine cannot make it give up: the test
    # is about the standby's restraint, on its real clock.
    _, holding = await leader(cluster, "a", clock=FakeClock())
    standby = cluster.contender("b")
    taking = cluster.spawn(standby.acquire())
    # The standby's polls are at least 0.2 s apart: 25 span more than three lease durations.
    await cluster.polls("b", 25, waiting=taking)
    assert not taking.done() and not holding.done()
    spec = cluster.spec()
    assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 0
    assert cluster.leases.count("PUT", user_agent="b") == 0


@pytest.mark.parametrize("mode", ["refuse", "hang"])
async def test_a_holder_cut_off_from_the_api_fences_itself_before_the_standby_takes_over(
    cluster: Cluster, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    holder, standby = cluster.contender("a"), cluster.contender("b")
    await finished(cluster.spawn(holder.acquire()))
    events: list[tuple[str, str]] = []  # (what happened, the lease's holder at that moment)

    async def hold() -> None:
        await holder.hold()
        events.append(("holder fenced", cluster.spec()["holderIdentity"]))

    async def stand_by() -> None:
        await standby.acquire()
        events.append(("standby leads", cluster.spec()["holderIdentity"]))

    holding, taking = cluster.spawn(hold()), cluster.spawn(stand_by())
    await cluster.polls("b", 2)
    cluster.server.cut(mode, user_agent="a")  # the holder alone loses the API server

    await finished(taking)
    assert holding.done() and holding.exception() is None
    # hold() returned while the lease still named the holder: nobody else could write yet.
    assert events == [("holder fenced", "a"), ("standby leads", "b")]
    assert cluster.spec()["leaseTransitions"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("gave up leadership of lease storage/heketipy-leader") for m in messages
    )
    assert any(m.startswith("became leader") and "held by b" in m for m in messages)

    # Back on the network, the old holder is a standby like any other.
    cluster.server.restore()
    again = cluster.spawn(holder.acquire())
    await cluster.polls("a", 3, waiting=again)
    assert not again.done()


async def test_hold_returns_when_the_api_server_is_unreachable_for_everyone(
    cluster: Cluster,
) -> None:
    holder, holding = await leader(cluster, "a")
    cluster.server.cut("hang")
    await finished(holding)
    cluster.server.restore()
    # Nobody took the lease meanwhile: the same process may lead again, the record unchanged.
    await finished(cluster.spawn(holder.acquire()))
    assert cluster.spec()["holderIdentity"] == "a" and cluster.spec()["leaseTransitions"] == 0


async def test_renewal_failures_shorter_than_the_deadline_keep_leadership(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    clock = FakeClock()  # the renew deadline passes only when the test moves this clock
    _, holding = await leader(cluster, "a", clock=clock)
    cluster.server.cut("refuse")
    await until(
        lambda: any(
            r.getMessage().startswith("renewal of lease storage/heketipy-leader failed")
            for r in caplog.records
        ),
        "a renewal failure is logged",
    )
    cluster.server.restore()
    renewals = cluster.leases.count("PUT", user_agent="a", status=200)
    await until(
        lambda: cluster.leases.count("PUT", user_agent="a", status=200) > renewals,
        "a renewal succeeds again",
    )
    assert not holding.done()
    assert cluster.spec()["holderIdentity"] == "a"

    cluster.server.cut("refuse")
    clock.now += TIMING.renew_deadline_s
    await finished(holding)
    assert any(
        r.getMessage().startswith("gave up leadership of lease storage/heketipy-leader")
        for r in caplog.records
    )


async def test_cancelling_hold_stops_it_even_as_a_renewal_completes(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.11's asyncio.wait_for returns the inner result instead of raising when it is
    # cancelled just as the inner call completes: a "crashed" holder would renew forever. Here
    # the API answers at once and the cancellation lands in exactly that window.
    holder, holding = await leader(cluster, "a", clock=FakeClock())
    ours = {"metadata": {"name": NAME, "resourceVersion": "1"}, "spec": {"holderIdentity": "a"}}
    armed = True

    async def answer_at_once(verb: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        nonlocal armed
        if armed:
            armed = False
            asyncio.get_running_loop().call_soon(holding.cancel)
        return 200, ours

    monkeypatch.setattr(holder, "_call", answer_at_once)
    await until(lambda: holding.done(), "the cancelled hold() ends")
    assert holding.cancelled()


async def test_an_answer_that_is_not_a_lease_is_a_failed_renewal(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    clock = FakeClock()
    holder, holding = await leader(cluster, "a", clock=clock)

    async def garbage(verb: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return 200, "<html>a proxy's error page</html>"

    monkeypatch.setattr(holder, "_call", garbage)
    await until(
        lambda: any("is not a Lease" in r.getMessage() for r in caplog.records),
        "the renewal failure is logged",
    )
    clock.now += TIMING.renew_deadline_s
    await finished(holding)  # returns (fences), does not raise


@pytest.mark.parametrize("intrusion", ["taken", "deleted"])
async def test_hold_returns_when_the_lease_is_taken_or_deleted(
    cluster: Cluster, intrusion: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    _, holding = await leader(cluster, "a", clock=FakeClock())
    if intrusion == "taken":
        cluster.leases.put(NS, NAME, {**cluster.spec(), "holderIdentity": "intruder"})
    else:
        del cluster.leases.leases[(NS, NAME)]
    await finished(holding)
    why = "held by intruder" if intrusion == "taken" else "the lease was deleted"
    assert any(
        r.getMessage().startswith("lost leadership") and why in r.getMessage()
        for r in caplog.records
    )
    if intrusion == "taken":
        assert cluster.spec()["holderIdentity"] == "intruder"


# -- races --------------------------------------------------------------------------------------


async def test_racing_creators_leave_one_leader(cluster: Cluster) -> None:
    cluster.leases.hold_writes(2)  # both read "not found" and both create
    first, second = (
        cluster.contender("a", clock=FakeClock()),
        cluster.contender("b", clock=FakeClock()),
    )
    tasks = {cluster.spawn(first.acquire()): "a", cluster.spawn(second.acquire()): "b"}
    async with asyncio.timeout(LIMIT_S):
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1 and len(pending) == 1
    winner, losing = tasks[done.pop()], pending.pop()
    loser = tasks[losing]
    assert cluster.leases.count("POST", user_agent=loser, status=409) == 1  # AlreadyExists
    await cluster.polls(loser, 3, waiting=losing)
    assert not losing.done()
    assert cluster.spec()["holderIdentity"] == winner
    assert cluster.spec()["leaseTransitions"] == 0


async def test_racing_standbys_for_an_expired_lease_leave_exactly_one_winner(
    cluster: Cluster,
) -> None:
    _, holding = await leader(cluster, "s0", clock=FakeClock())
    clocks: dict[str, FakeClock] = {}
    standbys: dict[str, asyncio.Task[None]] = {}

    def join(identity: str) -> None:
        clocks[identity] = FakeClock()
        standbys[identity] = cluster.spawn(
            cluster.contender(identity, clock=clocks[identity]).acquire()
        )

    join("s1")
    for round_number in range(2, 10):
        join(f"s{round_number}")
        forced = round_number % 2 == 0
        transitions = cluster.spec()["leaseTransitions"]
        conflicts = cluster.leases.count("PUT", status=409)

        await crash(holding)
        for identity in standbys:  # by then a renewal that was in flight has landed
            await cluster.polls(identity, 1)
        # Both standbys have seen the dead holder's last record, then both clocks pass expiry.
        version = cluster.version()
        for identity in standbys:
            await cluster.polls(identity, 2, version)
        if forced:
            cluster.leases.hold_writes(2)  # both write the same resourceVersion
        for identity in standbys:
            clocks[identity].now += 2.1

        async with asyncio.timeout(LIMIT_S):
            await asyncio.wait(standbys.values(), return_when=asyncio.FIRST_COMPLETED)
        winners = [identity for identity, task in standbys.items() if task.done()]
        assert len(winners) == 1, winners
        (winner,) = winners
        (loser,) = set(standbys) - {winner}
        holding = cluster.spawn(next(c for c in cluster.contenders if c.identity == winner).hold())
        del standbys[winner]

        await cluster.polls(loser, 3, waiting=standbys[loser])
        assert not standbys[loser].done()
        spec = cluster.spec()
        assert spec["holderIdentity"] == winner
        assert spec["leaseTransitions"] == transitions + 1
        if forced:
            assert cluster.leases.count("PUT", status=409) == conflicts + 1
            assert cluster.leases.count("PUT", user_agent=loser, status=409) >= 1


# -- release ------------------------------------------------------------------------------------


async def test_release_hands_the_lease_to_a_standby_at_once(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heketipy.ha.lease")
    holder, holding = await leader(cluster, "a")
    standby = cluster.contender("b", clock=FakeClock())  # its clock never lets the lease expire
    taking = cluster.spawn(standby.acquire())
    await cluster.polls("b", 2)

    await holder.release()
    await finished(holding)  # hold() stops renewing
    await finished(taking)
    assert cluster.spec()["holderIdentity"] == "b"
    assert cluster.spec()["leaseTransitions"] == 1
    assert any(r.getMessage() == "released lease storage/heketipy-leader" for r in caplog.records)


async def test_release_clears_the_holder_and_only_when_it_holds(cluster: Cluster) -> None:
    holder, holding = await leader(cluster, "a")
    await holder.release()
    await finished(holding)
    spec = cluster.spec()
    assert "holderIdentity" not in spec
    assert spec["leaseDurationSeconds"] == 1 and spec["leaseTransitions"] == 0

    await leader(cluster, "b")
    writes = cluster.leases.count("PUT")
    await holder.release()  # no longer ours: nothing written
    assert cluster.leases.count("PUT") == writes
    assert cluster.spec()["holderIdentity"] == "b" and cluster.spec()["leaseTransitions"] == 1


async def test_hold_before_acquire_is_an_error(cluster: Cluster) -> None:
    with pytest.raises(RuntimeError, match="before acquire"):
        await cluster.contender("a").hold()


def test_a_lease_needs_a_name_a_namespace_and_an_identity() -> None:
    client = kubeapi.api_client(kubeapi.configuration(api_url="http://127.0.0.1:1"))
    try:
        with pytest.raises(ValueError, match="identity"):
            KubernetesLease(name=NAME, namespace=NS, identity="", timing=TIMING, api_client=client)
    finally:
        client.close()


def test_micro_times_always_carry_six_fractional_digits() -> None:
    assert (
        micro_time(datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC)) == "2026-01-02T03:04:05.000120Z"
    )
    # The client drops a zero fraction on the wire; the API server would refuse it.
    assert micro_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000001Z"


# -- the fake's Lease API itself -----------------------------------------------------------------


async def test_the_fake_serves_leases_with_the_api_servers_concurrency_answers(
    cluster: Cluster,
) -> None:
    base = f"{cluster.url}/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    lease = {"kind": "Lease", "metadata": {"name": "x"}, "spec": {"holderIdentity": "a"}}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/x") as missing:
            assert missing.status == 404
            assert (await missing.json())["reason"] == "NotFound"
        async with http.post(base, json=lease) as created:
            assert created.status == 201
            version = (await created.json())["metadata"]["resourceVersion"]
        async with http.post(base, json=lease) as again:
            assert again.status == 409
            body = await again.json()
            assert (body["kind"], body["reason"], body["code"]) == ("Status", "AlreadyExists", 409)
        update = {**lease, "metadata": {"name": "x", "resourceVersion": version}}
        async with http.put(f"{base}/x", json=update) as replaced:
            assert replaced.status == 200
            assert int((await replaced.json())["metadata"]["resourceVersion"]) > int(version)
        async with http.put(f"{base}/x", json=update) as stale:
            assert stale.status == 409
            assert (await stale.json())["reason"] == "Conflict"
        bad_time = {**lease, "spec": {"renewTime": "2026-01-02T03:04:05Z"}}
        async with http.put(f"{base}/x", json=bad_time) as invalid:
            assert invalid.status == 422
        async with http.get(base) as listed:
            assert [item["metadata"]["name"] for item in (await listed.json())["items"]] == ["x"]
        async with http.delete(f"{base}/x") as deleted:
            assert deleted.status == 200
        async with http.delete(f"{base}/x") as gone:
            assert gone.status == 404
