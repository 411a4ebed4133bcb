"""`heketi-cli cluster …`: create, info, list, delete, setflags."""

from __future__ import annotations

from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context, delete_by_id, require_id
from heketipy.gocompat.errors import GoParseError
from heketipy.gocompat.strconv import parse_bool

MISSING = "Cluster id missing"


def create(ctx: Context) -> None:
    cluster = ctx.client.cluster_create(file=ctx.flag("file"), block=ctx.flag("block"))
    ctx.show(cluster, lambda created: f"Cluster id: {created.id}\n")


def info(ctx: Context) -> None:
    cluster = ctx.client.cluster_info(require_id(ctx, MISSING))
    if ctx.json:
        ctx.print_json(cluster)
        return
    nodes = "".join(f"{n}\n" for n in cluster.nodes)
    volumes = "".join(f"{v}\n" for v in cluster.volumes)
    ctx.write(
        f"Cluster id: {cluster.id}\nNodes:\n{nodes or chr(10)}Volumes:\n{volumes or chr(10)}"
        f"Block: {'true' if cluster.block else 'false'}\n\n"
        f"File: {'true' if cluster.file else 'false'}\n"
    )


def list_clusters(ctx: Context) -> None:
    listing = ctx.client.cluster_list()
    if ctx.json:
        ctx.print_json(listing)
        return
    lines = ["Clusters:\n"]
    for cluster_id in listing.clusters:
        cluster = ctx.client.cluster_info(cluster_id)
        kinds = ("[file]" if cluster.file else "") + ("[block]" if cluster.block else "")
        lines.append(f"Id:{cluster_id} {kinds or '[]'}\n")
    ctx.write("".join(lines))


def delete(ctx: Context) -> None:
    delete_by_id(ctx, MISSING, "Cluster", ctx.client.cluster_delete)


def setflags(ctx: Context) -> None:
    cluster_id = require_id(ctx, MISSING)
    file_text, block_text = ctx.flag("file"), ctx.flag("block")
    if not file_text and not block_text:
        raise CliError("At least one of --file or --block must be specified.")
    try:
        file_flag = parse_bool(file_text) if file_text else None
        block_flag = parse_bool(block_text) if block_text else None
    except GoParseError as exc:
        raise CliError(str(exc)) from None
    # An unset flag keeps the cluster's current value.
    current = ctx.client.cluster_info(cluster_id)
    ctx.client.cluster_set_flags(
        cluster_id,
        file=current.file if file_flag is None else file_flag,
        block=current.block if block_flag is None else block_flag,
    )


CREATE_EXAMPLE = """\
  * Create a normal cluster
      $ heketi-cli cluster create

  * Create a cluster only for file volumes:
      $ heketi-cli cluster create --block=false

  * Create a cluster only for block columes:
      $ heketi-cli cluster create --file=false
"""
SETFLAGS_EXAMPLE = """\
  * Disable creation of file volumes on a cluster:
      $ heketi-cli cluster set --file=false 886a86a868711bef83001

  * Enable the creation of block volumes on a cluster:
      $ heketi-cli cluster set --block=true 886a86a868711bef83001
"""


def command() -> Command:
    return Command("cluster", short="Heketi cluster management", long="Heketi Cluster Management").add(
        Command("create", short="Create a cluster", run=create, example=CREATE_EXAMPLE, flags=[
            Flag("block", "bool", True,
                 "\n\tOptional: Allow the user to control the possibility of creating"
                 "\n\tblock volumes on the cluster to be created. This is enabled"
                 "\n\tby default. Use '--block=false' to disable creation of"
                 "\n\tblock volumes on this cluster."),
            Flag("file", "bool", True,
                 "\n\tOptional: Allow the user to control the possibility of creating"
                 "\n\tregular file volumes on the cluster to be created."
                 "\n\tThis is enabled by default. Use '--file=false' to"
                 "\n\tdisable creation of file volumes on this cluster."),
        ]),
        Command("delete", short="Delete the cluster", run=delete, use_args="[cluster_id]",
                example="  $ heketi-cli cluster delete 886a86a868711bef83001"),
        Command("info", short="Retrieves information about cluster", run=info,
                use_args="[cluster_id]",
                example="  $ heketi-cli cluster info 886a86a868711bef83001"),
        Command("list", short="Lists the clusters managed by Heketi", run=list_clusters,
                example="  $ heketi-cli cluster list"),
        Command("setflags", short="Set flags on a cluster", run=setflags,
                example=SETFLAGS_EXAMPLE, flags=[
                    Flag("block", "string", None,
                         "\n\tOptional: Allow the user to control the possibility of creating"
                         "\n\tblock volumes on the cluster. Use '--block=true' to enable"
                         "\n\tand '--block=false' to disable creation of block volumes"
                         "\n\ton this cluster."),
                    Flag("file", "string", None,
                         "\n\tOptional: Allow the user to control the possibility of creating"
                         "\n\tregular file volumes on the cluster. Use '--file=true'"
                         "\n\tto enable and '--file=false' to disable creation of"
                         "\n\tfile volumes on this cluster."),
                ]),
    )
