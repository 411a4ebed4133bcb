"""Every endpoint of the Heketi REST API (contract section 7), written once for both clients.

Each method of `Endpoints` is an `endpoint`: it builds a `Call` (a flow of
`heketipy.client.flows` and the conversion of its result) and hands it to the client's
`_run`, which the blocking client implements by driving the flow to the end and the asyncio
client by returning a coroutine. The `endpoint` descriptor types both faces: on a
`HeketiClient` a method returns the annotated type, on an `AsyncHeketiClient` an awaitable of
it, so the type checker sees what each client really returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import urlencode

from heketipy.client import flows
from heketipy.client.flows import Flow, Protocol
from heketipy.client.models import (
    BlockVolume,
    BlockVolumeCreateRequest,
    BlockVolumeList,
    Cluster,
    ClusterList,
    Device,
    DeviceAddRequest,
    Node,
    NodeAddRequest,
    OperationsInfo,
    PendingOperation,
    PendingOperationList,
    TopologyInfo,
    Volume,
    VolumeCreateRequest,
    VolumeList,
)

if TYPE_CHECKING:
    from heketipy.client.aio import AsyncHeketiClient
    from heketipy.client.sync import HeketiClient

P = ParamSpec("P")
T = TypeVar("T")


def _unchanged(result: Any) -> Any:
    return result


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: the flow that performs it and how its result becomes the answer."""

    flow: Flow[Any]
    convert: Callable[[Any], T] = _unchanged


class endpoint(Generic[P, T]):  # lower case: a decorator, like property
    """An API method, written once as a builder of its `Call` and run by the client."""

    def __init__(self, build: Callable[Concatenate[Endpoints, P], Call[T]]) -> None:
        self._build = build
        self.__name__ = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type) -> endpoint[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncHeketiClient, owner: type
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, client: HeketiClient, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: Endpoints, owner: type) -> Callable[P, Any]: ...

    def __get__(self, client: Endpoints | None, owner: type) -> Any:
        if client is None:
            return self
        build = self._build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client._run(build(client, *args, **kwargs))

        return method


def _body(request: Any) -> Any:
    return request.to_wire() if hasattr(request, "to_wire") else request


def _state_body(state: str, healcheck: str | None) -> dict[str, str]:
    body = {"state": state}
    if healcheck is not None:
        body["healcheck"] = healcheck
    return body


def topology_flow(proto: Protocol) -> Flow[dict[str, Any]]:
    """The client-built topology, as the Go client gathers it (contract section 12)."""
    listing = yield from flows.call_json(proto, "GET", "/clusters")
    clusters = []
    for cluster_id in listing.get("clusters") or []:
        cluster = yield from flows.call_json(proto, "GET", f"/clusters/{cluster_id}")
        volumes = []
        for volume_id in cluster.get("volumes") or []:
            volume = yield from flows.call_json(proto, "GET", f"/volumes/{volume_id}")
            if volume.get("cluster") == cluster_id:
                volumes.append(volume)
        nodes = []
        for node_id in cluster.get("nodes") or []:
            nodes.append((yield from flows.call_json(proto, "GET", f"/nodes/{node_id}")))
        clusters.append(
            {
                "volumes": volumes,
                "nodes": nodes,
                "id": cluster_id,
                "block": cluster.get("block", False),
                "file": cluster.get("file", False),
            }
        )
    return {"clusters": clusters}


