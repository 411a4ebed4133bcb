"""What heketipy-csi writes into and reads from Kubernetes objects: the StorageClass parameters
it takes (the in-tree provisioner's names) and refuses, and the volume context of its PVs.

Free of gRPC, so ``heketipy-cli kube migrate-pvs`` builds PVs and StorageClasses the driver
accepts from these same definitions without the ``csi`` extra installed.
"""

from __future__ import annotations

from heketipy.client.models import Volume

# StorageClass parameters the driver takes, with the in-tree provisioner's meanings (matched
# case-insensitively, as both provisioners do).
DRIVER_PARAMETERS = frozenset({
    "clusterid", "volumetype", "volumeoptions", "volumenameprefix", "gidmin", "gidmax",
    "snapfactor", "customvolumename",
})
# The in-tree provisioner's connection parameters: the driver has its own heketipy URL and
# credentials and creates no Endpoints, so these mean nothing to it and are refused.
CONNECTION_PARAMETERS = frozenset({
    "resturl", "restuser", "restuserkey", "restauthenabled", "secretname", "secretnamespace",
    "customepnameprefix",
})


def volume_context(volume: Volume) -> dict[str, str]:
    """The volume context of a PV on ``volume``: what the node plugin mounts from when heketipy
    cannot be asked."""
    return {
        "glusterVolume": volume.name,
        "glusterHosts": ",".join(volume.mount.glusterfs.hosts),
        "gid": str(volume.gid),
    }
