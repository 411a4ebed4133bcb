"""The migrate-pvs planner (`heketipy.cli.migrate_plan`): a pure function of the cluster's
objects and heketipy's volumes."""

from __future__ import annotations

import copy
import json

import pytest

from heketipy.cli import migrate_plan as mp
from heketipy.client.models import Volume
from tests.cli.intree_objects import claim_and_volume, pod_using, storage_class

VID = "a" * 32
HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def volume(volume_id: str = VID, *, size: int = 1, gid: int = 2001, name: str = "") -> Volume:
    return Volume.model_validate({
        "id": volume_id, "name": name or f"vol_{volume_id}", "size": size, "gid": gid,
        "cluster": "c" * 32, "durability": {"type": "replicate", "replicate": {"replica": 3}},
        "mount": {"glusterfs": {"hosts": HOSTS, "device": f"{HOSTS[0]}:vol_{volume_id}",
                                "options": {"backup-volfile-servers": ",".join(HOSTS[1:])}}},
    })


def fresh(**kwargs: object) -> tuple[mp.ClusterState, dict, dict]:
    pv, pvc = claim_and_volume("apps", "data", VID, **kwargs)  # type: ignore[arg-type]
    return mp.ClusterState(pvs=[pv], pvcs=[pvc], storage_classes=[storage_class()]), pv, pvc


def actions(plan: mp.Plan) -> list[tuple[str, str]]:
    return [(s.action, s.name) for s in plan.steps]


def test_fresh_namespace_plans_class_then_claim_in_the_safe_order() -> None:
    state, pv, pvc = fresh()
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    pv_name = pv["metadata"]["name"]
    assert actions(plan) == [
        ("journal", "heketipy-migrate-sc-glusterfs-storage"),
        ("delete-sc", "glusterfs-storage"),
        ("create-sc", "glusterfs-storage"),
        ("finish", "heketipy-migrate-sc-glusterfs-storage"),
        ("retain", pv_name),
        ("journal", f"heketipy-migrate-pv-{pv_name}"),
        ("delete-pvc", "data"),
        ("delete-pv", pv_name),
        ("create-pv", pv_name),
        ("create-pvc", "data"),
        ("wait-bound", "data"),
        ("restore-policy", pv_name),
        ("finish", f"heketipy-migrate-pv-{pv_name}"),
    ]
    assert plan.skipped == []
    by_action = {s.action: s for s in plan.steps if s.unit.startswith("claim")}
    assert by_action["delete-pvc"].uid == pvc["metadata"]["uid"]
    assert by_action["delete-pv"].uid == pv["metadata"]["uid"]
    # Retain and the original policy in one patch: an interruption cannot lose the original.
    assert by_action["retain"].body == {
        "metadata": {"annotations": {mp.ORIGINAL_POLICY_ANNOTATION: "Delete"}},
        "spec": {"persistentVolumeReclaimPolicy": "Retain"}}
    journal = by_action["journal"].body
    assert json.loads(journal["data"]["pvc"]) == pvc
    recorded_pv = json.loads(journal["data"]["pv"])
    assert recorded_pv["metadata"]["annotations"][mp.ORIGINAL_POLICY_ANNOTATION] == "Delete"
    assert journal["metadata"]["labels"][mp.JOURNAL_LABEL] == "pv"
    assert by_action["restore-policy"].body == {"spec": {"persistentVolumeReclaimPolicy": "Delete"}}


def test_csi_pv_keeps_the_volume_capacity_modes_class_and_gid() -> None:
    state, pv, pvc = fresh(size_gib=5, access_modes=("ReadWriteOnce", "ReadOnlyMany"), gid=2345)
    plan = mp.plan(state, {VID: volume(size=5, gid=2345)}, mp.Options())
    created = next(s for s in plan.steps if s.action == "create-pv").body
    assert created["metadata"]["name"] == pv["metadata"]["name"]
    annotations = created["metadata"]["annotations"]
    assert annotations["pv.kubernetes.io/provisioned-by"] == mp.DRIVER
    assert annotations["pv.beta.kubernetes.io/gid"] == "2345"
    assert annotations["gluster.kubernetes.io/heketi-volume-id"] == VID
    assert annotations[mp.ORIGINAL_POLICY_ANNOTATION] == "Delete"
    for dropped in ("kubernetes.io/createdby", "Description", "pv.kubernetes.io/bound-by-controller"):
        assert dropped not in annotations
    assert created["spec"] == {
        "capacity": {"storage": "5Gi"},
        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "glusterfs-storage",
        "volumeMode": "Filesystem",
        "mountOptions": ["log-level=WARNING"],
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "namespace": "apps", "name": "data"},  # no uid: pre-bound by name
        "csi": {"driver": "heketipy.gluster.org", "volumeHandle": VID,
                "volumeAttributes": {"glusterVolume": f"vol_{VID}",
                                     "glusterHosts": ",".join(HOSTS), "gid": "2345"}},
    }


