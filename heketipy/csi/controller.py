"""The CSI Controller service: create, delete, expand and validate Heketi volumes through
heketipy's client library.

Idempotency of CreateVolume: the Heketi volume name derives from the CSI name (``naming``) and
the volume records the CSI name's token (option ``user.heketi.csi-name``), so a repeated or
retried create, also after a driver restart, finds its volume with ``GET /volumes?volume_name=``
(indexed on the server) instead of creating a second one. Within one driver process, a create
for a CSI name (its token) or a Heketi name that is already in flight is refused with ABORTED
(``locks``), so concurrent calls never both reach the server, also when the same CSI name comes
with parameters giving another Heketi name. A create answered "name already in use" looks
again: the volume another driver process created for this CSI name meanwhile is returned. The server's answer includes volumes whose create is still
pending; such a volume answers 404 to GET until it completes, which is ABORTED as well.

The volume id is the Heketi volume id. The volume context carries what the node needs to
mount without asking again (``glusterVolume``, ``glusterHosts``) and the volume's ``gid``.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from heketipy.client import AsyncHeketiClient, HeketiError
from heketipy.client.models import Volume
from heketipy.csi import naming, params, sizes
from heketipy.csi.access import capability_problems
from heketipy.csi.errors import CsiError, from_heketi, invalid, require
from heketipy.csi.locks import InFlight
from heketipy.csi.rpc import log, rpc
from heketipy.csi.vocabulary import volume_context
from heketipy.third_party.csi_spec import csi_pb2 as pb
from heketipy.third_party.csi_spec import csi_pb2_grpc as pb_grpc

MAX_NAME_BYTES = 128

ADVERTISED = (
    pb.ControllerServiceCapability.RPC.CREATE_DELETE_VOLUME,
    pb.ControllerServiceCapability.RPC.EXPAND_VOLUME,
)


def csi_volume(volume: Volume) -> pb.Volume:
    return pb.Volume(
        volume_id=volume.id,
        capacity_bytes=volume.size * sizes.GIB,
        volume_context=volume_context(volume),
    )


class ControllerService(pb_grpc.ControllerServicer):
    def __init__(self, client: AsyncHeketiClient) -> None:
        self.client = client
        self.in_flight = InFlight()

    # -- CreateVolume -------------------------------------------------------------------------

    @rpc
    async def CreateVolume(
        self, request: pb.CreateVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateVolumeResponse:
        require(request, "name", "volume_capabilities")
        name = request.name
        if len(name.encode()) > MAX_NAME_BYTES:
            raise invalid(f"name is longer than {MAX_NAME_BYTES} bytes")
        problems = capability_problems(request.volume_capabilities)
        if problems:
            raise invalid("; ".join(problems))
        if request.HasField("volume_content_source"):
            raise invalid("volume_content_source: cloning and snapshots are not supported")
        plan = params.parse_parameters(request.parameters)
        required = request.capacity_range.required_bytes
        limit = request.capacity_range.limit_bytes
        size_gib = sizes.gib_for_range(required, limit, default_gib=sizes.DEFAULT_SIZE_GIB)
        token = naming.csi_token(name)
        volume_name = naming.heketi_volume_name(name, plan)
        gid = params.gid_for(name, plan)
        # One CSI name at a time, whatever Heketi name its parameters give it; and one Heketi
        # name at a time (customvolumename: two CSI names may want the same one).
        with self.in_flight.hold(f"csi:{token}", f"volume name {name!r}"), \
                self.in_flight.hold(f"name:{volume_name}", f"Heketi volume name {volume_name!r}"):
            existing = await self._find(volume_name, token)
            if existing is not None:
                return self._existing(existing, name, plan, gid, required, limit)
            body = params.create_request(
                plan, volume_name=volume_name, size_gib=size_gib, gid=gid, csi_token=token
            )
            try:
                created = await self.client.volume_create(body)
            except HeketiError as exc:
                if "already in use" not in exc.message:
                    raise from_heketi(exc, "create volume") from None
                # Taken between the lookup and the create: by another driver process creating
                # this same CSI name (a restarted driver), or by someone else. Look again.
                existing = await self._find(volume_name, token)
                if existing is not None:
                    return self._existing(existing, name, plan, gid, required, limit)
                raise CsiError(
                    grpc.StatusCode.ABORTED,
                    f"Heketi volume name {volume_name!r} was reported taken and then not "
                    f"found: {exc.message}",
                ) from None
            log.info("created volume %s (%s) for name %r", created.id, created.name, name)
            return pb.CreateVolumeResponse(volume=csi_volume(created))

    @staticmethod
    def _existing(existing: Volume, name: str, plan: params.VolumePlan, gid: int,
                  required: int, limit: int) -> pb.CreateVolumeResponse:
        """The answer for the volume already created for ``name``, if it matches the request."""
        differences = params.incompatibilities(existing, plan, gid)
        if not sizes.fits(existing.size, required, limit):
            differences.insert(0, f"size {existing.size} GiB outside the capacity range")
        if differences:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"volume {existing.id} exists for name {name!r} with " + "; ".join(differences),
            )
        return pb.CreateVolumeResponse(volume=csi_volume(existing))

    async def _find(self, volume_name: str, token: str) -> Volume | None:
        """The volume this driver created under ``volume_name`` for ``token``, or None.

        Names are unique per cluster only, so every volume of the name is read before judging:
        the driver's own wins; else a pending one (404 until its create completes, possibly
        ours) is ABORTED; else one the driver did not create is ALREADY_EXISTS."""
        try:
            ids = await self.client.volume_ids_by_name(volume_name)
        except HeketiError as exc:
            raise from_heketi(exc, "look up volume by name") from None
        pending: list[str] = []
        foreign: list[str] = []
        for volume_id in ids:
            try:
                volume = await self.client.volume_info(volume_id)
            except HeketiError as exc:
                if exc.status == 404:
                    pending.append(volume_id)
                    continue
                raise from_heketi(exc, "look up volume") from None
            if volume.name != volume_name:
                continue  # a Heketi server that ignores ?volume_name= lists everything
            if params.csi_token_of(volume) == token:
                return volume
            foreign.append(volume.id)
        if pending:
            raise CsiError(
                grpc.StatusCode.ABORTED,
                f"volume {pending[0]} named {volume_name!r} has an operation pending",
            )
        if foreign:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Heketi volume name {volume_name!r} is taken by volume {foreign[0]}, which was "
                "not created for this name",
            )
        return None

    # -- DeleteVolume -------------------------------------------------------------------------

    @rpc
    async def DeleteVolume(
        self, request: pb.DeleteVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteVolumeResponse:
        require(request, "volume_id")
        volume_id = request.volume_id
        with self.in_flight.hold_volume(volume_id):
            try:
                await self.client.volume_delete(volume_id)
            except HeketiError as exc:
                if exc.status != 404:
                    raise from_heketi(exc, "delete volume") from None
                log.info("delete: volume %s does not exist (already deleted)", volume_id)
        return pb.DeleteVolumeResponse()

    # -- ControllerExpandVolume ---------------------------------------------------------------

    @rpc
    async def ControllerExpandVolume(
        self, request: pb.ControllerExpandVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ControllerExpandVolumeResponse:
        require(request, "volume_id")
        volume_id = request.volume_id
        if request.HasField("volume_capability"):
            problems = capability_problems([request.volume_capability])
            if problems:
                raise invalid("; ".join(problems))
        required = request.capacity_range.required_bytes
        limit = request.capacity_range.limit_bytes
        target_gib = sizes.gib_for_range(required, limit, default_gib=None)
        with self.in_flight.hold_volume(volume_id):
            volume = await self._volume(volume_id, "expand volume")
            if limit and volume.size * sizes.GIB > limit:
                raise CsiError(
                    grpc.StatusCode.OUT_OF_RANGE,
                    f"volume {volume_id} is already {volume.size} GiB, above limit_bytes {limit}",
                )
            size_gib = volume.size
            if size_gib < target_gib:
                # Heketi's expand_size is an increment: ask for the difference to the target.
                try:
                    expanded = await self.client.volume_expand(volume_id, target_gib - size_gib)
                except HeketiError as exc:
                    raise from_heketi(exc, "expand volume") from None
                size_gib = expanded.size
        return pb.ControllerExpandVolumeResponse(
            capacity_bytes=size_gib * sizes.GIB, node_expansion_required=False
        )

    async def _volume(self, volume_id: str, action: str) -> Volume:
        try:
            return await self.client.volume_info(volume_id)
        except HeketiError as exc:
            if exc.status == 404:
                raise CsiError(grpc.StatusCode.NOT_FOUND, f"volume {volume_id} not found") from None
            raise from_heketi(exc, action) from None

    # -- ValidateVolumeCapabilities -----------------------------------------------------------

    @rpc
    async def ValidateVolumeCapabilities(
        self, request: pb.ValidateVolumeCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateVolumeCapabilitiesResponse:
        require(request, "volume_id", "volume_capabilities")
        await self._volume(request.volume_id, "validate volume")
        problems = capability_problems(request.volume_capabilities)
        if not problems and request.parameters:
            try:
                params.parse_parameters(request.parameters)
            except CsiError as exc:
                problems.append(exc.message)
        if problems:
            return pb.ValidateVolumeCapabilitiesResponse(message="; ".join(problems))
        return pb.ValidateVolumeCapabilitiesResponse(
            confirmed=pb.ValidateVolumeCapabilitiesResponse.Confirmed(
                volume_context=request.volume_context,
                volume_capabilities=request.volume_capabilities,
                parameters=request.parameters,
            )
        )

    # -- ControllerGetCapabilities ------------------------------------------------------------

    @rpc
    async def ControllerGetCapabilities(
        self, request: pb.ControllerGetCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ControllerGetCapabilitiesResponse:
        return pb.ControllerGetCapabilitiesResponse(capabilities=capabilities(ADVERTISED))


def capabilities(
    types: Sequence[pb.ControllerServiceCapability.RPC.Type],
) -> list[pb.ControllerServiceCapability]:
    return [
        pb.ControllerServiceCapability(rpc=pb.ControllerServiceCapability.RPC(type=t))
        for t in types
    ]
