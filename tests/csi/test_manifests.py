"""deploy/csi/: valid Kubernetes (strict offline schemas), and the pieces fit the driver - the
CSIDriver name, the registration path, the socket every container shares, the command line the
driver really accepts, the secret file it reads, the privileges the node plugin needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from heketipy.csi import DRIVER_NAME
from heketipy.csi.main import config_from, parser

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "csi"
KUBE_VERSIONS = ["1.26.0", kubernetes_validate.latest_version()]


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[dict[str, Any]]:
    return [d for p in manifest_files() for d in yaml.safe_load_all(p.read_text()) if d]


def find(kind: str, name: str) -> dict[str, Any]:
    for doc in documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in deploy/csi/")


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    for item in workload["spec"]["template"]["spec"]["containers"]:
        if item["name"] == name:
            return item
    raise AssertionError(f"no container {name}")


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_everything_but_the_example() -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in manifest_files()} - {"storageclass-example.yaml"}


def test_names_fit_the_driver() -> None:
    driver = find("CSIDriver", DRIVER_NAME)
    assert driver["spec"]["attachRequired"] is False
    assert find("StorageClass", "glusterfs-csi-replicated")["provisioner"] == DRIVER_NAME
    node = find("DaemonSet", "heketipy-csi-node")
    registrar = container(node, "node-driver-registrar")
    assert (f"--kubelet-registration-path=/var/lib/kubelet/plugins/{DRIVER_NAME}/csi.sock"
            in registrar["args"])
    plugin_dir = {v["name"]: v for v in node["spec"]["template"]["spec"]["volumes"]}["plugin-dir"]
    assert plugin_dir["hostPath"]["path"] == f"/var/lib/kubelet/plugins/{DRIVER_NAME}"


@pytest.mark.parametrize("kind, name, mode", [
    ("Deployment", "heketipy-csi-controller", "controller"),
    ("DaemonSet", "heketipy-csi-node", "node"),
])
def test_driver_command_line_is_accepted(kind: str, name: str, mode: str,
                                         tmp_path: Path) -> None:
    workload = find(kind, name)
    driver = container(workload, "heketipy-csi")
    assert driver["command"] == ["heketipy-csi"]
    secret_file = tmp_path / "key"
    secret_file.write_text("k\n")
    args = [a.replace("/etc/heketipy-csi/key", str(secret_file)).replace("$(NODE_ID)", "n1")
            for a in driver["args"]]
    config = config_from(parser().parse_args(args))
    assert config.mode == mode and config.socket_path == "/csi/csi.sock"
    assert config.heketi_url == "http://heketipy.glusterfs.svc:8080"
    mounts = {m["mountPath"]: m["name"] for m in driver["volumeMounts"]}
    assert mounts["/etc/heketipy-csi"] == "heketi-key" and mounts["/csi"]
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    assert volumes["heketi-key"]["secret"]["items"] == [{"key": "admin-key", "path": "key"}]
    # Every container talks over the same socket directory.
    for item in workload["spec"]["template"]["spec"]["containers"]:
        socket_mount = [m for m in item["volumeMounts"] if m["mountPath"] == "/csi"]
        assert socket_mount and socket_mount[0]["name"] == mounts["/csi"], item["name"]
        if item["name"] != "heketipy-csi":
            assert "--csi-address=/csi/csi.sock" in item["args"]


def test_sidecars_elect_a_leader_and_the_provisioner_passes_claim_metadata() -> None:
    controller = find("Deployment", "heketipy-csi-controller")
    for name in ("csi-provisioner", "csi-resizer"):
        assert "--leader-election" in container(controller, name)["args"]
    assert "--extra-create-metadata" in container(controller, "csi-provisioner")["args"]
    lease_rules = find("Role", "heketipy-csi-leader-election")["rules"]
    assert any("leases" in r["resources"] for r in lease_rules)


def test_node_plugin_can_mount_fuse_for_the_kubelet() -> None:
    node = find("DaemonSet", "heketipy-csi-node")
    driver = container(node, "heketipy-csi")
    assert driver["securityContext"]["privileged"] is True
    mounts = {m["mountPath"]: m for m in driver["volumeMounts"]}
    assert mounts["/var/lib/kubelet"]["mountPropagation"] == "Bidirectional"
    volumes = {v["name"]: v for v in node["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/dev/fuse"]["name"]]["hostPath"] == {"path": "/dev/fuse",
                                                                "type": "CharDevice"}
