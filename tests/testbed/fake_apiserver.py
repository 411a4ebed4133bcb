#!/usr/bin/env python3
"""A minimal fake Kubernetes API server for the pod-exec transport (tests only).

Serves just enough of core/v1 for ``heketipy.executors.kube``:

* ``GET /api/v1/namespaces/{ns}/pods`` and ``GET /api/v1/pods`` with ``labelSelector`` and
  ``fieldSelector`` (equality, inequality, existence and simple set-based terms);
* ``GET /api/v1/namespaces/{ns}/pods/{name}``;
* ``GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec`` over WebSocket with the channel
  subprotocols (``v5.channel.k8s.io``, ``v4.channel.k8s.io``, ``channel.k8s.io``): every
  frame is one channel byte then the payload (0 stdin, 1 stdout, 2 stderr, 3 the final
  ``Status`` JSON, 4 resize; v5 adds client->server ``[255, ch]`` "close channel ch").

Commands run on this machine as subprocesses, prefixed by the pod's ``exec_prefix`` (the
testbed uses ``nsenter -t <pid> -m -n -u --`` so that a "pod" is a node's namespaces). When the
client goes away first, the command's whole process group is killed, as the kubelet would.

Pods come from a JSON list (``--pods FILE``) of objects::

    {"name": "glusterfs-node1", "namespace": "default", "labels": {"glusterfs-node": "pod"},
     "node": "node1", "host_ip": "10.99.0.1", "pod_ip": "10.99.0.1",
     "container": "glusterfs", "phase": "Running", "exec_prefix": [...],
     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}

(``volumes``, optional, is served as ``spec.volumes``: the claims a pod holds, read by
``fake_storage.FakeStorage``, the PV/PVC/StorageClass/ConfigMap extension.)

It also serves ``coordination.k8s.io/v1`` Leases (``FakeLeases``, for ``heketipy.ha.lease``):
list/create/read/replace/delete with a resourceVersion that changes on every write and the API
server's 409 Conflict on a stale one; tests can hold writes back to force a race. And it can play
an unreachable API server (``cut``/``restore``): requests are refused (the connection is dropped
unanswered) or hang, for every client or only those with a given User-Agent (a partition).

Optional bearer token check (``--token``). Listens on loopback, no TLS, no authorisation.
In-process use: ``FakeApiServer(pods).start()`` inside a running event loop.

Testbed use (``--testbed-json FILE``, see ``kube_hook.sh``): one pod per testbed node, labelled
``glusterfs-node=pod`` with ``spec.nodeName`` = the node's manage hostname, whose commands run
in the node's namespaces. Once listening it writes ``--kubeconfig`` and the testbed's ``kube``
description (``--kube-json``: ``api_url``, ``token``, ``namespace``, ``kubeconfig``, ``pid``,
``pods``: manage host -> pod name).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiohttp import WSMsgType, web

log = logging.getLogger("fake-apiserver")

SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
CH_STDIN, CH_STDOUT, CH_STDERR, CH_ERROR, CH_RESIZE, CH_CLOSE = 0, 1, 2, 3, 4, 255
DEFAULT_CONTAINER = "glusterfs"
IMAGE = "gluster/gluster-centos:latest"

Pod = dict[str, Any]


def status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _error(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(status_object(code, reason, message), status=code)


def pod_manifest(pod: Pod) -> dict[str, Any]:
    containers = pod.get("containers") or [pod.get("container", DEFAULT_CONTAINER)]
    running = pod.get("phase", "Running") == "Running"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": pod["name"],
            "namespace": pod.get("namespace", "default"),
            "uid": pod.setdefault("uid", str(uuid.uuid4())),
            "labels": pod.get("labels", {}),
            "resourceVersion": "1",
        },
        "spec": {
            "nodeName": pod.get("node", ""),
            "containers": [{"name": name, "image": IMAGE} for name in containers],
            "volumes": pod.get("volumes", []),
        },
        "status": {
            "phase": pod.get("phase", "Running"),
            "hostIP": pod.get("host_ip", "127.0.0.1"),
            "podIP": pod.get("pod_ip", "127.0.0.1"),
            "conditions": [{"type": "Ready", "status": "True" if running else "False"}],
            "containerStatuses": [
                {
                    "name": name,
                    "ready": running,
                    "restartCount": 0,
                    "image": IMAGE,
                    "imageID": "sha256:0",
                    "started": running,
                    "state": {"running": {}} if running else {"waiting": {}},
                }
                for name in containers
            ],
        },
    }


def _split_selector(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses (``a in (x,y),b``)."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def match_labels(labels: dict[str, str], selector: str) -> bool:
    """Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``;
    a comma means AND."""
    for term in _split_selector(selector or ""):
        if " notin " in term or " in " in term:
            negated = " notin " in term
            key, values = term.split(" notin " if negated else " in ", 1)
            wanted = {value.strip() for value in values.strip().strip("()").split(",")}
            if (labels.get(key.strip()) in wanted) == negated:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def match_fields(manifest: dict[str, Any], selector: str) -> bool:
    flat = {
        "metadata.name": manifest["metadata"]["name"],
        "metadata.namespace": manifest["metadata"]["namespace"],
        "spec.nodeName": manifest["spec"]["nodeName"],
        "status.phase": manifest["status"]["phase"],
        "status.podIP": manifest["status"]["podIP"],
    }
    for term in _split_selector(selector or ""):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if flat.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if flat.get(key) != value:
                return False
    return True


# --- coordination.k8s.io/v1 Leases ---------------------------------------------------------------

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
# metav1.MicroTime: RFC 3339 with exactly six fractional digits.
MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")


def _micro_time(text: str) -> str:
    """``text`` as the API server stores a MicroTime (UTC, ``Z``); ValueError if malformed."""
    if not isinstance(text, str) or not MICRO_TIME.fullmatch(text):
        raise ValueError(f"{text!r} is not a MicroTime (RFC 3339 with microseconds)")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaseRequest:
    """One Lease request as the fake answered it (tests count polls, writes and conflicts)."""

    method: str
    name: str
    user_agent: str
    status: int
    sent_version: str | None  # metadata.resourceVersion of a written body
    version: str | None  # the Lease's resourceVersion in the answer


class FakeLeases:
    """Leases in memory, with the API server's optimistic concurrency.

    ``hold_writes(n)`` makes the next lease writes wait until ``n`` of them are pending and then
    lets them all through, so ``n`` clients that read the same resourceVersion all write it.
    """

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[LeaseRequest] = []
        self._versions = itertools.count(1)
        self._gate: asyncio.Event | None = None
        self._gate_size = 0
        self._gate_pending = 0

    # -- helpers for tests ------------------------------------------------------------------
    def spec(self, namespace: str, name: str) -> dict[str, Any] | None:
        lease = self.leases.get((namespace, name))
        return dict(lease["spec"]) if lease is not None else None

    def put(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Write a Lease directly (another party's write): a new resourceVersion."""
        return self._store(namespace, name, {"metadata": {"name": name}, "spec": spec})

    def count(
        self, method: str | None = None, *, user_agent: str | None = None, status: int | None = None
    ) -> int:
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method)
            and (user_agent is None or request.user_agent == user_agent)
            and (status is None or request.status == status)
        )

    def hold_writes(self, count: int) -> None:
        self._gate, self._gate_size, self._gate_pending = asyncio.Event(), count, 0

    async def _pass_gate(self) -> None:
        gate = self._gate
        if gate is None:
            return
        self._gate_pending += 1
        if self._gate_pending >= self._gate_size:
            self._gate = None
            gate.set()
        await gate.wait()

    # -- request handling -------------------------------------------------------------------
    def _answer(
        self,
        request: web.Request,
        name: str,
        status: int,
        body: dict[str, Any],
        sent: dict[str, Any] | None = None,
    ) -> web.Response:
        version = (body.get("metadata") or {}).get("resourceVersion") if status < 300 else None
        sent_version = ((sent or {}).get("metadata") or {}).get("resourceVersion")
        self.requests.append(
            LeaseRequest(
                request.method,
                name,
                request.headers.get("User-Agent", ""),
                status,
                sent_version,
                version,
            )
        )
        return web.json_response(body, status=status)

    def _fail(
        self,
        request: web.Request,
        name: str,
        code: int,
        reason: str,
        message: str,
        sent: dict[str, Any] | None = None,
    ) -> web.Response:
        return self._answer(request, name, code, status_object(code, reason, message), sent)

    @staticmethod
    def _invalid(body: Any, name: str) -> str | None:
        if not isinstance(body, dict) or body.get("kind", "Lease") != "Lease":
            return "the body must be a Lease"
        if (body.get("metadata") or {}).get("name", name) != name:
            return "the name of the object does not match the name on the URL"
        spec = body.get("spec") or {}
        for key in ("leaseDurationSeconds", "leaseTransitions"):
            value = spec.get(key)
            if value is not None and (
                not isinstance(value, int) or value < (key == "leaseDurationSeconds")
            ):
                return f"spec.{key}: Invalid value: {value!r}"
        for key in ("acquireTime", "renewTime"):
            if spec.get(key) is not None:
                try:
                    _micro_time(spec[key])
                except ValueError as exc:
                    return f"spec.{key}: {exc}"
        return None

    def _store(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        previous = self.leases.get((namespace, name))
        spec = {
            key: value
            for key, value in (body.get("spec") or {}).items()
            if value is not None and value != ""
        }
        for key in ("acquireTime", "renewTime"):
            if key in spec:
                spec[key] = _micro_time(spec[key])
        metadata = dict(body.get("metadata") or {})
        metadata.update(
            name=name,
            namespace=namespace,
            resourceVersion=str(next(self._versions)),
            uid=previous["metadata"]["uid"] if previous else str(uuid.uuid4()),
        )
        lease = {
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": metadata,
            "spec": spec,
        }
        self.leases[(namespace, name)] = lease
        return lease

    async def _body(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def list(self, request: web.Request) -> web.Response:
        ns = request.match_info["ns"]
        items = [lease for (n, _), lease in sorted(self.leases.items()) if n == ns]
        version = str(max((int(i["metadata"]["resourceVersion"]) for i in items), default=0))
        return self._answer(
            request,
            "",
            200,
            {
                "kind": "LeaseList",
                "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    async def create(self, request: web.Request) -> web.Response:
        ns, body = request.match_info["ns"], await self._body(request)
        name = (
            str(((body or {}).get("metadata") or {}).get("name", ""))
            if isinstance(body, dict)
            else ""
        )
        await self._pass_gate()
        if not name:
            return self._fail(request, name, 422, "Invalid", "metadata.name: Required value", body)
        if (problem := self._invalid(body, name)) is not None:
            return self._fail(
                request, name, 422, "Invalid", f'Lease "{name}" is invalid: {problem}', body
            )
        if (ns, name) in self.leases:
            return self._fail(
                request,
                name,
                409,
                "AlreadyExists",
                f'leases.coordination.k8s.io "{name}" already exists',
                body,
            )
        return self._answer(request, name, 201, self._store(ns, name, body), body)

    async def get(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        lease = self.leases.get((ns, name))
        if lease is None:
            return self._fail(
                request, name, 404, "NotFound", f'leases.coordination.k8s.io "{name}" not found'
            )
        return self._answer(request, name, 200, lease)

    async def replace(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        body = await self._body(request)
        await self._pass_gate()
        if (problem := self._invalid(body, name)) is not None:
            return self._fail(
                request, name, 422, "Invalid", f'Lease "{name}" is invalid: {problem}', body
            )
        current = self.leases.get((ns, name))
        if current is None:
            return self._fail(
                request,
                name,
                404,
                "NotFound",
                f'leases.coordination.k8s.io "{name}" not found',
                body,
            )
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            return self._fail(
                request,
                name,
                409,
                "Conflict",
                f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the '
                "object has been modified; please apply your changes to the latest version "
                "and try again",
                body,
            )
        return self._answer(request, name, 200, self._store(ns, name, body), body)

    async def delete(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        await self._pass_gate()
        if self.leases.pop((ns, name), None) is None:
            return self._fail(
                request, name, 404, "NotFound", f'leases.coordination.k8s.io "{name}" not found'
            )
        return self._answer(
            request,
            name,
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": "coordination.k8s.io", "kind": "leases"},
            },
        )

    def register(self, router: web.UrlDispatcher) -> None:
        item = LEASES + "/{name}"
        for method, path, handler in (
            ("GET", LEASES, self.list),
            ("POST", LEASES, self.create),
            ("GET", item, self.get),
            ("PUT", item, self.replace),
            ("DELETE", item, self.delete),
        ):
            router.add_route(method, path, handler)


@dataclass
class ExecRecord:
    """One exec request as the fake saw it (tests assert argv arrived verbatim)."""

    namespace: str
    pod: str
    container: str | None
    command: list[str]
    exit_code: int | None = None


@dataclass
class FakeApiServer:
    pods: list[Pod]
    token: str | None = None
    execs: list[ExecRecord] = field(default_factory=list)
    active_execs: int = 0
    peak_active_execs: int = 0
    # The same per pod ("namespace/name"): the per-node bound of the kubernetes executor.
    active_execs_in: Counter[str] = field(default_factory=Counter)
    peak_active_execs_in: Counter[str] = field(default_factory=Counter)
    # More API resources: objects with ``register(router)`` (e.g. fake_secrets.FakeSecrets).
    extensions: list[Any] = field(default_factory=list)
    leases: FakeLeases = field(default_factory=FakeLeases)
    # An unreachable API server (``cut``): None, or how requests fail, and for whom.
    outage: Literal["refuse", "hang"] | None = None
    outage_user_agent: str | None = None
    _restored: asyncio.Event | None = None
    _runner: web.AppRunner | None = None

    # --- lifecycle (in-process use) -----------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen and return the base URL (``http://127.0.0.1:<port>``)."""
        self._runner = web.AppRunner(self.app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        bound_port = sockets[0].getsockname()[1]
        return f"http://{host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- test controls: the network between the clients and this server -----------------------

    def cut(
        self, mode: Literal["refuse", "hang"] = "refuse", *, user_agent: str | None = None
    ) -> None:
        """Make the API unreachable: ``refuse`` drops each connection unanswered, ``hang`` keeps
        requests waiting (and drops them when restored: lost in the network). With
        ``user_agent``, only clients sending that User-Agent are cut off (a partition)."""
        self.outage, self.outage_user_agent = mode, user_agent
        if self._restored is None or self._restored.is_set():
            self._restored = asyncio.Event()

    def restore(self) -> None:
        self.outage = self.outage_user_agent = None
        if self._restored is not None:
            self._restored.set()

    def _cut_off(self, request: web.Request) -> bool:
        wanted = self.outage_user_agent
        return self.outage is not None and (
            wanted is None or request.headers.get("User-Agent") == wanted
        )

    @web.middleware
    async def _network(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self._cut_off(request):
            if self.outage == "hang" and self._restored is not None:
                await self._restored.wait()
            if request.transport is not None:
                request.transport.abort()
            # Nothing reaches the client: aiohttp drops a response to an aborted connection.
            return web.Response(status=503)
        return await handler(request)

    # --- handlers -----------------------------------------------------------------------------

    def find(self, namespace: str, name: str) -> Pod | None:
        for pod in self.pods:
            if pod["name"] == name and pod.get("namespace", "default") == namespace:
                return pod
        return None

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        expected = f"Bearer {self.token}"
        if self.token is not None and request.headers.get("Authorization", "") != expected:
            return _error(401, "Unauthorized", "Unauthorized")
        return await handler(request)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake", "platform": "linux/amd64"}
        )

    async def _api(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        )

    async def _api_v1(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": "pods",
                        "singularName": "pod",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get", "list"],
                        "shortNames": ["po"],
                    },
                    {
                        "name": "pods/exec",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "PodExecOptions",
                        "verbs": ["create", "get"],
                    },
                ],
            }
        )

    async def _list_pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("ns")
        labels = request.query.get("labelSelector", "")
        fields = request.query.get("fieldSelector", "")
        items = []
        for pod in self.pods:
            if namespace is not None and pod.get("namespace", "default") != namespace:
                continue
            manifest = pod_manifest(pod)
            if match_labels(manifest["metadata"]["labels"], labels) and match_fields(
                manifest, fields
            ):
                items.append(manifest)
        return web.json_response(
            {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }
        )

    async def _get_pod(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        pod = self.find(request.match_info["ns"], name)
        if pod is None:
            return _error(404, "NotFound", f'pods "{name}" not found')
        return web.json_response(pod_manifest(pod))

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["ns"], request.match_info["name"]
        pod = self.find(namespace, name)
        if pod is None:
            return _error(404, "NotFound", f'pods "{name}" not found')
        query = request.query
        command = query.getall("command", [])
        if not command:
            return _error(400, "BadRequest", "you must specify at least 1 command")

        def flag(key: str, default: str) -> bool:
            return query.get(key, default).lower() in ("1", "true")

        use_stdin, use_stdout = flag("stdin", "false"), flag("stdout", "true")
        use_stderr, tty = flag("stderr", "true"), flag("tty", "false")
        container = query.get("container")
        containers = pod.get("containers") or [pod.get("container", DEFAULT_CONTAINER)]
        if container and container not in containers:
            return _error(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if pod.get("phase", "Running") != "Running":
            return _error(
                400,
                "BadRequest",
                f"cannot exec into a container in a completed pod; "
                f"current phase is {pod.get('phase')}",
            )
        ws = web.WebSocketResponse(protocols=SUBPROTOCOLS, autoping=True)
        if not ws.can_prepare(request).ok:
            return _error(400, "BadRequest", "Upgrade request required")
        await ws.prepare(request)
        record = ExecRecord(namespace, name, container, list(command))
        self.execs.append(record)
        log.info("exec #%d pod=%s/%s cmd=%r", len(self.execs), namespace, name, command)
        self.active_execs += 1
        self.peak_active_execs = max(self.peak_active_execs, self.active_execs)
        where = f"{namespace}/{name}"
        self.active_execs_in[where] += 1
        self.peak_active_execs_in[where] = max(
            self.peak_active_execs_in[where], self.active_execs_in[where]
        )
        try:
            await self._run_command(ws, record, pod, use_stdin, use_stdout, use_stderr, tty)
        finally:
            self.active_execs -= 1
            self.active_execs_in[where] -= 1
        return ws

    async def _run_command(
        self,
        ws: web.WebSocketResponse,
        record: ExecRecord,
        pod: Pod,
        use_stdin: bool,
        use_stdout: bool,
        use_stderr: bool,
        tty: bool,
    ) -> None:
        argv = [*pod.get("exec_prefix", []), *record.command]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if use_stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT if tty else asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, killed as a whole
            )
        except (FileNotFoundError, PermissionError):
            # What containerd reports through the kubelet when the binary is missing.
            message = (
                "OCI runtime exec failed: exec failed: unable to start container process: "
                f'exec: "{record.command[0]}": executable file not found in $PATH: unknown'
            )
            status = {
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": "InternalError",
                "details": {"causes": [{"message": message}]},
                "code": 500,
            }
            await ws.send_bytes(bytes([CH_ERROR]) + json.dumps(status).encode())
            await ws.close()
            return

        def kill_group() -> None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

        async def pump(stream: asyncio.StreamReader | None, channel: int, enabled: bool) -> None:
            assert stream is not None
            while chunk := await stream.read(32768):
                if enabled and not ws.closed:
                    with contextlib.suppress(ConnectionError):  # the client went away
                        await ws.send_bytes(bytes([channel]) + chunk)

        async def read_client() -> None:
            async for message in ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                data = message.data if isinstance(message.data, bytes) else message.data.encode()
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == CH_STDIN and use_stdin and process.stdin:
                    process.stdin.write(payload)
                    await process.stdin.drain()
                elif channel == CH_CLOSE and payload[:1] == bytes([CH_STDIN]) and process.stdin:
                    process.stdin.close()
            kill_group()  # the client went away first (a no-op once the command exited)

        client_reader = asyncio.create_task(read_client())
        pumps = [asyncio.create_task(pump(process.stdout, CH_STDOUT, use_stdout))]
        if not tty:
            pumps.append(asyncio.create_task(pump(process.stderr, CH_STDERR, use_stderr)))
        try:
            exit_code = await process.wait()
            # A daemon the command started may hold the pipes open: drain briefly, then stop.
            await asyncio.wait(pumps, timeout=2.0)
        except BaseException:
            kill_group()
            raise
        finally:
            for task in (*pumps, client_reader):
                task.cancel()
        record.exit_code = exit_code
        if exit_code == 0:
            status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": "command terminated with non-zero exit code: error executing "
                f"command {record.command}, exit code {exit_code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
            }
        if not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(bytes([CH_ERROR]) + json.dumps(status).encode())
                await ws.close()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._network, self._auth])
        router = app.router
        router.add_get("/version", self._version)
        router.add_get("/api", self._api)
        router.add_get("/api/v1", self._api_v1)
        router.add_get("/api/v1/pods", self._list_pods)
        router.add_get("/api/v1/namespaces/{ns}/pods", self._list_pods)
        router.add_get("/api/v1/namespaces/{ns}/pods/{name}", self._get_pod)
        router.add_route("GET", "/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        router.add_route("POST", "/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        self.leases.register(router)
        for extension in self.extensions:
            extension.register(router)
        return app


# --- testbed integration ----------------------------------------------------------------------

TESTBED_NAMESPACE = "glusterfs"
TESTBED_POD_LABELS = {"glusterfs-node": "pod", "glusterfs": "pod"}
_HOST_KEYS = ("manage", "manage_hostname", "hostname", "address", "ip", "name")
_PID_KEYS = ("holder_pid", "pid", "ns_pid")


def _first(node: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = node.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value not in (None, ""):
            return value
    return None


def pods_for_testbed(testbed: dict[str, Any], base_dir: Path | None = None) -> list[Pod]:
    """One GlusterFS pod per testbed node, executing inside that node's namespaces.

    A node gives its manage hostname (``manage``, else the first of the other host keys) and
    either an ``exec_prefix`` argv or the pid of a process holding its namespaces
    (``holder_pid``/``pid``, else ``<base_dir>/n<i>/holder.pid`` as multinode.sh writes it).
    """
    pods = []
    for index, node in enumerate(testbed.get("nodes", []), start=1):
        host = _first(node, _HOST_KEYS)
        if host is None:
            raise ValueError(f"testbed node {index} has no manage hostname: {node}")
        prefix = node.get("exec_prefix")
        if not prefix:
            pid = _first(node, _PID_KEYS)
            if pid is None and base_dir is not None:
                pid_file = base_dir / f"n{index}" / "holder.pid"
                pid = pid_file.read_text().strip() if pid_file.exists() else None
            if pid is None:
                raise ValueError(f"testbed node {host} has neither exec_prefix nor a pid")
            prefix = ["nsenter", "-t", str(pid), "-m", "-n", "-u", "--"]
        short = str(node.get("name") or f"node{index}")
        pods.append(
            {
                "name": f"glusterfs-{short}",
                "namespace": TESTBED_NAMESPACE,
                "labels": dict(TESTBED_POD_LABELS),
                "node": str(host),
                "host_ip": str(node.get("storage") or host),
                "pod_ip": str(node.get("storage") or host),
                "container": DEFAULT_CONTAINER,
                "exec_prefix": [str(word) for word in prefix],
            }
        )
    return pods


def kubeconfig_text(url: str, token: str | None, namespace: str) -> str:
    user = f"{{token: {token}}}" if token else "{}"
    return (
        "apiVersion: v1\nkind: Config\n"
        f'clusters: [{{name: fake, cluster: {{server: "{url}"}}}}]\n'
        f"users: [{{name: heketi, user: {user}}}]\n"
        f"contexts: [{{name: fake, context: {{cluster: fake, user: heketi, "
        f"namespace: {namespace}}}}}]\n"
        "current-context: fake\n"
    )


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def kube_description(
    server: FakeApiServer, url: str, kubeconfig: Path | None = None
) -> dict[str, Any]:
    """What the testbed reports under ``"kube"``; writes the kubeconfig for ``url`` too."""
    if kubeconfig is not None:
        _write_atomically(kubeconfig, kubeconfig_text(url, server.token, TESTBED_NAMESPACE))
    return {
        "api_url": url,
        "token": server.token,
        "namespace": TESTBED_NAMESPACE,
        "kubeconfig": str(kubeconfig) if kubeconfig is not None else None,
        "pid": os.getpid(),
        "pod_label": "glusterfs-node=pod",
        "pods": {pod["node"]: pod["name"] for pod in server.pods},
        "nodes": {pod["node"]: pod["name"].removeprefix("glusterfs-") for pod in server.pods},
    }


async def _serve(
    server: FakeApiServer,
    host: str,
    port: int,
    url_file: str | None,
    kube_json: Path | None = None,
    kubeconfig: Path | None = None,
) -> None:
    url = await server.start(host, port)
    log.info("listening on %s", url)
    if kube_json is not None:
        description = kube_description(server, url, kubeconfig)
        _write_atomically(kube_json, json.dumps(description, indent=2) + "\n")
    if url_file:
        # Written last and atomically: the testbed polls for this file to know we are ready.
        _write_atomically(Path(url_file), url + "\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop()


def _optional_extensions() -> list[Any]:
    """Secrets (for ``backup_db_to_kube_secret``) when the sibling module is there."""
    try:
        from fake_secrets import FakeSecrets  # run as a script: the sibling module
    except ImportError:
        try:
            from tests.testbed.fake_secrets import FakeSecrets
        except ImportError:
            return []
    return [FakeSecrets()]  # the token is checked by our middleware already


def _storage_extension(pods: list[Pod]) -> list[Any]:
    """PVs, PVCs, StorageClasses, ConfigMaps, Endpoints, Services (``kube migrate-pvs``)."""
    try:
        from fake_storage import FakeStorage  # run as a script: the sibling module
    except ImportError:
        try:
            from tests.testbed.fake_storage import FakeStorage
        except ImportError:
            return []
    return [FakeStorage(pods)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pods", help="JSON file with the pod list")
    parser.add_argument("--token", help="require this bearer token")
    parser.add_argument("--url-file", help="write the base URL here once listening")
    parser.add_argument("--testbed-json", help='serve one pod per node of {"nodes": [...]}')
    parser.add_argument("--testbed-base", help="testbed state dir (for n<i>/holder.pid)")
    parser.add_argument("--kube-json", help="write the testbed's kube description here")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    testbed_json = Path(args.testbed_json) if args.testbed_json else None
    if testbed_json is not None:
        base = Path(args.testbed_base) if args.testbed_base else testbed_json.parent
        pods = pods_for_testbed(json.loads(testbed_json.read_text()), base)
    elif args.pods:
        pods = json.loads(Path(args.pods).read_text())
    else:
        pods = [
            {
                "name": "glusterfs-local",
                "namespace": "default",
                "labels": {"glusterfs-node": "pod", "glusterfs": "pod"},
                "node": "localhost",
                "container": DEFAULT_CONTAINER,
            }
        ]
    server = FakeApiServer(pods, args.token, extensions=_optional_extensions())
    server.extensions += _storage_extension(server.pods)
    kube_json = Path(args.kube_json) if args.kube_json else None
    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else None
    asyncio.run(_serve(server, args.host, args.port, args.url_file, kube_json, kubeconfig))


if __name__ == "__main__":
    main()