class Endpoints:
    """The API surface; subclasses provide `_proto` and `_run`."""

    _proto: Protocol

    def _run(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def _json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,),
              model: Callable[[Any], T] = _unchanged) -> Call[T]:
        return Call(flows.call_json(self._proto, method, path, body, expect), model)

    def _op(self, method: str, path: str, body: Any = None,
            model: Callable[[Any], T] = _unchanged) -> Call[T]:
        return Call(flows.operation(self._proto, method, path, body), model)

    def _none(self, method: str, path: str, body: Any = None,
              expect: tuple[int, ...] = (200,)) -> Call[None]:
        return Call(flows.call(self._proto, method, path, body, expect), lambda _: None)

    # --- service ---------------------------------------------------------------------------

    @endpoint
    def hello(self) -> Call[str]:
        return Call(flows.call(self._proto, "GET", "/hello"), lambda r: r.text)

    @endpoint
    def metrics(self) -> Call[str]:
        return Call(flows.call(self._proto, "GET", "/metrics"), lambda r: r.text)

    @endpoint
    def admin_state(self) -> Call[str]:
        return self._json("GET", "/admin", model=lambda j: j["state"])

    @endpoint
    def set_admin_state(self, state: str) -> Call[None]:
        return self._none("POST", "/admin", {"state": state}, expect=(200, 204))

    @endpoint
    def log_level(self) -> Call[str]:
        return self._json("GET", "/internal/logging", model=lambda j: j["loglevel"]["glusterfs"])

    @endpoint
    def set_log_level(self, level: str) -> Call[str]:
        return self._json(
            "POST", "/internal/logging", {"loglevel": {"glusterfs": level}},
            model=lambda j: j["loglevel"]["glusterfs"],
        )

    # --- clusters --------------------------------------------------------------------------

    @endpoint
    def cluster_create(self, *, file: bool = True, block: bool = True) -> Call[Cluster]:
        return self._json("POST", "/clusters", {"file": file, "block": block}, (201,),
                          Cluster.model_validate)

    @endpoint
    def cluster_list(self) -> Call[ClusterList]:
        return self._json("GET", "/clusters", model=ClusterList.model_validate)

    @endpoint
    def cluster_info(self, cluster_id: str) -> Call[Cluster]:
        return self._json("GET", f"/clusters/{cluster_id}", model=Cluster.model_validate)

    @endpoint
    def cluster_delete(self, cluster_id: str) -> Call[None]:
        return self._none("DELETE", f"/clusters/{cluster_id}")

    @endpoint
    def cluster_set_flags(self, cluster_id: str, *, file: bool, block: bool) -> Call[None]:
        return self._none("POST", f"/clusters/{cluster_id}/flags", {"file": file, "block": block})

    # --- nodes -----------------------------------------------------------------------------

    @endpoint
    def node_add(self, request: NodeAddRequest | dict[str, Any]) -> Call[Node]:
        return self._op("POST", "/nodes", _body(request), Node.model_validate)

    @endpoint
    def node_info(self, node_id: str) -> Call[Node]:
        return self._json("GET", f"/nodes/{node_id}", model=Node.model_validate)

    @endpoint
    def node_delete(self, node_id: str) -> Call[None]:
        return self._op("DELETE", f"/nodes/{node_id}")

    @endpoint
    def node_set_state(self, node_id: str, state: str, healcheck: str | None = None) -> Call[None]:
        return self._op("POST", f"/nodes/{node_id}/state", _state_body(state, healcheck))

    @endpoint
    def node_set_tags(
        self, node_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> Call[dict[str, str]]:
        return self._json("POST", f"/nodes/{node_id}/tags",
                          {"change_type": change_type, "tags": tags}, model=dict)

    # --- devices ---------------------------------------------------------------------------

    @endpoint
    def device_add(self, request: DeviceAddRequest | dict[str, Any]) -> Call[None]:
        return self._op("POST", "/devices", _body(request))

    @endpoint
    def device_info(self, device_id: str) -> Call[Device]:
        return self._json("GET", f"/devices/{device_id}", model=Device.model_validate)

    @endpoint
    def device_delete(self, device_id: str, *, force_forget: bool = False) -> Call[None]:
        return self._op("DELETE", f"/devices/{device_id}", {"forceforget": force_forget})

    @endpoint
    def device_set_state(self, device_id: str, state: str, healcheck: str | None = None) -> Call[None]:
        return self._op("POST", f"/devices/{device_id}/state", _state_body(state, healcheck))

    @endpoint
    def device_resync(self, device_id: str) -> Call[None]:
        return self._op("GET", f"/devices/{device_id}/resync")

    @endpoint
    def device_set_tags(
        self, device_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> Call[dict[str, str]]:
        return self._json("POST", f"/devices/{device_id}/tags",
                          {"change_type": change_type, "tags": tags}, model=dict)

    # --- volumes ---------------------------------------------------------------------------

    @endpoint
    def volume_create(self, request: VolumeCreateRequest | dict[str, Any]) -> Call[Volume]:
        return self._op("POST", "/volumes", _body(request), Volume.model_validate)

    @endpoint
    def volume_list(self) -> Call[VolumeList]:
        return self._json("GET", "/volumes", model=VolumeList.model_validate)

    @endpoint
    def volume_ids_by_name(self, name: str) -> Call[list[str]]:
        """Ids of the volumes named ``name`` (heketipy's ``GET /volumes?volume_name=``, pending
        creates and deletes included; a Heketi server ignores the query and lists all)."""
        path = "/volumes?" + urlencode({"volume_name": name})
        return self._json("GET", path, model=lambda j: list(j.get("volumes") or []))

    @endpoint
    def volume_info(self, volume_id: str) -> Call[Volume]:
        return self._json("GET", f"/volumes/{volume_id}", model=Volume.model_validate)

    @endpoint
    def volume_delete(self, volume_id: str) -> Call[None]:
        return self._op("DELETE", f"/volumes/{volume_id}")

    @endpoint
    def volume_expand(self, volume_id: str, expand_size: int) -> Call[Volume]:
        return self._op("POST", f"/volumes/{volume_id}/expand", {"expand_size": expand_size},
                        Volume.model_validate)

    @endpoint
    def volume_clone(self, volume_id: str, name: str | None = None) -> Call[Volume]:
        body = {"name": name} if name else {}
        return self._op("POST", f"/volumes/{volume_id}/clone", body, Volume.model_validate)

    @endpoint
    def volume_set_block_restriction(self, volume_id: str, restriction: str) -> Call[Volume]:
        return self._op("POST", f"/volumes/{volume_id}/block-restriction",
                        {"restriction": restriction}, Volume.model_validate)

    # --- block volumes ---------------------------------------------------------------------

    @endpoint
    def blockvolume_create(self, request: BlockVolumeCreateRequest | dict[str, Any]) -> Call[BlockVolume]:
        return self._op("POST", "/blockvolumes", _body(request), BlockVolume.model_validate)

    @endpoint
    def blockvolume_list(self) -> Call[BlockVolumeList]:
        return self._json("GET", "/blockvolumes", model=BlockVolumeList.model_validate)

    @endpoint
    def blockvolume_info(self, blockvolume_id: str) -> Call[BlockVolume]:
        return self._json("GET", f"/blockvolumes/{blockvolume_id}",
                          model=BlockVolume.model_validate)

    @endpoint
    def blockvolume_delete(self, blockvolume_id: str) -> Call[None]:
        return self._op("DELETE", f"/blockvolumes/{blockvolume_id}")

    @endpoint
    def blockvolume_expand(self, blockvolume_id: str, new_size: int) -> Call[BlockVolume]:
        return self._op("POST", f"/blockvolumes/{blockvolume_id}/expand",
                        {"new_size": new_size}, BlockVolume.model_validate)

    # --- bricks ----------------------------------------------------------------------------

    @endpoint
    def brick_evict(self, brick_id: str, healcheck: str | None = None) -> Call[None]:
        body = {"healcheck": healcheck} if healcheck is not None else {}
        return self._op("POST", f"/bricks/to-evict/{brick_id}", body)

    # --- operations and database -----------------------------------------------------------

    @endpoint
    def operations_info(self) -> Call[OperationsInfo]:
        return self._json("GET", "/operations", model=OperationsInfo.model_validate)

    @endpoint
    def pending_operations(self) -> Call[PendingOperationList]:
        return self._json("GET", "/operations/pending", model=PendingOperationList.model_validate)

    @endpoint
    def pending_operation_info(self, operation_id: str) -> Call[PendingOperation]:
        return self._json("GET", f"/operations/pending/{operation_id}",
                          model=PendingOperation.model_validate)

    @endpoint
    def pending_operations_cleanup(self, operation_ids: list[str] | None = None) -> Call[None]:
        body = {"operations": operation_ids} if operation_ids else {}
        return self._op("POST", "/operations/pending/cleanup", body)

    @endpoint
    def db_dump(self) -> Call[dict[str, Any]]:
        return self._json("GET", "/db/dump")

    @endpoint
    def db_check(self) -> Call[dict[str, Any]]:
        return self._json("GET", "/db/check")

    @endpoint
    def examine_gluster(self) -> Call[dict[str, Any]]:
        return self._json("GET", "/internal/state/examine/gluster")

    @endpoint
    def backup_db(self) -> Call[bytes]:
        return Call(flows.call(self._proto, "GET", "/backup/db"), lambda r: r.body)

    # --- composite -------------------------------------------------------------------------

    @endpoint
    def topology_info(self) -> Call[TopologyInfo]:
        return Call(topology_flow(self._proto), TopologyInfo.model_validate)
