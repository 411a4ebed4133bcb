"""The plan of `heketipy-cli kube migrate-pvs`: which Kubernetes objects to change, in which
order, to move PersistentVolumes that the in-tree ``kubernetes.io/glusterfs`` provisioner created
through Heketi onto heketipy-csi (``heketipy.gluster.org``) without touching their data.

A pure function of the cluster's objects (plain dicts as the API serves them) and the heketipy
volumes they reference: `plan(state, volumes, options)` returns the steps still needed from the
*current* state, so running it again after any interruption gives the rest of the work, and
after a complete run it gives none. `cmd_kube` reads the state, prints and applies the steps.

Why these steps, per claim (the PV's source, a claim's ``volumeName`` and
``storageClassName`` are immutable, so objects are recreated under the same names):

1. ``retain``: patch the old PV to ``persistentVolumeReclaimPolicy: Retain``, recording the
   original policy in an annotation by the same patch (atomic, so an interruption cannot lose
   it). From here on no step can make Kubernetes reclaim (delete) the Heketi volume.
2. ``journal``: a ConfigMap ``heketipy-migrate-pv-<pv>`` (in ``--journal-namespace``) holding
   the original PV and claim. After steps 3-4 these objects exist nowhere else; the journal is
   how an interrupted run recreates them. Never overwritten: the first record wins.
3. ``delete-pvc``: delete the claim (uid precondition: only the original). A PV bound to a
   claim cannot go away (``kubernetes.io/pv-protection``) and the claim's ``volumeName`` cannot
   change, so the claim must go. Pods keep their claim by name, not uid. A claim that running
   pods use stays Terminating (``kubernetes.io/pvc-protection``) until they stop: such claims
   are refused unless ``--allow-in-use``, with which the run waits and a later run resumes.
4. ``delete-pv``: delete the old PV object (uid precondition, and only while it is ``Retain``:
   it is Released now, and Retain leaves the Heketi volume alone).
5. ``create-pv``: the CSI PV under the same name: ``spec.csi`` (driver heketipy.gluster.org,
   ``volumeHandle`` = the Heketi volume id, ``volumeAttributes`` = the driver's volume context
   ``glusterVolume``/``glusterHosts``/``gid``, no fsType), the same capacity, access modes,
   mount options, storage class, labels and ``pv.beta.kubernetes.io/gid`` (the kubelet adds it
   to pods' supplemental groups, whatever the volume type; only for a gid other than 0), ``claimRef`` = the claim's
   namespace/name without uid (pre-bound, so only that claim can take it, and a missing claim
   never makes it Released). Reclaim policy ``Retain`` until the claim is bound again.
6. ``create-pvc``: the claim under the same name: labels, annotations (minus the binder's and
   provisioner's), owner references (the applier keeps only those whose owner still exists:
   the garbage collector would delete a claim naming a gone owner), access modes, resources, volume mode, storage class, and
   ``volumeName`` = the PV, so the binder binds exactly this pair and nothing is provisioned.
7. ``wait-bound``: until the binder has bound the pair.
8. ``restore-policy``: the original reclaim policy (usually Delete) once bound, so the migrated
   PV behaves like one the driver provisioned (deleting the claim deletes the volume through
   DeleteVolume, as it did before the migration); skipped when it was Retain. Deferred to
   this point so that no PV with Delete exists while its claim is missing.
9. ``finish``: mark the journal done (kept for reference and rollback, ignored afterwards).

StorageClasses: ``provisioner`` and ``parameters`` are immutable, so a class is recorded in a
journal (``heketipy-migrate-sc-<name>``), deleted and recreated under the same name with
provisioner heketipy.gluster.org, the parameters the driver shares with the in-tree provisioner
kept verbatim (`DRIVER_PARAMETERS`), the connection ones dropped (`CONNECTION_PARAMETERS`: the
driver has its own heketipy credentials and creates no endpoints) and reclaimPolicy,
mountOptions, allowVolumeExpansion, volumeBindingMode, allowedTopologies, labels and
annotations kept. Classes go first, so claims created during the migration are provisioned by
the driver. Existing PVs do not depend on their class object; deleting a class deletes nothing
else.

What cannot be mapped is reported with the reason and left untouched: a glusterfs PV not
provisioned by Heketi, a Heketi id heketipy does not know, a path that is not that volume's
name, a capacity that differs from the volume's size, a PV without a claim, a claim in use
(without ``--allow-in-use``; a pod's generic ephemeral volume counts), a claim owned by a pod
(an ephemeral volume's), a claim being deleted by someone else, a claim someone else
recreated during the migration (a StatefulSet's), a class with parameters the driver does not
know, a class or PV with mountOptions the driver refuses (csi.vocabulary: e.g. ``log-file``,
``backup-volfile-servers``). A claim this tool already deleted is not "in use" any more: a re-run just waits for it.
A finished journal is ignored, so an object of the same name later is planned afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from heketipy.client.models import Volume
from heketipy.csi import DRIVER_NAME
from heketipy.csi.vocabulary import (
    CONNECTION_PARAMETERS,
    DRIVER_PARAMETERS,
    mount_option_problems,
    volume_context,
)

DRIVER = DRIVER_NAME
IN_TREE = "kubernetes.io/glusterfs"
GIB = 1024**3

# What the in-tree provisioner (and the PV controller) wrote on the objects.
HEKETI_ID_ANNOTATION = "gluster.kubernetes.io/heketi-volume-id"
CREATED_BY_ANNOTATION = "kubernetes.io/createdby"
CREATED_BY_HEKETI = "heketi-dynamic-provisioner"
GID_ANNOTATION = "pv.beta.kubernetes.io/gid"
PROVISIONED_BY_ANNOTATION = "pv.kubernetes.io/provisioned-by"
# Annotations that describe the old provisioner or the old binding: not carried over.
PV_ANNOTATIONS_DROPPED = frozenset({
    CREATED_BY_ANNOTATION, "Description", "gluster.org/type",
    "pv.kubernetes.io/bound-by-controller", PROVISIONED_BY_ANNOTATION,
})
PVC_ANNOTATIONS_DROPPED = frozenset({
    "pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
})

# heketipy-cli's own marks.
ORIGINAL_POLICY_ANNOTATION = "heketipy.gluster.org/original-reclaim-policy"
MIGRATED_FROM_ANNOTATION = "heketipy.gluster.org/migrated-from"
JOURNAL_LABEL = "heketipy.gluster.org/migration"
MANAGED_BY = {"app.kubernetes.io/managed-by": "heketipy-cli"}
JOURNAL_DONE = "done"


_HEKETI_ID = re.compile(r"[0-9a-f]{32}")
_VOL_PATH = re.compile(r"vol_([0-9a-f]{32})")
_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)")
_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}

Obj = dict[str, Any]


# -- the plan's vocabulary ------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One change. ``unit`` groups the steps of one claim or class; ``body`` is the patch or the
    manifest; ``uid`` is the precondition of a delete."""

    action: str  # journal, retain, delete-pvc, delete-pv, create-pv, create-pvc, wait-bound,
    #              restore-policy, delete-sc, create-sc, finish
    unit: str
    text: str
    kind: str  # PersistentVolume, PersistentVolumeClaim, StorageClass, ConfigMap
    name: str
    namespace: str = ""
    uid: str = ""
    body: Obj = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    target: str
    reason: str


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ClusterState:
    """The objects the plan reads (``journals``: the ConfigMaps labelled `JOURNAL_LABEL`)."""

    pvs: list[Obj] = field(default_factory=list)
    pvcs: list[Obj] = field(default_factory=list)
    storage_classes: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    journals: list[Obj] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    journal_namespace: str = "default"
    allow_in_use: bool = False


