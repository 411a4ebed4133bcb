"""The one Kubernetes client configuration (heketipy/kubeapi.py) and its two users: the pod-exec
transport and the database backup into Secrets find the API, its credentials and TLS the same
way (explicit URL, in-cluster service account, kubeconfig)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heketipy import kubeapi
from heketipy.config.glusterfs import KubeExecSettings
from heketipy.executors.kube import KubeRunner
from heketipy.store import kube_backup as kb

NS = "storage"
IN_CLUSTER = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}


def bearer(config) -> str:
    return config.auth_settings()["BearerToken"]["value"]


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("abc")  # as the kubelet writes it: no newline
    (account / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot checked here\n")
    (account / "namespace").write_text("glusterfs\n")
    return account


def test_explicit_url_with_token_or_token_file(tmp_path: Path) -> None:
    config = kubeapi.configuration(api_url="http://127.0.0.1:8001/", token="t0ken")
    assert config.host == "http://127.0.0.1:8001" and bearer(config) == "Bearer t0ken"
    token_file = tmp_path / "token"
    token_file.write_text("one\n")
    rotating = kubeapi.configuration(api_url="http://127.0.0.1:8001", token_file=str(token_file))
    assert bearer(rotating) == "Bearer one"
    token_file.write_text("two\n")  # a projected token rotated: the next request sends it
    assert bearer(rotating) == "Bearer two"


def test_in_cluster_service_account(service_account: Path) -> None:
    config = kubeapi.configuration(environ=IN_CLUSTER, service_account_dir=str(service_account))
    assert config.host == "https://[fd00::1]:443"
    assert config.ssl_ca_cert == str(service_account / "ca.crt")
    assert bearer(config).lower() == "bearer abc"


def test_no_way_to_the_api_names_its_user(tmp_path: Path) -> None:
    with pytest.raises(kubeapi.KubeConfigError, match="kube migrate-pvs: no usable"):
        kubeapi.configuration(kubeconfig=str(tmp_path / "missing"), user="kube migrate-pvs")
    with pytest.raises(kubeapi.KubeConfigError, match="service account"):
        kubeapi.configuration(environ=IN_CLUSTER, service_account_dir=str(tmp_path / "none"))


def test_backup_and_executor_build_the_same_in_cluster_client(service_account: Path) -> None:
    api = kb.KubeApi.from_environment(IN_CLUSTER, service_account_dir=str(service_account))
    assert api is not None and api.namespace == "glusterfs"
    expected = kubeapi.configuration(environ=IN_CLUSTER, service_account_dir=str(service_account))
    assert (api.configuration.host, api.configuration.ssl_ca_cert) == (
        expected.host, expected.ssl_ca_cert,
    )  # fmt: skip
    assert bearer(api.configuration) == bearer(expected)


def test_backup_outside_a_cluster_is_off(tmp_path: Path) -> None:
    assert kb.KubeApi.from_environment({}, service_account_dir=str(tmp_path / "none")) is None
    # In a pod whose service account is not mounted: no backup (logged), not a crash.
    assert kb.KubeApi.from_environment(IN_CLUSTER, service_account_dir=str(tmp_path)) is None


async def test_executor_uses_the_shared_configuration() -> None:
    runner = KubeRunner(
        KubeExecSettings(namespace=NS), api_url="http://127.0.0.1:9/", token="t0ken"
    )
    try:
        config = runner._lookup_api.api_client.configuration  # noqa: SLF001
        assert config.host == "http://127.0.0.1:9" and bearer(config) == "Bearer t0ken"
    finally:
        await runner.close()
