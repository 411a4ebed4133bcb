"""`heketi-cli volume …`, `heketi-cli blockvolume …` and `heketi-cli brick evict`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heketipy.cli import output
from heketipy.cli.cmd_node import heal_check
from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context, delete_by_id, require_id, single_argument
from heketipy.client import HeketiClient
from heketipy.client.models import Volume
from heketipy.gocompat.json_encode import text_compact, text_indent4

VOLUME_MISSING = "Volume id missing"


def _split(text: str) -> list[str]:
    return [part for part in text.split(",")] if text else []


def persistent_volume(volume: Volume, endpoint: str) -> dict[str, object]:
    """The Kubernetes PersistentVolume heketi-cli prints with `--persistent-volume`."""
    return {
        "kind": "PersistentVolume",
        "apiVersion": "v1",
        "metadata": {
            "name": f"glusterfs-{volume.id[:8]}",
            "creationTimestamp": None,
            "annotations": {"pv.beta.kubernetes.io/gid": str(volume.gid)} if volume.gid else {},
        },
        "spec": {
            "capacity": {"storage": f"{volume.size}Gi"},
            "glusterfs": {"endpoints": endpoint, "path": volume.name},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
        },
        "status": {},
    }


def _create_request(ctx: Context) -> dict[str, object]:
    """What `volume create` and `blockvolume create` send alike: size, clusters, name."""
    size = ctx.flag("size")
    if size == 0:  # heketi-cli: only 0 is "missing"; a negative size is the server's to refuse
        raise CliError("Missing volume size")
    request: dict[str, object] = {"size": size}
    clusters = _split(ctx.flag("clusters"))
    if clusters:
        request["clusters"] = clusters
    if ctx.flag("name"):
        request["name"] = ctx.flag("name")
    return request


def volume_create(ctx: Context) -> None:
    request = _create_request(ctx)
    # heketi-cli always sends both durability objects; the server echoes them back.
    request["durability"] = {
        "type": ctx.flag("durability"),
        "replicate": {"replica": ctx.flag("replica")},
        "disperse": {"data": ctx.flag("disperse-data"), "redundancy": ctx.flag("redundancy")},
    }
    if ctx.flag("gid"):
        request["gid"] = ctx.flag("gid")
    options = _split(ctx.flag("gluster-volume-options"))
    if options:
        request["glustervolumeoptions"] = options
    if ctx.flag("block"):
        request["block"] = True
    factor = ctx.flag("snapshot-factor")
    if factor > 1.0:
        request["snapshot"] = {"enable": True, "factor": factor}
    volume = ctx.client.volume_create(request)
    if ctx.flag("persistent-volume") or ctx.flag("persistent-volume-file"):
        endpoint = ctx.flag("persistent-volume-endpoint") or "heketi-storage-endpoints"
        text = text_indent4(persistent_volume(volume, endpoint)) + "\n"
        if ctx.flag("persistent-volume-file"):
            with open(ctx.flag("persistent-volume-file"), "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            ctx.write(text)
        return
    _show_volume(ctx, volume)


def _show_volume(ctx: Context, volume: Volume) -> None:
    ctx.show(volume, output.volume_info)


@dataclass(frozen=True)
class _Kind:
    """What `volume` and `blockvolume` info, list and delete differ by (the client calls)."""

    show: Callable[[Context, Any], None]
    info: Callable[[HeketiClient, str], Any]
    listing: Callable[[HeketiClient], Any]
    ids: Callable[[Any], list[str]]
    delete: Callable[[HeketiClient, str], object]

    def run_info(self, ctx: Context) -> None:
        self.show(ctx, self.info(ctx.client, require_id(ctx, VOLUME_MISSING)))

    def run_list(self, ctx: Context) -> None:
        """The JSON listing, or one line per item (each fetched, as heketi-cli does)."""
        listing = self.listing(ctx.client)
        if ctx.json:
            ctx.print_json(listing)
            return
        lines = []
        for item_id in self.ids(listing):
            item = self.info(ctx.client, item_id)
            block = bool(getattr(item, "block", False))
            lines.append(output.list_line(item.id, item.cluster, item.name, block) + "\n")
        ctx.write("".join(lines))

    def run_delete(self, ctx: Context) -> None:
        # heketi-cli says "Volume <id> deleted" for block volumes too
        delete_by_id(ctx, VOLUME_MISSING, "Volume", lambda item_id: self.delete(ctx.client, item_id))


VOLUMES = _Kind(show=_show_volume, info=lambda c, i: c.volume_info(i),
                listing=lambda c: c.volume_list(), ids=lambda listing: listing.volumes,
                delete=lambda c, i: c.volume_delete(i))


def volume_expand(ctx: Context) -> None:
    if ctx.flag("expand-size") == 0:
        raise CliError("Missing volume amount to expand")
    volume_id = ctx.args[0] if ctx.args else ctx.flag("volume")
    if not volume_id:
        raise CliError("Missing volume id")
    _show_volume(ctx, ctx.client.volume_expand(volume_id, ctx.flag("expand-size")))


def volume_clone(ctx: Context) -> None:
    volume_id = require_id(ctx, VOLUME_MISSING)
    _show_volume(ctx, ctx.client.volume_clone(volume_id, ctx.flag("name") or None))


def _set_restriction(restriction: str):  # noqa: ANN202
    """`volume set-block-hosting-restriction locked|unlocked <id>` ("" is unlocked)."""
    def run(ctx: Context) -> None:
        volume_id = require_id(ctx, VOLUME_MISSING)
        _show_volume(ctx, ctx.client.volume_set_block_restriction(volume_id, restriction))

    return run


def endpoint_patch(ctx: Context) -> None:
    volume = ctx.client.volume_info(require_id(ctx, VOLUME_MISSING))
    subsets = [
        {"addresses": [{"ip": host}], "ports": [{"port": 1}]}
        for host in volume.mount.glusterfs.hosts
    ]
    ctx.write('{"subsets": ' + text_compact(subsets) + "}")


VOLUME_CREATE_EXAMPLE = """\
  * Create a 100GiB replica 3 volume:
      $ heketi-cli volume create --size=100

  * Create a 100GiB replica 3 volume specifying two specific clusters:
      $ heketi-cli volume create --size=100 \\
        --clusters=0995098e1284ddccb46c7752d142c832,60d46d518074b13a04ce1022c8c7193c

  * Create a 100GiB replica 2 volume with 50GiB of snapshot storage:
      $ heketi-cli volume create --size=100 --snapshot-factor=1.5 --replica=2

  * Create a 100GiB distributed volume
      $ heketi-cli volume create --size=100 --durability=none

  * Create a 100GiB erasure coded 4+2 volume with 25GiB snapshot storage:
      $ heketi-cli volume create --size=100 --durability=disperse --snapshot-factor=1.25

  * Create a 100GiB erasure coded 8+3 volume with 25GiB snapshot storage:
      $ heketi-cli volume create --size=100 --durability=disperse --snapshot-factor=1.25 \\
        --disperse-data=8 --redundancy=3

  * Create a 100GiB distributed volume which supports performance related volume options.
      $ heketi-cli volume create --size=100 --durability=none --gluster-volume-options=\
