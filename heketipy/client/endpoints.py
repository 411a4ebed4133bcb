"""Every endpoint of the Heketi REST API (contract section 7), written once for both clients.

`Endpoints` holds the method per endpoint; each builds a flow (`heketipy.client.flows`) and
hands it to `_run`, which the blocking client implements by driving it to the end and the
asyncio client by returning a coroutine. So in `AsyncHeketiClient` every method returns an
awaitable of the annotated type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
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

M = TypeVar("M")


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

    def _run(self, flow: Flow[Any], convert: Callable[[Any], Any] | None = None) -> Any:
        raise NotImplementedError

    def _json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,),
              model: Callable[[Any], Any] | None = None) -> Any:
        return self._run(flows.call_json(self._proto, method, path, body, expect), model)

    def _op(self, method: str, path: str, body: Any = None,
            model: Callable[[Any], Any] | None = None) -> Any:
        return self._run(flows.operation(self._proto, method, path, body), model)

    def _none(self, method: str, path: str, body: Any = None,
              expect: tuple[int, ...] = (200,)) -> Any:
        return self._run(flows.call(self._proto, method, path, body, expect), lambda _: None)

    # --- service ---------------------------------------------------------------------------

    def hello(self) -> str:
        return self._run(flows.call(self._proto, "GET", "/hello"), lambda r: r.text)

    def metrics(self) -> str:
        return self._run(flows.call(self._proto, "GET", "/metrics"), lambda r: r.text)

    def admin_state(self) -> str:
        return self._json("GET", "/admin", model=lambda j: j["state"])

    def set_admin_state(self, state: str) -> None:
        return self._none("POST", "/admin", {"state": state}, expect=(200, 204))

    def log_level(self) -> str:
        return self._json("GET", "/internal/logging", model=lambda j: j["loglevel"]["glusterfs"])

    def set_log_level(self, level: str) -> str:
        return self._json(
            "POST", "/internal/logging", {"loglevel": {"glusterfs": level}},
            model=lambda j: j["loglevel"]["glusterfs"],
        )

    # --- clusters --------------------------------------------------------------------------

    def cluster_create(self, *, file: bool = True, block: bool = True) -> Cluster:
        return self._json("POST", "/clusters", {"file": file, "block": block}, (201,),
                          Cluster.model_validate)

    def cluster_list(self) -> ClusterList:
        return self._json("GET", "/clusters", model=ClusterList.model_validate)

    def cluster_info(self, cluster_id: str) -> Cluster:
        return self._json("GET", f"/clusters/{cluster_id}", model=Cluster.model_validate)

    def cluster_delete(self, cluster_id: str) -> None:
        return self._none("DELETE", f"/clusters/{cluster_id}")

    def cluster_set_flags(self, cluster_id: str, *, file: bool, block: bool) -> None:
        return self._none("POST", f"/clusters/{cluster_id}/flags", {"file": file, "block": block})

    # --- nodes -----------------------------------------------------------------------------

    def node_add(self, request: NodeAddRequest | dict[str, Any]) -> Node:
        return self._op("POST", "/nodes", _body(request), Node.model_validate)

    def node_info(self, node_id: str) -> Node:
        return self._json("GET", f"/nodes/{node_id}", model=Node.model_validate)

    def node_delete(self, node_id: str) -> None:
        return self._op("DELETE", f"/nodes/{node_id}")

    def node_set_state(self, node_id: str, state: str, healcheck: str | None = None) -> None:
        return self._op("POST", f"/nodes/{node_id}/state", _state_body(state, healcheck))

    def node_set_tags(
        self, node_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> dict[str, str]:
        return self._json("POST", f"/nodes/{node_id}/tags",
                          {"change_type": change_type, "tags": tags}, model=dict)

    # --- devices ---------------------------------------------------------------------------

    def device_add(self, request: DeviceAddRequest | dict[str, Any]) -> None:
        return self._op("POST", "/devices", _body(request))

    def device_info(self, device_id: str) -> Device:
        return self._json("GET", f"/devices/{device_id}", model=Device.model_validate)

    def device_delete(self, device_id: str, *, force_forget: bool = False) -> None:
        return self._op("DELETE", f"/devices/{device_id}", {"forceforget": force_forget})

    def device_set_state(self, device_id: str, state: str, healcheck: str | None = None) -> None:
        return self._op("POST", f"/devices/{device_id}/state", _state_body(state, healcheck))

    def device_resync(self, device_id: str) -> None:
        return self._op("GET", f"/devices/{device_id}/resync")

    def device_set_tags(
        self, device_id: str, tags: dict[str, str], change_type: str = "set"
    ) -> dict[str, str]:
        return self._json("POST", f"/devices/{device_id}/tags",
                          {"change_type": change_type, "tags": tags}, model=dict)

    # --- volumes ---------------------------------------------------------------------------

    def volume_create(self, request: VolumeCreateRequest | dict[str, Any]) -> Volume:
        return self._op("POST", "/volumes", _body(request), Volume.model_validate)

    def volume_list(self) -> VolumeList:
        return self._json("GET", "/volumes", model=VolumeList.model_validate)

    def volume_ids_by_name(self, name: str) -> list[str]:
        """Ids of the volumes named ``name`` (heketipy's ``GET /volumes?volume_name=``, pending
        creates and deletes included; a Heketi server ignores the query and lists all)."""
        path = "/volumes?" + urlencode({"volume_name": name})
        return self._json("GET", path, model=lambda j: list(j.get("volumes") or []))

    def volume_info(self, volume_id: str) -> Volume:
        return self._json("GET", f"/volumes/{volume_id}", model=Volume.model_validate)

    def volume_delete(self, volume_id: str) -> None:
        return self._op("DELETE", f"/volumes/{volume_id}")

    def volume_expand(self, volume_id: str, expand_size: int) -> Volume:
        return self._op("POST", f"/volumes/{volume_id}/expand", {"expand_size": expand_size},
                        Volume.model_validate)

    def volume_clone(self, volume_id: str, name: str | None = None) -> Volume:
        body = {"name": name} if name else {}
        return self._op("POST", f"/volumes/{volume_id}/clone", body, Volume.model_validate)

    def volume_set_block_restriction(self, volume_id: str, restriction: str) -> Volume:
        return self._op("POST", f"/volumes/{volume_id}/block-restriction",
                        {"restriction": restriction}, Volume.model_validate)

    # --- block volumes ---------------------------------------------------------------------

    def blockvolume_create(self, request: BlockVolumeCreateRequest | dict[str, Any]) -> BlockVolume:
        return self._op("POST", "/blockvolumes", _body(request), BlockVolume.model_validate)

    def blockvolume_list(self) -> BlockVolumeList:
        return self._json("GET", "/blockvolumes", model=BlockVolumeList.model_validate)

    def blockvolume_info(self, blockvolume_id: str) -> BlockVolume:
        return self._json("GET", f"/blockvolumes/{blockvolume_id}",
                          model=BlockVolume.model_validate)

    def blockvolume_delete(self, blockvolume_id: str) -> None:
        return self._op("DELETE", f"/blockvolumes/{blockvolume_id}")

    def blockvolume_expand(self, blockvolume_id: str, new_size: int) -> BlockVolume:
        return self._op("POST", f"/blockvolumes/{blockvolume_id}/expand",
                        {"new_size": new_size}, BlockVolume.model_validate)

    # --- bricks ----------------------------------------------------------------------------

    def brick_evict(self, brick_id: str, healcheck: str | None = None) -> None:
        body = {"healcheck": healcheck} if healcheck is not None else {}
        return self._op("POST", f"/bricks/to-evict/{brick_id}", body)

    # --- operations and database -----------------------------------------------------------

    def operations_info(self) -> OperationsInfo:
        return self._json("GET", "/operations", model=OperationsInfo.model_validate)

    def pending_operations(self) -> PendingOperationList:
        return self._json("GET", "/operations/pending", model=PendingOperationList.model_validate)

    def pending_operation_info(self, operation_id: str) -> PendingOperation:
        return self._json("GET", f"/operations/pending/{operation_id}",
                          model=PendingOperation.model_validate)

    def pending_operations_cleanup(self, operation_ids: list[str] | None = None) -> None:
        body = {"operations": operation_ids} if operation_ids else {}
        return self._op("POST", "/operations/pending/cleanup", body)

    def db_dump(self) -> dict[str, Any]:
        return self._json("GET", "/db/dump")

    def db_check(self) -> dict[str, Any]:
        return self._json("GET", "/db/check")

    def examine_gluster(self) -> dict[str, Any]:
        return self._json("GET", "/internal/state/examine/gluster")

    def backup_db(self) -> bytes:
        return self._run(flows.call(self._proto, "GET", "/backup/db"), lambda r: r.body)

    # --- composite -------------------------------------------------------------------------

    def topology_info(self) -> TopologyInfo:
        return self._run(topology_flow(self._proto), TopologyInfo.model_validate)
