"""`heketipy-cli kube migrate-pvs` end to end: a real heketipy server (mock executor) holding the
volumes, and the fake API server (tests/testbed) holding a namespace as the in-tree glusterfs
provisioner left it, with the PV binder, the protection finalizers and immutability modelled."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from heketipy.client.models import Volume
from tests.cli.conftest import MOCK_ENV, THREE_NODES, CliResult, cli
from tests.cli.intree_objects import claim_and_volume, endpoints_and_service, storage_class
from tests.support.server import ServerProcess, running_server
from tests.testbed.fake_apiserver import FakeApiServer, kubeconfig_text
from tests.testbed.fake_storage import FakeStorage

pytest.importorskip("kubernetes")

NS = "apps"
UNKNOWN_ID = "e" * 32


@pytest.fixture(scope="module")
def heketi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    """heketipy with three volumes the in-tree PVs reference: {claim: volume}."""
    directory = tmp_path_factory.mktemp("heketi")
    with running_server(directory, env=MOCK_ENV) as server:
        topology = directory / "topology.json"
        topology.write_text(json.dumps(THREE_NODES))
        assert cli(server, "topology", "load", f"--json={topology}").code == 0
        volumes = {}
        for claim, size, gid in (("data", 1, 2001), ("logs", 2, 2002), ("db-0", 3, 2003)):
            made = cli(server, "volume", "create", f"--size={size}", f"--gid={gid}", "--json")
            assert made.code == 0, made.err
            volumes[claim] = json.loads(made.out)
        yield server, volumes


@contextmanager
def fake_kube(tmp_path: Path) -> Iterator[tuple[FakeStorage, FakeApiServer, Path]]:
    api = FakeApiServer(pods=[])
    storage = FakeStorage(api.pods)
    api.extensions.append(storage)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(api.start(), loop).result(30)
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(url, None, "default"))
        yield storage, api, kubeconfig
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@dataclass
class Namespace:
    """What the test namespace holds: claim -> PV name, and the objects as created."""

    pv_of: dict[str, str]
    unknown_pv: str
    static_pv: str
    before: dict


def populate(storage: FakeStorage, volumes: dict) -> Namespace:
    storage.put("storageclasses", storage_class())
    pv_of = {}
    for claim, volume in volumes.items():
        pv, pvc = claim_and_volume(NS, claim, volume["id"], size_gib=volume["size"],
                                   gid=volume["gid"],
                                   access_modes=("ReadWriteOnce",) if claim == "db-0"
                                   else ("ReadWriteMany",))
        storage.put("persistentvolumes", pv)
        storage.put("persistentvolumeclaims", pvc)
        endpoints, service = endpoints_and_service(pv, ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        storage.put("endpoints", endpoints)
        storage.put("services", service)
        pv_of[claim] = pv["metadata"]["name"]
    # A claim whose Heketi volume heketipy does not know.
    pv, pvc = claim_and_volume(NS, "orphan", UNKNOWN_ID)
    storage.put("persistentvolumes", pv)
    storage.put("persistentvolumeclaims", pvc)
    # A static glusterfs PV an administrator made (no Heketi).
    static = {"metadata": {"name": "static-gluster"},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                       "glusterfs": {"endpoints": "glusterfs-cluster", "path": "shared"},
                       "persistentVolumeReclaimPolicy": "Retain"},
              "status": {"phase": "Available"}}
    storage.put("persistentvolumes", static)
    storage.reconcile()
    return Namespace(pv_of, pv["metadata"]["name"], "static-gluster",
                     copy.deepcopy(storage.objects))


def migrate(server: ServerProcess, kubeconfig: Path, *flags: str) -> CliResult:
    return cli(server, "kube", "migrate-pvs", "--kubeconfig", str(kubeconfig), "--wait", "0",
               *flags)


def assert_migrated(storage: FakeStorage, volumes: dict, ns: Namespace) -> None:
    for claim, volume in volumes.items():
        pvc = storage.get("persistentvolumeclaims", claim, NS)
        assert pvc is not None and pvc["status"]["phase"] == "Bound", claim
        assert pvc["spec"]["volumeName"] == ns.pv_of[claim]
        pv = storage.get("persistentvolumes", ns.pv_of[claim])
        assert pv is not None and pv["status"]["phase"] == "Bound"
        assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
        csi = pv["spec"]["csi"]
        assert csi["driver"] == "heketipy.gluster.org" and csi["volumeHandle"] == volume["id"]
        assert csi["volumeAttributes"] == {
            "glusterVolume": volume["name"], "gid": str(volume["gid"]),
            "glusterHosts": ",".join(volume["mount"]["glusterfs"]["hosts"])}
        assert "glusterfs" not in pv["spec"]
        old_pv = ns.before[("persistentvolumes", "", ns.pv_of[claim])]
        assert pv["spec"]["capacity"] == old_pv["spec"]["capacity"] == {
            "storage": f"{volume['size']}Gi"}
        assert pv["spec"]["accessModes"] == old_pv["spec"]["accessModes"]
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"  # as before
        assert pv["metadata"]["annotations"]["pv.beta.kubernetes.io/gid"] == str(volume["gid"])
        old_pvc = ns.before[("persistentvolumeclaims", NS, claim)]
        assert pvc["metadata"]["labels"] == old_pvc["metadata"]["labels"]
        assert pvc["spec"]["resources"] == old_pvc["spec"]["resources"]
        assert pvc["metadata"]["annotations"]["example.com/owner"] == "team-a"
    sc = storage.get("storageclasses", "glusterfs-storage")
    assert sc is not None and sc["provisioner"] == "heketipy.gluster.org"
    assert "resturl" not in sc["parameters"] and sc["parameters"]["volumetype"] == "replicate:3"
    assert sc["reclaimPolicy"] == "Delete" and sc["allowVolumeExpansion"] is True
    # Never deleted data: no PV was ever reclaimed, the unmappable ones are untouched, the
    # in-tree provisioner's endpoints and services are still there.
    assert storage.reclaimed == []
    for key in (("persistentvolumes", "", ns.unknown_pv),
                ("persistentvolumes", "", ns.static_pv),
                ("persistentvolumeclaims", NS, "orphan")):
        assert storage.objects[key] == ns.before[key]
    for key, obj in ns.before.items():
        if key[0] in ("endpoints", "services"):
            assert storage.objects[key] == obj


def test_dry_run_apply_and_a_second_apply(heketi: tuple[ServerProcess, dict],
                                          tmp_path: Path) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, _, kubeconfig):
        ns = populate(storage, volumes)
        dry = migrate(server, kubeconfig)
        assert dry.code == 1, dry.err  # something is skipped
        assert storage.mutating_requests() == []
        assert dry.out.startswith("plan (dry run; --apply makes these changes):\n")
        (tmp_path / "plan.txt").write_text(dry.out)
        print(dry.out)
        for claim in volumes:
            assert f"claim {NS}/{claim} -> pv {ns.pv_of[claim]}" in dry.out
        assert f"pv/{ns.unknown_pv}: Heketi volume {UNKNOWN_ID} is not known to heketipy" in dry.out
        assert "pv/static-gluster: glusterfs volume 'shared' was not provisioned by Heketi" in dry.out
        assert "dropped: resturl, restuser, secretName, secretNamespace" in dry.out

        applied = migrate(server, kubeconfig, "--apply")
        assert applied.code == 1, applied.err + applied.out
        assert "FAILED" not in applied.out and "pending" not in applied.out
        assert_migrated(storage, volumes, ns)

        writes = len(storage.mutating_requests())
        again = migrate(server, kubeconfig, "--apply")
        assert again.code == 1  # the unmappable ones are still reported
        assert again.out.startswith("nothing to do\nskipped (left untouched):\n")
        assert len(storage.mutating_requests()) == writes
        assert_migrated(storage, volumes, ns)


def test_exit_status_is_zero_when_everything_maps(heketi: tuple[ServerProcess, dict],
                                                  tmp_path: Path) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, _, kubeconfig):
        storage.put("storageclasses", storage_class())
        pv, pvc = claim_and_volume(NS, "data", volumes["data"]["id"], gid=volumes["data"]["gid"])
        storage.put("persistentvolumes", pv)
        storage.put("persistentvolumeclaims", pvc)
        assert migrate(server, kubeconfig).code == 0
        assert migrate(server, kubeconfig, "--apply").code == 0
        result = migrate(server, kubeconfig, "--apply")
        assert (result.code, result.out) == (0, "nothing to do\n")


CLEAN_RUN_WRITES = 4 + 3 * 8  # the class: 4 steps; each claim: 8 writes


@pytest.mark.parametrize("fail_at", range(1, CLEAN_RUN_WRITES + 1))
def test_interrupted_at_any_write_a_rerun_converges(heketi: tuple[ServerProcess, dict],
                                                    tmp_path: Path, fail_at: int) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, _, kubeconfig):
        ns = populate(storage, volumes)
        storage.fail_at = fail_at
        first = migrate(server, kubeconfig, "--apply")
        assert first.code == 1 and "FAILED: 500" in first.out, first.out + first.err
        assert storage.reclaimed == []
        storage.fail_at = None
        second = migrate(server, kubeconfig, "--apply")
        assert "FAILED" not in second.out, second.out
        assert_migrated(storage, volumes, ns)
        assert migrate(server, kubeconfig, "--apply").out.startswith("nothing to do\n")


def test_clean_run_makes_exactly_the_counted_writes(heketi: tuple[ServerProcess, dict],
                                                    tmp_path: Path) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, _, kubeconfig):
        populate(storage, volumes)
        migrate(server, kubeconfig, "--apply")
        assert storage.writes == CLEAN_RUN_WRITES


def test_claim_used_by_a_pod_is_refused_without_the_flag(heketi: tuple[ServerProcess, dict],
                                                         tmp_path: Path) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, api, kubeconfig):
        ns = populate(storage, volumes)
        api.pods.append({"name": "web-0", "namespace": NS, "phase": "Running",
                         "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]})
        refused = migrate(server, kubeconfig, "--apply")
        assert f"claim {NS}/data is in use by pod(s) {NS}/web-0" in refused.out
        assert refused.code == 1
        key = ("persistentvolumes", "", ns.pv_of["data"])
        assert storage.objects[key] == ns.before[key]
        assert storage.get("persistentvolumeclaims", "data", NS)["metadata"]["uid"] == \
            ns.before[("persistentvolumeclaims", NS, "data")]["metadata"]["uid"]

        # With the flag: the claim is deleted but pvc-protection holds it while the pod runs.
        held = migrate(server, kubeconfig, "--apply", "--allow-in-use")
        assert held.code == 1
        assert f"pending: PersistentVolumeClaim {NS}/data is terminating, used by pod(s) " \
               f"{NS}/web-0" in held.out
        pv = storage.get("persistentvolumes", ns.pv_of["data"])
        assert pv["spec"]["glusterfs"] and pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert storage.get("persistentvolumeclaims", "data", NS)["metadata"]["deletionTimestamp"]

        # Already deleted by this tool: a run without the flag waits for the pod, no refusal.
        waiting = migrate(server, kubeconfig, "--apply")
        assert f"pending: PersistentVolumeClaim {NS}/data is terminating" in waiting.out
        assert "pass --allow-in-use" not in waiting.out

        api.pods.clear()  # the pod stopped
        finished = migrate(server, kubeconfig, "--apply")
        assert "pending" not in finished.out and "FAILED" not in finished.out, finished.out
        assert_migrated(storage, volumes, ns)


def test_fake_api_server_enforces_immutability_and_protection(tmp_path: Path) -> None:
    """The semantics the migration relies on, as the fake models them."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.client.rest import ApiException

    with fake_kube(tmp_path) as (storage, api, kubeconfig):
        pv, pvc = claim_and_volume(NS, "data", "a" * 32)
        storage.put("persistentvolumes", pv)
        storage.put("persistentvolumeclaims", pvc)
        storage.put("storageclasses", storage_class())
        kubernetes.config.load_kube_config(config_file=str(kubeconfig))
        core = kubernetes.client.CoreV1Api()
        storage_api = kubernetes.client.StorageV1Api()
        name = pv["metadata"]["name"]
        merge = "application/merge-patch+json"
        for call in (
            lambda: core.patch_persistent_volume(name, {"spec": {"glusterfs": {"path": "x"}}},
                                                 _content_type=merge),
            lambda: core.patch_namespaced_persistent_volume_claim(
                "data", NS, {"spec": {"volumeName": "other"}}, _content_type=merge),
            lambda: storage_api.patch_storage_class(
                "glusterfs-storage", {"provisioner": "heketipy.gluster.org"},
                _content_type=merge),
        ):
            with pytest.raises(ApiException) as caught:
                call()
            assert caught.value.status == 422
        # A bound PV does not go away (pv-protection) until its claim does.
        core.delete_persistent_volume(name)
        assert storage.get("persistentvolumes", name)["metadata"]["deletionTimestamp"]
        api.pods.append({"name": "p", "namespace": NS,
                         "volumes": [{"persistentVolumeClaim": {"claimName": "data"}}]})
        core.delete_namespaced_persistent_volume_claim("data", NS)
        assert storage.get("persistentvolumeclaims", "data", NS) is not None  # pvc-protection
        api.pods.clear()
        core.list_persistent_volume()  # the controllers run on every request
        assert storage.get("persistentvolumeclaims", "data", NS) is None
        # The claim gone, the PV is Released; its policy was Delete: reclaimed (data lost).
        assert storage.get("persistentvolumes", name) is None
        assert storage.reclaimed == [name]


