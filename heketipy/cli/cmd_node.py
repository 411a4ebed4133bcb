"""`heketi-cli node …` and `heketi-cli device …`."""

from __future__ import annotations

import time

from heketipy.cli import output
from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context, delete_by_id, require_id
from heketipy.cli.tags import tag_commands

NODE_MISSING = "Node id missing"
DEVICE_MISSING = "Device id missing"
HEAL_CHECK_WARNING = (
    "Skipping the heal check may be dangerous and increase the risk of data loss.\n"
    " Press CTRL-C within 10 seconds to cancel this action.\n"
)
# heketi-cli pauses before a remove/evict without heal check; tests may shorten the pause.
PAUSE_ENV = "HEKETIPY_CLI_CONFIRM_PAUSE_SECONDS"


def confirm_pause(ctx: Context) -> None:
    ctx.write(HEAL_CHECK_WARNING)
    ctx.out.flush()
    try:
        seconds = float(ctx.env.get(PAUSE_ENV, "10"))
    except ValueError:
        seconds = 10.0
    time.sleep(max(0.0, seconds))


def heal_check(ctx: Context) -> str | None:
    if ctx.flag("expert-option-disable-heal-check"):
        confirm_pause(ctx)
        return "disable"
    return None


# heketi-cli's Examples blocks (printed verbatim by --help, trailing spaces and all).
NODE_ADD_EXAMPLE = """\
  $ heketi-cli node add \\
      --zone=3 \\
      --cluster=3e098cb4407d7109806bb196d9e8f095 \\
      --management-host-name=node1-manage.gluster.lab.com \\
      --storage-host-name=node1-storage.gluster.lab.com
"""
DEVICE_ADD_EXAMPLE = (  # sic: no backslash after --name, a space and no newline at the end
    "  $ heketi-cli device add \\\n"
    "      --name=/dev/sdb\n"
    "      --node=3e098cb4407d7109806bb196d9e8f095 "
)


def id_example(command: str, rest: str = "") -> str:
    """The one-line example most heketi-cli commands show: `$ heketi-cli <command> <id>`."""
    return f"  $ heketi-cli {command} 886a86a868711bef83001{rest}"


# --- node -------------------------------------------------------------------------------------


def node_add(ctx: Context) -> None:
    if ctx.flag("zone") == 0:
        raise CliError("Missing zone")
    if not ctx.flag("management-host-name"):
        raise CliError("Missing management hostname")
    if not ctx.flag("storage-host-name"):
        raise CliError("Missing storage hostname")
    if not ctx.flag("cluster"):
        raise CliError("Missing cluster id")
    node = ctx.client.node_add({
        "zone": ctx.flag("zone"),
        "hostnames": {
            "manage": [ctx.flag("management-host-name")],
            "storage": [ctx.flag("storage-host-name")],
        },
        "cluster": ctx.flag("cluster"),
    })
    ctx.show(node, lambda added: "Node information:\n" + output.node_summary(added))


def node_info(ctx: Context) -> None:
    ctx.show(ctx.client.node_info(require_id(ctx, NODE_MISSING)), output.node_info)


def node_list(ctx: Context) -> None:
    # --json is ignored here, as heketi-cli does.
    lines = []
    for cluster_id in ctx.client.cluster_list().clusters:
        for node_id in ctx.client.cluster_info(cluster_id).nodes:
            lines.append(f"Id:{node_id}\tCluster:{cluster_id}\n")
    ctx.write("".join(lines))


def node_delete(ctx: Context) -> None:
    delete_by_id(ctx, NODE_MISSING, "Node", ctx.client.node_delete)


def _node_state(state: str, shown: str):  # noqa: ANN202
    def run(ctx: Context) -> None:
        node_id = require_id(ctx, NODE_MISSING)
        ctx.client.node_set_state(node_id, state)
        ctx.write(f"Node {node_id} is now {shown}\n")

    return run


def node_command() -> Command:
    return Command("node", short="Heketi Node Management", long="Heketi Node Management").add(
        Command("add", short="Add new node to be managed by Heketi", run=node_add,
                example=NODE_ADD_EXAMPLE, flags=[
                    Flag("zone", "int", None, "The zone in which the node should reside"),
                    Flag("cluster", "string", None, "The cluster in which the node should reside"),
                    Flag("management-host-name", "string", None, "Management host name"),
                    Flag("storage-host-name", "string", None, "Storage host name"),
                ]),
        Command("delete", short="Deletes a node from Heketi management", run=node_delete,
                use_args="[node_id]", example=id_example("node delete")),
        Command("disable", short="Disallow usage of a node by placing it offline",
                run=_node_state("offline", "offline"), use_args="[node_id]",
                example=id_example("node disable")),
        Command("enable", short="Allows node to go online", run=_node_state("online", "online"),
                use_args="[node_id]", example=id_example("node enable")),
        Command("info", short="Retrieves information about the node", run=node_info,
                use_args="[node_id]", example=id_example("node info")),
        # heketi-cli's usage line really reads "heketi-cli node list all nodes [flags]".
        Command("list", short="List all nodes in cluster", run=node_list, use_args="all nodes",
                example="  $ heketi-cli node list"),
        Command("remove", short="Removes a node and all its associated devices from Heketi",
                run=_node_state("failed", "removed"), use_args="[node_id]",
                example=id_example("node remove")),
        *tag_commands("node", lambda ctx: ctx.client.node_set_tags),
    )


