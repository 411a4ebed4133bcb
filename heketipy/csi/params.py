"""StorageClass parameters, with the names and meanings of Kubernetes' in-tree glusterfs
provisioner, parsed into a `VolumePlan`; and the Heketi create request and compatibility check
derived from it.

Keys are matched case-insensitively as the in-tree provisioner did (``gidMin`` = ``gidmin``).
The CO's own ``csi.storage.k8s.io/*`` keys are not StorageClass parameters: the PVC's name and
namespace (external-provisioner ``--extra-create-metadata``) feed the volume name, the rest is
ignored. The in-tree provisioner's connection parameters (``resturl``, ``restuser``, the secret
and ``customepnameprefix``) have no meaning here and are refused, so a StorageClass pointing at
another server is never silently provisioned on this one.

Group ids: the in-tree provisioner gave every volume its own GID from ``[gidMin, gidMax]``
(default 2000..2147483647), stored as the Heketi volume's ``gid`` (brick directories owned by
it) and announced on the PV for pods' supplemental groups. heketipy-csi derives the GID from the
CSI volume name (a hash into the range): the same name always gets the same GID, so a retried
create is recognised as the same request, and no listing of all volumes is needed to pick one.
Two volumes can share a GID (probability about n / range size); the GID is returned in the
volume context as ``gid``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heketipy.client.models import Volume
from heketipy.csi.errors import invalid
from heketipy.csi.vocabulary import CONNECTION_PARAMETERS, DRIVER_PARAMETERS
from heketipy.domain.validators import name_problem

CO_PREFIX = "csi.storage.k8s.io/"
PVC_NAME = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace"

ABSOLUTE_GID_MIN = 2000
ABSOLUTE_GID_MAX = 2147483647
DEFAULT_REPLICA = 3
SNAPFACTOR_RANGE = (1.0, 100.0)

# The option heketi-csi records the CSI name under, to recognise its own volumes.
CSI_NAME_OPTION = "user.heketi.csi-name"

_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_CLUSTER_ID_RE = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True)
class Durability:
    type: str  # "replicate", "disperse" or "none"
    replica: int = 0
    data: int = 0
    redundancy: int = 0

    def to_wire(self) -> dict[str, Any]:
        if self.type == "replicate":
            return {"type": "replicate", "replicate": {"replica": self.replica}}
        if self.type == "disperse":
            return {"type": "disperse",
                    "disperse": {"data": self.data, "redundancy": self.redundancy}}
        return {"type": "none"}


@dataclass(frozen=True)
class VolumePlan:
    """What a StorageClass asks of every volume it provisions."""

    cluster_ids: tuple[str, ...] = ()
    durability: Durability = Durability("replicate", DEFAULT_REPLICA)
    options: tuple[str, ...] = ()
    name_prefix: str = ""
    custom_name: str = ""
    gid_min: int = ABSOLUTE_GID_MIN
    gid_max: int = ABSOLUTE_GID_MAX
    snap_factor: float | None = None
    pvc_namespace: str = ""
    pvc_name: str = ""


def parse_volume_type(value: str) -> Durability:
    """``replicate[:N]`` (N defaults to 3), ``disperse:D:R`` or ``none``."""
    parts = [p.strip() for p in value.split(":")]
    kind = parts[0].lower()

    def count(text: str, what: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise invalid(f"volumetype {value!r}: {what} must be a positive integer")
        return int(text)

    if kind == "replicate" and len(parts) <= 2:
        return Durability("replicate", count(parts[1], "replica count") if len(parts) == 2
                          else DEFAULT_REPLICA)
    if kind == "disperse" and len(parts) == 3:
        return Durability("disperse", data=count(parts[1], "data count"),
                          redundancy=count(parts[2], "redundancy count"))
    if kind == "none" and len(parts) == 1:
        return Durability("none")
    raise invalid(
        f"volumetype {value!r}: expected replicate:<replica>, disperse:<data>:<redundancy> or none"
    )


def parse_volume_options(value: str) -> tuple[str, ...]:
    """Comma-separated ``key value`` gluster options, as the in-tree provisioner split them."""
    options = []
    for item in value.split(","):
        option = " ".join(item.split())
        if not option:
            continue
        key, _, setting = option.partition(" ")
        if not setting:
            raise invalid(f"volumeoptions: {option!r} is not a 'key value' pair")
        if key.lower() == CSI_NAME_OPTION:
            raise invalid(f"volumeoptions: {CSI_NAME_OPTION} is set by the driver")
        options.append(option)
    return tuple(options)


def _gid(value: str, key: str) -> int:
    try:
        gid = int(value.strip())
    except ValueError:
        raise invalid(f"{key}: {value!r} is not an integer") from None
    if not ABSOLUTE_GID_MIN <= gid <= ABSOLUTE_GID_MAX:
        raise invalid(f"{key}: {gid} is outside {ABSOLUTE_GID_MIN}..{ABSOLUTE_GID_MAX}")
    return gid


def parse_parameters(parameters: Mapping[str, str]) -> VolumePlan:
    """Translate CreateVolume's parameters; any unknown or malformed one is INVALID_ARGUMENT."""
    fields: dict[str, Any] = {}
    for raw_key, value in sorted(parameters.items()):
        key = raw_key.lower()
        if raw_key == PVC_NAME:
            fields["pvc_name"] = value
        elif raw_key == PVC_NAMESPACE:
            fields["pvc_namespace"] = value
        elif raw_key.startswith(CO_PREFIX):
            continue
        elif key in CONNECTION_PARAMETERS:
            raise invalid(
                f"parameter {raw_key!r} belongs to the in-tree provisioner; heketipy-csi takes "
                "the server and credentials from --heketi-url/--heketi-user/--heketi-secret-file"
                " and creates no endpoints"
            )
        elif key not in DRIVER_PARAMETERS:
            raise invalid(f"unknown parameter {raw_key!r}")
        elif key == "clusterid":
            ids = tuple(c.strip() for c in value.split(",") if c.strip())
            for cluster_id in ids:
                if not _CLUSTER_ID_RE.fullmatch(cluster_id):
                    raise invalid(f"clusterid: {cluster_id!r} is not a cluster id")
            fields["cluster_ids"] = ids
        elif key == "volumetype":
            fields["durability"] = parse_volume_type(value)
        elif key == "volumeoptions":
            fields["options"] = parse_volume_options(value)
        elif key == "volumenameprefix":
            if "_" in value or not _PREFIX_RE.fullmatch(value):
                raise invalid(
                    f"volumenameprefix {value!r}: letters, digits and '-' only (no '_')"
                )
            fields["name_prefix"] = value
        elif key == "customvolumename":
            problem = name_problem(value)
            if problem:
                raise invalid(f"customvolumename {value!r}: {problem}")
            fields["custom_name"] = value
        elif key == "gidmin":
            fields["gid_min"] = _gid(value, raw_key)
        elif key == "gidmax":
            fields["gid_max"] = _gid(value, raw_key)
        elif key == "snapfactor":
            try:
                factor = float(value)
            except ValueError:
                raise invalid(f"snapfactor: {value!r} is not a number") from None
            low, high = SNAPFACTOR_RANGE
            if not low <= factor <= high:
                raise invalid(f"snapfactor: {factor} is outside [{low:g}, {high:g}]")
            fields["snap_factor"] = factor
    plan = VolumePlan(**fields)
    if plan.gid_min > plan.gid_max:
        raise invalid(f"gidMin {plan.gid_min} is greater than gidMax {plan.gid_max}")
    if plan.custom_name and plan.name_prefix:
        raise invalid("customvolumename and volumenameprefix exclude each other")
    return plan


