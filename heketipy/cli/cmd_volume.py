"""`heketi-cli volume …`, `heketi-cli blockvolume …` and `heketi-cli brick evict`."""

from __future__ import annotations

from typing import Any

from heketipy.cli import output
from heketipy.cli.cmd_node import heal_check
from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context, require_id
from heketipy.client.gojson import dumps_compact, dumps_indent4
from heketipy.client.models import Volume

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


def volume_create(ctx: Context) -> None:
    size = ctx.flag("size")
    if size == 0:  # heketi-cli: only 0 is "missing"; a negative size is the server's to refuse
        raise CliError("Missing volume size")
    request: dict[str, object] = {"size": size}
    clusters = _split(ctx.flag("clusters"))
    if clusters:
        request["clusters"] = clusters
    if ctx.flag("name"):
        request["name"] = ctx.flag("name")
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
        text = dumps_indent4(persistent_volume(volume, endpoint)) + "\n"
        if ctx.flag("persistent-volume-file"):
            with open(ctx.flag("persistent-volume-file"), "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            ctx.write(text)
        return
    _show_volume(ctx, volume)


def _show_volume(ctx: Context, volume: Volume) -> None:
    if ctx.json:
        ctx.print_json(volume)
    else:
        ctx.write(output.volume_info(volume))


def volume_info(ctx: Context) -> None:
    _show_volume(ctx, ctx.client.volume_info(require_id(ctx, VOLUME_MISSING)))


def _print_listing(ctx: Context, listing: Any, ids: list[str], info: Any) -> None:
    """`volume list` / `blockvolume list`: the JSON listing, or one line per item (each
    fetched, as heketi-cli does)."""
    if ctx.json:
        ctx.print_json(listing)
        return
    lines = []
    for item_id in ids:
        item = info(item_id)
        block = bool(getattr(item, "block", False))
        lines.append(output.list_line(item.id, item.cluster, item.name, block) + "\n")
    ctx.write("".join(lines))


def volume_list(ctx: Context) -> None:
    listing = ctx.client.volume_list()
    _print_listing(ctx, listing, listing.volumes, ctx.client.volume_info)


def volume_delete(ctx: Context) -> None:
    volume_id = require_id(ctx, VOLUME_MISSING)
    ctx.client.volume_delete(volume_id)
    ctx.write(f"Volume {volume_id} deleted\n")


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


def volume_restriction(ctx: Context) -> None:
    if not ctx.args:
        raise CliError("Restriction missing")
    word = ctx.args[0]
    if word not in ("locked", "unlocked"):
        raise CliError(f"Unknown restriction: {word}")
    if len(ctx.args) < 2:
        raise CliError(VOLUME_MISSING)
    restriction = "locked" if word == "locked" else ""
    _show_volume(ctx, ctx.client.volume_set_block_restriction(ctx.args[1], restriction))


def endpoint_patch(ctx: Context) -> None:
    volume = ctx.client.volume_info(require_id(ctx, VOLUME_MISSING))
    subsets = [
        {"addresses": [{"ip": host}], "ports": [{"port": 1}]}
        for host in volume.mount.glusterfs.hosts
    ]
    ctx.write('{"subsets": ' + dumps_compact(subsets) + "}")


def volume_command() -> Command:
    return Command("volume", short="Heketi Volume Management", long="Heketi Volume Management").add(
        Command("clone", short="Creates a clone", run=volume_clone, use_args="[volume_id]",
                flags=[Flag("name", "string", None, "\n\tName of the newly cloned volume")]),
        Command("create", short="Create a GlusterFS volume", run=volume_create, flags=[
            Flag("size", "int", None, "\n\tSize of volume in GiB"),
            Flag("name", "string", None, "\n\tOptional: Name of volume. Only set if really necessary"),
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
                 "\n\tMust be greater than 1.0.  For example if a 10TiB volume requires 5TiB of"
                 "\n\tsnapshot storage, then snapshot-factor would be set to 1.5.  If the value"
                 "\n\tis set to 1, then snapshots will not be enabled for this volume"),
            Flag("clusters", "string", None,
                 "\n\tOptional: Comma separated list of cluster ids where this volume"
                 "\n\tmust be allocated. If omitted, Heketi will allocate the volume"
                 "\n\ton any of the configured clusters which have the available space."),
            Flag("gluster-volume-options", "string", None,
                 "\n\tOptional: Comma separated list of volume options which can be set on the volume."),
            Flag("block", "bool", False,
                 "\n\tOptional: Create a block-hosting volume. Intended to host"
                 "\n\tloopback files to be served as block volumes."),
            Flag("persistent-volume", "bool", False,
                 "\n\tOptional: Output to standard out a persistent volume JSON file"),
            Flag("persistent-volume-file", "string", None,
                 "\n\tOptional: Create a persistent volume JSON file to be sent to Kubernetes"),
            Flag("persistent-volume-endpoint", "string", None,
                 "\n\tOptional: Endpoint name for the persistent volume"),
        ]),
        Command("delete", short="Deletes the volume", run=volume_delete, use_args="[volume_id]"),
        Command("endpoint", short="Endpoint Management").add(
            Command("patch", short="Prints a patch to add hosts to an endpoint",
                    run=endpoint_patch, use_args="[volume_id]"),
        ),
        Command("expand", short="Expand a volume", run=volume_expand, use_args="[volume_id]",
                flags=[
                    Flag("expand-size", "int", None, "\n\tAmount in GiB to add to the volume"),
                    Flag("volume", "string", None, "\n\tId of volume to expand"),
                ]),
        Command("info", short="Retrieves information about the volume", run=volume_info,
                use_args="[volume_id]"),
        Command("list", short="Lists the volumes managed by Heketi", run=volume_list),
        Command("set-block-hosting-restriction",
                short="Set restriction on a block hosting volume", run=volume_restriction,
                use_args="[locked|unlocked] [volume_id]"),
    )


