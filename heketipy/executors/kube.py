"""The Kubernetes transport: a ``CommandRunner`` that runs argv lists in GlusterFS pods.

Owns the way a command reaches a node through the Kubernetes API; ``RemoteExecutor`` decides
*what* runs. Behaviour (internals 3.3, with upstream's weaknesses fixed):

* Credentials: ``heketipy.kubeapi`` (shared with the database backup): an explicit API URL
  and bearer token (tests), else the in-cluster service account when
  ``KUBERNETES_SERVICE_HOST`` is set, else a kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``).
* Namespace: ``kubeexec.namespace``, else the service account's namespace file (trimmed;
  empty means ``default``; unreadable is an error at start-up).
* Pod of a node, by manage hostname: ``use_pod_names`` -> the host *is* the pod name;
  ``gluster_daemonset`` -> a pod labelled ``glusterfs-node`` whose ``spec.nodeName`` is the host
  (a running one preferred, the last listed wins); otherwise exactly one pod labelled
  ``glusterfs-node=<host>``. Lookups are cached per host and redone when an exec cannot be
  opened (the pod was replaced); the command runs in the pod's first container.
* Exec over the WebSocket channel protocol with ``_preload_content=False``: stdout and stderr
  are read from their channels, the exit code from the ``Status`` JSON on the error channel.
  The argv is passed as a list, never through a shell. ``kubernetes.stream`` patches the
  ``ApiClient`` it is given while a call runs, so exec uses one dedicated ``ApiClient`` per
  worker thread and never the one used for pod lookups.
* The client is blocking: calls run in a thread pool of ``max_connections`` workers (negative:
  unlimited), and an ``asyncio.Semaphore`` of the same size queues callers instead of failing
  them as upstream does ("Too many kube exec connections active"). Per node, at most
  ``heketipy.node_command_concurrency`` commands run at once (a semaphore per node, taken
  before the global one: a command never waits for its node while it holds a connection, so
  the two cannot deadlock, and a busy node does not take the connections other nodes need).
* Per-command timeout (``heketipy.node_command_timeout_s``; gluster CLI commands get
  ``gluster_cli_timeout`` plus a minute if that is longer): unless ``disable_timeout_prefix``, the pod runs ``timeout <N>s argv``
  and exit code 124 is reported as a timeout; the client itself gives up ``CLIENT_GRACE_S``
  later (at the timeout itself without the prefix) and closes the stream.
* A non-zero exit is returned as a ``CommandResult``; transport failures (API unreachable, no
  pod, stream lost, timeout) raise ``NodeCommandError`` with ``exit_code=None`` naming the node,
  the pod and the argv.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

try:
    from kubernetes import client as kube_client
    from kubernetes.client.rest import ApiException
    from kubernetes.stream import stream as kube_stream
except ModuleNotFoundError as exc:  # the optional extra is missing: say which one
    raise ModuleNotFoundError(
        "the kubernetes executor needs the kubernetes client: pip install 'heketipy[kube]'",
        name=exc.name,
    ) from exc

from heketipy import kubeapi
from heketipy.config import (
    DEFAULT_NODE_COMMAND_CONCURRENCY,
    DEFAULT_NODE_COMMAND_TIMEOUT_S,
    KubeExecSettings,
)
from heketipy.domain.errors import NodeCommandError
from heketipy.executors.commands_common import unwrap
from heketipy.executors.runner import CommandResult, NodeSlots, log_command

log = logging.getLogger("heketipy.executors.kube")

SERVICE_ACCOUNT_NAMESPACE_FILE = kubeapi.NAMESPACE_FILE
GLUSTER_POD_LABEL = "glusterfs-node"
# A negative max_connections means "unlimited"; threads are still needed, so cap it high.
UNLIMITED_CONNECTIONS = 1024
TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` exits with when it killed the command
CLIENT_GRACE_S = 30.0
API_REQUEST_TIMEOUT_S = 30.0
# How often a waiting exec thread looks at its deadline and at cancellation.
POLL_SLICE_S = 0.2
STDOUT_CHANNEL, STDERR_CHANNEL, STATUS_CHANNEL = 1, 2, 3


@dataclass(frozen=True)
class PodRef:
    """Where a node's commands run."""

    name: str
    namespace: str
    container: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class _ExecTimeout(Exception):
    pass


class _ExecCancelled(Exception):
    pass




