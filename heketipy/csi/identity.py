"""The CSI Identity service: the driver's name and version, its plugin capabilities, and Probe.

Probe answers ready=false (not an error) while heketipy does not answer GET /hello, in the
controller and all-in-one modes. In node mode it does not ask heketipy: the livenessprobe
sidecar restarts a plugin whose Probe fails, and restarting a node plugin cannot bring a server
back but does break the FUSE mounts its process serves.
"""

from __future__ import annotations

import asyncio
from importlib import metadata

import grpc
from google.protobuf.wrappers_pb2 import BoolValue

from heketipy.client import AsyncHeketiClient, HeketiError
from heketipy.csi import DRIVER_NAME
from heketipy.csi.rpc import log, rpc
from heketipy.third_party.csi_spec import csi_pb2 as pb
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc

# A hung heketipy must not hold the livenessprobe sidecar's call for the client's full timeout.
PROBE_TIMEOUT_S = 5.0


def driver_version() -> str:
    try:
        return metadata.version("heketipy")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class IdentityService(pb_grpc.IdentityServicer):
    def __init__(self, client: AsyncHeketiClient | None, *, controller: bool) -> None:
        self.client = client
        self.controller = controller

    @rpc
    async def GetPluginInfo(
        self, request: pb.GetPluginInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPluginInfoResponse:
        return pb.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=driver_version())

    @rpc
    async def GetPluginCapabilities(
        self, request: pb.GetPluginCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPluginCapabilitiesResponse:
        capabilities = [
            pb.PluginCapability(
                volume_expansion=pb.PluginCapability.VolumeExpansion(
                    type=pb.PluginCapability.VolumeExpansion.ONLINE
                )
            )
        ]
        if self.controller:
            capabilities.insert(0, pb.PluginCapability(
                service=pb.PluginCapability.Service(
                    type=pb.PluginCapability.Service.CONTROLLER_SERVICE
                )
            ))
        return pb.GetPluginCapabilitiesResponse(capabilities=capabilities)

    @rpc
    async def Probe(
        self, request: pb.ProbeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProbeResponse:
        if not self.controller or self.client is None:
            return pb.ProbeResponse(ready=BoolValue(value=True))
        try:
            await asyncio.wait_for(self.client.hello(), PROBE_TIMEOUT_S)
        except (HeketiError, TimeoutError) as exc:
            log.warning("probe: heketipy not ready: %s", exc or "no answer in time")
            return pb.ProbeResponse(ready=BoolValue(value=False))
        return pb.ProbeResponse(ready=BoolValue(value=True))
