"""The topology file `heketi-cli topology load --json=<file>` reads (contract section 14),
decoded as heketi-cli decodes it: Go `json.Unmarshal` into typed structs, so keys match
case-insensitively, unknown keys and nulls are ignored, and any value of the wrong JSON type
makes the whole file unparseable (`Unable to parse config file`).

A device is either its name (a JSON string) or an object `{"name","destroydata","tags"}`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from heketipy.gocompat import json_decode
from heketipy.models.requests import (
    DeviceAddRequest,
    NodeAddRequest,
    ParseError,
    _Request,
    decode_document,
)


class TopologyNode(_Request):
    GO_NAME: ClassVar[str] = "topology.NodeEntry"
    node: NodeAddRequest = Field(default_factory=NodeAddRequest)
    devices: list[object] = Field(default_factory=list)  # name or device object, see `devices`


class TopologyCluster(_Request):
    GO_NAME: ClassVar[str] = "topology.ClusterEntry"
    nodes: list[TopologyNode] = Field(default_factory=list)
    file: bool = True  # Go *bool: absent or null means allowed
    block: bool = True


class TopologyFile(_Request):
    GO_NAME: ClassVar[str] = "topology.ConfigFile"
    clusters: list[TopologyCluster] = Field(default_factory=list)


def parse_topology_file(raw: bytes) -> TopologyFile:
    """Decode a topology file; raises ParseError for anything Go would refuse."""
    try:
        document = json_decode.loads(raw)
    except json_decode.GoJSONSyntaxError as exc:
        raise ParseError(exc.text) from None
    topology = decode_document(TopologyFile, document)
    for cluster in topology.clusters:
        for node in cluster.nodes if cluster is not None else ():
            if node is not None:
                devices(node)  # a device of the wrong type fails the whole file
    return topology


def devices(node: TopologyNode) -> list[DeviceAddRequest]:
    """The node's devices as device requests (their `node` still empty); null entries are
    skipped."""
    out = []
    for entry in node.devices:
        if entry is None:
            continue
        if isinstance(entry, str):
            out.append(DeviceAddRequest.model_construct(name=json_decode.sanitize_string(entry)))
        elif isinstance(entry, json_decode.JSONObject):
            out.append(decode_document(DeviceAddRequest, entry))
        else:
            raise ParseError("json: cannot unmarshal device: want a name or an object")
    return out