def test_recreated_claim_keeps_user_metadata_and_is_prebound() -> None:
    state, pv, pvc = fresh()
    pvc["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                           "name": "db", "uid": "u1"}]
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    created = next(s for s in plan.steps if s.action == "create-pvc").body
    assert created == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "apps", "labels": {"app": "data"},
                     "annotations": {"example.com/owner": "team-a"},
                     "ownerReferences": pvc["metadata"]["ownerReferences"]},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "glusterfs-storage", "volumeMode": "Filesystem",
                 "volumeName": pv["metadata"]["name"]},
    }


def test_storage_class_translation_keeps_driver_parameters_and_drops_connection_ones() -> None:
    state, _, _ = fresh()
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    step = next(s for s in plan.steps if s.action == "create-sc")
    assert step.body == {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "glusterfs-storage",
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "heketipy.gluster.org",
        "parameters": {"clusterid": "c" * 32, "gidMax": "4000", "gidMin": "2000",
                       "volumeoptions": "performance.read-ahead off",
                       "volumetype": "replicate:3"},
        "reclaimPolicy": "Delete", "mountOptions": ["log-level=WARNING"],
        "allowVolumeExpansion": True, "volumeBindingMode": "Immediate",
    }
    assert "dropped: resturl, restuser, secretName, secretNamespace" in step.text
    assert "own heketipy URL and credentials" in step.text


def test_parameter_lists_agree_with_the_driver() -> None:
    params = pytest.importorskip("heketipy.csi.params")
    errors = pytest.importorskip("heketipy.csi.errors")
    samples = {"clusterid": "c" * 32, "volumetype": "replicate:3", "volumeoptions": "a b",
               "volumenameprefix": "p", "gidmin": "2000", "gidmax": "3000", "snapfactor": "2",
               "customvolumename": "x"}
    for key in mp.DRIVER_PARAMETERS:
        params.parse_parameters({key: samples[key]})  # accepted
    for key in mp.CONNECTION_PARAMETERS:
        with pytest.raises(errors.CsiError):
            params.parse_parameters({key: "x"})


def test_class_with_an_unknown_parameter_is_skipped() -> None:
    state, _, _ = fresh()
    state.storage_classes = [storage_class(resturl="http://h", typo="1")]
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    assert [s.target for s in plan.skipped] == ["storageclass/glusterfs-storage"]
    assert "typo" in plan.skipped[0].reason
    assert not [s for s in plan.steps if s.unit.startswith("storageclass")]


def test_class_with_a_mount_option_the_driver_refuses_is_skipped() -> None:
    state, _, _ = fresh()
    refused = storage_class()
    refused["mountOptions"] = ["acl", "backup-volfile-servers=10.9.9.9"]
    state.storage_classes = [refused]
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    assert [s.target for s in plan.skipped] == ["storageclass/glusterfs-storage"]
    assert "backup-volfile-servers" in plan.skipped[0].reason
    assert not [s for s in plan.steps if s.unit.startswith("storageclass")]


