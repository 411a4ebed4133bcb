"""Two real server processes with ``heketipy.ha.kubernetes_lease`` on, against the fake
Kubernetes API server: leadership is the Lease first and the database lock second. The active
holds the Lease (it names the active's pid), the standby waits; SIGKILLed during a burst of
creates, the active stops renewing, and the standby takes the Lease over only once it has
expired, then the database lock, and serves: every acknowledged volume is there, no operation
is left, /db/check and drift are clean, and the Lease records one transition."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.failover import burst_and_kill, check_after_failover, running_pair
from tests.testbed.fake_apiserver import FakeApiServer, kubeconfig_text

NAMESPACE = "storage"
LEASE = "heketipy-test"


@pytest.fixture
def fake_api() -> Iterator[tuple[FakeApiServer, str]]:
    """The fake API server on its own event loop in a thread (the servers are processes)."""
    api = FakeApiServer(pods=[])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(api.start(), loop).result(30)
        yield api, url
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def test_with_a_kubernetes_lease_the_standby_takes_over_after_expiry(
    tmp_path: Path, fake_api: tuple[FakeApiServer, str]
) -> None:
    api, url = fake_api
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(url, None, NAMESPACE))
    ha = {"kubernetes_lease": True, "lease_name": LEASE, "lease_namespace": NAMESPACE}
    with running_pair(
        tmp_path, tmp_path / "shared" / "heketi.db", ha=ha, env={"KUBECONFIG": str(kubeconfig)}
    ) as (active, standby):
        held = api.leases.spec(NAMESPACE, LEASE)
        assert held is not None and held["holderIdentity"].endswith(f"_{active.process.pid}")
        assert standby.request("GET", "/readyz", role="none").status == 503
        assert standby.request("GET", "/volumes").status == 503

        failover = burst_and_kill(active, standby)

        assert failover.acknowledged, "the burst acknowledged nothing before the kill"
        check_after_failover(standby, failover)
        taken = api.leases.spec(NAMESPACE, LEASE)
        assert taken is not None
        assert taken["holderIdentity"].endswith(f"_{standby.process.pid}")
        assert taken["leaseTransitions"] == 1
        # The standby polled and never wrote until the active's record stopped changing.
        assert api.leases.count("PUT", status=409) == 0