# -- small readers ---------------------------------------------------------------------------------

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name", ""))


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("uid", ""))


def quantity_bytes(text: str) -> int | None:
    """A Kubernetes quantity (``5Gi``, ``5368709120``, ``5G``) in bytes; None if not one."""
    match = _QUANTITY.fullmatch(str(text).strip())
    if match is None or match.group(2) not in _SUFFIX:
        return None
    return int(float(match.group(1)) * _SUFFIX[match.group(2)])


def _storage(resources: Mapping[str, Any] | None) -> int | None:
    value = (resources or {}).get("storage")
    return None if value is None else quantity_bytes(str(value))


def journal_name(kind: str, name: str) -> str:
    """``heketipy-migrate-<kind>-<name>``, hashed when that would exceed a ConfigMap name."""
    full = f"heketipy-migrate-{kind}-{name}"
    if len(full) <= 253:
        return full
    return f"heketipy-migrate-{kind}-" + hashlib.sha256(name.encode()).hexdigest()[:40]


def pods_using(pods: Sequence[Obj], namespace: str, claim: str) -> list[str]:
    """``ns/name`` of the pods that still hold the claim (pvc-protection's rule: every pod
    not Succeeded or Failed), by a ``persistentVolumeClaim`` volume or a generic ephemeral
    volume (``ephemeral:``, whose claim is named ``<pod>-<volume>``)."""
    out = []
    for pod in pods:
        if _meta(pod).get("namespace", "default") != namespace:
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for volume in _spec(pod).get("volumes") or []:
            ephemeral_claim = (f"{name_of(pod)}-{volume.get('name', '')}"
                               if volume.get("ephemeral") is not None else None)
            if (volume.get("persistentVolumeClaim") or {}).get("claimName") == claim \
                    or ephemeral_claim == claim:
                out.append(f"{namespace}/{name_of(pod)}")
                break
    return sorted(out)


