"""deploy/csi/: heketipy-csi's manifests are valid Kubernetes (kubernetes-validate's offline
schemas, strict) and fit together: every sidecar talks to the socket the driver serves, the
kubelet finds the node plugin's socket, the sidecars elect a leader, RBAC is exactly what they
call, the node plugin can mount FUSE into pods, the driver's heketipy key comes from a Secret,
and the example StorageClass is one the driver accepts, in the in-tree provisioner's terms."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml

from heketipy.csi import DRIVER_NAME
from heketipy.csi.main import parser
from heketipy.csi.params import parse_parameters
from heketipy.csi.server import socket_path_of
from tests.support import manifests
from tests.support.manifests import DEPLOY, ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate")

CSI = DEPLOY / "csi"
NAMESPACE = "glusterfs"
KUBELET = "/var/lib/kubelet"
SIDECARS = {
    "csi-provisioner": "registry.k8s.io/sig-storage/csi-provisioner",
    "csi-resizer": "registry.k8s.io/sig-storage/csi-resizer",
    "livenessprobe": "registry.k8s.io/sig-storage/livenessprobe",
    "csi-node-driver-registrar": "registry.k8s.io/sig-storage/csi-node-driver-registrar",
}
# Recent releases (shared/csi-notes.md); external-provisioner stays on v5, the last major
# that serves Kubernetes 1.26-1.33.
MINIMUM_MAJOR_MINOR = {
    "csi-provisioner": (5, 0), "csi-resizer": (1, 11),
    "livenessprobe": (2, 10), "csi-node-driver-registrar": (2, 10),
}


def documents() -> list[dict[str, Any]]:
    return manifests.documents(manifests.manifest_files(CSI))


def find(kind: str, name: str) -> dict[str, Any]:
    return manifests.find_in(documents(), kind, name)


def pod_spec(kind: str, name: str) -> dict[str, Any]:
    return find(kind, name)["spec"]["template"]["spec"]


def containers(kind: str, name: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec(kind, name)["containers"]}


def sidecar(container: dict[str, Any]) -> str | None:
    repository = container["image"].rsplit(":", 1)[0]
    return next((k for k, v in SIDECARS.items() if v == repository), None)


def flags(container: dict[str, Any]) -> dict[str, str]:
    """--name=value and bare --name arguments of a container."""
    result = {}
    for arg in container.get("args", []):
        assert arg.startswith("--"), arg
        name, _, value = arg[2:].partition("=")
        result[name] = value
    return result


def driver_args(container: dict[str, Any]) -> Any:
    assert container["command"] == ["heketipy-csi"]
    return parser().parse_args(container["args"])


def mount_path_of(container: dict[str, Any], path: str) -> tuple[str, str]:
    """(volume name, path inside that volume) of a path in a container's filesystem."""
    best = max((m for m in container["volumeMounts"]
                if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")),
               key=lambda m: len(m["mountPath"]))
    return best["name"], posixpath.relpath(path, best["mountPath"])


WORKLOADS = [("Deployment", "heketipy-csi-controller"), ("DaemonSet", "heketipy-csi-node")]


@pytest.mark.parametrize("version", manifests.kube_versions(kubernetes_validate))
@pytest.mark.parametrize("path", manifests.manifest_files(CSI), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_everything_but_the_example() -> None:
    listed = set(yaml.safe_load((CSI / "kustomization.yaml").read_text())["resources"])
    assert all((CSI / name).exists() for name in listed)
    assert listed == {p.name for p in manifests.manifest_files(CSI)} - {"storageclass-example.yaml"}
    for doc in documents():
        if doc["kind"] not in ("CSIDriver", "StorageClass", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]


def test_csidriver_is_the_driver_and_needs_no_attach() -> None:
    driver = find("CSIDriver", DRIVER_NAME)
    assert driver["spec"]["attachRequired"] is False
    assert driver["spec"]["volumeLifecycleModes"] == ["Persistent"]
    # a volume's brick root is owned by its GID, mode 2775; the in-tree provisioner made pods
    # members through the PV's pv.beta.kubernetes.io/gid annotation, which external-provisioner
    # never sets: the kubelet applies the pod's fsGroup instead, or non-root pods get EACCES
    assert driver["spec"]["fsGroupPolicy"] == "File"


def test_node_plugin_survives_its_own_lifecycle() -> None:
    daemonset = find("DaemonSet", "heketipy-csi-node")
    spec = pod_spec("DaemonSet", "heketipy-csi-node")
    # the pause container is PID 1 and reaps the detached glusterfs clients, not the driver
    assert spec["shareProcessNamespace"] is True
    # the FUSE clients live in the pod's cgroup: a rolling update would kill every mount under
    # running pods, which the kubelet never publishes again
    assert daemonset["spec"]["updateStrategy"] == {"type": "OnDelete"}
    # node mode never asks heketipy: the probe fails only when the driver hangs, and a restart
    # costs every mount, so it must be sure
    probe = containers("DaemonSet", "heketipy-csi-node")["heketipy-csi"]["livenessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 600


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_every_sidecar_talks_to_the_socket_the_driver_serves(kind: str, name: str) -> None:
    found = containers(kind, name)
    driver = found.pop("heketipy-csi")
    socket = socket_path_of(driver_args(driver).endpoint)
    socket_volume = mount_path_of(driver, socket)
    assert found
    for container in found.values():
        assert sidecar(container), container["image"]
        address = flags(container)["csi-address"]
        assert address == socket, container["name"]
        # the same file: the same volume and the same path inside it
        assert mount_path_of(container, address) == socket_volume, container["name"]
    volumes = {v["name"]: v for v in pod_spec(kind, name)["volumes"]}
    shared = volumes[socket_volume[0]]
    if kind == "Deployment":
        assert shared["emptyDir"] == {}
    else:
        assert shared["hostPath"]["path"] == f"{KUBELET}/plugins/{DRIVER_NAME}"


def test_controller_runs_the_controller_sidecars_with_leader_election() -> None:
    found = containers("Deployment", "heketipy-csi-controller")
    assert driver_args(found["heketipy-csi"]).mode == "controller"
    kinds = {sidecar(c): c for c in found.values() if sidecar(c)}
    assert set(kinds) == {"csi-provisioner", "csi-resizer", "livenessprobe"}
    for leader in ("csi-provisioner", "csi-resizer"):
        assert "leader-election" in flags(kinds[leader])
        assert flags(kinds[leader])["leader-election-namespace"] == "$(NAMESPACE)"
        env = {e["name"]: e for e in kinds[leader]["env"]}
        assert env["NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    # the PVC name and namespace reach CreateVolume (volumenameprefix names are built from them)
    assert "extra-create-metadata" in flags(kinds["csi-provisioner"])
    # the resizer is told not to look at pods: the ClusterRole grants none
    assert flags(kinds["csi-resizer"])["handle-volume-inuse-error"] == "false"


def test_livenessprobe_port_is_the_driver_liveness_check() -> None:
    for kind, name in WORKLOADS:
        found = containers(kind, name)
        probe = next(c for c in found.values() if sidecar(c) == "livenessprobe")
        driver = found["heketipy-csi"]
        ports = {p["name"]: p["containerPort"] for p in driver["ports"]}
        check = driver["livenessProbe"]["httpGet"]
        assert check["path"] == "/healthz"
        assert ports[check["port"]] == int(flags(probe)["health-port"])


def test_node_plugin_registers_with_the_kubelet() -> None:
    found = containers("DaemonSet", "heketipy-csi-node")
    registrar = next(c for c in found.values() if sidecar(c) == "csi-node-driver-registrar")
    registration = f"{KUBELET}/plugins/{DRIVER_NAME}/csi.sock"
    assert flags(registrar)["kubelet-registration-path"] == registration
    # the kubelet's view of the socket is the driver's socket on the host
    driver = found["heketipy-csi"]
    volume, inside = mount_path_of(driver, socket_path_of(driver_args(driver).endpoint))
    volumes = {v["name"]: v for v in pod_spec("DaemonSet", "heketipy-csi-node")["volumes"]}
    assert posixpath.join(volumes[volume]["hostPath"]["path"], inside) == registration
    mounts = {m["mountPath"]: m["name"] for m in registrar["volumeMounts"]}
    assert volumes[mounts["/registration"]]["hostPath"]["path"] == f"{KUBELET}/plugins_registry"


def test_node_plugin_can_mount_fuse_into_pods() -> None:
    spec = pod_spec("DaemonSet", "heketipy-csi-node")
    driver = containers("DaemonSet", "heketipy-csi-node")["heketipy-csi"]
    args = driver_args(driver)
    assert args.mode == "node"
    assert args.node_id == "$(NODE_ID)"
    env = {e["name"]: e for e in driver["env"]}
    assert env["NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    security = driver["securityContext"]
    assert security["privileged"] is True and security["runAsUser"] == 0
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in driver["volumeMounts"]}
    kubelet = mounts[KUBELET]
    assert kubelet["mountPropagation"] == "Bidirectional"
    assert volumes[kubelet["name"]]["hostPath"]["path"] == KUBELET
    fuse = volumes[mounts["/dev/fuse"]["name"]]["hostPath"]
    assert fuse == {"path": "/dev/fuse", "type": "CharDevice"}
    # no other container shares the kubelet directory with propagation
    for container in spec["containers"]:
        if container["name"] != driver["name"]:
            assert all("mountPropagation" not in m for m in container["volumeMounts"])


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_driver_reads_the_heketipy_key_from_the_server_secret(kind: str, name: str) -> None:
    driver = containers(kind, name)["heketipy-csi"]
    args = driver_args(driver)
    assert args.heketi_url == f"http://heketipy.{NAMESPACE}.svc.cluster.local:8080"
    assert args.heketi_user == "admin"
    volume, inside = mount_path_of(driver, args.heketi_secret_file)
    volumes = {v["name"]: v for v in pod_spec(kind, name)["volumes"]}
    secret = volumes[volume]["secret"]
    # the Secret deploy/heketipy-deployment.yaml gives the server its admin key
    server = manifests.find_in(manifests.documents(manifests.manifest_files(DEPLOY)),
                               "Deployment", "heketipy")
    (container,) = server["spec"]["template"]["spec"]["containers"]
    admin = next(e for e in container["env"] if e["name"] == "HEKETI_ADMIN_KEY")
    key = admin["valueFrom"]["secretKeyRef"]
    assert secret["secretName"] == key["name"]
    assert {"key": key["key"], "path": inside} in secret["items"]
    assert all(e.get("name") != "HEKETI_CLI_KEY" or "value" not in e for e in driver.get("env", []))


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_driver_runs_the_heketipy_image(kind: str, name: str) -> None:
    server = manifests.find_in(manifests.documents(manifests.manifest_files(DEPLOY)),
                               "Deployment", "heketipy")
    (container,) = server["spec"]["template"]["spec"]["containers"]
    assert containers(kind, name)["heketipy-csi"]["image"] == container["image"]


def test_controller_runs_as_the_image_user_and_can_read_the_key() -> None:
    spec = pod_spec("Deployment", "heketipy-csi-controller")
    security = spec["securityContext"]
    assert security["runAsNonRoot"] is True
    # the sidecars share the driver's user: the socket it creates is theirs
    assert security["runAsUser"] == 10001 and security["fsGroup"] == 10001
    for container in spec["containers"]:
        assert "runAsUser" not in container.get("securityContext", {}), container["name"]
    secret = next(v["secret"] for v in spec["volumes"] if "secret" in v)
    assert secret["defaultMode"] & 0o040  # group-readable: fsGroup owns it


def test_rbac_is_exactly_what_the_sidecars_use() -> None:
    role = find("ClusterRole", "heketipy-csi-controller")
    granted = {
        (group, resource, verb)
        for rule in role["rules"] for group in rule["apiGroups"]
        for resource in rule["resources"] for verb in rule["verbs"]
    }
    def grants(group: str, resource: str, *verbs: str) -> set[tuple[str, str, str]]:
        return {(group, resource, verb) for verb in verbs}
    read = ("get", "list", "watch")
    assert granted == (
        grants("", "persistentvolumes", *read, "create", "delete", "patch")
        | grants("", "persistentvolumeclaims", *read, "update", "patch")
        | grants("", "persistentvolumeclaims/status", "patch")
        | grants("storage.k8s.io", "storageclasses", *read)
        | grants("", "events", "list", "watch", "create", "update", "patch")
        | grants("storage.k8s.io", "csinodes", *read)
        | grants("", "nodes", *read)
        # external-resizer v2 (and external-provisioner with its VolumeAttributesClass gate)
        # reads VolumeAttributesClasses wherever storage.k8s.io/v1 serves them (1.34+)
        | grants("storage.k8s.io", "volumeattributesclasses", *read)
    )
    leases = find("Role", "heketipy-csi-leader-election")
    assert leases["metadata"]["namespace"] == NAMESPACE
    (rule,) = leases["rules"]
    assert rule["apiGroups"] == ["coordination.k8s.io"] and rule["resources"] == ["leases"]
    assert set(rule["verbs"]) == {"get", "list", "watch", "create", "update", "patch", "delete"}
    controller_sa = {"kind": "ServiceAccount", "name": "heketipy-csi-controller",
                     "namespace": NAMESPACE}
    for kind, binding, role_kind, role_name in [
        ("ClusterRoleBinding", "heketipy-csi-controller", "ClusterRole", "heketipy-csi-controller"),
        ("RoleBinding", "heketipy-csi-leader-election", "Role", "heketipy-csi-leader-election"),
    ]:
        bound = find(kind, binding)
        assert bound["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                    "kind": role_kind, "name": role_name}
        assert bound["subjects"] == [controller_sa]
    assert pod_spec("Deployment", "heketipy-csi-controller")["serviceAccountName"] == \
        "heketipy-csi-controller"
    # the node plugin calls no Kubernetes API: nothing bound to it, no token mounted
    node = pod_spec("DaemonSet", "heketipy-csi-node")
    assert node["automountServiceAccountToken"] is False
    bound_accounts = {s["name"] for d in documents() if d["kind"].endswith("Binding")
                      for s in d["subjects"]}
    assert node["serviceAccountName"] not in bound_accounts


def test_sidecars_are_recent_releases() -> None:
    seen = set()
    for kind, name in WORKLOADS:
        for container in containers(kind, name).values():
            which = sidecar(container)
            if which is None:
                continue
            seen.add(which)
            tag = container["image"].rsplit(":", 1)[1]
            assert tag.startswith("v"), container["image"]
            major, minor = (int(n) for n in tag[1:].split(".")[:2])
            assert (major, minor) >= MINIMUM_MAJOR_MINOR[which], container["image"]
            if which == "csi-provisioner":
                assert major == 5, "v6 needs Kubernetes 1.34; the driver serves 1.26 and later"
    assert seen == set(SIDECARS)


def test_storageclass_example_is_the_in_tree_one_translated() -> None:
    (example,) = manifests.documents([CSI / "storageclass-example.yaml"])
    assert example["kind"] == "StorageClass"
    assert example["provisioner"] == DRIVER_NAME
    assert example["allowVolumeExpansion"] is True
    params = example["parameters"]
    parse_parameters(params)  # the driver accepts it
    in_tree = manifests.find_in(manifests.documents([DEPLOY / "storageclass-example.yaml"]),
                                "StorageClass", "glusterfs-replicated")
    connection = {"resturl", "restuser", "restuserkey", "restauthenabled", "secretName",
                  "secretNamespace"}
    # the same names and values, less the in-tree provisioner's connection parameters
    assert params == {k: v for k, v in in_tree["parameters"].items() if k not in connection}
    assert example["reclaimPolicy"] == in_tree["reclaimPolicy"]


def test_readme_documents_the_csi_manifests() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for path in [*manifests.manifest_files(CSI), CSI / "kustomization.yaml"]:
        assert str(path.relative_to(DEPLOY)) in readme, path.name
    assert "kubectl apply -k deploy/csi/" in readme
    assert (ROOT / "deploy" / "image" / "build.sh").exists()
