"""Kubernetes objects as the in-tree ``kubernetes.io/glusterfs`` provisioner and the PV
controller left them for a claim provisioned through Heketi (Kubernetes 1.2x): the
StorageClass, the bound PV and PVC, and the per-claim Endpoints and Service."""

from __future__ import annotations

import uuid
from typing import Any

Obj = dict[str, Any]

HEKETI_URL = "http://heketi-storage.glusterfs.svc:8080"


def storage_class(name: str = "glusterfs-storage", **parameters: str) -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name, "uid": str(uuid.uuid4()),
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/glusterfs",
        "parameters": parameters or {
            "resturl": HEKETI_URL, "restuser": "admin", "secretNamespace": "glusterfs",
            "secretName": "heketi-storage-admin-secret", "clusterid": "c" * 32,
            "volumetype": "replicate:3", "gidMin": "2000", "gidMax": "4000",
            "volumeoptions": "performance.read-ahead off",
        },
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
        "volumeBindingMode": "Immediate",
        "mountOptions": ["log-level=WARNING"],
    }


def claim_and_volume(namespace: str, claim: str, volume_id: str, *, size_gib: int = 1,
                     gid: int = 2001, path: str | None = None, policy: str = "Delete",
                     access_modes: tuple[str, ...] = ("ReadWriteMany",),
                     storage_class_name: str = "glusterfs-storage",
                     request: str | None = None) -> tuple[Obj, Obj]:
    """A bound (PV, PVC) pair; the PV named as the PV controller names provisioned ones."""
    claim_uid = str(uuid.uuid4())
    pv_name = f"pvc-{claim_uid}"
    endpoints = f"glusterfs-dynamic-{claim_uid}"
    pvc = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim, "namespace": namespace, "uid": claim_uid,
            "labels": {"app": claim},
            "annotations": {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.beta.kubernetes.io/storage-provisioner": "kubernetes.io/glusterfs",
                "volume.kubernetes.io/storage-provisioner": "kubernetes.io/glusterfs",
                "example.com/owner": "team-a",
            },
            "finalizers": ["kubernetes.io/pvc-protection"],
        },
        "spec": {"accessModes": list(access_modes),
                 "resources": {"requests": {"storage": request or f"{size_gib}Gi"}},
                 "storageClassName": storage_class_name, "volumeMode": "Filesystem",
                 "volumeName": pv_name},
        "status": {"phase": "Bound", "accessModes": list(access_modes),
                   "capacity": {"storage": f"{size_gib}Gi"}},
    }
    pv = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name, "uid": str(uuid.uuid4()),
            "annotations": {
                "Description": "Gluster-Internal: Dynamically provisioned PV",
                "gluster.kubernetes.io/heketi-volume-id": volume_id,
                "gluster.org/type": "file",
                "kubernetes.io/createdby": "heketi-dynamic-provisioner",
                "pv.beta.kubernetes.io/gid": str(gid),
                "pv.kubernetes.io/bound-by-controller": "yes",
                "pv.kubernetes.io/provisioned-by": "kubernetes.io/glusterfs",
            },
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": {
            "accessModes": list(access_modes),
            "capacity": {"storage": f"{size_gib}Gi"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "namespace": namespace, "name": claim, "uid": claim_uid,
                         "resourceVersion": "1234"},
            "glusterfs": {"endpoints": endpoints, "endpointsNamespace": namespace,
                          "path": path or f"vol_{volume_id}"},
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": storage_class_name,
            "volumeMode": "Filesystem",
            "mountOptions": ["log-level=WARNING"],
        },
        "status": {"phase": "Bound"},
    }
    return pv, pvc


def endpoints_and_service(pv: Obj, hosts: list[str]) -> tuple[Obj, Obj]:
    source = pv["spec"]["glusterfs"]
    ref = pv["spec"]["claimRef"]
    labels = {"gluster.kubernetes.io/provisioned-for-pvc": ref["name"]}
    meta = {"name": source["endpoints"], "namespace": source["endpointsNamespace"],
            "labels": labels}
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": dict(meta),
                 "subsets": [{"addresses": [{"ip": h} for h in hosts],
                              "ports": [{"port": 1, "protocol": "TCP"}]}]}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta),
               "spec": {"ports": [{"port": 1, "protocol": "TCP", "targetPort": 1}]}}
    return endpoints, service


def pod_using(namespace: str, name: str, claim: str, phase: str = "Running") -> Obj:
    """A pod as the planner reads it from the API."""
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"volumes": [{"name": "data",
                                  "persistentVolumeClaim": {"claimName": claim}}]},
            "status": {"phase": phase}}
