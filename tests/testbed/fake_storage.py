"""Kubernetes storage objects for the fake API server (tests only, in memory): PersistentVolumes,
PersistentVolumeClaims, StorageClasses, ConfigMaps, Endpoints and Services, with the semantics a
migration must respect, and the controllers that act on them, run after every request:

- list (``labelSelector``), get, create (409 AlreadyExists), delete (``preconditions.uid``:
  409 Conflict), patch (JSON merge patch or strategic merge patch, treated alike: maps merge,
  null removes, lists replace; a JSON patch is refused as a dict body would be);
- immutability (422 Invalid): a PV's volume source; a PVC's spec except
  ``resources.requests``; a StorageClass's ``provisioner``, ``parameters``, ``reclaimPolicy``
  and ``volumeBindingMode``;
- finalizers: a new PV gets ``kubernetes.io/pv-protection``, a new PVC
  ``kubernetes.io/pvc-protection``; delete sets ``deletionTimestamp`` and the object goes once
  its finalizers are gone. The protection controller removes pvc-protection when no pod that is
  not Succeeded/Failed uses the claim (pods: the fake API server's list, ``volumes`` entries
  ``{"persistentVolumeClaim": {"claimName": ...}}``), and pv-protection when the PV is not Bound;
- the PV binder: a claim with ``spec.volumeName`` binds to that PV when the PV is available,
  pre-bound to it or free, of the same class, large enough, with its access modes (uid
  filled into the PV's claimRef, both phases Bound, ``pv.kubernetes.io/bind-completed``); a
  bound PV whose claim is gone (or has another uid) is Released; a Released PV with reclaim
  policy Delete is *reclaimed*: its volume deleted (recorded in ``reclaimed``: data loss the
  tests assert never happens) and the PV removed; a bound claim whose PV is gone is Lost.

``fail_at`` makes the n-th write (POST, PATCH, DELETE; 1-based) answer 500 without doing
anything, to interrupt a client between two steps; ``writes`` counts them.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

Obj = dict[str, Any]

# resource -> (kind, apiVersion, namespaced, URL prefix)
RESOURCES: dict[str, tuple[str, str, bool, str]] = {
    "persistentvolumes": ("PersistentVolume", "v1", False, "/api/v1"),
    "persistentvolumeclaims": ("PersistentVolumeClaim", "v1", True, "/api/v1"),
    "configmaps": ("ConfigMap", "v1", True, "/api/v1"),
    "endpoints": ("Endpoints", "v1", True, "/api/v1"),
    "services": ("Service", "v1", True, "/api/v1"),
    "storageclasses": ("StorageClass", "storage.k8s.io/v1", False, "/apis/storage.k8s.io/v1"),
}
PV_SOURCES = ("glusterfs", "csi", "nfs", "hostPath", "local", "iscsi", "cephfs", "rbd")
MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code},
        status=code,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _match_labels(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        if value and labels.get(key) != value:
            return False
        if not value and key not in labels:
            return False
    return True


class FakeStorage:
    """Register on the fake API server with ``FakeApiServer(pods, extensions=[storage])``;
    ``pods`` is that server's pod list (read by the protection controller)."""

    def __init__(self, pods: list[dict[str, Any]] | None = None) -> None:
        self.pods: list[dict[str, Any]] = pods if pods is not None else []
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (resource, ns, name)
        self.reclaimed: list[str] = []  # PVs whose volume the binder "deleted"
        self.writes = 0
        self.fail_at: int | None = None
        self.requests: list[tuple[str, str, str, str]] = []  # method, resource, ns, name
        self._versions = itertools.count(1)

    # -- helpers for tests ------------------------------------------------------------------
    def put(self, resource: str, obj: Obj) -> Obj:
        """Store ``obj`` as given (an object an old controller wrote), uid and version added."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta["resourceVersion"] = str(next(self._versions))
        kind, api_version, namespaced, _ = RESOURCES[resource]
        stored.setdefault("kind", kind)
        stored.setdefault("apiVersion", api_version)
        ns = meta.setdefault("namespace", "default") if namespaced else ""
        self.objects[(resource, ns, meta["name"])] = stored
        return stored

    def get(self, resource: str, name: str, namespace: str = "") -> Obj | None:
        return self.objects.get((resource, namespace, name))

    def all(self, resource: str) -> list[Obj]:
        return [o for (r, _, _), o in sorted(self.objects.items()) if r == resource]

    def mutating_requests(self) -> list[tuple[str, str, str, str]]:
        return [r for r in self.requests if r[0] in ("POST", "PATCH", "PUT", "DELETE")]

    # -- controllers ------------------------------------------------------------------------
    def reconcile(self) -> None:
        for _ in range(5):  # a few rounds: one controller's change can enable another's
            before = json.dumps(sorted(self.objects.items(), key=lambda kv: kv[0]), default=str)
            self._bind()
            self._release()
            self._protect()
            if json.dumps(sorted(self.objects.items(), key=lambda kv: kv[0]), default=str) == before:
                return

    def _touch(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._versions))

    def _bind(self) -> None:
        for claim in self.all("persistentvolumeclaims"):
            spec, meta = claim.get("spec") or {}, claim["metadata"]
            phase = (claim.get("status") or {}).get("phase")
            name = spec.get("volumeName")
            if phase == "Bound" or not name or meta.get("deletionTimestamp"):
                continue
            pv = self.get("persistentvolumes", name)
            if pv is None or pv["metadata"].get("deletionTimestamp"):
                continue
            ref = pv["spec"].get("claimRef") or {}
            if ref and (ref.get("namespace"), ref.get("name")) != (meta["namespace"], meta["name"]):
                continue
            if ref.get("uid") and ref["uid"] != meta["uid"]:
                continue
            if pv["spec"].get("storageClassName", "") != spec.get("storageClassName", ""):
                continue
            if not set(spec.get("accessModes") or []) <= set(pv["spec"].get("accessModes") or []):
                continue
            wanted = _bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
            if wanted > _bytes((pv["spec"].get("capacity") or {}).get("storage")):
                continue
            pv["spec"]["claimRef"] = {
                "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
            }
            pv["status"] = {"phase": "Bound"}
            self._touch(pv)
            meta.setdefault("annotations", {})["pv.kubernetes.io/bind-completed"] = "yes"
            claim["status"] = {"phase": "Bound",
                               "accessModes": list(pv["spec"].get("accessModes") or []),
                               "capacity": dict(pv["spec"].get("capacity") or {})}
            self._touch(claim)

    def _release(self) -> None:
        for pv in self.all("persistentvolumes"):
            ref = pv["spec"].get("claimRef") or {}
            phase = (pv.get("status") or {}).get("phase")
            if phase == "Bound" and ref.get("uid"):
                claim = self.get("persistentvolumeclaims", ref["name"], ref["namespace"])
                if claim is None or claim["metadata"]["uid"] != ref["uid"]:
                    pv["status"] = {"phase": "Released"}
                    self._touch(pv)
                    phase = "Released"
            if phase == "Released" and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                self.reclaimed.append(pv["metadata"]["name"])
                del self.objects[("persistentvolumes", "", pv["metadata"]["name"])]
        for claim in self.all("persistentvolumeclaims"):
            if (claim.get("status") or {}).get("phase") == "Bound":
                pv = self.get("persistentvolumes", claim["spec"].get("volumeName", ""))
                if pv is None:
                    claim["status"]["phase"] = "Lost"
                    self._touch(claim)

    def _claim_in_use(self, claim: Obj) -> bool:
        meta = claim["metadata"]
        for pod in self.pods:
            if pod.get("namespace", "default") != meta["namespace"]:
                continue
            if pod.get("phase", "Running") in ("Succeeded", "Failed"):
                continue
            for volume in pod.get("volumes") or []:
                if (volume.get("persistentVolumeClaim") or {}).get("claimName") == meta["name"]:
                    return True
        return False

    def _protect(self) -> None:
        for key, obj in list(self.objects.items()):
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                continue
            finalizers = list(meta.get("finalizers") or [])
            if "kubernetes.io/pvc-protection" in finalizers and not self._claim_in_use(obj):
                finalizers.remove("kubernetes.io/pvc-protection")
            if ("kubernetes.io/pv-protection" in finalizers
                    and (obj.get("status") or {}).get("phase") != "Bound"):
                finalizers.remove("kubernetes.io/pv-protection")
            if finalizers != list(meta.get("finalizers") or []):
                meta["finalizers"] = finalizers
                self._touch(obj)
            if not finalizers:
                del self.objects[key]

    # -- validation -------------------------------------------------------------------------
    def _immutable(self, resource: str, old: Obj, new: Obj) -> str | None:
        if resource == "persistentvolumes":
            for source in PV_SOURCES:
                if old["spec"].get(source) != new["spec"].get(source):
                    return "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
        if resource == "persistentvolumeclaims":
            old_spec, new_spec = dict(old.get("spec") or {}), dict(new.get("spec") or {})
            old_spec.pop("resources", None)
            new_spec.pop("resources", None)
            if old_spec != new_spec:
                return ("spec: Forbidden: spec is immutable after creation except "
                        "resources.requests and volumeAttributesClassName for bound claims")
        if resource == "storageclasses":
            for key in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
                if old.get(key) != new.get(key):
                    return f"{key}: Forbidden: updates to {key} are forbidden."
        return None

    def _invalid_new(self, resource: str, obj: Obj) -> str | None:
        if resource == "persistentvolumes":
            spec = obj.get("spec") or {}
            sources = [s for s in PV_SOURCES if spec.get(s)]
            if len(sources) != 1:
                return "spec: Required value: must specify a volume type"
            csi = spec.get("csi") or {}
            if sources == ["csi"] and not (csi.get("driver") and csi.get("volumeHandle")):
                return "spec.csi: Required value: driver and volumeHandle"
            if not (spec.get("capacity") or {}).get("storage"):
                return "spec.capacity: Required value"
        if resource == "persistentvolumeclaims" and not (obj.get("spec") or {}).get("accessModes"):
            return "spec.accessModes: Required value: at least 1 access mode is required"
        if resource == "storageclasses" and not obj.get("provisioner"):
            return "provisioner: Required value"
        return None

    # -- request handling -------------------------------------------------------------------
    def _handler(self, resource: str, verb: str) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.reconcile()  # pods may have gone since the last request
            ns = request.match_info.get("ns", "")
            name = request.match_info.get("name", "")
            self.requests.append((request.method, resource, ns, name))
            if request.method in ("POST", "PATCH", "PUT", "DELETE"):
                self.writes += 1
                if self.fail_at is not None and self.writes == self.fail_at:
                    return status(500, "InternalError", f"injected failure at write {self.writes}")
            response = await getattr(self, "_" + verb)(request, resource, ns, name)
            self.reconcile()
            return response
        return handle

    async def _list(self, request: web.Request, resource: str, ns: str, name: str) -> web.Response:
        kind, api_version, namespaced, _ = RESOURCES[resource]
        selector = request.query.get("labelSelector", "")
        items = [copy.deepcopy(o) for (r, n, _), o in sorted(self.objects.items())
                 if r == resource and (not ns or n == ns)
                 and _match_labels(o["metadata"].get("labels") or {}, selector)]
        return web.json_response({"kind": kind + "List", "apiVersion": api_version,
                                  "metadata": {"resourceVersion": str(next(self._versions))},
                                  "items": items})

    async def _get(self, request: web.Request, resource: str, ns: str, name: str) -> web.Response:
        obj = self.objects.get((resource, ns, name))
        if obj is None:
            return status(404, "NotFound", f'{resource} "{name}" not found')
        return web.json_response(obj)

    async def _create(self, request: web.Request, resource: str, ns: str, name: str) -> web.Response:
        body = await request.json()
        kind, api_version, namespaced, _ = RESOURCES[resource]
        name = str((body.get("metadata") or {}).get("name", ""))
        if not name:
            return status(422, "Invalid", "metadata.name: Required value")
        if (resource, ns, name) in self.objects:
            return status(409, "AlreadyExists", f'{resource} "{name}" already exists')
        problem = self._invalid_new(resource, body)
        if problem:
            return status(422, "Invalid", f'{kind} "{name}" is invalid: {problem}')
        body["metadata"].pop("uid", None)
        body["metadata"].pop("deletionTimestamp", None)
        if namespaced:
            body["metadata"]["namespace"] = ns
        finalizer = {"persistentvolumes": "kubernetes.io/pv-protection",
                     "persistentvolumeclaims": "kubernetes.io/pvc-protection"}.get(resource)
        if finalizer:
            body["metadata"]["finalizers"] = [finalizer]
            body["status"] = {"phase": "Available" if resource == "persistentvolumes" else "Pending"}
        stored = self.put(resource, body)
        return web.json_response(stored, status=201)

    async def _patch(self, request: web.Request, resource: str, ns: str, name: str) -> web.Response:
        if request.content_type not in MERGE_TYPES:
            return status(415, "UnsupportedMediaType",
                          f"the body of the request was in an unknown format - {request.content_type}")
        current = self.objects.get((resource, ns, name))
        if current is None:
            return status(404, "NotFound", f'{resource} "{name}" not found')
        patched = merge_patch(current, await request.json())
        patched["metadata"]["uid"] = current["metadata"]["uid"]
        problem = self._immutable(resource, current, patched)
        if problem:
            kind = RESOURCES[resource][0]
            return status(422, "Invalid", f'{kind} "{name}" is invalid: {problem}')
        self.objects[(resource, ns, name)] = patched
        self._touch(patched)
        return web.json_response(patched)

    async def _delete(self, request: web.Request, resource: str, ns: str, name: str) -> web.Response:
        current = self.objects.get((resource, ns, name))
        if current is None:
            return status(404, "NotFound", f'{resource} "{name}" not found')
        text = await request.text()
        body = json.loads(text) if text.strip() else {}
        wanted_uid = ((body or {}).get("preconditions") or {}).get("uid")
        if wanted_uid and wanted_uid != current["metadata"]["uid"]:
            return status(409, "Conflict", f"Precondition failed: UID in precondition: "
                          f"{wanted_uid}, UID in object meta: {current['metadata']['uid']}")
        if current["metadata"].get("finalizers"):
            current["metadata"].setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
            self._touch(current)
            return web.json_response(current)
        del self.objects[(resource, ns, name)]
        return web.json_response(current)

    def register(self, router: web.UrlDispatcher) -> None:
        for resource, (_, _, namespaced, prefix) in RESOURCES.items():
            collection = (f"{prefix}/namespaces/{{ns}}/{resource}" if namespaced
                          else f"{prefix}/{resource}")
            item = collection + "/{name}"
            if namespaced:
                router.add_route("GET", f"{prefix}/{resource}", self._handler(resource, "list"))
            router.add_route("GET", collection, self._handler(resource, "list"))
            router.add_route("POST", collection, self._handler(resource, "create"))
            router.add_route("GET", item, self._handler(resource, "get"))
            router.add_route("PATCH", item, self._handler(resource, "patch"))
            router.add_route("DELETE", item, self._handler(resource, "delete"))


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6,
          "G": 10**9, "T": 10**12}


def _bytes(text: Any) -> int:
    """A quantity in bytes (integers with the usual suffixes: what the tests use)."""
    if text is None:
        return 0
    text = str(text)
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    return int(text)
