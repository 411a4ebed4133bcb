"""Which volume capabilities the driver serves: every filesystem access mode (a Gluster FUSE
mount can be shared by any number of nodes and writers), with the mount flags the node allows
(csi.mounts); never block access."""

from __future__ import annotations

from collections.abc import Iterable

from heketipy.csi.errors import CsiError
from heketipy.csi.mounts import checked_options
from heketipy.third_party.csi_spec import csi_pb2 as pb

AccessMode = pb.VolumeCapability.AccessMode
READ_ONLY_MODES = (AccessMode.SINGLE_NODE_READER_ONLY, AccessMode.MULTI_NODE_READER_ONLY)


def capability_problems(capabilities: Iterable[pb.VolumeCapability]) -> list[str]:
    """Why the driver cannot serve these capabilities (empty: it can)."""
    problems = []
    for capability in capabilities:
        kind = capability.WhichOneof("access_type")
        if kind == "block":
            problems.append("block access type is not supported (filesystem volumes only)")
        elif kind != "mount":
            problems.append("access_type (mount) is required")
        else:
            try:
                checked_options(capability.mount.mount_flags)
            except CsiError as exc:
                problems.append(exc.message)
        if capability.access_mode.mode == AccessMode.UNKNOWN:
            problems.append("access_mode is required")
    return problems