def test_a_finished_journal_of_the_same_name_is_reopened(heketi: tuple[ServerProcess, dict],
                                                        tmp_path: Path) -> None:
    server, volumes = heketi
    with fake_kube(tmp_path) as (storage, _, kubeconfig):
        pv, pvc = claim_and_volume(NS, "data", volumes["data"]["id"], gid=volumes["data"]["gid"])
        storage.put("persistentvolumes", pv)
        storage.put("persistentvolumeclaims", pvc)
        stale = {"metadata": {"name": f"heketipy-migrate-pv-{pv['metadata']['name']}",
                              "namespace": "default",
                              "labels": {"heketipy.gluster.org/migration": "pv"}},
                 "data": {"state": "done", "pv": "{}", "pvc": "{}"}}
        storage.put("configmaps", stale)
        storage.fail_at = 4  # retain, create (409), reopen, then the claim delete fails
        assert migrate(server, kubeconfig, "--apply").code == 1
        journal = storage.get("configmaps", stale["metadata"]["name"], "default")
        assert journal["data"]["state"] == "open"
        assert json.loads(journal["data"]["pvc"])["metadata"]["uid"] == pvc["metadata"]["uid"]
        storage.fail_at = None
        assert migrate(server, kubeconfig, "--apply").code == 0
        assert storage.get("persistentvolumes", pv["metadata"]["name"])["spec"]["csi"]


