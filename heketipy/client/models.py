"""Typed results of the client library: Heketi's JSON shapes (contract section 6) as pydantic models.

Fields are declared in Heketi's emission order and unknown keys are kept, so
`model.to_wire()` gives back the server's JSON object with the same keys in the same order
(fields the server left out stay out). That is what `heketipy-cli --json` prints.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """Base: keeps unknown keys, serialises by alias, only the keys that were present."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Brick(WireModel):
    id: str = ""
    path: str = ""
    device: str = ""
    node: str = ""
    volume: str = ""
    size: int = 0  # KiB


class StorageSize(WireModel):
    total: int = 0  # KiB
    free: int = 0
    used: int = 0


class Device(WireModel):
    name: str = ""
    tags: dict[str, str] | None = None
    storage: StorageSize = Field(default_factory=StorageSize)
    id: str = ""
    paths: list[str] | None = None
    pv_uuid: str = ""
    state: str = ""
    bricks: list[Brick] = Field(default_factory=list)


class Hostnames(WireModel):
    manage: list[str] = Field(default_factory=list)
    storage: list[str] = Field(default_factory=list)


class Node(WireModel):
    zone: int = 0
    hostnames: Hostnames = Field(default_factory=Hostnames)
    cluster: str = ""
    tags: dict[str, str] | None = None
    id: str = ""
    state: str = ""
    devices: list[Device] = Field(default_factory=list)


class Cluster(WireModel):
    id: str = ""
    nodes: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    block: bool = False
    file: bool = False
    blockvolumes: list[str] = Field(default_factory=list)


class ClusterList(WireModel):
    clusters: list[str] = Field(default_factory=list)


class ReplicaDurability(WireModel):
    replica: int = 0


class DisperseDurability(WireModel):
    data: int = 0
    redundancy: int = 0


class Durability(WireModel):
    type: str = ""
    replicate: ReplicaDurability = Field(default_factory=ReplicaDurability)
    disperse: DisperseDurability = Field(default_factory=DisperseDurability)


class Snapshot(WireModel):
    enable: bool = False
    factor: int | float = 1  # an int stays an int, so it is written back as Go writes it


class GlusterMount(WireModel):
    hosts: list[str] = Field(default_factory=list)
    device: str = ""
    options: dict[str, str] = Field(default_factory=dict)


class Mount(WireModel):
    glusterfs: GlusterMount = Field(default_factory=GlusterMount)


class BlockInfo(WireModel):
    freesize: int = 0
    reservedsize: int = 0
    blockvolume: list[str] = Field(default_factory=list)
    restriction: str = ""


class Volume(WireModel):
    size: int = 0  # GiB
    name: str = ""
    durability: Durability = Field(default_factory=Durability)
    gid: int = 0
    glustervolumeoptions: list[str] = Field(default_factory=list)
    block: bool = False
    snapshot: Snapshot = Field(default_factory=Snapshot)
    id: str = ""
    cluster: str = ""
    mount: Mount = Field(default_factory=Mount)
    blockinfo: BlockInfo = Field(default_factory=BlockInfo)
    bricks: list[Brick] = Field(default_factory=list)


class VolumeList(WireModel):
    volumes: list[str] = Field(default_factory=list)


class BlockVolumeTarget(WireModel):
    hosts: list[str] = Field(default_factory=list)
    iqn: str = ""
    lun: int = 0
    username: str = ""
    password: str = ""


class BlockVolume(WireModel):
    size: int = 0  # GiB
    name: str = ""
    hacount: int = 0
    id: str = ""
    blockvolume: BlockVolumeTarget = Field(default_factory=BlockVolumeTarget)
    cluster: str = ""
    blockhostingvolume: str = ""
    usablesize: int = 0


class BlockVolumeList(WireModel):
    blockvolumes: list[str] = Field(default_factory=list)


class OperationsInfo(WireModel):
    total: int = 0
    in_flight: int = 0
    stale: int = 0
    failed: int = 0
    new: int = 0


class PendingChange(WireModel):
    id: str = ""
    description: str = ""


class PendingOperation(WireModel):
    id: str = ""
    type_name: str = ""
    status: str = ""
    sub_status: str = ""
    changes: list[PendingChange] = Field(default_factory=list)


class PendingOperationList(WireModel):
    pendingoperations: list[PendingOperation] = Field(default_factory=list)


class TopologyCluster(WireModel):
    """One cluster of the client-built topology (contract section 6 and 12)."""

    volumes: list[Volume] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    id: str = ""
    block: bool = False
    file: bool = False


class TopologyInfo(WireModel):
    clusters: list[TopologyCluster] = Field(default_factory=list)


# --- request bodies ---------------------------------------------------------------------------


class RequestModel(BaseModel):
    """Base of request bodies: only the fields that were set are sent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class NodeAddRequest(RequestModel):
    zone: int
    hostnames: Hostnames
    cluster: str
    tags: dict[str, str] | None = None


class DeviceAddRequest(RequestModel):
    name: str
    node: str
    tags: dict[str, str] | None = None
    destroydata: bool | None = None


class _CreateRequest(RequestModel):
    """What a volume and a block volume create share, first in both bodies."""

    size: int
    clusters: list[str] | None = None
    name: str | None = None


class VolumeCreateRequest(_CreateRequest):
    durability: Durability | None = None
    gid: int | None = None
    glustervolumeoptions: list[str] | None = None
    block: bool | None = None
    snapshot: Snapshot | None = None


class BlockVolumeCreateRequest(_CreateRequest):
    hacount: int | None = None
    auth: bool | None = None
