"""Every endpoint of the Heketi REST API (contract section 7), written once for both clients.

Each method of `Endpoints` builds a flow (`heketipy.client.flows`) and is wrapped by
`endpoint`, a descriptor typed per client: on `HeketiClient` the method returns the flow's
result (driven to the end), on `AsyncHeketiClient` a coroutine of it. So the type checker sees
`client.volume_info(id)` as a `Volume` and `await aclient.volume_info(id)` as a `Volume`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload
from urllib.parse import urlencode

from heketipy.client import flows
from heketipy.client.flows import Flow, Protocol, mapped
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
    WireModel,
)

if TYPE_CHECKING:
    from heketipy.client.aio import AsyncHeketiClient
    from heketipy.client.sync import HeketiClient

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=WireModel)


class endpoint(Generic[P, T]):  # lower case: used as a decorator, like property
    """An API method written as a flow; the client it is read from drives it (`_drive`)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        self.__wrapped__ = build

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, client: AsyncHeketiClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __get__(self, client: HeketiClient, owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, client: Any, owner: type[Any]) -> Any:
        if client is None:
            return self
        build = self._build

        @functools.wraps(build)
        def call(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client._drive(build(client, *args, **kwargs))

        return call


def _nothing(_: object) -> None:
    return None


def _text(response: flows.HttpResponse) -> str:
    return response.text


def _glusterfs_level(answer: Any) -> str:
    level: str = answer["loglevel"]["glusterfs"]
    return level


def _body(request: Any) -> Any:
    return request.to_wire() if hasattr(request, "to_wire") else request


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
    """The API surface; subclasses provide `_proto` and `_drive`."""

    _proto: Protocol

    def _json(self, method: str, path: str, body: Any = None,
              expect: tuple[int, ...] = (200,)) -> Flow[Any]:
        return flows.call_json(self._proto, method, path, body, expect)

    def _op(self, method: str, path: str, body: Any = None) -> Flow[Any]:
        return flows.operation(self._proto, method, path, body)

    def _read(self, path: str, model: type[M]) -> Flow[M]:
        """``GET path``, the answer read as ``model``."""
        return mapped(self._json("GET", path), model.model_validate)

    def _queued(self, model: type[M], method: str, path: str, body: Any = None) -> Flow[M]:
        """An asynchronous call whose result, where it ends up, is read as ``model``."""
        return mapped(self._op(method, path, body), model.model_validate)

    def _op_done(self, method: str, path: str, body: Any = None) -> Flow[None]:
        """An asynchronous call whose result is only that it finished."""
        return mapped(self._op(method, path, body), _nothing)

    def _none(self, method: str, path: str, body: Any = None,
              expect: tuple[int, ...] = (200,)) -> Flow[None]:
        return mapped(flows.call(self._proto, method, path, body, expect), _nothing)

    def _set_state(self, entity_path: str, state: str, healcheck: str | None) -> Flow[None]:
        """``POST <node or device>/state``: queued, alike for nodes and devices."""
        body = {"state": state}
        if healcheck is not None:
            body["healcheck"] = healcheck
        return self._op_done("POST", f"{entity_path}/state", body)

    def _set_tags(
        self, entity_path: str, tags: dict[str, str], change_type: str
    ) -> Flow[dict[str, str]]:
        """``POST <node or device>/tags``: answered at once with the new tags."""
        body = {"change_type": change_type, "tags": tags}
        return mapped(self._json("POST", f"{entity_path}/tags", body), dict)

    # --- service ---------------------------------------------------------------------------

    @endpoint
    def hello(self) -> Flow[str]:
        return mapped(flows.call(self._proto, "GET", "/hello"), _text)

    @endpoint
    def metrics(self) -> Flow[str]:
        return mapped(flows.call(self._proto, "GET", "/metrics"), _text)

    @endpoint
    def admin_state(self) -> Flow[str]:
        return mapped(self._json("GET", "/admin"), lambda j: j["state"])

    @endpoint
    def set_admin_state(self, state: str) -> Flow[None]:
        return self._none("POST", "/admin", {"state": state}, expect=(200, 204))

    @endpoint
    def log_level(self) -> Flow[str]:
        return mapped(self._json("GET", "/internal/logging"), _glusterfs_level)

    @endpoint
    def set_log_level(self, level: str) -> Flow[str]:
        body = {"loglevel": {"glusterfs": level}}
        return mapped(self._json("POST", "/internal/logging", body), _glusterfs_level)

    # --- clusters --------------------------------------------------------------------------

    @endpoint
    def cluster_create(self, *, file: bool = True, block: bool = True) -> Flow[Cluster]:
        flow = self._json("POST", "/clusters", {"file": file, "block": block}, (201,))
        return mapped(flow, Cluster.model_validate)

    @endpoint
    def cluster_list(self) -> Flow[ClusterList]:
        return self._read("/clusters", ClusterList)

    @endpoint
    def cluster_info(self, cluster_id: str) -> Flow[Cluster]:
        return self._read(f"/clusters/{cluster_id}", Cluster)

    @endpoint
    def cluster_delete(self, cluster_id: str) -> Flow[None]:
        return self._none("DELETE", f"/clusters/{cluster_id}")

    @endpoint
    def cluster_set_flags(self, cluster_id: str, *, file: bool, block: bool) -> Flow[None]:
        return self._none("POST", f"/clusters/{cluster_id}/flags", {"file": file, "block": block})

    # --- nodes -----------------------------------------------------------------------------

    @endpoint
    def node_add(self, request: NodeAddRequest | dict[str, Any]) -> Flow[Node]:
        return self._queued(Node, "POST", "/nodes", _body(request))

    @endpoint
    def node_info(self, node_id: str) -> Flow[Node]:
        return self._read(f"/nodes/{node_id}", Node)

    @endpoint
    def node_delete(self, node_id: str) -> Flow[None]:
        return self._op_done("DELETE", f"/nodes/{node_id}")

    @endpoint
    def node_set_state(self, node_id: str, state: str, healcheck: str | None = None) -> Flow[None]:
        return self._set_state(f"/nodes/{node_id}", state, healcheck)

    @endpoint
    def node_set_tags(
        self, node_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> Flow[dict[str, str]]:
        return self._set_tags(f"/nodes/{node_id}", tags, change_type)

    # --- devices ---------------------------------------------------------------------------

    @endpoint
    def device_add(self, request: DeviceAddRequest | dict[str, Any]) -> Flow[None]:
        return self._op_done("POST", "/devices", _body(request))

    @endpoint
    def device_info(self, device_id: str) -> Flow[Device]:
        return self._read(f"/devices/{device_id}", Device)

    @endpoint
    def device_delete(self, device_id: str, *, force_forget: bool = False) -> Flow[None]:
        return self._op_done("DELETE", f"/devices/{device_id}", {"forceforget": force_forget})

    @endpoint
    def device_set_state(
        self, device_id: str, state: str, healcheck: str | None = None
    ) -> Flow[None]:
        return self._set_state(f"/devices/{device_id}", state, healcheck)

    @endpoint
    def device_resync(self, device_id: str) -> Flow[None]:
        return self._op_done("GET", f"/devices/{device_id}/resync")

    @endpoint
    def device_set_tags(
        self, device_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> Flow[dict[str, str]]:
        return self._set_tags(f"/devices/{device_id}", tags, change_type)

    # --- volumes ---------------------------------------------------------------------------

    @endpoint
    def volume_create(self, request: VolumeCreateRequest | dict[str, Any]) -> Flow[Volume]:
        """Create a volume and wait for it. Against heketipy, a create that names the volume
        may be retried after a failure that left its outcome unknown (a connection error, a
        failover): the retry returns the volume the first attempt made instead of a second
        one, as long as it sends the same parameters (README, "Idempotent named creates")."""
        return self._queued(Volume, "POST", "/volumes", _body(request))

    @endpoint
    def volume_list(self) -> Flow[VolumeList]:
        return self._read("/volumes", VolumeList)

    @endpoint
    def volume_ids_by_name(self, name: str) -> Flow[list[str]]:
        """Ids of the volumes named ``name`` (heketipy's ``GET /volumes?volume_name=``, pending
        creates and deletes included; a Heketi server ignores the query and lists all)."""
        path = "/volumes?" + urlencode({"volume_name": name})
        return mapped(self._json("GET", path), lambda j: list(j.get("volumes") or []))

    @endpoint
    def volume_info(self, volume_id: str) -> Flow[Volume]:
        return self._read(f"/volumes/{volume_id}", Volume)

    @endpoint
    def volume_delete(self, volume_id: str) -> Flow[None]:
        return self._op_done("DELETE", f"/volumes/{volume_id}")

    @endpoint
    def volume_expand(self, volume_id: str, expand_size: int) -> Flow[Volume]:
        body = {"expand_size": expand_size}
        return self._queued(Volume, "POST", f"/volumes/{volume_id}/expand", body)

    @endpoint
    def volume_clone(self, volume_id: str, name: str | None = None) -> Flow[Volume]:
        body = {"name": name} if name else {}
        return self._queued(Volume, "POST", f"/volumes/{volume_id}/clone", body)

    @endpoint
    def volume_set_block_restriction(self, volume_id: str, restriction: str) -> Flow[Volume]:
        body = {"restriction": restriction}
        return self._queued(Volume, "POST", f"/volumes/{volume_id}/block-restriction", body)

    # --- block volumes ---------------------------------------------------------------------

    @endpoint
    def blockvolume_create(
        self, request: BlockVolumeCreateRequest | dict[str, Any]
    ) -> Flow[BlockVolume]:
        return self._queued(BlockVolume, "POST", "/blockvolumes", _body(request))

    @endpoint
    def blockvolume_list(self) -> Flow[BlockVolumeList]:
        return self._read("/blockvolumes", BlockVolumeList)

    @endpoint
    def blockvolume_info(self, blockvolume_id: str) -> Flow[BlockVolume]:
        return self._read(f"/blockvolumes/{blockvolume_id}", BlockVolume)

    @endpoint
    def blockvolume_delete(self, blockvolume_id: str) -> Flow[None]:
        return self._op_done("DELETE", f"/blockvolumes/{blockvolume_id}")

    @endpoint
    def blockvolume_expand(self, blockvolume_id: str, new_size: int) -> Flow[BlockVolume]:
        body = {"new_size": new_size}
        return self._queued(BlockVolume, "POST", f"/blockvolumes/{blockvolume_id}/expand", body)

    # --- bricks ----------------------------------------------------------------------------

    @endpoint
    def brick_evict(self, brick_id: str, healcheck: str | None = None) -> Flow[None]:
        body = {"healcheck": healcheck} if healcheck is not None else {}
        return self._op_done("POST", f"/bricks/to-evict/{brick_id}", body)

    # --- operations and database -----------------------------------------------------------

    @endpoint
    def operations_info(self) -> Flow[OperationsInfo]:
        return self._read("/operations", OperationsInfo)

    @endpoint
    def pending_operations(self) -> Flow[PendingOperationList]:
        return self._read("/operations/pending", PendingOperationList)

    @endpoint
    def pending_operation_info(self, operation_id: str) -> Flow[PendingOperation]:
        return self._read(f"/operations/pending/{operation_id}", PendingOperation)

    @endpoint
    def pending_operations_cleanup(self, operation_ids: list[str] | None = None) -> Flow[None]:
        body = {"operations": operation_ids} if operation_ids else {}
        return self._op_done("POST", "/operations/pending/cleanup", body)

    @endpoint
    def db_dump(self) -> Flow[dict[str, Any]]:
        return self._json("GET", "/db/dump")

    @endpoint
    def db_check(self) -> Flow[dict[str, Any]]:
        return self._json("GET", "/db/check")

    @endpoint
    def examine_gluster(self) -> Flow[dict[str, Any]]:
        return self._json("GET", "/internal/state/examine/gluster")

    @endpoint
    def backup_db(self) -> Flow[bytes]:
        return mapped(flows.call(self._proto, "GET", "/backup/db"), lambda r: r.body)

    # --- composite -------------------------------------------------------------------------

    @endpoint
    def topology_info(self) -> Flow[TopologyInfo]:
        return mapped(topology_flow(self._proto), TopologyInfo.model_validate)
