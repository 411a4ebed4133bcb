"""The Kubernetes pod-exec transport (``heketipy.executors.kube``) against the fake API server.

The fake runs on the test's event loop on 127.0.0.1; its "pods" run commands on this machine,
so the runner's blocking client (in worker threads) talks to it over real WebSockets.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from heketipy.config import GlusterfsSettings, HeketipySettings, KubeExecSettings, Settings
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.kube import KubeRunner, PodRef, exit_code_from_status
from heketipy.executors.remote import RemoteExecutor
from heketipy.kubeapi import namespace as resolve_namespace
from heketipy.wiring import create_executor
from tests.testbed.fake_apiserver import (
    FakeApiServer,
    kube_description,
    kubeconfig_text,
    pods_for_testbed,
)

TOKEN = "test-token"
NAMESPACE = "storage"


def gluster_pod(name: str, **extra: Any) -> dict[str, Any]:
    pod = {"name": name, "namespace": NAMESPACE, "container": "glusterfs"}
    pod.update(extra)
    return pod


DEFAULT_PODS = [
    # Default mode: one pod per node, labelled glusterfs-node=<manage hostname>.
    gluster_pod("glusterfs-a", labels={"glusterfs-node": "node-a"}, node="node-a"),
    gluster_pod("glusterfs-b", labels={"glusterfs-node": "node-b"}, node="node-b"),
]


class FakeCluster:
    def __init__(self, server: FakeApiServer, url: str) -> None:
        self.server = server
        self.url = url
        self.runners: list[KubeRunner] = []

    def runner(self, token: str = TOKEN, **settings: Any) -> KubeRunner:
        settings.setdefault("namespace", NAMESPACE)
        runner = KubeRunner(KubeExecSettings(**settings), api_url=self.url, token=token)
        self.runners.append(runner)
        return runner


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    server = FakeApiServer([dict(pod) for pod in DEFAULT_PODS], token=TOKEN)
    url = await server.start()
    fake = FakeCluster(server, url)
    yield fake
    for runner in fake.runners:
        await runner.close()
    await server.stop()


async def wait_until(condition: Any, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


# -- exec ---------------------------------------------------------------------------------------


async def test_runs_argv_in_the_nodes_pod_and_returns_stdout(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    result = await runner.run("node-b", ["echo", "hello", "world"])
    assert result.ok
    assert result.exit_code == 0
    assert result.stdout == "hello world\n"
    assert result.argv == ("echo", "hello", "world")
    record = cluster.server.execs[-1]
    assert (record.namespace, record.pod, record.container) == (
        NAMESPACE,
        "glusterfs-b",
        "glusterfs",
    )


async def test_non_zero_exit_is_returned_with_stderr(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    script = "echo partial; echo 'vgcreate: device busy' >&2; exit 5"
    result = await runner.run("node-a", ["sh", "-c", script])
    assert not result.ok
    assert result.exit_code == 5
    assert result.stdout == "partial\n"
    assert result.stderr == "vgcreate: device busy\n"


async def test_hostile_words_arrive_as_inert_argv(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    hostile = ["a;touch /tmp/pwned", "$(id)", "`id`", 'it\'s "quoted"', "line\nbreak", "-rf"]
    result = await runner.run("node-a", ["printf", "%s|", *hostile])
    assert result.stdout == "|".join(hostile) + "|"
    assert cluster.server.execs[-1].command[-len(hostile) :] == hostile


async def test_timeout_prefix_wraps_the_command(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    await runner.run("node-a", ["true"], timeout_s=42.5)
    assert cluster.server.execs[-1].command == ["timeout", "43s", "true"]
    plain = cluster.runner(disable_timeout_prefix=True)
    await plain.run("node-a", ["true"], timeout_s=42.5)
    assert cluster.server.execs[-1].command == ["true"]


async def test_gluster_commands_get_the_cli_timeout_by_default(cluster: FakeCluster) -> None:
    runner = cluster.runner(gluster_cli_timeout=900)
    assert runner.timeout_for(["gluster", "--mode=script", "volume", "info"]) == 960
    assert runner.timeout_for(["lvm", "vgs"]) == 600
    # RemoteExecutor's prefixes do not hide the tool.
    assert runner.timeout_for(["env", "LC_ALL=C", "gluster", "volume", "info"]) == 960
    assert runner.timeout_for(["sudo", "-n", "--", "env", "LC_ALL=C", "gluster"]) == 960


async def test_large_output_spanning_many_frames_is_complete(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    code = "import sys; sys.stdout.write('\u00e9' * 200000); sys.stderr.write('x' * 70000)"
    result = await runner.run("node-a", [sys.executable, "-c", code])
    assert result.stdout == "\u00e9" * 200000
    assert result.stderr == "x" * 70000


async def test_missing_executable_is_exit_127_with_the_runtime_message(
    cluster: FakeCluster,
) -> None:
    # Without the prefix the container runtime reports it on the status channel...
    plain = cluster.runner(disable_timeout_prefix=True)
    result = await plain.run("node-a", ["no-such-binary-heketipy"])
    assert result.exit_code == 127
    assert "executable file not found" in result.stderr
    # ... with it, coreutils' timeout does, with the same exit code.
    prefixed = await cluster.runner().run("node-a", ["no-such-binary-heketipy"])
    assert prefixed.exit_code == 127
    assert "no-such-binary-heketipy" in prefixed.stderr


async def test_timeout_in_the_pod_raises_and_names_the_node(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    with pytest.raises(NodeCommandError) as caught:
        await runner.run("node-a", ["sleep", "30"], timeout_s=0.2)
    error = caught.value
    assert error.exit_code is None
    assert error.node == "node-a"
    assert error.argv == ["sleep", "30"]
    assert "timeout" in str(error) and "glusterfs-a" in str(error)


async def test_client_side_timeout_closes_the_stream_and_the_command_dies(
    cluster: FakeCluster,
) -> None:
    runner = cluster.runner(disable_timeout_prefix=True)
    with pytest.raises(NodeCommandError) as caught:
        await runner.run("node-b", ["sleep", "30"], timeout_s=0.3)
    assert caught.value.exit_code is None
    assert "timeout" in str(caught.value)
    record = cluster.server.execs[-1]
    await wait_until(lambda: record.exit_code is not None, "the fake killed the command")


async def test_cancelling_the_caller_stops_the_command(cluster: FakeCluster) -> None:
    runner = cluster.runner(disable_timeout_prefix=True)
    task = asyncio.create_task(runner.run("node-a", ["sleep", "30"], timeout_s=60))
    await wait_until(lambda: cluster.server.active_execs == 1, "the command started")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: cluster.server.active_execs == 0, "the command was stopped")


# -- pod lookup ---------------------------------------------------------------------------------


async def test_missing_pod_raises_with_upstreams_text(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    with pytest.raises(NodeCommandError) as caught:
        await runner.run("node-z", ["true"])
    assert caught.value.exit_code is None
    assert caught.value.node == "node-z"
    assert caught.value.argv == ["true"]
    assert "No pods with the label 'glusterfs-node=node-z' were found" in str(caught.value)
    assert cluster.server.execs == []


async def test_two_pods_with_one_nodes_label_is_an_error(cluster: FakeCluster) -> None:
    cluster.server.pods.append(
        gluster_pod("glusterfs-a2", labels={"glusterfs-node": "node-a"}, node="node-a")
    )
    with pytest.raises(NodeCommandError, match="More than one pod"):
        await cluster.runner().find_pod("node-a")


async def test_daemonset_mode_picks_the_running_pod_on_the_node(cluster: FakeCluster) -> None:
    label = {"glusterfs-node": "pod"}
    cluster.server.pods[:] = [
        gluster_pod("glusterfs-x1", labels=label, node="worker-1"),
        gluster_pod("glusterfs-x2", labels=label, node="worker-2", phase="Pending"),
        gluster_pod("glusterfs-x3", labels=label, node="worker-2"),
        gluster_pod("other", labels={"app": "web"}, node="worker-2"),
    ]
    runner = cluster.runner(gluster_daemonset=True)
    assert await runner.find_pod("worker-2") == PodRef("glusterfs-x3", NAMESPACE, "glusterfs")
    assert (await runner.run("worker-1", ["echo", "ok"])).stdout == "ok\n"
    assert cluster.server.execs[-1].pod == "glusterfs-x1"
    with pytest.raises(NodeCommandError, match="No GlusterFS pod .* on node worker-9"):
        await runner.find_pod("worker-9")


async def test_pod_names_mode_uses_the_host_as_pod_name(cluster: FakeCluster) -> None:
    cluster.server.pods.append(gluster_pod("gfs-0", containers=["glusterfs", "sidecar"]))
    runner = cluster.runner(use_pod_names=True)
    assert await runner.find_pod("gfs-0") == PodRef("gfs-0", NAMESPACE, "glusterfs")
    assert (await runner.run("gfs-0", ["echo", "x"])).stdout == "x\n"
    with pytest.raises(NodeCommandError, match="No pod named gfs-9"):
        await runner.run("gfs-9", ["true"])


async def test_namespace_is_respected(cluster: FakeCluster) -> None:
    runner = cluster.runner(namespace="elsewhere")
    with pytest.raises(NodeCommandError, match="No pods with the label"):
        await runner.find_pod("node-a")


async def test_a_replaced_pod_is_found_again(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    assert (await runner.find_pod("node-a")).name == "glusterfs-a"
    # The daemonset restarted the pod under a new name; the cached one is gone.
    cluster.server.pods[0] = gluster_pod(
        "glusterfs-a-new", labels={"glusterfs-node": "node-a"}, node="node-a"
    )
    result = await runner.run("node-a", ["echo", "again"])
    assert result.stdout == "again\n"
    assert cluster.server.execs[-1].pod == "glusterfs-a-new"


# -- API access ---------------------------------------------------------------------------------


async def test_wrong_token_is_a_transport_failure(cluster: FakeCluster) -> None:
    runner = cluster.runner(token="wrong")
    with pytest.raises(NodeCommandError) as caught:
        await runner.run("node-a", ["true"])
    assert caught.value.exit_code is None
    assert "Unauthorized" in str(caught.value)


async def test_unreachable_api_is_a_transport_failure(tmp_path: Path) -> None:
    runner = KubeRunner(
        KubeExecSettings(namespace=NAMESPACE), api_url="http://127.0.0.1:9", token=TOKEN
    )
    runner._lookup_api.api_client.configuration.retries = 0  # fail fast
    try:
        with pytest.raises(NodeCommandError) as caught:
            await runner.run("node-a", ["true"])
        assert caught.value.exit_code is None
        assert "node-a" in str(caught.value)
    finally:
        await runner.close()


async def test_kubeconfig_file_is_used(cluster: FakeCluster, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{cluster.url}"}}}}]
users: [{{name: heketi, user: {{token: {TOKEN}}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: heketi, namespace: {NAMESPACE}}}}}]
current-context: fake
"""
    )
    runner = KubeRunner(KubeExecSettings(namespace=NAMESPACE), kubeconfig=str(kubeconfig))
    cluster.runners.append(runner)
    assert (await runner.run("node-a", ["echo", "via-kubeconfig"])).stdout == "via-kubeconfig\n"