"performance.rda-cache-limit 10MB","performance.nl-cache-positive-entry no"
"""
VOLUME_EXPAND_EXAMPLE = """\
  * Add 10GiB to a volume
    $ heketi-cli volume expand --volume=60d46d518074b13a04ce1022c8c7193c --expand-size=10
"""
CLUSTERS_USAGE = (
    "\n\tOptional: Comma separated list of cluster ids where this volume"
    "\n\tmust be allocated. If omitted, Heketi will allocate the volume"
    "\n\ton any of the configured clusters which have the available space."
    "\n\tProviding a set of clusters will ensure Heketi allocates storage"
    "\n\tfor this volume only in the clusters specified."
)
VOLUME_NAME_USAGE = "\n\tOptional: Name of volume. Only set if really necessary"


def _restriction_example(word: str, action: str) -> str:
    return (f" * {action} creation of block volumes on the volume\n"
            f"    $ heketi-cli volume set-block-hosting-restriction {word}"
            " 60d46d518074b13a04ce1022c8c7193c\n")


def volume_command() -> Command:
    return Command("volume", short="Heketi Volume Management", long="Heketi Volume Management").add(
        Command("clone", short="Creates a clone", run=volume_clone,
                example="  $ heketi-cli volume clone 886a86a868711bef83001",
                flags=[Flag("name", "string", None,
                            "\n\tOptional: Name of the newly cloned volume.")]),
        Command("create", short="Create a GlusterFS volume", run=volume_create,
                example=VOLUME_CREATE_EXAMPLE, flags=[
            Flag("size", "int", None, "\n\tSize of volume in GiB"),
            Flag("name", "string", None, VOLUME_NAME_USAGE),
            Flag("durability", "string", "replicate",
                 "\n\tOptional: Durability type.  Values are:\n\t\tnone: No durability."
                 "  Distributed volume only.\n\t\treplicate: (Default) Distributed-Replica volume."
                 "\n\t\tdisperse: Distributed-Erasure Coded volume."),
            Flag("replica", "int", 3, "\n\tReplica value for durability type 'replicate'."),
            Flag("disperse-data", "int", 4,
                 "\n\tOptional: Dispersion value for durability type 'disperse'."),
            Flag("redundancy", "int", 2,
                 "\n\tOptional: Redundancy value for durability type 'disperse'."),
            Flag("gid", "int", None, "\n\tOptional: Initialize volume with the specified group id"),
            Flag("snapshot-factor", "float64", 1.0,
                 "\n\tOptional: Amount of storage to allocate for snapshot support."
                 "\n\tMust be greater 1.0.  For example if a 10TiB volume requires 5TiB of"
                 "\n\tsnapshot storage, then snapshot-factor would be set to 1.5.  If the"
                 "\n\tvalue is set to 1, then snapshots will consume the storage allocated"),
            Flag("clusters", "string", None, CLUSTERS_USAGE),
            Flag("gluster-volume-options", "string", None,
                 "\n\tOptional: Comma separated list of volume options which can be set on the volume."
                 "\n\tIf omitted, Heketi will set no volume option for the volume."),
            Flag("block", "bool", False,
                 "\n\tOptional: Create a block-hosting volume. Intended to host"
                 "\n\tloopback files to be exported as block devices."),
            Flag("persistent-volume", "bool", False,
                 "\n\tOptional: Output to standard out a persistent volume JSON file for OpenShift or"
                 "\n\tKubernetes with the name provided."),
            Flag("persistent-volume-file", "string", None,
                 "\n\tOptional: Create a persistent volume JSON file for OpenShift or"
                 "\n\tKubernetes with the name provided."),
            Flag("persistent-volume-endpoint", "string", None,
                 "\n\tOptional: Endpoint name for the persistent volume"),
        ]),
        Command("delete", short="Deletes the volume", run=VOLUMES.run_delete,
                example="  $ heketi-cli volume delete 886a86a868711bef83001"),
        Command("endpoint", short="utilities for working on volume endpoint").add(
            Command("patch", short="output a patch for endpoint update", run=endpoint_patch,
                    example="  $ heketi-cli volume endpoint patch 886a86a868711bef83001"),
        ),
        Command("expand", short="Expand a volume", run=volume_expand,
                example=VOLUME_EXPAND_EXAMPLE, flags=[
                    Flag("expand-size", "int", None, "\n\tAmount in GiB to add to the volume"),
                    Flag("volume", "string", None, "\n\tId of volume to expand"),
                ]),
        Command("info", short="Retrieves information about the volume", run=VOLUMES.run_info,
                example="  $ heketi-cli volume info 886a86a868711bef83001"),
        Command("list", short="Lists the volumes managed by Heketi", run=VOLUMES.run_list,
                example="  $ heketi-cli volume list"),
        Command("set-block-hosting-restriction",
                short="set volume's block hosting restriction").add(
            Command("locked", short="restrict creation of block volumes on block hosting volume",
                    run=_set_restriction("locked"),
                    example=_restriction_example("locked", "Restrict")),
            Command("unlocked", short="allow creation of block volumes on block hosting volume",
                    run=_set_restriction(""), example=_restriction_example("unlocked", "Allow")),
        ),
    )


# --- block volumes ----------------------------------------------------------------------------


def _show_blockvolume(ctx: Context, bv) -> None:  # noqa: ANN001
    ctx.show(bv, output.blockvolume_info)


def blockvolume_create(ctx: Context) -> None:
    request = _create_request(ctx)
    if ctx.flag("ha") < 0:
        raise CliError("Invalid HA count")
    if ctx.flag("ha"):
        request["hacount"] = ctx.flag("ha")
    if ctx.flag("auth"):
        request["auth"] = True
    _show_blockvolume(ctx, ctx.client.blockvolume_create(request))


BLOCKVOLUMES = _Kind(show=_show_blockvolume, info=lambda c, i: c.blockvolume_info(i),
                     listing=lambda c: c.blockvolume_list(),
                     ids=lambda listing: listing.blockvolumes,
                     delete=lambda c, i: c.blockvolume_delete(i))


def blockvolume_expand(ctx: Context) -> None:
    bv_id = ctx.args[0] if ctx.args else ctx.flag("blockvolume")
    if not bv_id:
        raise CliError("Missing block volume id")
    if ctx.flag("new-size") == 0:
        raise CliError("Missing block volume net new size")
    _show_blockvolume(ctx, ctx.client.blockvolume_expand(bv_id, ctx.flag("new-size")))


BLOCKVOLUME_CREATE_EXAMPLE = """\
  * Create a 100GiB block volume
      $ heketi-cli blockvolume create --size=100

  * Create a 100GiB block volume specifying two specific clusters:
      $ heketi-cli blockvolume create --size=100 \\
        --clusters=0995098e1284ddccb46c7752d142c832,60d46d518074b13a04ce1022c8c7193c

  * Create a 100GiB block volume requesting ha count to be 2.
    (Otherwise HA count is all the nodes on which block hosting volume reside.):
