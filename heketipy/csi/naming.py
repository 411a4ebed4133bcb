"""The Heketi volume name for a CSI volume name: deterministic, so that the volume created for
a name can be found again (``GET /volumes?volume_name=``) after a retry or a driver restart.

- The CSI name's *token*: the name itself when it is already a safe gluster volume name (what
  Kubernetes' external-provisioner sends: ``pvc-<uid>``), else ``csi-`` and 32 hex digits of its
  SHA-256. A name that merely looks like ``csi-...`` is hashed too, so the two forms never meet.
- The Heketi volume name: ``customvolumename`` verbatim when the StorageClass sets one; else
  with ``volumenameprefix`` P, the in-tree provisioner's shape ``P_<namespace>_<claim>_<token>``
  (its random suffix replaced by the token; namespace and claim only when the CO passes them,
  non-name characters as ``-``), or ``P_<token>``; else the token alone. Namespace (up to 63
  characters) and claim (up to 253) can take the name past heketipy's limit
  (`validators.MAX_NAME_CHARS`): then they are cut, the longer first, to what fits; the token
  is never cut, so names stay unique and a retry computes the same name. The final name is
  checked by the server's own rule (`validators.name_problem`): INVALID_ARGUMENT before any
  call when even ``P_<token>`` does not fit.

The token is also recorded on the volume (option ``user.heketi.csi-name``), which tells the
driver's own volumes from a same-named one it did not create (``customvolumename``, a volume a
human made).
"""

from __future__ import annotations

import hashlib
import re

from heketipy.csi.errors import invalid
from heketipy.csi.params import VolumePlan
from heketipy.domain.validators import MAX_NAME_CHARS, name_problem

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
        # Room for namespace and claim: the limit minus prefix, token and three '_'.
        room = MAX_NAME_CHARS - len(plan.name_prefix) - len(token) - 3
        if room >= 2:
            namespace, claim = _fit(_NOT_NAME_CHAR.sub("-", plan.pvc_namespace),
                                    _NOT_NAME_CHAR.sub("-", plan.pvc_name), room)
            parts += [namespace, claim]
    parts.append(token)
    name = "_".join(parts)
    problem = name_problem(name)
    if problem:
        raise invalid(f"volume name {name!r} from volumenameprefix {plan.name_prefix!r}: "
                      f"{problem}")
    return name


def _fit(first: str, second: str, room: int) -> tuple[str, str]:
    """Cut ``first`` and ``second`` to ``room`` characters together, a character at a time
    from the longer one, so a short part stays whole as long as possible (``room`` >= 2: each
    keeps at least one)."""
    while len(first) + len(second) > room:
        if len(first) >= len(second):
            first = first[:-1]
        else:
            second = second[:-1]
    return first, second
