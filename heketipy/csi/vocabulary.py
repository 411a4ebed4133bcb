"""What heketipy-csi writes into and reads from Kubernetes objects: the StorageClass parameters
it takes (the in-tree provisioner's names) and refuses, the mount options (a StorageClass's or
PV's mountOptions) it takes, and the volume context of its PVs.

Free of gRPC, so ``heketipy-cli kube migrate-pvs`` builds PVs and StorageClasses the driver
accepts from these same definitions without the ``csi`` extra installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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

# Mount options: only those that tune the glusterfs client's own mount (mount.glusterfs(8),
# mount(8)). mount.glusterfs also takes options that write files as root (log-file, dump-fuse),
# point the mount at another server or volume (volfile-server, backup-volfile-servers,
# transport, subdir-mount, volume-name...) or pass raw settings through (xlator-option,
# fuse-mountopts): those are the driver's to set, never a user's.
FLAG_MOUNT_OPTIONS = frozenset({
    "ro", "rw", "acl", "selinux", "_netdev", "auto_unmount", "enable-ino32", "worm",
    "resolve-gids", "localtime-logging", "fopen-keep-cache", "kernel-writeback-cache",
    "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
    "lazytime", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
})
VALUED_MOUNT_OPTIONS = frozenset({
    "log-level", "attribute-timeout", "entry-timeout", "negative-timeout", "gid-timeout",
    "background-qlen", "congestion-threshold", "direct-io-mode", "use-readdirp",
    "fopen-keep-cache", "kernel-writeback-cache", "reader-thread-count", "lru-limit",
    "invalidate-limit", "auto-invalidation",
})
# no '/' (a value never names a path) and no ',' (never a second option)
_MOUNT_OPTION_VALUE = re.compile(r"[A-Za-z0-9_.:+-]+")


def mount_options(flags: Iterable[str]) -> list[str]:
    """The single options of mount flags, each of which may hold several, comma-separated."""
    return [option.strip() for flag in flags for option in flag.split(",") if option.strip()]


def mount_option_problem(option: str) -> str | None:
    """Why heketipy-csi refuses one mount option (None: it takes it)."""
    name, has_value, value = option.partition("=")
    if not has_value and name not in FLAG_MOUNT_OPTIONS:
        return (f"mount flag {name!r} is not allowed"
                + (" without a value" if name in VALUED_MOUNT_OPTIONS else ""))
    if has_value and name not in VALUED_MOUNT_OPTIONS:
        return (f"mount flag {name!r} is not allowed"
                + (" with a value" if name in FLAG_MOUNT_OPTIONS else ""))
    if has_value and not _MOUNT_OPTION_VALUE.fullmatch(value):
        return f"mount flag {name!r}: value {value!r} contains characters not allowed"
    return None


def mount_option_problems(flags: Iterable[str]) -> list[str]:
    return [p for p in map(mount_option_problem, mount_options(flags)) if p is not None]


def volume_context(volume: Volume) -> dict[str, str]:
    """The volume context of a PV on ``volume``: what the node plugin mounts from when heketipy
    cannot be asked."""
    return {
        "glusterVolume": volume.name,
        "glusterHosts": ",".join(volume.mount.glusterfs.hosts),
        "gid": str(volume.gid),
    }