def test_unreadable_kubeconfig_is_one_clear_error(heketi: tuple[ServerProcess, dict],
                                                  tmp_path: Path) -> None:
    server, _ = heketi
    result = migrate(server, tmp_path / "missing")
    assert result.code == 255 and result.out == ""
    assert result.err.startswith("Error: kube migrate-pvs: no usable in-cluster service account "
                                 "or kubeconfig")
    assert result.err.count("\n") == 1


def test_kube_command_is_hidden_from_heketi_clis_help_but_has_its_own() -> None:
    from heketipy.cli.main import build_root

    root = build_root()
    assert "kube" not in root.help_text()
    help_text = root.child("kube").child("migrate-pvs").help_text()  # type: ignore[union-attr]
    for flag in ("--kubeconfig", "--apply", "--allow-in-use", "--journal-namespace", "--wait"):
        assert flag in help_text


class StubKube:
    """Just enough of `KubeObjects` for the applier's guards."""

    class ApiException(Exception):
        status = 0

    def __init__(self, objects: dict) -> None:
        self.objects = objects
        self.deleted: list[str] = []

    def status_of(self, exc: Exception) -> int:
        return 0

    def get(self, kind: str, name: str, namespace: str = "") -> dict | None:
        return copy.deepcopy(self.objects.get((kind, name)))

    def delete(self, kind: str, name: str, namespace: str, uid: str) -> None:
        self.deleted.append(name)
        self.objects[(kind, name)]["metadata"]["deletionTimestamp"] = "now"

    def pods(self) -> list[dict]:
        return [{"metadata": {"name": "web-0", "namespace": NS},
                 "spec": {"volumes": [{"persistentVolumeClaim": {"claimName": "data"}}]},
                 "status": {"phase": "Running"}}]