\t  $ heketi-cli blockvolume create --size=100 --ha=2

  * Create a 100GiB block volume specifying two specific clusters auth enabled:
      $ heketi-cli blockvolume create --size=100 --auth \\
        --clusters=0995098e1284ddccb46c7752d142c832,60d46d518074b13a04ce1022c8c7193c
"""


def blockvolume_command() -> Command:
    # delete and info show the file-volume examples, as heketi-cli does.
    return Command("blockvolume", short="Heketi Block Volume Management",
                   long="Heketi Block Volume Management").add(
        Command("create", short="Create a GlusterFS block volume", run=blockvolume_create,
                example=BLOCKVOLUME_CREATE_EXAMPLE, flags=[
                    Flag("size", "int", None, "\n\tSize of volume in GiB"),
                    Flag("ha", "int", None, "\n\tHA count for block volume"),
                    Flag("auth", "bool", False,
                         "\n\tOptional: Enable Authentication for block volume access"),
                    Flag("name", "string", None, VOLUME_NAME_USAGE),
                    Flag("clusters", "string", None, CLUSTERS_USAGE),
                ]),
        Command("delete", short="Deletes the volume", run=BLOCKVOLUMES.run_delete,
                example="  $ heketi-cli volume delete 886a86a868711bef83001"),
        Command("expand", short="Expand a block volume", run=blockvolume_expand,
                use_args="[blockvolume_id]", flags=[
                    Flag("new-size", "int", None, "\n\tNet new size of block volume in GiB"),
                    Flag("blockvolume", "string", None, "\n\tId of block volume to expand"),
                ]),
        Command("info", short="Retreives information about the volume", run=BLOCKVOLUMES.run_info,
                example="  $ heketi-cli volume info 886a86a868711bef83001"),
        Command("list", short="Lists the volumes managed by Heketi", run=BLOCKVOLUMES.run_list,
                example="  $ heketi-cli blockvolume list"),
    )


# --- bricks -----------------------------------------------------------------------------------


def brick_evict(ctx: Context) -> None:
    brick_id = single_argument(ctx, "Brick id missing", "Too many arguments provided")
    ctx.client.brick_evict(brick_id, heal_check(ctx))
    ctx.write(f"Brick {brick_id} evicted\n")


def brick_command() -> Command:
    return Command("brick", short="Heketi Brick Management", long="Heketi Brick Management").add(
        Command("evict", short="Evict (remove) a brick from a volume", run=brick_evict,
                example="  $ heketi-cli brick evict ee6a86a868711bef8300c", flags=[
                    Flag("expert-option-disable-heal-check", "bool", False,
                         "[DANGEROUS] Skip the heal check while brick replace."),
                ]),
    )