# --- block volumes ----------------------------------------------------------------------------


def _show_blockvolume(ctx: Context, bv) -> None:  # noqa: ANN001
    if ctx.json:
        ctx.print_json(bv)
    else:
        ctx.write(output.blockvolume_info(bv))


def blockvolume_create(ctx: Context) -> None:
    size = ctx.flag("size")
    if size == 0:  # heketi-cli: only 0 is "missing"; a negative size is the server's to refuse
        raise CliError("Missing volume size")
    if ctx.flag("ha") < 0:
        raise CliError("Invalid HA count")
    request: dict[str, object] = {"size": size}
    clusters = _split(ctx.flag("clusters"))
    if clusters:
        request["clusters"] = clusters
    if ctx.flag("name"):
        request["name"] = ctx.flag("name")
    if ctx.flag("ha"):
        request["hacount"] = ctx.flag("ha")
    if ctx.flag("auth"):
        request["auth"] = True
    _show_blockvolume(ctx, ctx.client.blockvolume_create(request))


def blockvolume_info(ctx: Context) -> None:
    _show_blockvolume(ctx, ctx.client.blockvolume_info(require_id(ctx, VOLUME_MISSING)))


def blockvolume_list(ctx: Context) -> None:
    listing = ctx.client.blockvolume_list()
    _print_listing(ctx, listing, listing.blockvolumes, ctx.client.blockvolume_info)


def blockvolume_delete(ctx: Context) -> None:
    bv_id = require_id(ctx, VOLUME_MISSING)
    ctx.client.blockvolume_delete(bv_id)
    ctx.write(f"Volume {bv_id} deleted\n")


def blockvolume_expand(ctx: Context) -> None:
    bv_id = ctx.args[0] if ctx.args else ctx.flag("blockvolume")
    if not bv_id:
        raise CliError("Missing block volume id")
    if ctx.flag("new-size") == 0:
        raise CliError("Missing block volume net new size")
    _show_blockvolume(ctx, ctx.client.blockvolume_expand(bv_id, ctx.flag("new-size")))


def blockvolume_command() -> Command:
    return Command("blockvolume", short="Heketi Block Volume Management",
                   long="Heketi Block Volume Management").add(
        Command("create", short="Create a GlusterFS block volume", run=blockvolume_create, flags=[
            Flag("size", "int", None, "\n\tSize of volume in GiB"),
            Flag("ha", "int", None, "\n\tHA count for block volume"),
            Flag("auth", "bool", False, "\n\tOptional: Enable Authentication for block volume access"),
            Flag("name", "string", None, "\n\tOptional: Name of volume"),
            Flag("clusters", "string", None,
                 "\n\tOptional: Comma separated list of cluster ids where this volume"
                 "\n\tmust be allocated."),
        ]),
        Command("delete", short="Deletes the block volume", run=blockvolume_delete,
                use_args="[volume_id]"),
        Command("expand", short="Expand a block volume", run=blockvolume_expand,
                use_args="[blockvolume_id]", flags=[
                    Flag("new-size", "int", None, "\n\tNet new size of block volume in GiB"),
                    Flag("blockvolume", "string", None, "\n\tId of block volume to expand"),
                ]),
        Command("info", short="Retrieves information about the block volume",
                run=blockvolume_info, use_args="[volume_id]"),
        Command("list", short="Lists the block volumes managed by Heketi", run=blockvolume_list),
    )


# --- bricks -----------------------------------------------------------------------------------


def brick_evict(ctx: Context) -> None:
    if not ctx.args:
        raise CliError("Brick id missing")
    if len(ctx.args) > 1:
        raise CliError("Too many arguments provided")
    brick_id = ctx.args[0]
    ctx.client.brick_evict(brick_id, heal_check(ctx))
    ctx.write(f"Brick {brick_id} evicted\n")


def brick_command() -> Command:
    return Command("brick", short="Heketi Brick Management", long="Heketi Brick Management").add(
        Command("evict", short="Evict a brick from its volume", run=brick_evict,
                use_args="[brick_id]", flags=[
                    Flag("expert-option-disable-heal-check", "bool", False,
                         "\n\tEXPERT OPTION: Skip the heal check before evicting the brick"),
                ]),
    )


