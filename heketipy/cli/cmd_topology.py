"""`heketi-cli topology load|info` (contract section 14).

`load` is idempotent: it reads the current topology once, adopts nodes whose first manage
hostname is already known (`Found node …`), skips their known devices (`Found device …`),
and creates only what is missing; clusters it created but left empty are deleted again.
"""

from __future__ import annotations

from typing import Any

from heketipy.cli import output
from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context
from heketipy.cli.gotemplate import TemplateError, execute
from heketipy.client.errors import HeketiError
from heketipy.client.models import TopologyInfo
from heketipy.models.requests import DeviceAddRequest, NodeAddRequest, ParseError
from heketipy.models.topology_file import (
    TopologyCluster,
    TopologyFile,
    devices,
    parse_topology_file,
)


def _read_topology_file(path: str) -> TopologyFile:
    if not path:
        raise CliError("Missing configuration file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        raise CliError("Unable to open config file") from None
    try:
        return parse_topology_file(raw)
    except ParseError:
        raise CliError("Unable to parse config file") from None


def _node_request(node: NodeAddRequest, cluster_id: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "zone": node.zone,
        "hostnames": {"manage": node.hostnames.manage, "storage": node.hostnames.storage},
        "cluster": cluster_id,
    }
    if node.tags:
        request["tags"] = node.tags
    return request


def _device_request(device: DeviceAddRequest, node_id: str) -> dict[str, Any]:
    request: dict[str, Any] = {"name": device.name, "node": node_id}
    if device.tags:
        request["tags"] = device.tags
    if device.destroydata:
        request["destroydata"] = True
    return request


def topology_load(ctx: Context) -> None:
    data = _read_topology_file(ctx.flag("json"))
    client = ctx.client
    snapshot = client.topology_info()
    known = {
        node.hostnames.manage[0]: node
        for cluster in snapshot.clusters
        for node in cluster.nodes
        if node.hostnames.manage
    }
    created_clusters: list[str] = []
    try:
        for cluster_entry in data.clusters:
            if cluster_entry is None:
                continue
            cluster_id = ""
            for node_entry in cluster_entry.nodes:
                if node_entry is None:
                    continue
                manage = node_entry.node.hostnames.manage or [""]
                found = known.get(manage[0])
                if found is not None:
                    ctx.write(f"\tFound node {manage[0]} on cluster {found.cluster}\n")
                    cluster_id = found.cluster
                    node_id = found.id
                    known_devices = {d.name for d in found.devices}
                else:
                    if not cluster_id:
                        cluster_id = _create_cluster(ctx, cluster_entry)
                        created_clusters.append(cluster_id)
                    ctx.write(f"\tCreating node {manage[0]} ... ")
                    try:
                        node = client.node_add(_node_request(node_entry.node, cluster_id))
                    except HeketiError as exc:
                        ctx.write(f"Unable to create node: {exc.message}\n")
                        continue
                    ctx.write(f"ID: {node.id}\n")
                    node_id = node.id
                    known_devices = set()
                for device in devices(node_entry):
                    if device.name in known_devices:
                        ctx.write(f"\t\tFound device {device.name}\n")
                        continue
                    ctx.write(f"\t\tAdding device {device.name} ... ")
                    try:
                        client.device_add(_device_request(device, node_id))
                    except HeketiError as exc:
                        ctx.write(f"Unable to add device: {exc.message}\n")
                        continue
                    ctx.write("OK\n")
    finally:
        for cluster_id in created_clusters:
            _delete_if_empty(ctx, cluster_id)


def _create_cluster(ctx: Context, entry: TopologyCluster) -> str:
    file_flag, block_flag = entry.file, entry.block
    ctx.write("Creating cluster ... ")
    cluster = ctx.client.cluster_create(file=file_flag, block=block_flag)
    ctx.write(f"ID: {cluster.id}\n")
    if file_flag:
        ctx.write("\tAllowing file volumes on cluster.\n")
    if block_flag:
        ctx.write("\tAllowing block volumes on cluster.\n")
    return cluster.id


def _delete_if_empty(ctx: Context, cluster_id: str) -> None:
    try:
        cluster = ctx.client.cluster_info(cluster_id)
        if not cluster.nodes and not cluster.volumes:
            ctx.client.cluster_delete(cluster_id)
    except HeketiError:
        pass  # best effort: the load's own outcome is what gets reported


def topology_info(ctx: Context) -> None:
    topology: TopologyInfo = ctx.client.topology_info()
    template = ctx.flag("template")
    if template:
        try:
            ctx.write(execute(template, topology.to_wire()))
        except TemplateError as exc:
            raise CliError(f"failed to execute template: {exc}") from None
        return
    ctx.show(topology, output.topology_info)


def command() -> Command:
    return Command("topology", short="Heketi Topology Management",
                   long="Heketi Topology management").add(
        Command("info", short="Retrieves information about the current Topology",
                run=topology_info, example=" $ heketi-cli topology info", flags=[
                    Flag("template", "string", None,
                         "\n\tCustom Go-template for formatting topology info output.", "T"),
                ]),
        Command("load", short="Add devices to Heketi from a configuration file",
                run=topology_load, example=" $ heketi-cli topology load --json=topo.json",
                flags=[
                    Flag("json", "string", None,
                         "\n\tConfiguration containing devices, nodes, and clusters, in"
                         "\n\tJSON format.", "j"),
                ]),
    )