@pytest.mark.parametrize("damage, reason", [
    (lambda pv, pvc: pv["metadata"]["annotations"].clear(), "not provisioned by Heketi"),
    (lambda pv, pvc: pv["metadata"]["annotations"].update(
        {mp.HEKETI_ID_ANNOTATION: "b" * 32}), f"Heketi volume {'b' * 32} is not known"),
    (lambda pv, pvc: pv["spec"]["glusterfs"].update(path="vol_other"), "is named"),
    (lambda pv, pvc: pv["spec"]["capacity"].update(storage="2Gi"), "capacity 2Gi but"),
    (lambda pv, pvc: pv["spec"].pop("claimRef"), "not bound to a claim"),
    (lambda pv, pvc: pvc["metadata"].update(name="gone"), "does not exist"),
    (lambda pv, pvc: pv["spec"]["claimRef"].update(uid="other"), "not the one it was bound to"),
    (lambda pv, pvc: pvc["spec"]["resources"]["requests"].update(storage="2Gi"),
     "requests more than"),
    # heketipy-csi's node refuses it: the migrated PV could never be mounted
    (lambda pv, pvc: pv["spec"].update(mountOptions=["log-level=WARNING", "log-file=/tmp/x"]),
     "mountOptions heketipy-csi refuses: mount flag 'log-file'"),
])
def test_what_cannot_be_mapped_is_reported_and_untouched(damage, reason) -> None:  # noqa: ANN001
    state, pv, pvc = fresh()
    damage(pv, pvc)
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    assert [s.target for s in plan.skipped] == [f"pv/{pv['metadata']['name']}"]
    assert reason in plan.skipped[0].reason
    assert not [s for s in plan.steps if s.unit.startswith("claim")]


def test_a_glusterfs_pv_by_heketi_without_the_id_annotation_is_found_by_its_path() -> None:
    state, pv, _ = fresh()
    del pv["metadata"]["annotations"][mp.HEKETI_ID_ANNOTATION]
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    assert plan.skipped == [] and mp.wanted_ids(state) == {VID}
    assert next(s for s in plan.steps if s.action == "create-pv").body["spec"]["csi"][
        "volumeHandle"] == VID


def test_customvolumename_path_is_checked_against_the_volume_name() -> None:
    state, _, _ = fresh(path="db_volume")
    assert mp.plan(state, {VID: volume(name="db_volume")}, mp.Options()).skipped == []


def test_claim_in_use_is_refused_unless_allowed_and_finished_pods_do_not_count() -> None:
    state, pv, _ = fresh()
    state.pods = [pod_using("apps", "web-0", "data"), pod_using("apps", "job", "data", "Succeeded"),
                  pod_using("other", "x", "data")]
    refused = mp.plan(state, {VID: volume()}, mp.Options())
    assert len(refused.skipped) == 1
    assert "in use by pod(s) apps/web-0;" in refused.skipped[0].reason
    assert "--allow-in-use" in refused.skipped[0].reason
    allowed = mp.plan(state, {VID: volume()}, mp.Options(allow_in_use=True))
    assert allowed.skipped == [] and "delete-pvc" in [s.action for s in allowed.steps]


def test_original_retain_is_kept_and_never_restored() -> None:
    state, pv, _ = fresh(policy="Retain")
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    claim_actions = [s.action for s in plan.steps if s.unit.startswith("claim")]
    assert "retain" not in claim_actions and "restore-policy" not in claim_actions
    journal = next(s for s in plan.steps if s.action == "journal" and "pv" in s.name).body
    assert json.loads(journal["data"]["pv"])["metadata"]["annotations"][
        mp.ORIGINAL_POLICY_ANNOTATION] == "Retain"


def _journal_of(plan: mp.Plan, kind: str) -> dict:
    cm = copy.deepcopy(next(s for s in plan.steps if s.action == "journal"
                            and s.name.startswith(f"heketipy-migrate-{kind}")).body)
    cm["metadata"]["uid"] = "j1"
    return cm