def owning_pod(claim: Obj) -> str:
    """The pod owning ``claim`` (a generic ephemeral volume's claim), or ""."""
    for ref in _meta(claim).get("ownerReferences") or []:
        if ref.get("kind") == "Pod" and str(ref.get("apiVersion", "v1")) == "v1":
            return str(ref.get("name", ""))
    return ""


def heketi_id(pv: Obj) -> tuple[str | None, str]:
    """The Heketi volume id of an in-tree glusterfs PV, or None and why it is not Heketi's."""
    source = _spec(pv).get("glusterfs") or {}
    annotations = _annotations(pv)
    volume_id = str(annotations.get(HEKETI_ID_ANNOTATION, "")).strip()
    if not volume_id:
        match = _VOL_PATH.fullmatch(str(source.get("path", "")))
        if annotations.get(CREATED_BY_ANNOTATION) == CREATED_BY_HEKETI and match:
            volume_id = match.group(1)
        else:
            return None, (f"glusterfs volume {source.get('path', '')!r} was not provisioned by "
                          f"Heketi (no {HEKETI_ID_ANNOTATION} annotation)")
    if not _HEKETI_ID.fullmatch(volume_id):
        return None, f"{HEKETI_ID_ANNOTATION} {volume_id!r} is not a Heketi volume id"
    return volume_id, ""


def journal_record(journal: Obj, key: str) -> Obj:
    return json.loads((journal.get("data") or {}).get(key) or "{}")


def journal_open(journal: Obj) -> bool:
    return (journal.get("data") or {}).get("state") != JOURNAL_DONE


def wanted_ids(state: ClusterState) -> set[str]:
    """The Heketi volume ids the plan needs to look up."""
    ids = set()
    for pv in state.pvs:
        if _spec(pv).get("glusterfs"):
            volume_id, _ = heketi_id(pv)
            if volume_id:
                ids.add(volume_id)
    for journal in state.journals:
        if (journal.get("data") or {}).get("pv") and journal_open(journal):
            volume_id, _ = heketi_id(journal_record(journal, "pv"))
            if volume_id:
                ids.add(volume_id)
    return ids


# -- manifests -------------------------------------------------------------------------------------

def original_policy(pv: Obj) -> str:
    return str(_annotations(pv).get(ORIGINAL_POLICY_ANNOTATION)
               or _spec(pv).get("persistentVolumeReclaimPolicy") or "Delete")


def csi_pv(original: Obj, claim: Obj, volume: Volume) -> Obj:
    """The CSI PV replacing ``original`` (the in-tree PV as recorded), pre-bound to ``claim``."""
    spec = _spec(original)
    annotations = {k: v for k, v in _annotations(original).items()
                   if k not in PV_ANNOTATIONS_DROPPED
                   and k not in (ORIGINAL_POLICY_ANNOTATION, GID_ANNOTATION)}
    annotations.update({
        PROVISIONED_BY_ANNOTATION: DRIVER,
        MIGRATED_FROM_ANNOTATION: IN_TREE,
        ORIGINAL_POLICY_ANNOTATION: original_policy(original),
    })
    if volume.gid:  # gid 0 is "no group": "0" would make the kubelet add root's group to pods
        annotations[GID_ANNOTATION] = str(volume.gid)
    csi: Obj = {"driver": DRIVER, "volumeHandle": volume.id,
                "volumeAttributes": volume_context(volume)}
    if (spec.get("glusterfs") or {}).get("readOnly"):
        csi["readOnly"] = True
    metadata: Obj = {"name": name_of(original), "annotations": annotations}
    if _meta(original).get("labels"):
        metadata["labels"] = dict(_meta(original)["labels"])
    new_spec: Obj = {
        "capacity": dict(spec.get("capacity") or {}),
        "accessModes": list(spec.get("accessModes") or []),
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": spec.get("storageClassName", ""),
        "volumeMode": "Filesystem",
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "namespace": _meta(claim).get("namespace", "default"),
                     "name": name_of(claim)},
        "csi": csi,
    }
    if spec.get("mountOptions"):
        new_spec["mountOptions"] = list(spec["mountOptions"])
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": metadata, "spec": new_spec}


