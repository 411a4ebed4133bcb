"""gRPC contract of heketipy-csi's Identity and Controller services, written from the CSI
spec, against a real heketipy server process (simulator executor) over a unix socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from heketipy.csi import DRIVER_NAME
from heketipy.third_party.csi_spec import csi_pb2 as pb
from tests.csi.driver import BLOCK, GIB, MOUNT, SIMULATOR, Driver, create_request, running_driver
from tests.integration.test_blackbox import load_topology
from tests.support.server import ADMIN_KEY, ServerProcess, running_server

Code = grpc.StatusCode


@pytest.fixture(scope="module")
def heketi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("heketi"), glusterfs={"executor": "simulator"},
                        heketipy=SIMULATOR) as server:
        load_topology(server)
        yield server


@pytest.fixture(scope="module")
def driver(heketi: ServerProcess) -> Iterator[Driver]:
    with running_driver(heketi.base_url) as drv:
        yield drv


def status_of(call: object) -> grpc.RpcError:
    assert isinstance(call, grpc.RpcError)
    return call


def rpc_error(func: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        func(request)  # type: ignore[operator]
    error = excinfo.value
    # CSI: errors are a code and a message; the status details stay empty.
    keys = [key for key, _ in (error.trailing_metadata() or ())]
    assert "grpc-status-details-bin" not in keys
    return error


def volumes_named(heketi: ServerProcess, name: str) -> list[str]:
    return heketi.request("GET", f"/volumes?volume_name={name}").json()["volumes"]


def heketi_volume(heketi: ServerProcess, volume_id: str) -> dict:
    reply = heketi.request("GET", f"/volumes/{volume_id}")
    assert reply.status == 200, reply.text
    return reply.json()


# --- Identity --------------------------------------------------------------------------------

def test_plugin_info_and_capabilities(driver: Driver) -> None:
    info = driver.identity.GetPluginInfo(pb.GetPluginInfoRequest())
    assert info.name == DRIVER_NAME and len(info.name) <= 63
    assert info.vendor_version
    caps = driver.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest()).capabilities
    services = {c.service.type for c in caps if c.WhichOneof("type") == "service"}
    expansion = {c.volume_expansion.type for c in caps if c.WhichOneof("type") == "volume_expansion"}
    assert services == {pb.PluginCapability.Service.CONTROLLER_SERVICE}
    assert expansion == {pb.PluginCapability.VolumeExpansion.ONLINE}
    probe = driver.identity.Probe(pb.ProbeRequest())
    assert probe.HasField("ready") and probe.ready.value is True


def test_controller_capabilities(driver: Driver) -> None:
    caps = driver.controller.ControllerGetCapabilities(pb.ControllerGetCapabilitiesRequest())
    rpc = pb.ControllerServiceCapability.RPC
    assert {c.rpc.type for c in caps.capabilities} == {rpc.CREATE_DELETE_VOLUME, rpc.EXPAND_VOLUME}


# --- CreateVolume ----------------------------------------------------------------------------

def test_create_twice_gives_one_volume(driver: Driver, heketi: ServerProcess) -> None:
    name = "pvc-create-twice"
    first = driver.controller.CreateVolume(create_request(name, required=GIB + GIB // 2)).volume
    second = driver.controller.CreateVolume(create_request(name, required=GIB + GIB // 2)).volume
    assert first.volume_id == second.volume_id
    assert first.capacity_bytes == 2 * GIB  # rounded up to whole GiB
    assert volumes_named(heketi, name) == [first.volume_id]
    volume = heketi_volume(heketi, first.volume_id)
    assert volume["name"] == name and volume["size"] == 2
    assert volume["durability"]["type"] == "replicate"
    assert volume["durability"]["replicate"]["replica"] == 3
    assert 2000 <= volume["gid"] <= 2147483647
    assert f"user.heketi.csi-name {name}" in volume["glustervolumeoptions"]
    assert first.volume_context["glusterVolume"] == name
    assert first.volume_context["gid"] == str(volume["gid"])
    assert first.volume_context["glusterHosts"].split(",") == volume["mount"]["glusterfs"]["hosts"]


def test_storage_class_parameters_reach_heketi(driver: Driver, heketi: ServerProcess) -> None:
    cluster = heketi.request("GET", "/clusters").json()["clusters"][0]
    response = driver.controller.CreateVolume(create_request("pvc-params", parameters={
        "clusterid": cluster, "volumetype": "replicate:2", "volumeoptions": "performance.readdir-ahead on",
        "gidMin": "5000", "gidMax": "5000", "volumenameprefix": "team",
        "csi.storage.k8s.io/pvc/namespace": "apps", "csi.storage.k8s.io/pvc/name": "data",
    }))
    volume = heketi_volume(heketi, response.volume.volume_id)
    assert volume["name"] == "team_apps_data_pvc-params"
    assert volume["cluster"] == cluster
    assert volume["durability"]["replicate"]["replica"] == 2
    assert volume["gid"] == 5000
    assert "performance.readdir-ahead on" in volume["glustervolumeoptions"]


def test_same_name_incompatible_request_is_already_exists(driver: Driver, heketi: ServerProcess) -> None:
    name = "pvc-incompatible"
    volume_id = driver.controller.CreateVolume(create_request(name)).volume.volume_id
    bigger = rpc_error(driver.controller.CreateVolume, create_request(name, required=5 * GIB))
    assert bigger.code() == Code.ALREADY_EXISTS
    other_type = rpc_error(driver.controller.CreateVolume,
                           create_request(name, parameters={"volumetype": "none"}))
    assert other_type.code() == Code.ALREADY_EXISTS
    assert volumes_named(heketi, name) == [volume_id]


def test_a_volume_the_driver_did_not_create_is_not_adopted(driver: Driver, heketi: ServerProcess) -> None:
    final = heketi.async_call("POST", "/volumes", {"size": 1, "name": "pvc-foreign"})
    assert final.status == 303, final.text
    error = rpc_error(driver.controller.CreateVolume, create_request("pvc-foreign"))
    assert error.code() == Code.ALREADY_EXISTS
    assert len(volumes_named(heketi, "pvc-foreign")) == 1


def test_concurrent_creates_of_one_name_make_one_volume(driver: Driver, heketi: ServerProcess) -> None:
    name = "pvc-concurrent"
    calls = [driver.controller.CreateVolume.future(create_request(name)) for _ in range(20)]
    ids, codes = set(), []
    for call in calls:
        try:
            ids.add(call.result().volume.volume_id)
            codes.append(Code.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
    assert set(codes) <= {Code.OK, Code.ABORTED}, codes
    assert Code.OK in codes and len(ids) == 1
    assert volumes_named(heketi, name) == list(ids)
    # The CO's retry after the ABORTED ones converges on the same volume.
    assert driver.controller.CreateVolume(create_request(name)).volume.volume_id in ids


@pytest.mark.slow
def test_idempotency_survives_a_driver_restart(heketi: ServerProcess) -> None:
    name = "pvc-restart"
    with running_driver(heketi.base_url) as first:
        volume_id = first.controller.CreateVolume(create_request(name)).volume.volume_id
        assert first.stop() == 0
    with running_driver(heketi.base_url) as second:
        assert second.controller.CreateVolume(create_request(name)).volume.volume_id == volume_id
    assert volumes_named(heketi, name) == [volume_id]


@pytest.mark.parametrize("request_, code", [
    (create_request(""), Code.INVALID_ARGUMENT),
    (create_request("x" * 129), Code.INVALID_ARGUMENT),
    (create_request("pvc-nocaps", capabilities=()), Code.INVALID_ARGUMENT),
    (create_request("pvc-block", capabilities=(BLOCK,)), Code.INVALID_ARGUMENT),
    # a StorageClass mountOption the node would refuse: refused before a volume exists
    (create_request("pvc-logfile", capabilities=(pb.VolumeCapability(
        mount=pb.VolumeCapability.MountVolume(mount_flags=["log-file=/etc/cron.d/x"]),
        access_mode=MOUNT.access_mode),)), Code.INVALID_ARGUMENT),
    (create_request("pvc-unknown", parameters={"replicas": "3"}), Code.INVALID_ARGUMENT),
    (create_request("pvc-resturl", parameters={"resturl": "http://x"}), Code.INVALID_ARGUMENT),
    (create_request("pvc-badtype", parameters={"volumetype": "disperse:4"}), Code.INVALID_ARGUMENT),
    (create_request("pvc-nocluster", parameters={"clusterid": "0123456789abcdef0123456789abcdef"}),
     Code.INVALID_ARGUMENT),
    (create_request("pvc-range", required=2 * GIB, limit=GIB), Code.OUT_OF_RANGE),
    (create_request("pvc-nowhole", required=GIB + 1, limit=GIB + 5), Code.OUT_OF_RANGE),
    (create_request("pvc-huge", required=5000 * GIB), Code.RESOURCE_EXHAUSTED),
])
def test_create_errors(driver: Driver, heketi: ServerProcess, request_: pb.CreateVolumeRequest,
                       code: grpc.StatusCode) -> None:
    error = rpc_error(driver.controller.CreateVolume, request_)
    assert error.code() == code, error.details()
    if request_.name:
        assert volumes_named(heketi, request_.name) == []


# --- DeleteVolume ----------------------------------------------------------------------------

def test_delete_twice_and_unknown_ids_succeed(driver: Driver, heketi: ServerProcess) -> None:
    volume_id = driver.controller.CreateVolume(create_request("pvc-delete")).volume.volume_id
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume_id))
    assert heketi.request("GET", f"/volumes/{volume_id}").status == 404
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume_id))
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id="0" * 32))
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id="not-a-heketi-id"))
    assert rpc_error(driver.controller.DeleteVolume,
                     pb.DeleteVolumeRequest()).code() == Code.INVALID_ARGUMENT


# --- ControllerExpandVolume ------------------------------------------------------------------

def expand(driver: Driver, volume_id: str, required: int, limit: int = 0) -> pb.ControllerExpandVolumeResponse:
    return driver.controller.ControllerExpandVolume(pb.ControllerExpandVolumeRequest(
        volume_id=volume_id, capacity_range=pb.CapacityRange(required_bytes=required, limit_bytes=limit),
    ))


def test_expand_to_a_target_size_by_the_difference(driver: Driver, heketi: ServerProcess) -> None:
    volume_id = driver.controller.CreateVolume(create_request("pvc-expand")).volume.volume_id
    grown = expand(driver, volume_id, 3 * GIB)
    assert grown.capacity_bytes == 3 * GIB and grown.node_expansion_required is False
    assert heketi_volume(heketi, volume_id)["size"] == 3  # not 1 + 3
    again = expand(driver, volume_id, 3 * GIB)
    assert again.capacity_bytes == 3 * GIB
    smaller = expand(driver, volume_id, 2 * GIB)
    assert smaller.capacity_bytes == 3 * GIB
    partial = expand(driver, volume_id, 4 * GIB - 5)  # rounds up to 4 GiB
    assert partial.capacity_bytes == 4 * GIB
    assert heketi_volume(heketi, volume_id)["size"] == 4


def test_expand_errors(driver: Driver) -> None:
    volume_id = driver.controller.CreateVolume(create_request("pvc-expand-errors", required=2 * GIB)).volume.volume_id
    cases = [
        (pb.ControllerExpandVolumeRequest(volume_id="0" * 32,
                                          capacity_range=pb.CapacityRange(required_bytes=GIB)),
         Code.NOT_FOUND),
        (pb.ControllerExpandVolumeRequest(capacity_range=pb.CapacityRange(required_bytes=GIB)),
         Code.INVALID_ARGUMENT),
        (pb.ControllerExpandVolumeRequest(volume_id=volume_id), Code.INVALID_ARGUMENT),
        (pb.ControllerExpandVolumeRequest(volume_id=volume_id, capacity_range=pb.CapacityRange(
            required_bytes=GIB, limit_bytes=GIB)), Code.OUT_OF_RANGE),
        (pb.ControllerExpandVolumeRequest(volume_id=volume_id, capacity_range=pb.CapacityRange(
            required_bytes=5000 * GIB)), Code.RESOURCE_EXHAUSTED),
        (pb.ControllerExpandVolumeRequest(volume_id=volume_id, volume_capability=BLOCK,
                                          capacity_range=pb.CapacityRange(required_bytes=3 * GIB)),
         Code.INVALID_ARGUMENT),
    ]
    for request, code in cases:
        assert rpc_error(driver.controller.ControllerExpandVolume, request).code() == code, request


# --- ValidateVolumeCapabilities --------------------------------------------------------------

def test_validate_volume_capabilities(driver: Driver) -> None:
    volume = driver.controller.CreateVolume(create_request("pvc-validate")).volume
    ok = driver.controller.ValidateVolumeCapabilities(pb.ValidateVolumeCapabilitiesRequest(
        volume_id=volume.volume_id, volume_capabilities=[MOUNT],
        volume_context=volume.volume_context,
    ))
    assert ok.HasField("confirmed") and list(ok.confirmed.volume_capabilities) == [MOUNT]
    unsupported = driver.controller.ValidateVolumeCapabilities(pb.ValidateVolumeCapabilitiesRequest(
        volume_id=volume.volume_id, volume_capabilities=[BLOCK],
    ))
    assert not unsupported.HasField("confirmed") and "block" in unsupported.message
    unknown = rpc_error(driver.controller.ValidateVolumeCapabilities,
                        pb.ValidateVolumeCapabilitiesRequest(volume_id="0" * 32,
                                                             volume_capabilities=[MOUNT]))
    assert unknown.code() == Code.NOT_FOUND
    missing = rpc_error(driver.controller.ValidateVolumeCapabilities,
                        pb.ValidateVolumeCapabilitiesRequest(volume_id=volume.volume_id))
    assert missing.code() == Code.INVALID_ARGUMENT


# --- process behaviour -----------------------------------------------------------------------

def test_one_log_line_per_rpc_and_never_the_secret(driver: Driver) -> None:
    driver.controller.CreateVolume(create_request("pvc-logged"))
    rpc_error(driver.controller.CreateVolume, create_request("pvc-logged-bad", capabilities=(BLOCK,)))
    deadline = time.monotonic() + 10
    while "pvc-logged-bad" not in driver.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = driver.log()
    lines = [line for line in log.splitlines() if "rpc=CreateVolume name='pvc-logged" in line]
    assert len(lines) == 2, log
    assert "outcome=OK" in lines[0] and "duration_ms=" in lines[0]
    assert "outcome=INVALID_ARGUMENT" in lines[1]
    assert ADMIN_KEY not in log
    assert "HTTP Request" not in log  # the client library's per-request lines stay quiet


@pytest.mark.slow
def test_heketipy_down_probe_not_ready_and_calls_unavailable(tmp_path: Path) -> None:
    with running_server(tmp_path, glusterfs={"executor": "simulator"}, heketipy=SIMULATOR) as server:
        load_topology(server)
        with running_driver(server.base_url) as drv:
            assert drv.identity.Probe(pb.ProbeRequest()).ready.value is True
            server.stop()
            assert drv.identity.Probe(pb.ProbeRequest()).ready.value is False
            error = rpc_error(drv.controller.CreateVolume, create_request("pvc-down"))
            assert error.code() == Code.UNAVAILABLE
            assert rpc_error(drv.controller.DeleteVolume, pb.DeleteVolumeRequest(
                volume_id="0" * 32)).code() == Code.UNAVAILABLE


def test_sigterm_stops_cleanly_and_removes_the_socket(heketi: ServerProcess) -> None:
    with running_driver(heketi.base_url) as drv:
        assert drv.stop() == 0
        assert not Path(drv.socket_path).exists()
        assert "stopped" in drv.log()


@pytest.mark.slow
def test_a_create_interrupted_mid_flight_converges_on_one_volume(tmp_path: Path) -> None:
    """The CO gives up on a slow create (deadline) and the driver restarts: the retry sees the
    pending Heketi volume (ABORTED while it runs) and then answers it; never a second one."""
    slow = {"simulator": {"device_size_gb": 100, "latency_ms": {"lvm": 0, "fs": 0, "gluster": 1500}}}
    name = "pvc-interrupted"
    with running_server(tmp_path, glusterfs={"executor": "simulator"}, heketipy=slow) as server:
        load_topology(server)
        with running_driver(server.base_url) as first:
            with pytest.raises(grpc.RpcError) as excinfo:
                first.controller.CreateVolume(create_request(name), timeout=0.3)
            assert excinfo.value.code() == Code.DEADLINE_EXCEEDED
        with running_driver(server.base_url) as second:
            codes = []
            deadline = time.monotonic() + 60
            while True:
                try:
                    volume_id = second.controller.CreateVolume(create_request(name)).volume.volume_id
                    break
                except grpc.RpcError as error:
                    codes.append(error.code())
                    assert time.monotonic() < deadline, codes
                    time.sleep(0.2)
            assert set(codes) <= {Code.ABORTED}, codes
        assert volumes_named(server, name) == [volume_id]


def test_node_mode_over_grpc(tmp_path: Path) -> None:
    """Node mode serves Identity and Node only; Probe does not depend on heketipy there (a
    restarted node plugin would break its FUSE mounts), and the calls that need no root
    behave as the spec says."""
    unreachable = "http://127.0.0.1:9"  # nothing listens on the discard port
    with running_driver(unreachable, mode="node") as drv:
        assert drv.identity.Probe(pb.ProbeRequest()).ready.value is True
        caps = drv.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest()).capabilities
        assert all(c.WhichOneof("type") != "service" for c in caps)
        assert drv.node.NodeGetInfo(pb.NodeGetInfoRequest()).node_id == "node-a"
        controller = rpc_error(drv.controller.CreateVolume, create_request("pvc-node-mode"))
        assert controller.code() == Code.UNIMPLEMENTED
        target = tmp_path / "never-published"
        drv.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
            volume_id="0" * 32, target_path=str(target)))
        drv.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
            volume_id="0" * 32, staging_target_path=str(tmp_path)))
        assert tmp_path.is_dir()
        stats = rpc_error(drv.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
            volume_id="0" * 32, volume_path=str(target)))
        assert stats.code() == Code.NOT_FOUND
        block = rpc_error(drv.node.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id="0" * 32, staging_target_path=str(tmp_path), volume_capability=BLOCK))
        assert block.code() == Code.INVALID_ARGUMENT
        down = rpc_error(drv.node.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id="0" * 32, staging_target_path=str(tmp_path), volume_capability=MOUNT))
        assert down.code() == Code.UNAVAILABLE


@pytest.mark.parametrize("hostile", ["my volume; $(reboot)", "ünïcode/näme", "-rf", "é" * 64])
def test_hostile_names_get_a_safe_deterministic_heketi_name(driver: Driver, heketi: ServerProcess,
                                                            hostile: str) -> None:
    first = driver.controller.CreateVolume(create_request(hostile)).volume
    again = driver.controller.CreateVolume(create_request(hostile)).volume
    assert first.volume_id == again.volume_id
    name = heketi_volume(heketi, first.volume_id)["name"]
    assert name.startswith("csi-") and name.replace("-", "").isalnum()
    assert volumes_named(heketi, name) == [first.volume_id]


def test_custom_volume_name_serves_one_claim_only(driver: Driver, heketi: ServerProcess) -> None:
    parameters = {"customvolumename": "shared_custom"}
    first = driver.controller.CreateVolume(create_request("pvc-custom-1", parameters=parameters))
    again = driver.controller.CreateVolume(create_request("pvc-custom-1", parameters=parameters))
    assert first.volume.volume_id == again.volume.volume_id
    assert heketi_volume(heketi, first.volume.volume_id)["name"] == "shared_custom"
    other = rpc_error(driver.controller.CreateVolume,
                      create_request("pvc-custom-2", parameters=parameters))
    assert other.code() == Code.ALREADY_EXISTS
    assert volumes_named(heketi, "shared_custom") == [first.volume.volume_id]
