"""The committed gRPC stubs are exactly what grpcio-tools makes of csi.proto, and csi.proto
keeps the CSI v1 wire names and numbers the driver relies on."""

from __future__ import annotations

from pathlib import Path

from heketipy.csi.generate_stubs import GENERATED, STUBS_DIR, generate
from heketipy.third_party.csi_spec import csi_pb2 as pb

PROTO_DIR = Path(__file__).resolve().parents[2].joinpath(*STUBS_DIR)


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    fresh = {path.name: path.read_bytes() for path in generate(tmp_path)}
    assert sorted(fresh) == sorted(GENERATED)
    for name, content in fresh.items():
        assert (PROTO_DIR / name).read_bytes() == content, (
            f"{name} is stale: run `make csi-proto` and commit the result"
        )


def test_wire_names_follow_the_csi_spec() -> None:
    file = pb.DESCRIPTOR
    assert file.package == "csi.v1"
    methods = {
        f"/{service.full_name}/{method.name}"
        for service in file.services_by_name.values() for method in service.methods
    }
    assert {
        "/csi.v1.Identity/GetPluginInfo", "/csi.v1.Identity/Probe",
        "/csi.v1.Controller/CreateVolume", "/csi.v1.Controller/ControllerExpandVolume",
        "/csi.v1.Node/NodeStageVolume", "/csi.v1.Node/NodeGetVolumeStats",
    } <= methods


def numbers(message: object) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_field_numbers_follow_the_csi_spec() -> None:
    assert numbers(pb.CreateVolumeRequest) == {
        "name": 1, "capacity_range": 2, "volume_capabilities": 3, "parameters": 4,
        "secrets": 5, "volume_content_source": 6, "accessibility_requirements": 7,
    }
    assert numbers(pb.Volume) == {
        "capacity_bytes": 1, "volume_id": 2, "volume_context": 3, "content_source": 4,
        "accessible_topology": 5,
    }
    assert numbers(pb.ControllerExpandVolumeResponse) == {
        "capacity_bytes": 1, "node_expansion_required": 2,
    }
    assert numbers(pb.NodePublishVolumeRequest) == {
        "volume_id": 1, "publish_context": 2, "staging_target_path": 3, "target_path": 4,
        "volume_capability": 5, "readonly": 6, "secrets": 7, "volume_context": 8,
    }
    assert numbers(pb.NodeGetVolumeStatsResponse) == {"usage": 1, "volume_condition": 2}
    assert numbers(pb.VolumeCapability) == {"block": 1, "mount": 2, "access_mode": 3}
    assert pb.ControllerServiceCapability.RPC.EXPAND_VOLUME == 9
    assert pb.NodeServiceCapability.RPC.VOLUME_CONDITION == 4
    assert pb.PluginCapability.VolumeExpansion.ONLINE == 1
    assert pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER == 5