def test_resumes_after_each_interruption_point() -> None:
    state, pv, pvc = fresh()
    state.storage_classes = []
    volumes = {VID: volume()}
    journal = _journal_of(mp.plan(state, volumes, mp.Options()), "pv")
    pv_name = pv["metadata"]["name"]

    # Interrupted after "retain": the original policy is on the PV, no journal yet.
    retained = copy.deepcopy(pv)
    retained["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
    retained["metadata"]["annotations"][mp.ORIGINAL_POLICY_ANNOTATION] = "Delete"
    plan = mp.plan(mp.ClusterState(pvs=[retained], pvcs=[pvc]), volumes, mp.Options())
    assert [s.action for s in plan.steps][:2] == ["journal", "delete-pvc"]
    assert json.loads(plan.steps[0].body["data"]["pv"])["metadata"]["annotations"][
        mp.ORIGINAL_POLICY_ANNOTATION] == "Delete"
    assert "restore-policy" in [s.action for s in plan.steps]

    # Interrupted after deleting the claim: the PV is Released, the journal has the claim.
    released = copy.deepcopy(retained)
    released["status"] = {"phase": "Released"}
    plan = mp.plan(mp.ClusterState(pvs=[released], journals=[journal]), volumes, mp.Options())
    assert [s.action for s in plan.steps] == [
        "delete-pv", "create-pv", "create-pvc", "wait-bound", "restore-policy", "finish"]

    # Interrupted after deleting the PV: both objects exist only in the journal.
    plan = mp.plan(mp.ClusterState(journals=[journal]), volumes, mp.Options())
    assert [s.action for s in plan.steps] == [
        "create-pv", "create-pvc", "wait-bound", "restore-policy", "finish"]
    created_pv = next(s for s in plan.steps if s.action == "create-pv").body

    # Interrupted after creating the PV.
    csi_pv = copy.deepcopy(created_pv)
    csi_pv["metadata"]["uid"] = "p2"
    plan = mp.plan(mp.ClusterState(pvs=[csi_pv], journals=[journal]), volumes, mp.Options())
    assert [s.action for s in plan.steps] == ["create-pvc", "wait-bound", "restore-policy",
                                              "finish"]

    # Bound, policy not yet restored.
    new_claim = copy.deepcopy(pvc)
    new_claim["metadata"]["uid"] = "c2"
    csi_pv["spec"]["claimRef"]["uid"] = "c2"
    new_claim["status"] = {"phase": "Bound"}
    plan = mp.plan(mp.ClusterState(pvs=[csi_pv], pvcs=[new_claim], journals=[journal]), volumes,
                   mp.Options())
    assert [s.action for s in plan.steps] == ["restore-policy", "finish"]

    # Restored; only the journal is still open.
    csi_pv["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    plan = mp.plan(mp.ClusterState(pvs=[csi_pv], pvcs=[new_claim], journals=[journal]), volumes,
                   mp.Options())
    assert [(s.action, s.name) for s in plan.steps] == [("finish", f"heketipy-migrate-pv-{pv_name}")]

    # Done: nothing, and a finished journal never brings anything back.
    journal["data"]["state"] = mp.JOURNAL_DONE
    plan = mp.plan(mp.ClusterState(pvs=[csi_pv], pvcs=[new_claim], journals=[journal]), volumes,
                   mp.Options())
    assert plan.steps == [] and plan.skipped == []
    assert mp.plan(mp.ClusterState(journals=[journal]), {}, mp.Options()).steps == []


def test_journal_wins_over_live_objects_and_a_replaced_pv_is_reported() -> None:
    state, pv, pvc = fresh()
    state.storage_classes = []
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "pv")
    other = {"metadata": {"name": pv["metadata"]["name"], "uid": "x"},
             "spec": {"csi": {"driver": "other.csi", "volumeHandle": "h"}}}
    plan = mp.plan(mp.ClusterState(pvs=[other], journals=[journal]), {VID: volume()},
                   mp.Options())
    assert plan.steps == [] and "replaced by another PV" in plan.skipped[0].reason


def test_journal_of_a_volume_heketipy_lost_is_reported_not_recreated() -> None:
    state, _, _ = fresh()
    state.storage_classes = []
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "pv")
    plan = mp.plan(mp.ClusterState(journals=[journal]), {}, mp.Options())
    assert plan.steps == [] and "not known to heketipy" in plan.skipped[0].reason


def test_class_resumes_from_its_journal() -> None:
    state, _, _ = fresh()
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "sc")
    plan = mp.plan(mp.ClusterState(journals=[journal]), {}, mp.Options())
    assert [s.action for s in plan.steps] == ["create-sc", "finish"]
    csi_class = dict(plan.steps[0].body, metadata={"name": "glusterfs-storage", "uid": "s2"})
    plan = mp.plan(mp.ClusterState(storage_classes=[csi_class], journals=[journal]), {},
                   mp.Options())
    assert [s.action for s in plan.steps] == ["finish"]


def test_driver_provisioned_pvs_and_other_classes_are_not_touched() -> None:
    own = {"metadata": {"name": "pvc-1", "uid": "u"},
           "spec": {"csi": {"driver": mp.DRIVER, "volumeHandle": VID}}}
    other_class = {"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com"}
    plan = mp.plan(mp.ClusterState(pvs=[own], storage_classes=[other_class]), {}, mp.Options())
    assert plan.steps == [] and plan.skipped == []


@pytest.mark.parametrize("text, value", [
    ("5Gi", 5 * 2**30), ("5368709120", 5 * 2**30), ("1G", 10**9), ("512Mi", 2**29),
    ("1.5Gi", 3 * 2**29), ("x", None), ("5GB", None),
])
def test_quantities(text: str, value: int | None) -> None:
    assert mp.quantity_bytes(text) == value