def gid_for(csi_name: str, plan: VolumePlan) -> int:
    """The volume's GID: a hash of the CSI name into [gid_min, gid_max] (see module doc)."""
    digest = hashlib.sha256(csi_name.encode()).digest()
    span = plan.gid_max - plan.gid_min + 1
    return plan.gid_min + int.from_bytes(digest[:8], "big") % span


def create_request(plan: VolumePlan, *, volume_name: str, size_gib: int, gid: int,
                   csi_token: str) -> dict[str, Any]:
    """The POST /volumes body; the CSI name token goes in as the marker option."""
    body: dict[str, Any] = {
        "size": size_gib,
        "name": volume_name,
        "durability": plan.durability.to_wire(),
        "gid": gid,
        "glustervolumeoptions": [*plan.options, f"{CSI_NAME_OPTION} {csi_token}"],
    }
    if plan.cluster_ids:
        body["clusters"] = list(plan.cluster_ids)
    if plan.snap_factor is not None:
        body["snapshot"] = {"enable": True, "factor": plan.snap_factor}
    return body


def csi_token_of(volume: Volume) -> str | None:
    """The CSI name token a volume was created for, or None if heketipy-csi did not create it."""
    for option in volume.glustervolumeoptions:
        key, _, value = option.strip().partition(" ")
        if key == CSI_NAME_OPTION:
            return value.strip()
    return None


def incompatibilities(volume: Volume, plan: VolumePlan, gid: int) -> list[str]:
    """How an existing volume differs from what the plan would create (empty: compatible)."""
    found = []
    durability = volume.durability
    wanted = plan.durability
    have_type = durability.type or "none"
    if have_type != wanted.type:
        found.append(f"durability {have_type} instead of {wanted.type}")
    elif wanted.type == "replicate" and durability.replicate.replica != wanted.replica:
        found.append(f"replica {durability.replicate.replica} instead of {wanted.replica}")
    elif wanted.type == "disperse" and (
        durability.disperse.data, durability.disperse.redundancy
    ) != (wanted.data, wanted.redundancy):
        found.append("a different disperse layout")
    if plan.cluster_ids and volume.cluster not in plan.cluster_ids:
        found.append(f"cluster {volume.cluster} not in clusterid")
    if volume.gid != gid:
        found.append(f"gid {volume.gid} instead of {gid}")
    have_options = {" ".join(o.split()) for o in volume.glustervolumeoptions}
    missing = [o for o in plan.options if o not in have_options]
    if missing:
        found.append(f"volume options {missing} not set")
    if plan.snap_factor is not None and not volume.snapshot.enable:
        found.append("snapshots not enabled")
    return found