def recreated_pvc(original: Obj, pv_name: str) -> Obj:
    """The claim as it was, pre-bound to the PV ``pv_name``."""
    meta = _meta(original)
    metadata: Obj = {"name": meta.get("name"), "namespace": meta.get("namespace", "default")}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in PVC_ANNOTATIONS_DROPPED}
    if annotations:
        metadata["annotations"] = annotations
    for key in ("labels", "ownerReferences"):
        if meta.get(key):
            metadata[key] = meta[key]
    spec = _spec(original)
    new_spec: Obj = {key: spec[key] for key in
                     ("accessModes", "resources", "storageClassName", "volumeMode", "selector")
                     if spec.get(key) is not None}
    new_spec["volumeName"] = pv_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata,
            "spec": new_spec}


def translated_class(original: Obj) -> tuple[Obj | None, list[str], list[str]]:
    """The CSI StorageClass for an in-tree one: (manifest or None, dropped keys, unknown keys)."""
    parameters: dict[str, str] = {}
    dropped, unknown = [], []
    for key, value in sorted((original.get("parameters") or {}).items()):
        if key.lower() in DRIVER_PARAMETERS:
            parameters[key] = value
        elif key.lower() in CONNECTION_PARAMETERS:
            dropped.append(key)
        else:
            unknown.append(key)
    if unknown:
        return None, dropped, unknown
    meta = _meta(original)
    metadata: Obj = {"name": meta.get("name")}
    for key in ("labels", "annotations"):
        if meta.get(key):
            metadata[key] = dict(meta[key])
    manifest: Obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                     "metadata": metadata, "provisioner": DRIVER}
    if parameters:
        manifest["parameters"] = parameters
    for key in ("reclaimPolicy", "mountOptions", "allowVolumeExpansion", "volumeBindingMode",
                "allowedTopologies"):
        if original.get(key) is not None:
            manifest[key] = original[key]
    return manifest, dropped, unknown


def journal_configmap(kind: str, name: str, namespace: str, records: Mapping[str, Obj]) -> Obj:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": journal_name(kind, name), "namespace": namespace,
                     "labels": {**MANAGED_BY, JOURNAL_LABEL: kind}},
        "data": {"state": "open", **{key: json.dumps(obj, sort_keys=True)
                                     for key, obj in records.items()}},
    }


# -- planning --------------------------------------------------------------------------------------

def plan(state: ClusterState, volumes: Mapping[str, Volume], options: Options) -> Plan:
    """The steps still needed from ``state`` (see the module docstring), classes first."""
    result = Plan()
    journals = {name_of(j): j for j in state.journals}
    _plan_classes(state, journals, options, result)
    _plan_claims(state, journals, volumes, options, result)
    return result


def _open_work(journals: Mapping[str, Obj], record_key: str, journal_kind: str,
               in_tree: set[str]) -> list[tuple[str, Obj | None]]:
    """The names to plan, sorted: the in-tree objects plus those an unfinished journal names
    (the object may be gone already), each with its open journal or None (a finished journal
    belongs to an earlier run; an in-tree object of that name now is a new one)."""
    names = set(in_tree)
    for recorded in journals.values():
        if journal_open(recorded) and (recorded.get("data") or {}).get(record_key):
            names.add(name_of(journal_record(recorded, record_key)))
    work: list[tuple[str, Obj | None]] = []
    for name in sorted(names):
        journal = journals.get(journal_name(journal_kind, name))
        work.append((name, journal if journal is not None and journal_open(journal) else None))
    return work


