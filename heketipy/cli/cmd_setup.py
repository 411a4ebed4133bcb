"""`heketi-cli setup-openshift-heketi-storage` (aliases `setup-heketi-db-storage`,
`setup-kubernetes-heketi-storage`): create the `heketidbstorage` volume and write the
Kubernetes objects that copy the current database onto it (`heketi-storage.json`).

Steps: refuse if a volume named `heketidbstorage` exists; POST /volumes with size 2 and
database-safe Gluster options; GET /backup/db; write a List of a Secret holding the
database, the Endpoints and Service for the volume's hosts, and a Job copying the database
onto the volume. If anything after the create fails, the volume is deleted again.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any

from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context
from heketipy.client.errors import HeketiError
from heketipy.client.models import Volume
from heketipy.gocompat.json_encode import text_indent4

DB_VOLUME_NAME = "heketidbstorage"
DB_VOLUME_SIZE_GIB = 2
ENDPOINTS_NAME = "heketi-storage-endpoints"
SECRET_NAME = "heketi-storage-secret"
JOB_NAME = "heketi-storage-copy-job"
# SQLite on a Gluster mount needs every client-side cache off, or writes get lost/reordered.
DB_SAFE_OPTIONS = [
    "performance.stat-prefetch off",
    "performance.write-behind off",
    "performance.open-behind off",
    "performance.quick-read off",
    "performance.strict-o-direct on",
    "performance.read-ahead off",
    "performance.io-cache off",
    "performance.readdir-ahead off",
]


def _labels() -> dict[str, str]:
    return {"deploy-heketi": "support"}


def kubernetes_objects(volume: Volume, database: bytes, image: str,
                       node_selector: dict[str, str]) -> dict[str, Any]:
    hosts = volume.mount.glusterfs.hosts
    secret = {
        "kind": "Secret", "apiVersion": "v1",
        "metadata": {"name": SECRET_NAME, "creationTimestamp": None, "labels": _labels()},
        "data": {"heketi.db": base64.b64encode(database).decode("ascii")},
    }
    endpoints = {
        "kind": "Endpoints", "apiVersion": "v1",
        "metadata": {"name": ENDPOINTS_NAME, "creationTimestamp": None},
        "subsets": [{"addresses": [{"ip": h}], "ports": [{"port": 1}]} for h in hosts],
    }
    service = {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": ENDPOINTS_NAME, "creationTimestamp": None},
        "spec": {"ports": [{"port": 1, "targetPort": 0}]},
        "status": {"loadBalancer": {}},
    }
    pod_spec: dict[str, Any] = {
        "volumes": [
            {"name": "heketi-storage",
             "glusterfs": {"endpoints": ENDPOINTS_NAME, "path": volume.name}},
            {"name": "heketi-storage-secret", "secret": {"secretName": SECRET_NAME}},
        ],
        "containers": [{
            "name": "heketi",
            "image": image,
            "command": ["cp", "/db/heketi.db", "/heketi"],
            "resources": {},
            "volumeMounts": [
                {"name": "heketi-storage", "mountPath": "/heketi"},
                {"name": "heketi-storage-secret", "mountPath": "/db"},
            ],
        }],
        "restartPolicy": "Never",
    }
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    job = {
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": JOB_NAME, "creationTimestamp": None, "labels": _labels()},
        "spec": {
            "parallelism": 1, "completions": 1,
            "template": {"metadata": {"name": JOB_NAME, "creationTimestamp": None},
                         "spec": pod_spec},
        },
        "status": {},
    }
    return {"kind": "List", "apiVersion": "v1", "metadata": {},
            "items": [secret, endpoints, service, job]}


def _node_selector(text: str) -> dict[str, str]:
    selector: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise CliError(f"Invalid node selector: {item}")
        selector[key] = value
    return selector


def setup_storage(ctx: Context) -> None:
    client = ctx.client
    selector = _node_selector(ctx.flag("node-selector"))
    for volume_id in client.volume_list().volumes:
        if client.volume_info(volume_id).name == DB_VOLUME_NAME:
            raise CliError(f"Volume {DB_VOLUME_NAME} already exists")
    options = list(DB_SAFE_OPTIONS)
    custom = [o for o in ctx.flag("gluster-volume-options").split(",") if o]
    if custom:
        options = options + custom if ctx.flag("append-volume-options") else custom
    volume = client.volume_create({
        "size": DB_VOLUME_SIZE_GIB,
        "name": DB_VOLUME_NAME,
        "durability": {
            "type": ctx.flag("durability"),
            "replicate": {"replica": ctx.flag("replica")},
            "disperse": {"data": ctx.flag("disperse-data"), "redundancy": ctx.flag("redundancy")},
        },
        "glustervolumeoptions": options,
    })
    try:
        database = client.backup_db()
        document = kubernetes_objects(volume, database, ctx.flag("image"), selector)
        path = ctx.flag("listfile")
        ctx.write(f"Saving {path}\n")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text_indent4(document) + "\n")
    except (HeketiError, OSError) as exc:
        # Report the first failure, not the clean-up's.
        with contextlib.suppress(HeketiError):
            client.volume_delete(volume.id)
        raise CliError(str(exc)) from None


def command() -> Command:
    # Hidden: heketi-cli's root help does not list it. Upstream's help texts; the flag set is
    # heketipy's (see the module docstring).
    return Command(
        "setup-openshift-heketi-storage",
        short="Setup OpenShift/Kubernetes persistent storage for Heketi",
        long="Creates a dedicated GlusterFS volume for Heketi.\n"
             "Once the volume is created, a Kubernetes/OpenShift\n"
             "list object is created to configure the volume.\n",
        aliases=["setup-heketi-db-storage", "setup-kubernetes-heketi-storage"],
        hidden=True,
        run=setup_storage,
        flags=[
            Flag("listfile", "string", "heketi-storage.json", "Filename to contain list of objects"),
            Flag("image", "string", "heketi/heketi:dev", "container image to run this job"),
            Flag("durability", "string", "replicate",
                 "\n\tOptional: Durability type. Values are:"
                 "\n\t\tnone: No durability, for testing with single storage server environments."
                 "\n\t\treplicate: (Default) Replica volume."),
            Flag("replica", "int", 3,
                 "\n\tOptional: Replica value for durability type 'replicate'.\n\tDefault is 3"),
            Flag("disperse-data", "int", 4, "\n\tOptional: Dispersion value for 'disperse'"),
            Flag("redundancy", "int", 2, "\n\tOptional: Redundancy value for 'disperse'"),
            Flag("gluster-volume-options", "string", None,
                 "\n\tOptional: Comma separated list of volume options."
                 "\n\tSee volume create --help for details."),
            Flag("append-volume-options", "bool", False,
                 "\n\tOptional: Add --gluster-volume-options to the database-safe defaults"),
            Flag("node-selector", "string", None,
                 "\n\tOptional: nodeSelector for heketi-storage-copy-job."
                 "\n\tExample: --node-selector 'beta.kubernetes.io/os=linux'."
                 "\n\tDefault is none"),
        ],
    )
