"""The e2e scenario over the Kubernetes pod-exec transport, against real glusterd.

heketipy runs with ``"executor": "kubernetes"`` (daemonset pod lookup, namespace ``glusterfs``)
and a kubeconfig pointing at the testbed's fake API server (tests/testbed/kube_hook.sh), whose
GlusterFS pods exec every command inside the testbed nodes' namespaces. The scenario is the SSH
one (``tests/e2e/scenario.py``). The server runs in the host namespace: with this transport it
only talks to the API server, never to the nodes.

Run as ``python -m tests.e2e.test_e2e_kube --config FILE`` this module starts heketipy, building
the Kubernetes executor itself while the executor factory does not know it yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import record_result
from tests.e2e.testbed import Testbed, Timings, command_timings, remote_executor_missing
from tests.support.server import ADMIN_KEY, USER_KEY, ServerProcess, free_port, wait_ready

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def kube_missing(bed: Testbed) -> str | None:
    """Why the Kubernetes scenario cannot run on this testbed, or None."""
    if not bed.description.get("kube"):
        return "the testbed has no fake Kubernetes API server (tests/testbed/kube_hook.sh)"
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        return "the kubernetes client is not installed (pip install '.[kube]')"
    return remote_executor_missing()


def write_kubeconfig(path: Path, api_url: str, token: str | None, namespace: str) -> None:
    user = f"{{token: {token}}}" if token else "{}"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f'clusters: [{{name: testbed, cluster: {{server: "{api_url}"}}}}]\n'
        f"users: [{{name: heketi, user: {user}}}]\n"
        f"contexts: [{{name: testbed, context: {{cluster: testbed, user: heketi, "
        f"namespace: {namespace}}}}}]\n"
        "current-context: testbed\n"
    )


def _wait_ready(server: ServerProcess) -> ServerProcess:
    return wait_ready(server, START_TIMEOUT_S)


def start_heketi_over_kube(bed: Testbed, directory: Path, **heketipy: Any) -> ServerProcess:
    """Start heketipy on the host with the Kubernetes executor against the testbed's fake API
    server (database, log and kubeconfig in ``directory``); ``heketipy`` adds keys to its
    "heketipy" object."""
    kube = bed.description["kube"]
    kubeconfig = directory / "kubeconfig"
    # The testbed's own kubeconfig names the address inside the client namespace; this server
    # runs on the host, where the hook forwards the API to 127.0.0.1.
    write_kubeconfig(kubeconfig, kube["host_api_url"], kube.get("token"), kube["namespace"])
    port = free_port()
    config = {
        "port": str(port),
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {
            "executor": "kubernetes",
            "db": str(directory / "heketi.db"),
            "loglevel": "debug",
            "kubeexec": {"namespace": kube["namespace"], "gluster_daemonset": True},
            "disable_monitor_gluster_nodes": True,
            "disable_background_cleaner": True,
        },
        "heketipy": {"listen": "127.0.0.1", "data_dir": str(directory), **heketipy},
    }
    config_path = directory / "heketi.json"
    config_path.write_text(json.dumps(config, indent=1))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HEKETI_") and key != "KUBERNETES_SERVICE_HOST"
    }
    env["KUBECONFIG"] = str(kubeconfig)
    log_path = directory / "heketi.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.test_e2e_kube", "--config", str(config_path)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )  # fmt: skip
    server = ServerProcess(
        base_url=f"http://127.0.0.1:{port}", process=process, config_path=config_path,
        db_path=directory / "heketi.db", log_path=log_path, env=env,
    )  # fmt: skip
    return _wait_ready(server)


@pytest.fixture(scope="module")
def heketi_over_kube(
    testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    reason = kube_missing(testbed)
    if reason:
        pytest.skip(reason)
    server = start_heketi_over_kube(testbed, tmp_path_factory.mktemp("heketi-kube"))
    try:
        yield server
    finally:
        server.stop()


def test_scenario_over_kubernetes(
    heketi_over_kube: ServerProcess, testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scenario = pytest.importorskip(
        "tests.e2e.scenario", reason="the shared e2e scenario (tests/e2e/scenario.py) is missing"
    )
    timings = Timings("kubernetes")
    try:
        scenario.run_scenario(heketi_over_kube, testbed, timings)
    finally:
        result = timings.as_dict()
        result["commands"] = command_timings(heketi_over_kube.log_path.read_text())
        record_result(result, tmp_path_factory.getbasetemp())


# -- server entry point for the fixture above -----------------------------------------------------


def _build_kube_executor(settings: Any) -> Any:
    from heketipy.executors.kube import KubeRunner
    from heketipy.executors.remote import RemoteExecutor

    kubeexec = settings.glusterfs.kubeexec
    return RemoteExecutor(KubeRunner(kubeexec), kubeexec, name="kubernetes", use_sudo=False)


def _serve() -> int:
    import heketipy.server as server_module
    from tests.e2e import serve  # noqa: F401 - installs the SSH fallback first

    inner = server_module.create_executor

    def create_executor(settings: Any) -> Any:
        if settings.glusterfs.executor != "kubernetes":
            return inner(settings)
        try:
            return inner(settings)
        except RuntimeError as error:
            if "not available" not in str(error):
                raise
        return _build_kube_executor(settings)

    server_module.create_executor = create_executor
    from heketipy.__main__ import main

    return int(main() or 0)


if __name__ == "__main__":
    sys.exit(_serve())