# --- device -----------------------------------------------------------------------------------


def device_add(ctx: Context) -> None:
    if not ctx.flag("name"):
        raise CliError("Missing device name")
    if not ctx.flag("node"):
        raise CliError("Missing node id")
    request: dict[str, object] = {"name": ctx.flag("name"), "node": ctx.flag("node")}
    if ctx.flag("destroy-existing-data"):
        request["destroydata"] = True
    ctx.client.device_add(request)
    ctx.write("Device added successfully\n")  # also with --json, as heketi-cli does


def device_info(ctx: Context) -> None:
    ctx.show(ctx.client.device_info(require_id(ctx, DEVICE_MISSING)), output.device_info)


def device_delete(ctx: Context) -> None:
    force_forget = bool(ctx.flag("force-forget"))
    delete_by_id(
        ctx, DEVICE_MISSING, "Device",
        lambda device_id: ctx.client.device_delete(device_id, force_forget=force_forget),
    )


def _device_state(state: str, shown: str):  # noqa: ANN202
    def run(ctx: Context) -> None:
        device_id = require_id(ctx, DEVICE_MISSING)
        healcheck = heal_check(ctx) if state == "failed" else None
        ctx.client.device_set_state(device_id, state, healcheck)
        ctx.write(f"Device {device_id} is now {shown}\n")

    return run


def device_resync(ctx: Context) -> None:
    object_id = require_id(ctx, "object/cluster id missing")
    if not ctx.flag("cluster"):
        ctx.client.device_resync(object_id)
        ctx.write(f"Device {object_id} updated\n")
        return
    ctx.write("Cluster-wide resync operation requested. Using object_id as cluster_id.\n")
    for cluster in ctx.client.topology_info().clusters:
        if cluster.id != object_id:
            continue
        for node in cluster.nodes:
            for device in node.devices:
                ctx.write(f"Now resyncing device {device.id}..\n")
                ctx.client.device_resync(device.id)
                ctx.write(f"Device {device.id} (node {node.id}) in cluster {cluster.id} updated\n")


def device_command() -> Command:
    heal_flag = Flag("expert-option-disable-heal-check", "bool", False,
                     "\n\tEXPERT OPTION: Skip the heal check before removing the device")
    return Command("device", short="Heketi device management", long="Heketi Device Management").add(
        Command("add", short="Add new device to node to be managed by Heketi", run=device_add,
                example=DEVICE_ADD_EXAMPLE, flags=[
                    Flag("name", "string", None, "Name of device to add"),
                    Flag("node", "string", None, "Id of the node which has this device"),
                    Flag("destroy-existing-data", "bool", False,
                         "[DANGEROUS] Destroy any existing data on the device."),
                ]),
        Command("delete", short="Deletes a device from Heketi node", run=device_delete,
                use_args="[device_id]", example=id_example("device delete"), flags=[
                    Flag("force-forget", "bool", False,
                         "[DANGEROUS] Force heketi to forget a device, regardless of state."),
                ]),
        Command("disable", short="Disallow usage of a device by placing it offline",
                run=_device_state("offline", "offline"), use_args="[device_id]",
                example=id_example("device disable")),
        Command("enable", short="Allows device to go online",
                run=_device_state("online", "online"), use_args="[device_id]",
                example=id_example("device enable")),
        Command("info", short="Retrieves information about the device", run=device_info,
                use_args="[device_id]", example=id_example("device info")),
        Command("remove", short="Removes a device from Heketi node",
                run=_device_state("failed", "removed"), use_args="[device_id]",
                example=id_example("device remove"), flags=[heal_flag]),
        Command("resync", short="Resync storage information about the device with operation system",
                run=device_resync, use_args="[object_id]",
                example=id_example("device resync", " "), flags=[
                    Flag("cluster", "bool", False,
                         "Resync all devices under the cluster identified by object_id"),
                ]),
        *tag_commands("device", lambda ctx: ctx.client.device_set_tags),
    )