def test_applier_never_deletes_an_in_tree_pv_that_is_not_retain() -> None:
    from heketipy.cli import migrate_plan as mp
    from heketipy.cli.cmd_kube import Applier
    from heketipy.cli.context import CliError

    pv, _ = claim_and_volume(NS, "data", "a" * 32)  # reclaim policy Delete
    kube = StubKube({("PersistentVolume", pv["metadata"]["name"]): pv})
    step = mp.Step("delete-pv", "u", "t", "PersistentVolume", pv["metadata"]["name"],
                   uid=pv["metadata"]["uid"])
    with pytest.raises(CliError, match="its reclaim policy is not Retain"):
        Applier(kube, 0).run(step)  # type: ignore[arg-type]
    assert kube.deleted == []


def test_applier_reports_a_claim_held_by_a_pod_as_pending() -> None:
    from heketipy.cli import migrate_plan as mp
    from heketipy.cli.cmd_kube import Applier, StepPending

    _, pvc = claim_and_volume(NS, "data", "a" * 32)
    kube = StubKube({("PersistentVolumeClaim", "data"): pvc})
    step = mp.Step("delete-pvc", "u", "t", "PersistentVolumeClaim", "data", NS,
                   uid=pvc["metadata"]["uid"])
    with pytest.raises(StepPending, match=f"used by pod\\(s\\) {NS}/web-0"):
        Applier(kube, 0, allow_in_use=True).run(step)  # type: ignore[arg-type]
    assert kube.deleted == ["data"]
    # Already terminating: not deleted twice, and no refusal (this tool deleted it).
    with pytest.raises(StepPending):
        Applier(kube, 0).run(step)  # type: ignore[arg-type]
    assert kube.deleted == ["data"]


