"""A small subset of Go's text/template for `topology info -T <template>`.

Supported: text, `{{.Field.Path}}`, `{{.}}`, `{{range P}}…{{else}}…{{end}}`,
`{{if P}}…{{else}}…{{end}}`, `{{with P}}…{{end}}`, `len`, `{{- ` / ` -}}` trimming. Field names
are the Go client's struct field names, mapped to the JSON keys here. Errors read like Go's:
`template: topology:1:2: executing "topology" at <.Nope>: can't evaluate field Nope in type …`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TEMPLATE_NAME = "topology"

# Go struct field -> JSON key, per Go type; and the Go type of each field's value.
GO_TYPES: dict[str, dict[str, tuple[str, str | None]]] = {
    "*api.TopologyInfoResponse": {"ClusterList": ("clusters", "[]api.Cluster")},
    "api.Cluster": {
        "Volumes": ("volumes", "[]api.VolumeInfoResponse"),
        "Nodes": ("nodes", "[]api.NodeInfoResponse"),
        "Id": ("id", None), "Block": ("block", None), "File": ("file", None),
    },
    "api.VolumeInfoResponse": {
        "Size": ("size", None), "Name": ("name", None), "Durability": ("durability", "api.VolumeDurabilityInfo"),
        "Gid": ("gid", None), "GlusterVolumeOptions": ("glustervolumeoptions", None),
        "Block": ("block", None), "Snapshot": ("snapshot", "api.VolumeSnapshot"),
        "Id": ("id", None), "Cluster": ("cluster", None), "Mount": ("mount", "api.VolumeMountInfo"),
        "BlockInfo": ("blockinfo", "api.BlockInfo"), "Bricks": ("bricks", "[]api.BrickInfo"),
    },
    "api.VolumeDurabilityInfo": {
        "Type": ("type", None), "Replicate": ("replicate", "api.ReplicaDurability"),
        "Disperse": ("disperse", "api.DisperseDurability"),
    },
    "api.ReplicaDurability": {"Replica": ("replica", None)},
    "api.DisperseDurability": {"Data": ("data", None), "Redundancy": ("redundancy", None)},
    "api.VolumeSnapshot": {"Enable": ("enable", None), "Factor": ("factor", None)},
    "api.VolumeMountInfo": {"GlusterFS": ("glusterfs", "api.GlusterFSMount")},
    "api.GlusterFSMount": {"Hosts": ("hosts", None), "MountPoint": ("device", None),
                           "Options": ("options", None)},
    "api.BlockInfo": {"FreeSize": ("freesize", None), "ReservedSize": ("reservedsize", None),
                      "BlockVolumes": ("blockvolume", None), "Restriction": ("restriction", None)},
    "api.NodeInfoResponse": {
        "Zone": ("zone", None), "Hostnames": ("hostnames", "api.HostAddresses"),
        "ClusterId": ("cluster", None), "Tags": ("tags", None), "Id": ("id", None),
        "State": ("state", None), "DevicesInfo": ("devices", "[]api.DeviceInfo"),
    },
    "api.HostAddresses": {"Manage": ("manage", None), "Storage": ("storage", None)},
    "api.DeviceInfo": {
        "Name": ("name", None), "Tags": ("tags", None), "Storage": ("storage", "api.StorageSize"),
        "Id": ("id", None), "Paths": ("paths", None), "PvUUID": ("pv_uuid", None),
        "State": ("state", None), "Bricks": ("bricks", "[]api.BrickInfo"),
    },
    "api.StorageSize": {"Total": ("total", None), "Free": ("free", None), "Used": ("used", None)},
    "api.BrickInfo": {"Id": ("id", None), "Path": ("path", None), "DeviceId": ("device", None),
                      "NodeId": ("node", None), "VolumeId": ("volume", None), "Size": ("size", None)},
}


class TemplateError(Exception):
    pass


@dataclass
class Typed:
    value: Any
    go_type: str | None


@dataclass
class Node:
    kind: str  # text | action | range | if | with
    pos: int
    text: str = ""
    body: list[Node] = field(default_factory=list)
    alt: list[Node] = field(default_factory=list)


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def _location(source: str, pos: int) -> str:
    line = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1)
    return f"{TEMPLATE_NAME}:{line}:{col}"


def parse(source: str) -> list[Node]:
    pieces: list[tuple[str, str, int]] = []
    last = 0
    for m in _ACTION.finditer(source):
        text = source[last : m.start()]
        if m.group(1):
            text = text.rstrip()
        pieces.append(("text", text, last))
        inner = m.group(2)
        pieces.append(("action", inner.strip(), m.start(2) + (len(inner) - len(inner.lstrip()))))
        last = m.end()
        if m.group(3):
            rest = source[last:]
            last += len(rest) - len(rest.lstrip())
    pieces.append(("text", source[last:], last))
    root: list[Node] = []
    stack: list[tuple[Node | None, list[Node]]] = [(None, root)]
    for kind, text, pos in pieces:
        current = stack[-1][1]
        if kind == "text":
            if text:
                current.append(Node("text", pos, text))
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in ("range", "if", "with"):
            block = Node(word, pos, text[len(word) :].strip())
            current.append(block)
            stack.append((block, block.body))
        elif word == "else":
            owner = stack[-1][0]
            if owner is None:
                raise TemplateError(f"template: {_location(source, pos)}: unexpected {{{{else}}}}")
            stack[-1] = (owner, owner.alt)
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError(f"template: {_location(source, pos)}: unexpected {{{{end}}}}")
            stack.pop()
        else:
            current.append(Node("action", pos, text))
    if len(stack) > 1:
        raise TemplateError(f"template: {TEMPLATE_NAME}:{source.count(chr(10)) + 1}: unexpected EOF")
    return root


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, list):
        return "[" + " ".join(_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_format(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _truthy(value: Any) -> bool:
    return bool(value)


class Renderer:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, pos: int, expr: str, message: str) -> TemplateError:
        return TemplateError(
            f'template: {_location(self.source, pos)}: executing "{TEMPLATE_NAME}" at <{expr}>: {message}'
        )

    def evaluate(self, expr: str, dot: Typed, pos: int) -> Typed:
        words = expr.split()
        if len(words) == 2 and words[0] == "len":
            inner = self.evaluate(words[1], dot, pos)
            return Typed(len(inner.value or []), None)
        if len(words) != 1:
            raise self.fail(pos, expr, f'function "{words[0]}" not defined')
        word = words[0]
        if word == ".":
            return dot
        if not word.startswith("."):
            raise self.fail(pos, word, f'function "{word}" not defined')
        current = dot
        for name in word[1:].split("."):
            fields = GO_TYPES.get(current.go_type or "", {})
            if isinstance(current.value, dict) and not fields:
                current = Typed(current.value.get(name), None)
                continue
            if name not in fields:
                raise self.fail(
                    pos, word, f"can't evaluate field {name} in type {current.go_type or 'interface {}'}"
                )
            key, go_type = fields[name]
            value = current.value.get(key) if isinstance(current.value, dict) else None
            current = Typed(value, go_type)
        return current

    def render(self, nodes: list[Node], dot: Typed) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                out.append(_format(self.evaluate(node.text, dot, node.pos).value))
            elif node.kind == "range":
                seq = self.evaluate(node.text, dot, node.pos)
                items = seq.value or []
                element = seq.go_type[2:] if seq.go_type and seq.go_type.startswith("[]") else None
                if items:
                    iterable = items.values() if isinstance(items, dict) else items
                    for item in iterable:
                        out.append(self.render(node.body, Typed(item, element)))
                else:
                    out.append(self.render(node.alt, dot))
            else:
                value = self.evaluate(node.text, dot, node.pos)
                if _truthy(value.value):
                    out.append(self.render(node.body, value if node.kind == "with" else dot))
                else:
                    out.append(self.render(node.alt, dot))
        return "".join(out)


def execute(source: str, topology: dict[str, Any]) -> str:
    """Render `source` over the topology JSON; raises TemplateError with Go-like text."""
    nodes = parse(source)
    return Renderer(source).render(nodes, Typed(topology, "*api.TopologyInfoResponse"))
