"""Which leadership mechanisms a server uses, from ``heketipy.ha`` settings.

The database lock always (it works everywhere, and on the Gluster mount it is the second
fence); a Kubernetes Lease in front of it when ``kubernetes_lease`` says so ("auto": running
in a pod, or with the kubernetes executor). The Lease reaches the API server the way the
kubernetes executor does (``kubeapi``: the pod's service account, else the kubeconfig, e.g.
``$KUBECONFIG``); tests may pass their own ``lease_builder``.
Also the effective identity and Lease namespace, which depend on the environment.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from heketipy import kubeapi
from heketipy.config import HaSettings, Settings
from heketipy.ha.combined import AllOf
from heketipy.ha.dblock import DatabaseLockLeadership
from heketipy.ha.leadership import Leadership, LeaseTiming

log = logging.getLogger("heketipy.ha")

# Builds the Lease mechanism: (ha settings, identity, namespace) -> Leadership.
LeaseBuilder = Callable[[HaSettings, str, str], Leadership]


class LeadershipConfigError(Exception):
    """The settings ask for a mechanism this server cannot provide."""


def identity(ha: HaSettings, environ: Mapping[str, str]) -> str:
    """The configured identity, else ``$POD_NAME`` (or the host name) and the process id."""
    if ha.identity:
        return ha.identity
    return f"{environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def lease_namespace(ha: HaSettings, namespace_file: str = kubeapi.NAMESPACE_FILE) -> str:
    """The configured namespace, else the service account's, else ``default``."""
    return kubeapi.namespace(ha.lease_namespace, namespace_file, fallback="default")


def wants_kubernetes_lease(settings: Settings, environ: Mapping[str, str]) -> bool:
    choice = settings.heketipy.ha.kubernetes_lease
    if choice == "auto":
        return kubeapi.in_cluster(environ) or settings.glusterfs.executor == "kubernetes"
    return bool(choice)


def kubernetes_lease(ha: HaSettings, who: str, namespace: str) -> Leadership:
    """A ``coordination.k8s.io/v1`` Lease named ``ha.lease_name`` in ``namespace``."""
    from heketipy.ha.lease import KubernetesLease  # the kubernetes client, only when asked

    try:
        configuration = kubeapi.configuration(user="heketipy.ha Kubernetes Lease")
    except kubeapi.KubeConfigError as exc:
        raise LeadershipConfigError(str(exc)) from exc
    return KubernetesLease(
        name=ha.lease_name, namespace=namespace, identity=who, timing=LeaseTiming.of(ha),
        api_client=kubeapi.api_client(configuration),
    )


def mechanisms(
    settings: Settings,
    *,
    lease_builder: LeaseBuilder | None = kubernetes_lease,
    environ: Mapping[str, str] | None = None,
) -> list[Leadership]:
    """The mechanisms to hold, in acquisition order (the Lease first, then the database lock)."""
    env = os.environ if environ is None else environ
    ha = settings.heketipy.ha
    who = identity(ha, env)
    chosen: list[Leadership] = []
    if wants_kubernetes_lease(settings, env):
        if lease_builder is None:
            if ha.kubernetes_lease is True:
                raise LeadershipConfigError(
                    "heketipy.ha.kubernetes_lease is true but this server has no Kubernetes "
                    "Lease support"
                )
            log.warning("no Kubernetes Lease support: leadership by the database lock alone")
        else:
            chosen.append(lease_builder(ha, who, lease_namespace(ha)))
    chosen.append(DatabaseLockLeadership(settings.glusterfs.db, LeaseTiming.of(ha), who))
    return chosen


def leadership(
    settings: Settings,
    *,
    lease_builder: LeaseBuilder | None = kubernetes_lease,
    environ: Mapping[str, str] | None = None,
) -> Leadership:
    """The one ``Leadership`` the server acquires, holds and releases."""
    return AllOf(mechanisms(settings, lease_builder=lease_builder, environ=environ))