def test_applier_rechecks_pods_before_deleting_a_claim() -> None:
    """The plan saw no pod; one started on the claim before its delete-pvc step ran: the claim
    is not deleted (the planner's check is repeated at the delete), unless --allow-in-use."""
    from heketipy.cli import migrate_plan as mp
    from heketipy.cli.cmd_kube import Applier
    from heketipy.cli.context import CliError

    pv, pvc = claim_and_volume(NS, "data", "a" * 32)
    planned = mp.plan(mp.ClusterState(pvs=[pv], pvcs=[pvc]),
                      {"a" * 32: _volume_for(pv)}, mp.Options())
    assert planned.skipped == []
    step = next(s for s in planned.steps if s.action == "delete-pvc")
    kube = StubKube({("PersistentVolumeClaim", "data"): pvc})  # its pods(): web-0 on "data"
    with pytest.raises(CliError, match=f"refusing to delete pvc/{NS}/data: in use by pod\\(s\\) "
                                       f"{NS}/web-0"):
        Applier(kube, 0).run(step)  # type: ignore[arg-type]
    assert kube.deleted == []


def _volume_for(pv: dict) -> Volume:
    volume_id = pv["metadata"]["annotations"]["gluster.kubernetes.io/heketi-volume-id"]
    return Volume.model_validate({
        "id": volume_id, "name": pv["spec"]["glusterfs"]["path"], "size": 1, "gid": 2001,
        "cluster": "c" * 32, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        "mount": {"glusterfs": {"hosts": ["10.0.0.1"], "device": "10.0.0.1:x", "options": {}}}})


class OwnerStubKube(StubKube):
    """`StubKube` that also creates, and knows which owners exist (kind, name) -> uid."""

    def __init__(self, objects: dict, owners: dict) -> None:
        super().__init__(objects)
        self.owners = owners
        self.created: list[dict] = []

    def owner_uid(self, namespace: str, ref: dict) -> str | None:
        return self.owners.get((ref["kind"], ref["name"]))

    def create(self, step: object) -> dict:
        body = copy.deepcopy(step.body)  # type: ignore[attr-defined]
        self.created.append(body)
        return body


def test_recreated_claim_drops_owner_references_whose_owner_is_gone() -> None:
    """The garbage collector deletes a dependent whose owner (by uid) is gone: the recreated
    claim - and, after restore-policy Delete, its volume. Only owners that still exist, with the
    recorded uid, are kept."""
    from heketipy.cli import migrate_plan as mp
    from heketipy.cli.cmd_kube import Applier

    _, pvc = claim_and_volume(NS, "data", "a" * 32)
    pvc["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u1"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "gone", "uid": "u2"},
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "again", "uid": "u3"},
    ]
    kube = OwnerStubKube({}, {("StatefulSet", "db"): "u1", ("Deployment", "again"): "new"})
    step = mp.Step("create-pvc", "u", "t", "PersistentVolumeClaim", "data", NS,
                   body=mp.recreated_pvc(pvc, "pv-1"))
    outcome = Applier(kube, 0).run(step)  # type: ignore[arg-type]
    assert [r["name"] for r in kube.created[0]["metadata"]["ownerReferences"]] == ["db"]
    assert "StatefulSet/gone" in outcome and "Deployment/again" in outcome
    assert outcome.startswith("done")

    # No owner left: no ownerReferences key at all.
    kube = OwnerStubKube({}, {})
    Applier(kube, 0).run(step)  # type: ignore[arg-type]
    assert "ownerReferences" not in kube.created[0]["metadata"]
