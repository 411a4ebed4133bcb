"""The Heketi volume name for a CSI volume name: deterministic, so that the volume created for
a name can be found again (``GET /volumes?volume_name=``) after a retry or a driver restart.

- The CSI name's *token*: the name itself when it is already a safe gluster volume name (what
  Kubernetes' external-provisioner sends: ``pvc-<uid>``), else ``csi-`` and 32 hex digits of its
  SHA-256. A name that merely looks like ``csi-...`` is hashed too, so the two forms never meet.
- The Heketi volume name: ``customvolumename`` verbatim when the StorageClass sets one; else
  with ``volumenameprefix`` P, the in-tree provisioner's shape ``P_<namespace>_<claim>_<token>``
  (its random suffix replaced by the token; namespace and claim only when the CO passes them,
  non-name characters as ``-``), or ``P_<token>``; else the token alone.

The token is also recorded on the volume (option ``user.heketi.csi-name``), which tells the
driver's own volumes from a same-named one it did not create (``customvolumename``, a volume a
human made).
"""

from __future__ import annotations

import hashlib
import re

from heketipy.csi.params import VolumePlan

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9-]")
HASHED_PREFIX = "csi-"
MAX_PLAIN_CHARS = 128


def csi_token(csi_name: str) -> str:
    if (
        len(csi_name) <= MAX_PLAIN_CHARS
        and _SAFE_NAME.fullmatch(csi_name)
        and not csi_name.startswith(HASHED_PREFIX)
    ):
        return csi_name
    return HASHED_PREFIX + hashlib.sha256(csi_name.encode()).hexdigest()[:32]


def heketi_volume_name(csi_name: str, plan: VolumePlan) -> str:
    if plan.custom_name:
        return plan.custom_name
    token = csi_token(csi_name)
    if not plan.name_prefix:
        return token
    parts = [plan.name_prefix]
    if plan.pvc_namespace and plan.pvc_name:
        parts += [_NOT_NAME_CHAR.sub("-", plan.pvc_namespace), _NOT_NAME_CHAR.sub("-", plan.pvc_name)]
    parts.append(token)
    return "_".join(parts)