def exit_code_from_status(raw: bytes) -> tuple[int | None, str]:
    """The exit code and message carried by the exec error channel's ``Status`` JSON.

    ``None`` when the stream ended without a status (the connection was lost). A failure
    without an ``ExitCode`` cause means the command never started: 127 when the executable
    was not found (as a shell reports it), 1 otherwise (upstream's fallback).
    """
    if not raw.strip():
        return None, ""
    try:
        status = json.loads(raw)
    except ValueError:
        return None, raw.decode("utf-8", "replace")
    if status.get("status") == "Success":
        return 0, ""
    message = str(status.get("message", ""))
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", "")), message
            except ValueError:
                break
    return (127 if "not found" in message else 1), message


def _close_stream(ws: Any) -> None:
    """Drop the exec connection now; the API server then ends the command if it still runs.

    ``WSClient.close`` would wait up to 3 s for the peer's close frame, and leaves the socket
    open when the peer closed first (websocket-client returns early then).
    """
    socket = getattr(ws, "sock", None)
    if socket is not None:
        socket.shutdown()


def _pod_is_running(pod: Any) -> bool:
    return getattr(pod.status, "phase", None) == "Running"


def _pod_name(pod: Any) -> str:
    # The API server always names the pods it lists; the client models type it optional.
    return str(pod.metadata.name) if pod.metadata is not None else ""


def _first_container(pod: Any) -> str:
    containers = pod.spec.containers or []
    return str(containers[0].name) if containers else ""