def _plan_classes(state: ClusterState, journals: Mapping[str, Obj], options: Options,
                  result: Plan) -> None:
    live = {name_of(sc): sc for sc in state.storage_classes}
    in_tree = {name for name, sc in live.items() if sc.get("provisioner") == IN_TREE}
    for name, journal in _open_work(journals, "storageclass", "sc", in_tree):
        current = live.get(name)
        original = journal_record(journal, "storageclass") if journal else current
        assert original is not None
        manifest, dropped, unknown = translated_class(original)
        target = f"storageclass/{name}"
        if manifest is None:
            result.skipped.append(Skipped(target, "parameters heketipy-csi does not know: "
                                          + ", ".join(unknown)))
            continue
        refused = mount_option_problems(original.get("mountOptions") or [])
        if refused:
            result.skipped.append(Skipped(target, "mountOptions heketipy-csi refuses: "
                                          + "; ".join(refused)))
            continue
        unit = f"storageclass {name}: provisioner {IN_TREE} -> {DRIVER}"
        steps: list[Step] = []
        if current is not None and current.get("provisioner") not in (IN_TREE, DRIVER):
            result.skipped.append(Skipped(target, f"recorded as {IN_TREE} but now provisioned "
                                          f"by {current.get('provisioner')}"))
            continue
        if journal is None:
            cm = journal_configmap("sc", name, options.journal_namespace,
                                   {"storageclass": original})
            steps.append(Step("journal", unit, f"record {target} in configmap "
                              f"{options.journal_namespace}/{name_of(cm)}", "ConfigMap",
                              name_of(cm), options.journal_namespace, body=cm))
        if current is not None and current.get("provisioner") == IN_TREE:
            steps.append(Step("delete-sc", unit, f"delete {target} (provisioner {IN_TREE})",
                              "StorageClass", name, uid=uid_of(current)))
        if current is None or current.get("provisioner") == IN_TREE:
            kept = ", ".join(sorted(manifest.get("parameters") or {})) or "none"
            text = f"create {target} (provisioner {DRIVER}; parameters kept: {kept}"
            if dropped:
                text += (f"; dropped: {', '.join(dropped)}: heketipy-csi uses its own heketipy "
                         "URL and credentials and creates no endpoints")
            steps.append(Step("create-sc", unit, text + ")", "StorageClass", name, body=manifest))
        steps.append(_finish(unit, "sc", name, options))
        result.steps += steps


def _finish(unit: str, kind: str, name: str, options: Options) -> Step:
    cm = journal_name(kind, name)
    return Step("finish", unit, f"mark configmap {options.journal_namespace}/{cm} done",
                "ConfigMap", cm, options.journal_namespace,
                body={"data": {"state": JOURNAL_DONE}})


def _plan_claims(state: ClusterState, journals: Mapping[str, Obj],
                 volumes: Mapping[str, Volume], options: Options, result: Plan) -> None:
    live_pvs = {name_of(pv): pv for pv in state.pvs}
    claims = {(_meta(c).get("namespace", "default"), name_of(c)): c for c in state.pvcs}
    in_tree = {name for name, pv in live_pvs.items() if _spec(pv).get("glusterfs")}
    for name, journal in _open_work(journals, "pv", "pv", in_tree):
        outcome = _plan_claim(name, live_pvs.get(name), journal, claims, state.pods, volumes,
                              options)
        if isinstance(outcome, Skipped):
            result.skipped.append(outcome)
            continue
        result.steps += outcome
        if any(step.action == "create-pv" for step in outcome):
            original = journal_record(journal, "pv") if journal else live_pvs[name]
            note = endpoint_note(original)
            if note:
                result.notes.append(note)


