"""How heketipy reaches the Kubernetes API: one ``kubernetes`` client configuration for all.

The pod-exec transport (``executors/kube.py``), the database backup into Secrets
(``store/kube_backup.py``) and ``heketipy-cli kube`` build their ``ApiClient`` here, so the
API's address, credentials and TLS are found one way:

1. an explicit API URL (tests, ``kubectl proxy``), with a bearer token, or a token file read
   again before every request (service-account tokens rotate);
2. in a pod (``KUBERNETES_SERVICE_HOST`` set, no kubeconfig asked for): the service account's
   token (re-read as it rotates) and CA certificate;
3. otherwise a kubeconfig: the given file, ``$KUBECONFIG`` or ``~/.kube/config``.

Also the service account's namespace, and an API error as one line of text. The ``kubernetes``
package is the ``heketipy[kube]`` extra: building a configuration or a client needs it. It is
imported there, not with this module: every server imports this module (``heketipy.ha``) and
most never reach the API, and the package costs about half a second of start-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes import client as kube_client

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
NAMESPACE_FILE = f"{SERVICE_ACCOUNT_DIR}/namespace"


class KubeConfigError(RuntimeError):
    """No usable way to the API (no service account, no kubeconfig, unreadable namespace)."""


def in_cluster(environ: Mapping[str, str]) -> bool:
    """Running in a pod: the kubelet sets the API service's host and port."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT"))


def _read_token(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def _use_bearer(
    configuration: kube_client.Configuration, token: str | None, token_file: str | None
) -> None:
    configuration.api_key_prefix = {"authorization": "Bearer"}
    if token_file:
        configuration.api_key = {"authorization": _read_token(token_file)}

        def reread(current: kube_client.Configuration) -> None:
            current.api_key["authorization"] = _read_token(token_file)

        configuration.refresh_api_key_hook = reread  # type: ignore[assignment]  # stub says None
    elif token:
        configuration.api_key = {"authorization": token}


def configuration(
    *,
    api_url: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    kubeconfig: str | None = None,
    environ: Mapping[str, str] | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    user: str = "kubernetes executor",
) -> kube_client.Configuration:
    """The client configuration, found in the order of the module docstring.

    Raises ``KubeConfigError`` (worded for ``user``) when there is none.
    """
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config
    from kubernetes.config.incluster_config import InClusterConfigLoader

    environ = os.environ if environ is None else environ
    result = kube_client.Configuration()
    if api_url:
        result.host = api_url.rstrip("/")
        if token or token_file:
            _use_bearer(result, token, token_file)
        return result
    try:
        if in_cluster(environ) and not kubeconfig:
            InClusterConfigLoader(
                token_filename=os.path.join(service_account_dir, "token"),
                cert_filename=os.path.join(service_account_dir, "ca.crt"),
                environ=environ,
            ).load_and_set(result)
        else:
            # $KUBECONFIG as it is now (the client reads it once, at its import).
            kube_config.load_kube_config(
                config_file=kubeconfig or environ.get("KUBECONFIG") or None,
                client_configuration=result,
            )
    except (kube_config.ConfigException, OSError) as exc:
        raise KubeConfigError(
            f"{user}: no usable in-cluster service account or kubeconfig: {exc}"
        ) from None
    return result


def api_client(config: kube_client.Configuration) -> kube_client.ApiClient:
    """An ``ApiClient`` on ``config`` (the caller closes it)."""
    from kubernetes import client as kube_client

    return kube_client.ApiClient(config)


def namespace(
    configured: str, namespace_file: str = NAMESPACE_FILE, *, fallback: str | None = None
) -> str:
    """The configured namespace, else the service account's (an empty file means
    ``default``). An unreadable file is ``fallback``, or ``KubeConfigError`` without one."""
    if configured:
        return configured
    try:
        with open(namespace_file, encoding="utf-8") as handle:
            return handle.read().strip() or "default"
    except OSError as exc:
        if fallback is not None:
            return fallback
        raise KubeConfigError(
            f"kubeexec.namespace is not set and the service account namespace file "
            f"{namespace_file} cannot be read: {exc.strerror or exc}"
        ) from None


def error_status(exc: BaseException) -> int:
    """The HTTP status of an API error; 0 when the API was not reached."""
    from kubernetes.client.rest import ApiException

    return int(getattr(exc, "status", 0) or 0) if isinstance(exc, ApiException) else 0


def error_text(exc: BaseException) -> str:
    """The API's own message for an ``ApiException``, else the exception's text."""
    from kubernetes.client.rest import ApiException

    if isinstance(exc, ApiException):
        try:
            message = json.loads(exc.body or "").get("message")
        except (ValueError, AttributeError):
            message = None
        return message or f"{exc.status} {exc.reason}".strip()
    return str(exc) or type(exc).__name__