class KubeRunner:
    """``CommandRunner`` over Kubernetes pod exec; see the module docstring."""

    def __init__(
        self,
        settings: KubeExecSettings | None = None,
        *,
        api_url: str | None = None,
        token: str | None = None,
        kubeconfig: str | None = None,
        namespace_file: str = SERVICE_ACCOUNT_NAMESPACE_FILE,
        node_command_concurrency: int = DEFAULT_NODE_COMMAND_CONCURRENCY,
        default_timeout_s: float = DEFAULT_NODE_COMMAND_TIMEOUT_S,
        client_grace_s: float = CLIENT_GRACE_S,
    ) -> None:
        settings = settings if settings is not None else KubeExecSettings()
        self.namespace = kubeapi.namespace(settings.namespace, namespace_file)
        self.use_pod_names = settings.use_pod_names
        self.gluster_daemonset = settings.gluster_daemonset
        self.timeout_prefix = not settings.disable_timeout_prefix
        self.gluster_cli_timeout_s = settings.gluster_cli_timeout
        limit = settings.max_connections_limit
        self.max_connections = UNLIMITED_CONNECTIONS if limit is None else limit
        self.node_command_concurrency = node_command_concurrency
        self.default_timeout_s = default_timeout_s
        self.client_grace_s = client_grace_s
        self._configuration = kubeapi.configuration(
            api_url=api_url, token=token, kubeconfig=kubeconfig
        )
        self._lookup_api = kube_client.CoreV1Api(kubeapi.api_client(self._configuration))
        self._exec_clients: list[kube_client.ApiClient] = []
        self._thread_state = threading.local()
        self._lock = threading.Lock()
        self._pods: dict[str, PodRef] = {}
        self._pool = ThreadPoolExecutor(self.max_connections, thread_name_prefix="kube-exec")
        self._slots: asyncio.Semaphore | None = None
        self._node_slots = NodeSlots(node_command_concurrency)
        self._active: set[threading.Event] = set()
        self._closed = False

    # -- public API -----------------------------------------------------------------------------

    def timeout_for(self, argv: Sequence[str]) -> float:
        """Default per-command timeout: gluster CLI gets its own timeout plus a minute."""
        tool = unwrap(argv)  # RemoteExecutor's "sudo -n --" and "env LC_ALL=C" come first
        if tool and os.path.basename(tool[0]) == "gluster":
            return float(max(self.default_timeout_s, self.gluster_cli_timeout_s + 60))
        return self.default_timeout_s

    def pod_command(self, argv: Sequence[str], timeout_s: float) -> list[str]:
        """What the pod is asked to run for ``argv`` (exposed for tests and logs)."""
        if not self.timeout_prefix:
            return list(argv)
        return ["timeout", f"{max(1, math.ceil(timeout_s))}s", *argv]

    async def find_pod(self, host: str) -> PodRef:
        """The pod that runs ``host``'s commands (cached)."""
        return await self._in_thread(self._pod_for, host, ("<pod lookup>",))

    async def run(
        self, host: str, argv: Sequence[str], *, timeout_s: float | None = None
    ) -> CommandResult:
        argv = tuple(str(word) for word in argv)
        if not argv:
            raise ValueError("empty argv")
        if self._closed:
            raise NodeCommandError(host, argv, None, "Kubernetes runner is closed")
        limit = self.timeout_for(argv) if timeout_s is None else float(timeout_s)
        client_limit = limit + (self.client_grace_s if self.timeout_prefix else 0.0)
        # The node's slot first, then a connection (see the module docstring).
        async with self._node_slots(host), self._slot():
            cancelled = threading.Event()
            self._active.add(cancelled)
            started = time.monotonic()
            try:
                # The thread keeps its own deadline; this outer bound only covers a stream that
                # hangs before the thread can look at it (e.g. a stuck WebSocket handshake).
                result = await asyncio.wait_for(
                    self._in_thread(self._run_blocking, host, argv, limit, client_limit, cancelled),
                    timeout=client_limit + API_REQUEST_TIMEOUT_S,
                )
            except TimeoutError:  # logged, like every failure, by RemoteExecutor
                raise NodeCommandError(
                    host, argv, None, f"Kubernetes exec timeout after {limit:g}s"
                ) from None
            finally:
                cancelled.set()  # stops the thread if the caller was cancelled or gave up
                self._active.discard(cancelled)
        log_command(host, argv, result.exit_code, (time.monotonic() - started) * 1000)
        return result

    async def close(self) -> None:
        self._closed = True
        for cancelled in list(self._active):
            cancelled.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            clients = [self._lookup_api.api_client, *self._exec_clients]
            self._exec_clients.clear()
        for api_client in clients:
            api_client.close()

    # -- internals: async side ------------------------------------------------------------------

    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:  # created lazily: it must belong to the running loop
            self._slots = asyncio.Semaphore(self.max_connections)
        return self._slots

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    # -- internals: worker threads --------------------------------------------------------------

    def _run_blocking(
        self,
        host: str,
        argv: tuple[str, ...],
        limit_s: float,
        client_limit_s: float,
        cancelled: threading.Event,
    ) -> CommandResult:
        deadline = time.monotonic() + client_limit_s
        command = self.pod_command(argv, limit_s)
        pod = self._pod_for(host, argv)
        try:
            ws = self._open_stream(pod, command)
        except Exception as first_error:  # the handshake failed: nothing ran
            # The cached pod may have been replaced (daemonset restart): look it up again once.
            self._forget_pod(host)
            fresh = self._pod_for(host, argv)
            if fresh == pod:
                raise self._stream_error(host, pod, argv, first_error) from None
            pod = fresh
            try:
                ws = self._open_stream(pod, command)
            except Exception as second_error:
                raise self._stream_error(host, pod, argv, second_error) from None
        try:
            stdout, stderr, status = self._collect(ws, deadline, cancelled)
        except _ExecTimeout:
            raise NodeCommandError(
                host,
                argv,
                None,
                "",
                text=f"Kubernetes exec timeout after {limit_s:g}s on {host} (pod {pod})",
            ) from None
        except _ExecCancelled:
            raise NodeCommandError(host, argv, None, "", text="Kubernetes exec cancelled") from None
        except Exception as exc:  # a lost stream is a transport failure
            raise self._stream_error(host, pod, argv, exc) from None
        finally:
            _close_stream(ws)
        exit_code, message = exit_code_from_status(status)
        stderr_text = stderr.decode("utf-8", "replace")
        if exit_code is None:
            raise NodeCommandError(
                host,
                argv,
                None,
                stderr_text,
                text=f"Unable to execute command on {host} (pod {pod}): the exec stream "
                f"closed without an exit status{': ' + message if message else ''}",
            )
        if self.timeout_prefix and exit_code == TIMEOUT_EXIT_CODE:
            raise NodeCommandError(
                host,
                argv,
                None,
                stderr_text,
                text=f"Kubernetes exec timeout after {limit_s:g}s on {host} (pod {pod})",
            )
        if message and not stderr_text.strip() and exit_code != 0:
            stderr_text = message  # e.g. the container runtime's "executable file not found"
        return CommandResult(
            argv=argv,
            exit_code=exit_code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr_text,
        )

    def _open_stream(self, pod: PodRef, command: list[str]) -> Any:
        return kube_stream(
            self._exec_api().connect_get_namespaced_pod_exec,
            pod.name,
            pod.namespace,
            command=command,
            container=pod.container or None,
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            binary=True,  # decode once at the end: a UTF-8 character may span two frames
            _preload_content=False,
        )

    @staticmethod
    def _collect(
        ws: Any, deadline: float, cancelled: threading.Event
    ) -> tuple[bytes, bytes, bytes]:
        buffers = {
            STDOUT_CHANNEL: bytearray(),
            STDERR_CHANNEL: bytearray(),
            STATUS_CHANNEL: bytearray(),
        }

        def drain() -> None:
            for channel, buffer in buffers.items():
                data = ws.read_channel(channel, timeout=0)
                if data:
                    buffer.extend(data if isinstance(data, bytes) else data.encode())

        while ws.is_open():
            if cancelled.is_set():
                raise _ExecCancelled
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _ExecTimeout
            ws.update(timeout=min(remaining, POLL_SLICE_S))
            drain()
        drain()
        return (
            bytes(buffers[STDOUT_CHANNEL]),
            bytes(buffers[STDERR_CHANNEL]),
            bytes(buffers[STATUS_CHANNEL]),
        )

    def _exec_api(self) -> kube_client.CoreV1Api:
        """This thread's exec-only API object (``stream`` patches its ApiClient per call)."""
        api = getattr(self._thread_state, "exec_api", None)
        if api is None:
            api_client = kubeapi.api_client(self._configuration)
            with self._lock:
                self._exec_clients.append(api_client)
            api = self._thread_state.exec_api = kube_client.CoreV1Api(api_client)
        return api

    def _stream_error(
        self, host: str, pod: PodRef, argv: Sequence[str], exc: Exception
    ) -> NodeCommandError:
        return NodeCommandError(
            host,
            argv,
            None,
            "",
            text=f"Unable to execute command on {host} (pod {pod}): {kubeapi.error_text(exc)}",
        )

    # -- pod lookup (worker threads) ------------------------------------------------------------

    def _forget_pod(self, host: str) -> None:
        with self._lock:
            self._pods.pop(host, None)

    def _pod_for(self, host: str, argv: Sequence[str]) -> PodRef:
        with self._lock:
            cached = self._pods.get(host)
        if cached is not None:
            return cached
        try:
            pod = self._lookup_pod(host)
        except NodeCommandError as exc:
            raise NodeCommandError(host, argv, None, "", text=str(exc)) from None
        except Exception as exc:  # API unreachable, auth, ... : transport failure
            raise NodeCommandError(
                host,
                argv,
                None,
                "",
                text=f"Unable to find the GlusterFS pod of {host} in namespace "
                f"{self.namespace}: {kubeapi.error_text(exc)}",
            ) from None
        with self._lock:
            self._pods[host] = pod
        log.info("kube host=%s uses pod %s container=%s", host, pod, pod.container)
        return pod

    def _lookup_pod(self, host: str) -> PodRef:
        api = self._lookup_api
        if self.use_pod_names:
            try:
                pod = api.read_namespaced_pod(
                    host, self.namespace, _request_timeout=API_REQUEST_TIMEOUT_S
                )
            except ApiException as exc:
                if exc.status == 404:
                    raise self._no_pod(
                        host, f"No pod named {host} in namespace {self.namespace}"
                    ) from None
                raise
            return PodRef(host, self.namespace, _first_container(pod))
        if self.gluster_daemonset:
            pods = api.list_namespaced_pod(
                self.namespace,
                label_selector=GLUSTER_POD_LABEL,
                _request_timeout=API_REQUEST_TIMEOUT_S,
            ).items
            on_node = [pod for pod in pods if pod.spec is not None and pod.spec.node_name == host]
            running = [pod for pod in on_node if _pod_is_running(pod)]
            candidates = running or on_node
            if not candidates:
                raise self._no_pod(
                    host,
                    f"No GlusterFS pod (label {GLUSTER_POD_LABEL}) on node {host} "
                    f"in namespace {self.namespace}",
                )
            chosen = candidates[-1]
        else:
            pods = api.list_namespaced_pod(
                self.namespace,
                label_selector=f"{GLUSTER_POD_LABEL}=={host}",
                _request_timeout=API_REQUEST_TIMEOUT_S,
            ).items
            if not pods:
                raise self._no_pod(
                    host, f"No pods with the label '{GLUSTER_POD_LABEL}={host}' were found"
                )
            if len(pods) > 1:
                names = ", ".join(sorted(_pod_name(pod) for pod in pods))
                raise self._no_pod(
                    host, f"More than one pod with the label '{GLUSTER_POD_LABEL}={host}': {names}"
                )
            chosen = pods[0]
        # Listed in self.namespace, so that is the pod's namespace.
        return PodRef(_pod_name(chosen), self.namespace, _first_container(chosen))

    @staticmethod
    def _no_pod(host: str, text: str) -> NodeCommandError:
        return NodeCommandError(host, (), None, "", text=text)