def _plan_claim(name: str, current: Obj | None, journal: Obj | None,
                claims: Mapping[tuple[str, str], Obj], pods: Sequence[Obj],
                volumes: Mapping[str, Volume], options: Options) -> list[Step] | Skipped:
    target = f"pv/{name}"
    in_tree = current is not None and bool(_spec(current).get("glusterfs"))
    original_pv = journal_record(journal, "pv") if journal else current
    assert original_pv is not None
    volume_id, why = heketi_id(original_pv)
    if volume_id is None:
        return Skipped(target, why)
    # The claim: as recorded, else the one the in-tree PV is bound to.
    if journal is not None:
        original_claim: Obj | None = journal_record(journal, "pvc")
    else:
        ref = _spec(original_pv).get("claimRef") or {}
        if not ref.get("name"):
            return Skipped(target, "not bound to a claim (nothing to rebind)")
        original_claim = claims.get((ref.get("namespace", "default"), ref["name"]))
        if original_claim is None:
            return Skipped(target, f"its claim {ref.get('namespace')}/{ref['name']} does not "
                           "exist (Released)")
        if ref.get("uid") and ref["uid"] != uid_of(original_claim):
            return Skipped(target, f"claim {ref.get('namespace')}/{ref['name']} is not the one "
                           "it was bound to")
        if _spec(original_claim).get("volumeName") != name:
            return Skipped(target, f"claim {ref.get('namespace')}/{ref['name']} is bound to "
                           f"{_spec(original_claim).get('volumeName')!r}")
    assert original_claim is not None
    claim_ns = str(_meta(original_claim).get("namespace", "default"))
    claim_name = name_of(original_claim)
    claim_key = f"{claim_ns}/{claim_name}"
    pod_owner = owning_pod(original_claim)
    if pod_owner:
        # Lives and dies with its pod (the garbage collector deletes it with the pod, and a
        # recreated one would reference a pod uid that is gone): never deleted or recreated.
        return Skipped(target, f"ephemeral claim owned by pod {claim_ns}/{pod_owner}")
    live_claim = claims.get((claim_ns, claim_name))
    claim_is_original = live_claim is not None and uid_of(live_claim) == uid_of(original_claim)
    if live_claim is not None and not claim_is_original and (
            in_tree or _spec(live_claim).get("volumeName") != name):
        # Not the claim this tool recreates (that one comes after the in-tree PV is gone and
        # names this PV): e.g. a StatefulSet made a new one. Rebinding it would lose its data.
        return Skipped(target, f"claim {claim_key} was recreated by someone else (volumeName "
                       f"{_spec(live_claim).get('volumeName')!r}); resolve it by hand")

    if current is not None and not in_tree:
        csi = _spec(current).get("csi") or {}
        if journal is None or csi.get("driver") != DRIVER or csi.get("volumeHandle") != volume_id:
            return Skipped(target, f"recorded as the in-tree PV of Heketi volume {volume_id} "
                           "but replaced by another PV of the same name")
    volume = volumes.get(volume_id)
    unit_volume = f"Heketi volume {volume_id}"
    if volume is not None:
        unit_volume += f" {volume.name}, {volume.size} GiB"
    unit = f"claim {claim_key} -> pv {name} ({unit_volume})"
    steps: list[Step] = []

    if in_tree or current is None:
        # Still to recreate: the volume must be the one the PV describes.
        path = str((_spec(original_pv).get("glusterfs") or {}).get("path", ""))
        if volume is None:
            return Skipped(target, f"Heketi volume {volume_id} is not known to heketipy")
        if volume.name != path:
            return Skipped(target, f"path {path!r} but Heketi volume {volume_id} is named "
                           f"{volume.name!r}")
        capacity = _storage(_spec(original_pv).get("capacity"))
        if capacity != volume.size * GIB:
            return Skipped(target, f"capacity {(_spec(original_pv).get('capacity') or {}).get('storage')} "
                           f"but Heketi volume {volume_id} is {volume.size} GiB")
        refused = mount_option_problems(_spec(original_pv).get("mountOptions") or [])
        if refused:
            return Skipped(target, "mountOptions heketipy-csi refuses: " + "; ".join(refused))
        request = _storage((_spec(original_claim).get("resources") or {}).get("requests"))
        if request is not None and request > capacity:
            return Skipped(target, f"claim {claim_key} requests more than the volume's "
                           f"{volume.size} GiB")
        terminating = claim_is_original and bool(_meta(live_claim or {}).get("deletionTimestamp"))
        if terminating and journal is None:
            return Skipped(target, f"claim {claim_key} is being deleted (not by this tool)")
        users = pods_using(pods, claim_ns, claim_name) if claim_is_original else []
        # A claim this tool already deleted (journal) only waits for its pods to stop.
        if users and not options.allow_in_use and not terminating:
            return Skipped(target, f"claim {claim_key} is in use by pod(s) {', '.join(users)}; "
                           "stop them first or pass --allow-in-use (the claim is then deleted "
                           "once they stop, and a re-run finishes)")
    if in_tree:
        assert current is not None
        policy = _spec(current).get("persistentVolumeReclaimPolicy", "Delete")
        if policy != "Retain":
            steps.append(Step(
                "retain", unit, f"set {target} persistentVolumeReclaimPolicy Retain (was "
                f"{policy}; the Heketi volume is safe from here on)", "PersistentVolume", name,
                body={"metadata": {"annotations": {ORIGINAL_POLICY_ANNOTATION: policy}},
                      "spec": {"persistentVolumeReclaimPolicy": "Retain"}}))
    if journal is None:
        recorded = dict(original_pv)
        if in_tree and current is not None and ORIGINAL_POLICY_ANNOTATION not in _annotations(current):
            recorded = json.loads(json.dumps(original_pv))
            recorded.setdefault("metadata", {}).setdefault("annotations", {})[
                ORIGINAL_POLICY_ANNOTATION] = _spec(current).get(
                    "persistentVolumeReclaimPolicy", "Delete")
        cm = journal_configmap("pv", name, options.journal_namespace,
                               {"pv": recorded, "pvc": original_claim})
        steps.append(Step("journal", unit, f"record {target} and pvc/{claim_key} in configmap "
                          f"{options.journal_namespace}/{name_of(cm)}", "ConfigMap", name_of(cm),
                          options.journal_namespace, body=cm))
        original_pv = recorded
    if claim_is_original:
        assert live_claim is not None
        steps.append(Step("delete-pvc", unit, f"delete pvc/{claim_key} (uid "
                          f"{uid_of(live_claim)})", "PersistentVolumeClaim", claim_name,
                          claim_ns, uid=uid_of(live_claim)))
    if in_tree:
        assert current is not None
        steps.append(Step("delete-pv", unit, f"delete in-tree {target} (Retain: the Heketi "
                          "volume stays)", "PersistentVolume", name, uid=uid_of(current)))
    if in_tree or current is None:
        assert volume is not None
        manifest = csi_pv(original_pv, original_claim, volume)
        steps.append(Step("create-pv", unit, f"create {target}: csi {DRIVER} volumeHandle "
                          f"{volume.id}, {manifest['spec']['capacity'].get('storage')}, "
                          f"{','.join(manifest['spec']['accessModes'])}, claimRef {claim_key}",
                          "PersistentVolume", name, body=manifest))
    if claim_is_original or live_claim is None:
        steps.append(Step("create-pvc", unit, f"create pvc/{claim_key} with volumeName {name}",
                          "PersistentVolumeClaim", claim_name, claim_ns,
                          body=recreated_pvc(original_claim, name)))
    bound = (live_claim is not None and not claim_is_original and current is not None
             and not in_tree and is_bound(current, live_claim))
    if not bound:
        steps.append(Step("wait-bound", unit, f"wait until pvc/{claim_key} is bound to {target}",
                          "PersistentVolumeClaim", claim_name, claim_ns, body={"pv": name}))
    wanted_policy = original_policy(original_pv)
    current_policy = (None if (in_tree or current is None)
                      else _spec(current).get("persistentVolumeReclaimPolicy"))
    if wanted_policy != "Retain" and current_policy != wanted_policy:
        steps.append(Step("restore-policy", unit, f"set {target} persistentVolumeReclaimPolicy "
                          f"{wanted_policy} (as before the migration)", "PersistentVolume", name,
                          body={"spec": {"persistentVolumeReclaimPolicy": wanted_policy}}))
    steps.append(_finish(unit, "pv", name, options))
    return steps


def is_bound(pv: Obj, claim: Obj) -> bool:
    """The binder has bound this pair (the claim's uid in the PV's claimRef)."""
    ref = _spec(pv).get("claimRef") or {}
    return ((claim.get("status") or {}).get("phase") == "Bound"
            and _spec(claim).get("volumeName") == name_of(pv)
            and ref.get("uid") == uid_of(claim))


def endpoint_note(pv: Obj) -> str:
    """The in-tree provisioner's per-claim Endpoints/Service, which the CSI PV does not use."""
    source = _spec(pv).get("glusterfs") or {}
    endpoints = source.get("endpoints")
    if not endpoints:
        return ""
    namespace = source.get("endpointsNamespace") or (
        (_spec(pv).get("claimRef") or {}).get("namespace", "default"))
    return (f"endpoints/service {namespace}/{endpoints} (of pv/{name_of(pv)}) are left in place; "
            "the CSI PV does not use them: delete them once the claim works")
