"""`heketipy-cli kube migrate-pvs`: move PersistentVolumes that Kubernetes' in-tree glusterfs
provisioner created through Heketi onto heketipy-csi, and translate their StorageClasses.

Reads the cluster (the ``kubernetes`` client, the optional extra ``kube``; ``--kubeconfig``,
else ``$KUBECONFIG`` or ``~/.kube/config``, else the in-cluster service account) and heketipy
(the CLI's usual ``--server/--user/--secret`` or ``HEKETI_CLI_*``), prints the plan that
`migrate_plan.plan` computes and, with ``--apply``, carries it out. Every step looks at the
live object before acting (uid preconditions on deletes, "already exists" accepted when it is
the wanted object), so a run interrupted anywhere is finished by running again, and a run after
a complete one prints "nothing to do". Waits (a claim still held by a pod, the binder) are
bounded by ``--wait``; what is still pending then is reported and finished by a later run.
Exit status 1 when anything was skipped, failed or is still pending.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from heketipy.cli import migrate_plan as mp
from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context
from heketipy.client.errors import HeketiError
from heketipy.client.models import Volume

EXIT_INCOMPLETE = 1
POLL_S = 0.5
MERGE_PATCH = "application/merge-patch+json"


class StepPending(Exception):
    """A step that cannot finish yet (a deletion held by a finalizer, a claim not bound)."""


class KubeObjects:
    """The few calls the migration makes, on plain dicts (the objects as the API serves them)."""

    def __init__(self, kubeconfig: str) -> None:
        try:
            from kubernetes import client
            from kubernetes.client.rest import ApiException

            from heketipy import kubeapi  # how every part of heketipy finds the API
        except ModuleNotFoundError as exc:
            # Only the missing extra becomes this message; any other broken import is a bug
            # and surfaces as itself.
            if exc.name is None or not exc.name.startswith("kubernetes"):
                raise
            raise CliError("kube migrate-pvs needs the kubernetes client: "
                           "pip install 'heketipy[kube]'") from None
        self.client = client
        self.ApiException = ApiException
        try:
            configuration = kubeapi.configuration(
                kubeconfig=kubeconfig or None, user="kube migrate-pvs"
            )
        except kubeapi.KubeConfigError as exc:
            raise CliError(str(exc)) from None
        api_client = kubeapi.api_client(configuration)
        self.core = client.CoreV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> mp.Obj:
        response = method(*args, _preload_content=False, **kwargs)
        return json.loads(response.data or b"{}")

    def _items(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[mp.Obj]:
        return list(self._call(method, *args, **kwargs).get("items") or [])

    def status_of(self, exc: Exception) -> int:
        return int(getattr(exc, "status", 0) or 0)

    def _delete_options(self, uid: str) -> Any:
        return self.client.V1DeleteOptions(preconditions=self.client.V1Preconditions(uid=uid))

    # -- reads ------------------------------------------------------------------------------
    def state(self, journal_namespace: str) -> mp.ClusterState:
        return mp.ClusterState(
            pvs=self._items(self.core.list_persistent_volume),
            pvcs=self._items(self.core.list_persistent_volume_claim_for_all_namespaces),
            storage_classes=self._items(self.storage.list_storage_class),
            pods=self._items(self.core.list_pod_for_all_namespaces),
            journals=self._items(self.core.list_namespaced_config_map, journal_namespace,
                                 label_selector=mp.JOURNAL_LABEL),
        )

    def get(self, kind: str, name: str, namespace: str = "") -> mp.Obj | None:
        readers: dict[str, Callable[[], mp.Obj]] = {
            "PersistentVolume": lambda: self._call(self.core.read_persistent_volume, name),
            "PersistentVolumeClaim": lambda: self._call(
                self.core.read_namespaced_persistent_volume_claim, name, namespace),
            "StorageClass": lambda: self._call(self.storage.read_storage_class, name),
            "ConfigMap": lambda: self._call(self.core.read_namespaced_config_map, name, namespace),
        }
        try:
            return readers[kind]()
        except self.ApiException as exc:
            if self.status_of(exc) == 404:
                return None
            raise

    def pods(self) -> list[mp.Obj]:
        return self._items(self.core.list_pod_for_all_namespaces)

    def owner_uid(self, namespace: str, ref: mp.Obj) -> str | None:
        """The uid of the live object an ownerReference names, or None when it is gone or is
        of a kind this tool does not read (the usual owners of claims are covered)."""
        readers: dict[tuple[str, str], Callable[..., Any]] = {
            ("v1", "Pod"): self.core.read_namespaced_pod,
            ("apps/v1", "StatefulSet"): self.apps.read_namespaced_stateful_set,
            ("apps/v1", "Deployment"): self.apps.read_namespaced_deployment,
            ("apps/v1", "ReplicaSet"): self.apps.read_namespaced_replica_set,
            ("apps/v1", "DaemonSet"): self.apps.read_namespaced_daemon_set,
            ("batch/v1", "Job"): self.batch.read_namespaced_job,
            ("batch/v1", "CronJob"): self.batch.read_namespaced_cron_job,
        }
        reader = readers.get((str(ref.get("apiVersion", "")), str(ref.get("kind", ""))))
        if reader is None:
            return None
        try:
            return str((self._call(reader, ref.get("name", ""), namespace).get("metadata")
                        or {}).get("uid") or "") or None
        except self.ApiException as exc:
            if self.status_of(exc) in (403, 404):
                return None
            raise

    # -- writes -----------------------------------------------------------------------------
    def create(self, step: mp.Step) -> mp.Obj:
        creators: dict[str, Callable[[], mp.Obj]] = {
            "PersistentVolume": lambda: self._call(self.core.create_persistent_volume, step.body),
            "PersistentVolumeClaim": lambda: self._call(
                self.core.create_namespaced_persistent_volume_claim, step.namespace, step.body),
            "StorageClass": lambda: self._call(self.storage.create_storage_class, step.body),
            "ConfigMap": lambda: self._call(self.core.create_namespaced_config_map,
                                            step.namespace, step.body),
        }
        return creators[step.kind]()

    def patch(self, kind: str, name: str, namespace: str, body: mp.Obj) -> mp.Obj:
        if kind == "PersistentVolume":
            return self._call(self.core.patch_persistent_volume, name, body,
                              _content_type=MERGE_PATCH)
        if kind == "ConfigMap":
            return self._call(self.core.patch_namespaced_config_map, name, namespace, body,
                              _content_type=MERGE_PATCH)
        raise ValueError(f"no patch for {kind}")

    def delete(self, kind: str, name: str, namespace: str, uid: str) -> None:
        options = self._delete_options(uid)
        if kind == "PersistentVolume":
            self._call(self.core.delete_persistent_volume, name, body=options)
        elif kind == "PersistentVolumeClaim":
            self._call(self.core.delete_namespaced_persistent_volume_claim, name, namespace,
                       body=options)
        elif kind == "StorageClass":
            self._call(self.storage.delete_storage_class, name, body=options)
        else:
            raise ValueError(f"no delete for {kind}")


# -- the applier -------------------------------------------------------------------------------

class Applier:
    """Carries out steps; each checks the live object first (see the module docstring)."""

    def __init__(self, kube: KubeObjects, wait_s: float,
                 sleep: Callable[[float], None] = time.sleep, *,
                 allow_in_use: bool = False) -> None:
        self.kube = kube
        self.wait_s = wait_s
        self.sleep = sleep
        self.allow_in_use = allow_in_use

    def run(self, step: mp.Step) -> str:
        """Do ``step``; returns "done" or "already done"; raises on failure or StepPending."""
        return getattr(self, "_" + step.action.replace("-", "_"))(step)

    def _until(self, check: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + self.wait_s
        while True:
            if check():
                return True
            if time.monotonic() >= deadline:
                return False
            self.sleep(POLL_S)

    def _create_or_existing(self, step: mp.Step) -> mp.Obj | None:
        """Create the step's object; None if created, else the object already there."""
        try:
            self.kube.create(step)
            return None
        except self.kube.ApiException as exc:
            if self.kube.status_of(exc) != 409:
                raise
        existing = self.kube.get(step.kind, step.name, step.namespace)
        if existing is None:
            raise CliError(f"{step.kind} {step.name} was reported to exist and then not found; "
                           "run again")
        return existing

    def _create(self, step: mp.Step, same: Callable[[mp.Obj], bool]) -> str:
        existing = self._create_or_existing(step)
        if existing is None:
            return "done"
        if same(existing):
            return "already done"
        raise CliError(f"{step.kind} {step.namespace + '/' if step.namespace else ''}"
                       f"{step.name} exists and is not the one this step creates")

    def _journal(self, step: mp.Step) -> str:
        # An open journal wins: it holds the objects as they were before the first run. A
        # finished one is an earlier migration of another object of the same name: reopened.
        existing = self._create_or_existing(step)
        if existing is None:
            return "done"
        if mp.JOURNAL_LABEL not in ((existing.get("metadata") or {}).get("labels") or {}):
            raise CliError(f"configmap {step.namespace}/{step.name} exists and is not a "
                           "migrate-pvs journal")
        if mp.journal_open(existing):
            return "already done"
        self.kube.patch("ConfigMap", step.name, step.namespace, {"data": step.body["data"]})
        return "done"

    def _retain(self, step: mp.Step) -> str:
        pv = self.kube.get("PersistentVolume", step.name)
        if pv is None or not pv["spec"].get("glusterfs"):
            raise CliError(f"pv/{step.name} is no longer the in-tree PV")
        annotations = pv["metadata"].get("annotations") or {}
        if (pv["spec"].get("persistentVolumeReclaimPolicy") == "Retain"
                and mp.ORIGINAL_POLICY_ANNOTATION in annotations):
            return "already done"
        if pv["spec"].get("persistentVolumeReclaimPolicy") == "Retain":
            # Retain already (by hand, or an earlier run): record that, keep what was recorded.
            body = {"metadata": {"annotations": {mp.ORIGINAL_POLICY_ANNOTATION: "Retain"}}}
            self.kube.patch("PersistentVolume", step.name, "", body)
            return "done"
        self.kube.patch("PersistentVolume", step.name, "", step.body)
        return "done"

    def _delete(self, step: mp.Step, guard: Callable[[mp.Obj], None] | None = None) -> str:
        where = f"{step.namespace + '/' if step.namespace else ''}{step.name}"
        current = self.kube.get(step.kind, step.name, step.namespace)
        if current is None or current["metadata"].get("uid") != step.uid:
            return "already done"
        if guard is not None:
            guard(current)
        if not current["metadata"].get("deletionTimestamp"):
            try:
                self.kube.delete(step.kind, step.name, step.namespace, step.uid)
            except self.kube.ApiException as exc:
                if self.kube.status_of(exc) not in (404, 409):
                    raise

        def gone() -> bool:
            live = self.kube.get(step.kind, step.name, step.namespace)
            return live is None or live["metadata"].get("uid") != step.uid

        if self._until(gone):
            return "done"
        if step.kind == "PersistentVolumeClaim":
            users = mp.pods_using(self.kube.pods(), step.namespace, step.name)
            held = f", used by pod(s) {', '.join(users)}" if users else ""
            raise StepPending(f"{step.kind} {where} is terminating{held}: "
                              "kubernetes.io/pvc-protection keeps it until no pod uses it; "
                              "run again then")
        live = self.kube.get(step.kind, step.name, step.namespace) or {}
        finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or [])
        raise StepPending(f"{step.kind} {where} is terminating (finalizers: {finalizers}); "
                          "run again once it is gone")

    def _delete_pvc(self, step: mp.Step) -> str:
        # The plan checked the pods once; units run one after another with waits, so a pod may
        # have started on the claim since. Checked again right before the delete. A claim
        # already terminating was deleted by an earlier run: it only waits for its pods.
        def guard(pvc: mp.Obj) -> None:
            if self.allow_in_use or pvc["metadata"].get("deletionTimestamp"):
                return
            users = mp.pods_using(self.kube.pods(), step.namespace, step.name)
            if users:
                raise CliError(f"refusing to delete pvc/{step.namespace}/{step.name}: in use by "
                               f"pod(s) {', '.join(users)} (started after the plan); stop them "
                               "or pass --allow-in-use")
        return self._delete(step, guard)

    def _delete_pv(self, step: mp.Step) -> str:
        def guard(pv: mp.Obj) -> None:
            if pv["spec"].get("persistentVolumeReclaimPolicy") != "Retain":
                raise CliError(f"refusing to delete pv/{step.name}: its reclaim policy is not "
                               "Retain")
            if not pv["spec"].get("glusterfs"):
                raise CliError(f"refusing to delete pv/{step.name}: not the in-tree PV")
        return self._delete(step, guard)

    def _delete_sc(self, step: mp.Step) -> str:
        return self._delete(step)

    def _create_pv(self, step: mp.Step) -> str:
        wanted = step.body["spec"]["csi"]
        return self._create(step, lambda pv: (pv["spec"].get("csi") or {}).get("volumeHandle")
                            == wanted["volumeHandle"]
                            and pv["spec"]["csi"].get("driver") == wanted["driver"])

    def _create_pvc(self, step: mp.Step) -> str:
        """Recreate the claim, with only the owner references whose owner still exists.

        The garbage collector deletes a dependent whose owner (by uid) no longer exists: a
        recreated claim still naming a deleted owner would be deleted right after creation,
        and once restore-policy has set Delete, its Heketi volume with it. A reference is
        therefore kept only when the owner is read back with the recorded uid; one that is
        gone, recreated (another uid), or of a kind this tool cannot read is dropped and
        reported. Dropping errs towards keeping data: at worst the claim outlives an owner
        that would have taken it along, which an administrator can fix; refusing instead
        would leave the claim (already deleted by delete-pvc) missing for its pods.
        """
        namespace = step.namespace
        kept, dropped = [], []
        for ref in (step.body.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("uid") and self.kube.owner_uid(namespace, ref) == ref.get("uid"):
                kept.append(ref)
            else:
                dropped.append(f"{ref.get('kind')}/{ref.get('name')}")
        body = copy.deepcopy(step.body)
        body["metadata"].pop("ownerReferences", None)
        if kept:
            body["metadata"]["ownerReferences"] = kept
        step = dataclasses.replace(step, body=body)
        outcome = self._create(step, lambda pvc: pvc["spec"].get("volumeName")
                               == step.body["spec"]["volumeName"])
        if dropped:
            outcome += (f" (owner reference(s) dropped, owner gone or not readable: "
                        f"{', '.join(dropped)})")
        return outcome

    def _create_sc(self, step: mp.Step) -> str:
        return self._create(step, lambda sc: sc.get("provisioner") == mp.DRIVER)

    def _wait_bound(self, step: mp.Step) -> str:
        pv_name = step.body["pv"]

        def bound() -> bool:
            claim = self.kube.get("PersistentVolumeClaim", step.name, step.namespace)
            pv = self.kube.get("PersistentVolume", pv_name)
            return claim is not None and pv is not None and mp.is_bound(pv, claim)

        if self._until(bound):
            return "done"
        raise StepPending(f"pvc/{step.namespace}/{step.name} is not bound to pv/{pv_name} yet; "
                          "run again to finish")

    def _restore_policy(self, step: mp.Step) -> str:
        pv = self.kube.get("PersistentVolume", step.name)
        if pv is None or (pv["spec"].get("csi") or {}).get("driver") != mp.DRIVER:
            raise CliError(f"pv/{step.name} is not the CSI PV")
        wanted = step.body["spec"]["persistentVolumeReclaimPolicy"]
        if pv["spec"].get("persistentVolumeReclaimPolicy") == wanted:
            return "already done"
        self.kube.patch("PersistentVolume", step.name, "", step.body)
        return "done"

    def _finish(self, step: mp.Step) -> str:
        self.kube.patch("ConfigMap", step.name, step.namespace, step.body)
        return "done"


# -- the command ------------------------------------------------------------------------------

def heketi_volumes(ctx: Context, ids: set[str]) -> dict[str, Volume]:
    """The heketipy volumes by id; an id heketipy answers 404 for is left out."""
    found = {}
    for volume_id in sorted(ids):
        try:
            found[volume_id] = ctx.client.volume_info(volume_id)
        except HeketiError as exc:
            if exc.status != 404:
                raise
    return found


def format_plan(result: mp.Plan) -> str:
    lines: list[str] = []
    unit = None
    for number, step in enumerate(result.steps, start=1):
        if step.unit != unit:
            unit = step.unit
            lines.append(unit)
        lines.append(f"  {number:3d}. {step.text}")
    if not result.steps:
        lines.append("nothing to do")
    if result.skipped:
        lines.append("skipped (left untouched):")
        lines += [f"  {s.target}: {s.reason}" for s in result.skipped]
    if result.notes:
        lines.append("notes:")
        lines += [f"  {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def migrate_pvs(ctx: Context) -> int:
    options = mp.Options(journal_namespace=ctx.flag("journal-namespace") or "default",
                         allow_in_use=bool(ctx.flag("allow-in-use")))
    kube = KubeObjects(ctx.flag("kubeconfig"))
    state = kube.state(options.journal_namespace)
    result = mp.plan(state, heketi_volumes(ctx, mp.wanted_ids(state)), options)
    applying = bool(ctx.flag("apply"))
    if result.steps:
        ctx.write("plan:\n" if applying else "plan (dry run; --apply makes these changes):\n")
    ctx.write(format_plan(result))
    if not applying or not result.steps:
        return EXIT_INCOMPLETE if result.skipped else 0
    ctx.write("applying:\n")
    applier = Applier(kube, float(ctx.flag("wait")), allow_in_use=options.allow_in_use)
    problems = 0
    failed_unit = None
    for number, step in enumerate(result.steps, start=1):
        if step.unit == failed_unit:
            continue
        try:
            outcome = applier.run(step)
        except StepPending as exc:
            outcome, failed_unit, problems = f"pending: {exc}", step.unit, problems + 1
        except (kube.ApiException, CliError, HeketiError) as exc:
            reason = getattr(exc, "reason", "") or ""
            text = str(exc) if not isinstance(exc, kube.ApiException) else (
                f"{exc.status} {reason}: {_api_message(exc)}")
            outcome, failed_unit, problems = f"FAILED: {text}", step.unit, problems + 1
        ctx.write(f"  {number:3d}. {outcome}: {step.text}\n")
    if problems:
        ctx.write(f"{problems} claim(s) or class(es) not finished; run again to resume\n")
    return EXIT_INCOMPLETE if problems or result.skipped else 0


def _api_message(exc: Exception) -> str:
    try:
        return str(json.loads(getattr(exc, "body", "") or "{}").get("message", exc))
    except ValueError:
        return str(exc)


def command() -> Command:
    migrate = Command(
        "migrate-pvs",
        short="Move in-tree glusterfs PVs provisioned by Heketi onto heketipy-csi",
        long=("Move PersistentVolumes that the in-tree kubernetes.io/glusterfs provisioner "
              "created through Heketi onto the heketipy-csi driver (heketipy.gluster.org), on "
              "the same Heketi volumes, and translate their StorageClasses. Prints the plan; "
              "--apply carries it out. Idempotent and resumable; never deletes a volume."),
        example="  $ heketi-cli kube migrate-pvs --kubeconfig ~/.kube/config\n"
                "  $ heketi-cli kube migrate-pvs --apply",
        run=migrate_pvs,
        flags=[
            Flag("kubeconfig", "string", None,
                 "\n\tKubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)"),
            Flag("apply", "bool", False, "\n\tMake the changes (default: print the plan only)"),
            Flag("allow-in-use", "bool", False,
                 "\n\tAlso migrate claims that running pods use (each claim is deleted once"
                 "\n\tits pods stop; run again to finish)"),
            Flag("journal-namespace", "string", "default",
                 "\n\tNamespace of the ConfigMaps recording the original objects"),
            Flag("wait", "int", 60,
                 "\n\tSeconds to wait for a deletion or a binding before reporting it pending"),
        ],
    )
    # Hidden from the root's command list, like setup-*, so heketi-cli's help stays as it was.
    return Command("kube", short="Kubernetes tools (heketipy extension)", hidden=True).add(migrate)