async def test_concurrency_is_bounded_by_max_connections(cluster: FakeCluster) -> None:
    runner = cluster.runner(max_connections=2)
    results = await asyncio.gather(
        *(runner.run("node-a", ["sh", "-c", f"sleep 0.2; echo {i}"]) for i in range(6))
    )
    assert [result.stdout for result in results] == [f"{i}\n" for i in range(6)]
    assert cluster.server.peak_active_execs <= 2


def configured_runner(
    cluster: FakeCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kubeexec: dict[str, Any] | None = None,
    **heketipy: Any,
) -> KubeRunner:
    """The runner of the kubernetes executor the server builds from heketi.json's settings,
    reaching the fake through a kubeconfig as a deployment outside the cluster would."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(cluster.url, TOKEN, NAMESPACE))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings = Settings(
        auth_enabled=False,
        glusterfs=GlusterfsSettings(
            executor="kubernetes",
            kubeexec=KubeExecSettings(namespace=NAMESPACE, **(kubeexec or {})),
        ),
        heketipy=HeketipySettings.model_validate(heketipy),
    )
    executor = create_executor(settings)
    assert isinstance(executor, RemoteExecutor) and isinstance(executor.runner, KubeRunner)
    cluster.runners.append(executor.runner)
    return executor.runner


async def test_node_command_concurrency_bounds_one_node_and_not_the_others(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = configured_runner(cluster, tmp_path, monkeypatch, node_command_concurrency=2)
    release = tmp_path / "release"
    hold = ["sh", "-c", 'while [ ! -e "$1" ]; do sleep 0.02; done', "hold", str(release)]
    pod_a = f"{NAMESPACE}/glusterfs-a"
    try:
        held = [asyncio.create_task(runner.run("node-a", hold)) for _ in range(5)]
        await wait_until(lambda: cluster.server.active_execs_in[pod_a] == 2, "two run on node-a")
        # node-a's other three wait for a slot; node-b's command runs meanwhile.
        other = await runner.run("node-b", ["echo", "other node"])
        assert other.stdout == "other node\n"
        assert cluster.server.active_execs_in[pod_a] == 2
        assert [record.pod for record in cluster.server.execs].count("glusterfs-a") == 2
    finally:
        release.touch()
    results = await asyncio.gather(*held)
    assert [result.exit_code for result in results] == [0] * 5
    assert cluster.server.peak_active_execs_in[pod_a] == 2


async def test_per_node_and_global_bounds_together_do_not_deadlock(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fewer connections (3) than two nodes' slots (2 + 2): a command waits for its node's slot
    # before it takes a connection, so every command still gets both.
    runner = configured_runner(
        cluster, tmp_path, monkeypatch, {"max_connections": 3}, node_command_concurrency=2
    )
    results = await asyncio.gather(*(
        runner.run(node, ["sh", "-c", f"sleep 0.05; echo {node} {i}"])
        for i in range(4) for node in ("node-a", "node-b")
    ))  # fmt: skip
    assert sorted(result.stdout for result in results) == sorted(
        f"{node} {i}\n" for i in range(4) for node in ("node-a", "node-b")
    )
    assert cluster.server.peak_active_execs <= 3
    assert max(cluster.server.peak_active_execs_in.values()) <= 2


@pytest.mark.parametrize("disable_timeout_prefix", [False, True])
async def test_node_command_timeout_setting_ends_a_hung_command(
    cluster: FakeCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    disable_timeout_prefix: bool,
) -> None:
    # Without the prefix nothing in the pod ends the command: the client gives up on its own.
    runner = configured_runner(
        cluster,
        tmp_path,
        monkeypatch,
        {"disable_timeout_prefix": disable_timeout_prefix},
        node_command_timeout_s=0.5,
    )
    with pytest.raises(NodeCommandError) as caught:
        await runner.run("node-a", ["sleep", "30"])
    error = caught.value
    assert (error.node, error.argv, error.exit_code) == ("node-a", ["sleep", "30"], None)
    assert "Kubernetes exec timeout after 0.5s" in str(error)
    # gluster CLI commands keep their own, longer bound.
    assert runner.timeout_for(["gluster", "volume", "info"]) == 660


async def test_closed_runner_refuses_commands(cluster: FakeCluster) -> None:
    runner = cluster.runner()
    await runner.close()
    with pytest.raises(NodeCommandError, match="closed"):
        await runner.run("node-a", ["true"])


# -- pure helpers -------------------------------------------------------------------------------


def test_namespace_comes_from_the_service_account_file(tmp_path: Path) -> None:
    namespace_file = tmp_path / "namespace"
    namespace_file.write_text("glusterfs\n")
    assert resolve_namespace("", str(namespace_file)) == "glusterfs"
    assert resolve_namespace("configured", str(namespace_file)) == "configured"
    namespace_file.write_text("  \n")
    assert resolve_namespace("", str(namespace_file)) == "default"
    with pytest.raises(RuntimeError, match="kubeexec.namespace"):
        resolve_namespace("", str(tmp_path / "missing"))
    assert resolve_namespace("", str(tmp_path / "missing"), fallback="default") == "default"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"metadata":{},"status":"Success"}', (0, "")),
        (
            b'{"status":"Failure","message":"exit code 3","reason":"NonZeroExitCode",'
            b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
            (3, "exit code 3"),
        ),
        (
            b'{"status":"Failure","message":"exec: \\"x\\": executable file not found",'
            b'"reason":"InternalError"}',
            (127, 'exec: "x": executable file not found'),
        ),
        (b'{"status":"Failure","message":"container not running"}', (1, "container not running")),
        (b"", (None, "")),
    ],
)
def test_exit_code_from_status(raw: bytes, expected: tuple[int | None, str]) -> None:
    assert exit_code_from_status(raw) == expected


# -- testbed integration of the fake ----------------------------------------------------------


def test_testbed_pods_enter_each_nodes_namespaces(tmp_path: Path) -> None:
    (tmp_path / "n2").mkdir()
    (tmp_path / "n2" / "holder.pid").write_text("4242\n")
    testbed = {
        "nodes": [
            {"name": "node1", "manage": "10.99.0.1", "storage": "10.99.0.1", "holder_pid": 17},
            {"name": "node2", "manage": ["10.99.0.2"], "storage": "10.99.0.2"},
            {"hostname": "node3", "exec_prefix": ["ip", "netns", "exec", "n3"]},
        ]
    }
    pods = pods_for_testbed(testbed, tmp_path)
    assert [pod["name"] for pod in pods] == [
        "glusterfs-node1",
        "glusterfs-node2",
        "glusterfs-node3",
    ]
    assert [pod["node"] for pod in pods] == ["10.99.0.1", "10.99.0.2", "node3"]
    assert pods[0]["exec_prefix"] == ["nsenter", "-t", "17", "-m", "-n", "-u", "--"]
    assert pods[1]["exec_prefix"][:3] == ["nsenter", "-t", "4242"]
    assert pods[2]["exec_prefix"] == ["ip", "netns", "exec", "n3"]
    assert all(pod["labels"]["glusterfs-node"] == "pod" for pod in pods)


async def test_testbed_kube_description_reaches_the_pods(tmp_path: Path) -> None:
    nodes = {"nodes": [{"name": "node1", "manage": "node-one", "exec_prefix": ["env"]}]}
    server = FakeApiServer(pods_for_testbed(nodes), token=TOKEN)
    url = await server.start()
    try:
        kube = kube_description(server, url, tmp_path / "kubeconfig")
        assert kube["pods"] == {"node-one": "glusterfs-node1"}
        runner = KubeRunner(
            KubeExecSettings(namespace=kube["namespace"], gluster_daemonset=True),
            kubeconfig=kube["kubeconfig"],
        )
        try:
            result = await runner.run("node-one", ["echo", "in-pod"])
        finally:
            await runner.close()
        assert result.stdout == "in-pod\n"
        assert server.execs[-1].pod == "glusterfs-node1"
    finally:
        await server.stop()


async def test_each_command_is_logged_by_runner_log_command(
    cluster: FakeCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The debug line is runner's ``node command`` event (its fields reach the JSON log), and
    the e2e timing parser reads its text form."""
    import logging

    from heketipy import logctx
    from tests.e2e.testbed import command_timings

    caplog.set_level(logging.DEBUG, logger="heketipy.executors.commands")
    await cluster.runner().run("node-b", ["echo", "two words"])
    [record] = [r for r in caplog.records if r.getMessage().startswith("node command ")]
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["node"], fields["argv"], fields["exit"]) == ("node-b", ["echo", "two words"], 0)
    assert isinstance(fields["ms"], float)
    logctx.OperationFilter().filter(record)
    text = logging.Formatter(logctx.FORMAT).format(record)
    assert command_timings(text)["echo"]["count"] == 1
