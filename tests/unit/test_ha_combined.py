"""Leadership by several mechanisms (heketipy.ha.combined.AllOf) and the mechanism factory
(heketipy.ha.factory): acquisition in order with the earlier ones kept renewed, hold returns
when any one is lost, release in reverse order; which mechanisms the settings choose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from heketipy.config import HaSettings, Settings
from heketipy.ha import factory
from heketipy.ha.combined import AllOf
from heketipy.ha.dblock import DatabaseLockLeadership
from heketipy.ha.leadership import Leadership
from heketipy.ha.lease import KubernetesLease
from tests.testbed.fake_apiserver import kubeconfig_text


class Scripted:
    """A mechanism the test drives: acquire/hold wait on events, calls are recorded."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.identity = name
        self.log = log
        self.may_acquire = asyncio.Event()
        self.lost = asyncio.Event()

    async def acquire(self) -> None:
        self.log.append(f"{self.identity} acquire")
        await self.may_acquire.wait()
        self.log.append(f"{self.identity} acquired")

    async def hold(self) -> None:
        await self.lost.wait()
        self.log.append(f"{self.identity} lost")

    async def release(self) -> None:
        self.log.append(f"{self.identity} release")
        self.lost.clear()  # acquired again, it is held afresh


async def test_acquires_in_order_and_holds_until_any_is_lost() -> None:
    log: list[str] = []
    lease, lock = Scripted("lease", log), Scripted("lock", log)
    both = AllOf([lease, lock])
    assert both.identity == "lease"
    acquiring = asyncio.ensure_future(both.acquire())
    await asyncio.sleep(0.01)
    assert log == ["lease acquire"]
    lease.may_acquire.set()
    await asyncio.sleep(0.01)
    assert log == ["lease acquire", "lease acquired", "lock acquire"]
    lock.may_acquire.set()
    await asyncio.wait_for(acquiring, 1)
    holding = asyncio.ensure_future(both.hold())
    await asyncio.sleep(0.01)
    assert not holding.done()
    lock.lost.set()
    await asyncio.wait_for(holding, 1)
    await both.release()
    assert log[-2:] == ["lock release", "lease release"]


async def test_an_earlier_mechanism_lost_while_waiting_for_the_next_starts_over() -> None:
    log: list[str] = []
    lease, lock = Scripted("lease", log), Scripted("lock", log)
    both = AllOf([lease, lock])
    lease.may_acquire.set()
    acquiring = asyncio.ensure_future(both.acquire())
    await asyncio.sleep(0.01)
    lease.lost.set()  # the lease expired while the database lock was still held elsewhere
    await asyncio.sleep(0.01)
    assert "lease lost" in log and "lease release" in log
    assert log.count("lease acquire") == 2  # started over
    lock.may_acquire.set()
    await asyncio.wait_for(acquiring, 1)
    await both.release()


async def test_a_failing_acquire_releases_what_was_acquired() -> None:
    log: list[str] = []
    lease = Scripted("lease", log)
    lease.may_acquire.set()

    class Broken(Scripted):
        async def acquire(self) -> None:
            raise OSError("mount gone")

    both = AllOf([lease, Broken("lock", log)])
    with pytest.raises(OSError, match="mount gone"):
        await both.acquire()
    assert "lease release" in log


def test_allof_needs_a_mechanism() -> None:
    with pytest.raises(ValueError, match="at least one"):
        AllOf([])


def _settings(tmp: str, **ha: object) -> Settings:
    return Settings(
        auth_enabled=False,
        glusterfs={"executor": "mock", "db": f"{tmp}/heketi.db"},  # type: ignore[arg-type]
        heketipy={"ha": {"enabled": True, **ha}},  # type: ignore[arg-type]
    )


def test_outside_kubernetes_the_database_lock_alone(tmp_path: object) -> None:
    chosen = factory.mechanisms(_settings(str(tmp_path)), environ={})
    assert [type(m) for m in chosen] == [DatabaseLockLeadership]


def test_in_a_pod_the_lease_comes_first(tmp_path: object) -> None:
    built: list[tuple[str, str]] = []

    def lease_builder(ha: HaSettings, identity: str, namespace: str) -> Leadership:
        built.append((identity, namespace))
        return Scripted("lease", [])

    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
           "POD_NAME": "heketipy-0"}
    chosen = factory.mechanisms(
        _settings(str(tmp_path), lease_namespace="storage"), lease_builder=lease_builder,
        environ=env,
    )
    assert [type(m) for m in chosen] == [Scripted, DatabaseLockLeadership]
    identity, namespace = built[0]
    assert identity.startswith("heketipy-0_") and namespace == "storage"
    assert factory.mechanisms(
        _settings(str(tmp_path), kubernetes_lease=False), lease_builder=lease_builder,
        environ=env,
    )[0].__class__ is DatabaseLockLeadership


def test_a_lease_asked_for_without_lease_support_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(factory.LeadershipConfigError, match="kubernetes_lease is true"):
        factory.mechanisms(
            _settings(str(tmp_path), kubernetes_lease=True), lease_builder=None, environ={}
        )


def test_the_default_lease_is_a_kubernetes_lease_from_the_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text("http://127.0.0.1:9", None, "storage"))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    chosen = factory.mechanisms(
        _settings(str(tmp_path), kubernetes_lease=True, lease_namespace="storage"), environ={}
    )
    assert [type(m) for m in chosen] == [KubernetesLease, DatabaseLockLeadership]
    lease = chosen[0]
    assert isinstance(lease, KubernetesLease)
    assert (lease.name, lease.namespace) == ("heketipy", "storage")


def test_a_lease_without_any_kubernetes_configuration_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(factory.LeadershipConfigError, match="heketipy.ha Kubernetes Lease"):
        factory.mechanisms(
            _settings(str(tmp_path), kubernetes_lease=True, lease_namespace="storage"),
            environ={},
        )


def test_identity_and_namespace_defaults(tmp_path: object) -> None:
    ha = HaSettings()
    assert factory.identity(ha, {"POD_NAME": "p"}).startswith("p_")
    assert factory.identity(HaSettings(identity="me"), {}) == "me"
    assert factory.lease_namespace(ha, str(tmp_path) + "/missing") == "default"
    namespace_file = f"{tmp_path}/namespace"
    with open(namespace_file, "w") as handle:
        handle.write("storage\n")
    assert factory.lease_namespace(ha, namespace_file) == "storage"
    assert factory.lease_namespace(HaSettings(lease_namespace="ns"), namespace_file) == "ns"