def test_journal_names_fit_a_configmap_name() -> None:
    assert mp.journal_name("pv", "pvc-1") == "heketipy-migrate-pv-pvc-1"
    long = mp.journal_name("pv", "p" * 253)
    assert len(long) <= 253 and long.startswith("heketipy-migrate-pv-")


def test_a_new_in_tree_class_after_a_finished_translation_is_translated_from_itself() -> None:
    state, _, _ = fresh()
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "sc")
    journal["data"]["state"] = mp.JOURNAL_DONE
    newer = storage_class(resturl="http://h", volumetype="none")
    plan = mp.plan(mp.ClusterState(storage_classes=[newer], journals=[journal]), {}, mp.Options())
    assert [s.action for s in plan.steps] == ["journal", "delete-sc", "create-sc", "finish"]
    assert plan.steps[2].body["parameters"] == {"volumetype": "none"}


def test_a_claim_deleted_by_someone_else_is_not_resurrected() -> None:
    state, _, pvc = fresh()
    pvc["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    plan = mp.plan(state, {VID: volume()}, mp.Options(allow_in_use=True))
    assert "is being deleted (not by this tool)" in plan.skipped[0].reason
    assert not [s for s in plan.steps if s.unit.startswith("claim")]


def test_a_claim_this_tool_deleted_waits_for_its_pods_without_the_flag_again() -> None:
    state, pv, pvc = fresh()
    state.storage_classes = []
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "pv")
    pvc["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pv["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
    state.journals = [journal]
    state.pods = [pod_using("apps", "web-0", "data")]
    plan = mp.plan(state, {VID: volume()}, mp.Options())
    assert plan.skipped == []
    assert [s.action for s in plan.steps][:2] == ["delete-pvc", "delete-pv"]


def test_a_claim_someone_else_recreated_meanwhile_is_reported() -> None:
    state, pv, pvc = fresh()
    state.storage_classes = []
    journal = _journal_of(mp.plan(state, {VID: volume()}, mp.Options()), "pv")
    other = copy.deepcopy(pvc)
    other["metadata"]["uid"] = "c9"
    other["spec"]["volumeName"] = "pvc-c9"  # a StatefulSet's new claim, freshly provisioned
    for pvs in ([], [pv]):
        plan = mp.plan(mp.ClusterState(pvs=pvs, pvcs=[other], journals=[journal]),
                       {VID: volume()}, mp.Options())
        assert plan.steps == []
        assert "recreated by someone else (volumeName 'pvc-c9')" in plan.skipped[0].reason


def test_gid_zero_writes_no_gid_annotation() -> None:
    """gid 0 means "no group": the annotation would make the kubelet add root's group to pods."""
    state, _, _ = fresh(gid=0)
    plan = mp.plan(state, {VID: volume(gid=0)}, mp.Options())
    created = next(s for s in plan.steps if s.action == "create-pv").body
    assert mp.GID_ANNOTATION not in created["metadata"]["annotations"]
    assert created["spec"]["csi"]["volumeAttributes"].get("gid", "0") == "0"


def test_a_generic_ephemeral_volume_counts_as_using_its_claim() -> None:
    """``ephemeral:`` in a pod names no claim: its claim is ``<pod>-<volume>``."""
    pod = {"metadata": {"name": "web-0", "namespace": "apps"},
           "spec": {"volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}]},
           "status": {"phase": "Running"}}
    assert mp.pods_using([pod], "apps", "web-0-scratch") == ["apps/web-0"]
    assert mp.pods_using([pod], "apps", "scratch") == []
    assert mp.pods_using([pod], "other", "web-0-scratch") == []


def test_a_claim_owned_by_a_pod_is_never_deleted_or_recreated() -> None:
    """An ephemeral claim lives and dies with its pod: recreating it is not ours to do."""
    state, pv, pvc = fresh()
    pvc["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "u1", "controller": True}]
    plan = mp.plan(state, {VID: volume()}, mp.Options(allow_in_use=True))
    assert [s.target for s in plan.skipped] == [f"pv/{pv['metadata']['name']}"]
    assert "ephemeral claim owned by pod apps/web-0" in plan.skipped[0].reason
    assert not [s for s in plan.steps if s.unit.startswith("claim")]
