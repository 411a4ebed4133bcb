"""deploy/: every manifest is valid Kubernetes (kubernetes-validate's offline schemas, strict),
the pieces fit together (names, labels, namespace, ports, the config heketipy really loads),
RBAC grants exactly what heketipy uses, and the Dockerfile builds the image the Deployment
names, as a non-root user running the ``heketipy`` entry point."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from heketipy.config import load_settings
from tests.support import manifests
from tests.support.manifests import DEPLOY, ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate")

KUBE_VERSIONS = manifests.kube_versions(kubernetes_validate)
NAMESPACE = "glusterfs"


def manifest_files() -> list[Path]:
    return manifests.manifest_files(DEPLOY)


def documents() -> list[dict[str, Any]]:
    return manifests.documents(manifest_files())


def find(kind: str, name: str) -> dict[str, Any]:
    return manifests.find_in(documents(), kind, name)


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_everything_expected_is_there() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents()}
    assert kinds >= {
        ("Namespace", NAMESPACE), ("ServiceAccount", "heketipy"), ("Role", "heketipy"),
        ("RoleBinding", "heketipy"), ("ConfigMap", "heketipy-config"),
        ("PersistentVolumeClaim", "heketipy-db"), ("Deployment", "heketipy"),
        ("Service", "heketipy"), ("DaemonSet", "glusterfs"),
        ("StorageClass", "glusterfs-replicated"), ("PodDisruptionBudget", "heketipy"),
    }
    for doc in documents():
        if doc["kind"] not in ("Namespace", "StorageClass"):
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]


def test_kustomization_lists_the_deployment_but_not_the_example() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((DEPLOY / name).exists() for name in listed)
    assert listed == {p.name for p in manifest_files()} - {"storageclass-example.yaml"}


def test_rbac_is_exactly_what_heketipy_uses() -> None:
    role = find("Role", "heketipy")
    granted = {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    groups = {resource: rule["apiGroups"] for rule in role["rules"]
              for resource in rule["resources"]}
    assert groups == {"pods": [""], "pods/exec": [""], "secrets": [""],
                      "leases": ["coordination.k8s.io"]}
    assert granted == {
        ("pods", "get"), ("pods", "list"),
        ("pods/exec", "create"), ("pods/exec", "get"),
        ("secrets", "get"), ("secrets", "create"), ("secrets", "update"),
        # heketipy.ha's leader election, in its own namespace only
        ("leases", "get"), ("leases", "create"), ("leases", "update"), ("leases", "patch"),
        ("leases", "delete"),
    }
    binding = find("RoleBinding", "heketipy")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "heketipy"
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "heketipy", "namespace": NAMESPACE}
    ]


def test_backup_client_needs_no_more_than_the_role() -> None:
    """The Secret calls of kube_backup: read (get), create, replace (update); no list, no
    delete."""
    source = (ROOT / "heketipy" / "store" / "kube_backup.py").read_text()
    methods = set(re.findall(r'self\._call\("([a-z]+)"', source))
    assert methods == {"read", "create", "replace"}


def deployment_container() -> dict[str, Any]:
    deployment = find("Deployment", "heketipy")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_deployment_runs_an_active_standby_pair_on_the_database_volume() -> None:
    deployment = find("Deployment", "heketipy")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    # The standby is never Ready: a rollout bounded below 100% unavailable would stall.
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == "100%"
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "heketipy"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    container = deployment_container()
    env = {e["name"]: e for e in container["env"]}
    db_path = env["HEKETI_DB_PATH"]["value"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert db_path.startswith(mounts["db"] + "/")
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["db"]["persistentVolumeClaim"]["claimName"]
    find("PersistentVolumeClaim", claim)
    assert volumes["config"]["configMap"]["name"] == "heketipy-config"
    assert container["args"] == ["--config", mounts["config"] + "/heketi.json"]
    for key in ("HEKETI_ADMIN_KEY", "HEKETI_USER_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "heketipy-jwt"
    # Both pods mount the database volume; only the active one opens the database.
    pvc = find("PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_probes_route_to_the_active_and_a_budget_keeps_it() -> None:
    container = deployment_container()
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    budget = find("PodDisruptionBudget", "heketipy")
    assert budget["spec"]["minAvailable"] == 1
    labels = find("Deployment", "heketipy")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_config_and_environment_load_as_heketipy_settings(tmp_path: Path) -> None:
    config = find("ConfigMap", "heketipy-config")["data"]["heketi.json"]
    (tmp_path / "heketi.json").write_text(config)
    environ = {"HEKETI_ADMIN_KEY": "a", "HEKETI_USER_KEY": "u"}
    for item in deployment_container()["env"]:
        if "value" in item:
            environ[item["name"]] = item["value"]
    environ["HEKETI_KUBE_NAMESPACE"] = NAMESPACE  # the fieldRef at run time
    settings = load_settings(str(tmp_path / "heketi.json"), environ)
    assert settings.glusterfs.executor == "kubernetes"
    assert settings.glusterfs.db == "/var/lib/heketi/heketi.db"
    assert settings.glusterfs.kubeexec.gluster_daemonset is True
    assert settings.glusterfs.kubeexec.namespace == NAMESPACE
    assert settings.glusterfs.kubeexec.fstab == "/var/lib/heketi/fstab"
    assert settings.backup_db_to_kube_secret is True
    assert settings.kube_db_secret_name == "heketi-db-backup"
    ha = settings.heketipy.ha
    assert ha.enabled is True and ha.lease_name == "heketipy" and ha.kubernetes_lease == "auto"
    # The probes' timing fits the leader election's: readiness follows within a retry period.
    assert deployment_container()["readinessProbe"]["periodSeconds"] <= ha.retry_period_s
    assert str(settings.port) == "8080"
    port = deployment_container()["ports"][0]
    assert port["containerPort"] == int(json.loads(config)["port"])


def test_service_reaches_the_pod_and_is_the_storageclass_resturl() -> None:
    service = find("Service", "heketipy")
    pod_labels = find("Deployment", "heketipy")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == deployment_container()["ports"][0]["name"]
    storage_class = find("StorageClass", "glusterfs-replicated")
    assert storage_class["provisioner"] == "kubernetes.io/glusterfs"
    params = storage_class["parameters"]
    assert params["resturl"] == f"http://heketipy.{NAMESPACE}.svc.cluster.local:{port['port']}"
    assert params["restuser"] == "admin" and params["secretNamespace"] == NAMESPACE


def test_glusterfs_pods_are_found_by_the_kube_executor() -> None:
    daemonset = find("DaemonSet", "glusterfs")
    template = daemonset["spec"]["template"]
    # heketipy.executors.kube lists pods with the label glusterfs-node (daemonset mode).
    assert "glusterfs-node" in template["metadata"]["labels"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    pod = template["spec"]
    assert pod["hostNetwork"] is True
    container = pod["containers"][0]  # the executor runs commands in the first container
    assert container["securityContext"]["privileged"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/dev", "/run/lvm", "/var/lib/glusterd", "/var/lib/heketi"} <= mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)  # join continuation lines
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines if line and not line.startswith("#")
    ]


def dockerfile_values() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in dockerfile_instructions():
        values.setdefault(name, []).append(value)
    return values


def test_dockerfile_builds_the_deployment_image() -> None:
    values = dockerfile_values()
    # One file for both ways of building: the upstream python image by default, the local
    # Debian base of deploy/image/build.sh when BASE_IMAGE names it.
    assert values["ARG"][0] == "BASE_IMAGE=python:3.11-slim"
    assert values["FROM"] == ["${BASE_IMAGE}"]
    for copied in values["COPY"]:
        for source in copied.split()[:-1]:
            assert (ROOT / source).exists(), source
    extras = '".[ssh,kube,csi]"'
    assert any(v.startswith("pip install") and extras in v for v in values["RUN"])
    user = values["USER"][-1].split(":")[0]
    assert user not in ("root", "0")
    assert json.loads(values["ENTRYPOINT"][-1]) == ["heketipy-entrypoint"]
    assert "COPY deploy/image/entrypoint.sh /usr/local/bin/heketipy-entrypoint" in (
        f"COPY {v}" for v in values["COPY"])
    assert json.loads(values["CMD"][-1]) == deployment_container()["args"]
    assert values["EXPOSE"] == [str(deployment_container()["ports"][0]["containerPort"])]
    # The Deployment names the image this Dockerfile builds, tagged with the package version.
    image = deployment_container()["image"]
    assert image == f"heketipy/heketipy:{project()['version']}"
    assert f"docker build -t {image} ." in (ROOT / "Dockerfile").read_text()
    uid = int(user)
    pod_security = find("Deployment", "heketipy")["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsUser"] == uid


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    """.dockerignore excludes everything but what COPY names (the build context stays small)."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    kept = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = {source for value in dockerfile_values()["COPY"] for source in value.split()[:-1]}
    assert kept == copied


def test_validation_is_strict_enough_to_catch_a_typo() -> None:
    deployment = find("Deployment", "heketipy")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)
