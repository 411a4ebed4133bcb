"""Request-body models and their Go-like decoding (``parse_body``).

Heketi decodes bodies with Go ``encoding/json`` into typed structs. ``parse_body``
reproduces that: keys match field names case-insensitively, unknown keys are
ignored, a JSON ``null`` (body or field) leaves the Go zero value, a repeated key
decodes again into the same value (objects merge, lists are replaced), and any
syntax error, empty body or JSON type that does not fit the field type is a
``ParseError``. ``ParseError.go_text`` is Go's own error text (``/admin`` and
``/internal/logging`` show it).

Models are pydantic v2 classes whose field names are the JSON keys and whose
defaults are Go zero values. ``model_fields_set`` records which keys were present
(with a non-null value) in the body, at every nesting level.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from heketipy.gocompat import json_decode, strconv

__all__ = [
    "AdminStateRequest",
    "BlockRestrictionRequest",
    "BlockVolumeCreateRequest",
    "BlockVolumeExpandRequest",
    "BrickEvictRequest",
    "CleanupRequest",
    "ClusterCreateRequest",
    "ClusterFlagsRequest",
    "DeviceAddRequest",
    "DeviceDeleteRequest",
    "DisperseDurability",
    "HostAddresses",
    "LogLevelRequest",
    "NodeAddRequest",
    "ParseError",
    "ReplicaDurability",
    "SnapshotRequest",
    "StateRequest",
    "TagsChangeRequest",
    "VolumeCloneRequest",
    "VolumeCreateRequest",
    "VolumeDurability",
    "VolumeExpandRequest",
    "decode_document",
    "durability_echo",
    "parse_body",
    "snapshot_echo",
]

PARSE_ERROR_TEXT = "request unable to be parsed"

# Any request model (they all carry GO_NAME); what parse_body decodes into.
RequestT = TypeVar("RequestT", bound="_Request")


class ParseError(Exception):
    """The body could not be decoded. ``text``: Heketi's 422 text; ``go_text``: Go's."""

    def __init__(self, go_text: str) -> None:
        super().__init__(go_text)
        self.text = PARSE_ERROR_TEXT
        self.go_text = go_text


@dataclass(frozen=True)
class GoType:
    """Marks a field with the Go type name shown in decoder errors (``api.AdminState``)."""

    name: str


GoInt64 = Annotated[int, GoType("int64")]
GoFloat32 = Annotated[float, GoType("float32")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")
    GO_NAME: ClassVar[str] = ""


# --------------------------------------------------------------------------- models


class ClusterCreateRequest(_Request):
    GO_NAME: ClassVar[str] = "api.ClusterCreateRequest"
    file: bool = False
    block: bool = False


class ClusterFlagsRequest(_Request):
    GO_NAME: ClassVar[str] = "api.ClusterSetFlagsRequest"
    file: bool = False
    block: bool = False


class HostAddresses(_Request):
    GO_NAME: ClassVar[str] = "api.HostAddresses"
    manage: list[str] = Field(default_factory=list)
    storage: list[str] = Field(default_factory=list)


class NodeAddRequest(_Request):
    GO_NAME: ClassVar[str] = "api.NodeAddRequest"
    zone: int = 0
    hostnames: HostAddresses = Field(default_factory=HostAddresses)
    cluster: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class DeviceAddRequest(_Request):
    GO_NAME: ClassVar[str] = "api.DeviceAddRequest"
    name: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    node: str = ""
    destroydata: bool = False


class DeviceDeleteRequest(_Request):
    GO_NAME: ClassVar[str] = "api.DeviceDeleteOptions"
    forceforget: bool = False


class StateRequest(_Request):
    GO_NAME: ClassVar[str] = "api.StateRequest"
    state: Annotated[str, GoType("api.EntryState")] = ""
    healcheck: Annotated[str, GoType("api.HealInfoCheck")] = ""


class TagsChangeRequest(_Request):
    GO_NAME: ClassVar[str] = "api.TagsChangeRequest"
    change_type: Annotated[str, GoType("api.TagsChangeType")] = ""
    tags: dict[str, str] = Field(default_factory=dict)


class ReplicaDurability(_Request):
    GO_NAME: ClassVar[str] = "api.ReplicaDurability"
    replica: int = 0


class DisperseDurability(_Request):
    GO_NAME: ClassVar[str] = "api.DisperseDurability"
    data: int = 0
    redundancy: int = 0


class VolumeDurability(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeDurabilityInfo"
    type: Annotated[str, GoType("api.DurabilityType")] = ""
    replicate: ReplicaDurability = Field(default_factory=ReplicaDurability)
    disperse: DisperseDurability = Field(default_factory=DisperseDurability)


class SnapshotRequest(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeSnapshotRequest"
    enable: bool = False
    factor: GoFloat32 = 0.0


class VolumeCreateRequest(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeCreateRequest"
    size: int = 0
    clusters: list[str] = Field(default_factory=list)
    name: str = ""
    durability: VolumeDurability = Field(default_factory=VolumeDurability)
    gid: GoInt64 = 0
    glustervolumeoptions: list[str] = Field(default_factory=list)
    block: bool = False
    snapshot: SnapshotRequest = Field(default_factory=SnapshotRequest)


class VolumeExpandRequest(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeExpandRequest"
    expand_size: int = 0


class VolumeCloneRequest(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeCloneRequest"
    name: str = ""


class BlockRestrictionRequest(_Request):
    GO_NAME: ClassVar[str] = "api.VolumeBlockRestrictionRequest"
    restriction: Annotated[str, GoType("api.BlockRestriction")] = ""


class BlockVolumeCreateRequest(_Request):
    GO_NAME: ClassVar[str] = "api.BlockVolumeCreateRequest"
    size: int = 0
    clusters: list[str] = Field(default_factory=list)
    name: str = ""
    hacount: int = 0
    auth: bool = False


class BlockVolumeExpandRequest(_Request):
    GO_NAME: ClassVar[str] = "api.BlockVolumeExpandRequest"
    new_size: int = 0


class BrickEvictRequest(_Request):
    GO_NAME: ClassVar[str] = "api.BrickEvictOptions"
    healcheck: Annotated[str, GoType("api.HealInfoCheck")] = ""


class CleanupRequest(_Request):
    GO_NAME: ClassVar[str] = "api.PendingOperationsCleanRequest"
    operations: list[str] = Field(default_factory=list)


class AdminStateRequest(_Request):
    GO_NAME: ClassVar[str] = "api.AdminStatus"
    state: Annotated[str, GoType("api.AdminState")] = ""


class LogLevelRequest(_Request):
    GO_NAME: ClassVar[str] = "api.LogLevelInfo"
    loglevel: dict[str, str] = Field(default_factory=dict)


# ------------------------------------------------------------------ wire echo helpers


def durability_echo(durability: VolumeDurability) -> dict[str, Any]:
    """The volume's ``durability`` object as Heketi answers it: the request as sent
    (Go ``omitempty``: zero counts vanish, ``{"type":"replicate"}`` shows
    ``"replicate":{}``), with an empty type reported as ``none``."""
    replicate = {"replica": durability.replicate.replica} if durability.replicate.replica else {}
    disperse: dict[str, int] = {}
    if durability.disperse.data:
        disperse["data"] = durability.disperse.data
    if durability.disperse.redundancy:
        disperse["redundancy"] = durability.disperse.redundancy
    return {"type": durability.type or "none", "replicate": replicate, "disperse": disperse}


def snapshot_echo(snapshot: SnapshotRequest) -> dict[str, Any]:
    """``{"enable","factor"}`` as Heketi answers it: factor 1 when disabled, else the
    float32 factor written as Go writes it (``1.5``, ``100``)."""
    if not snapshot.enable:
        return {"enable": False, "factor": 1}
    factor = strconv.shortest_float32(snapshot.factor)
    return {"enable": True, "factor": int(factor) if factor.is_integer() else factor}


# --------------------------------------------------------------------------- decoding

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # Go int and int64 on 64-bit servers
_FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class _Spec:
    kind: str  # bool | string | int | float | list | map | struct
    go_name: str
    element: _Spec | None = None
    model: type[_Request] | None = None


@dataclass
class _Partial:
    """A struct being decoded: values by field name and the keys present so far."""

    model: type[_Request]
    values: dict[str, Any]
    present: set[str]


class _TypeMismatch(Exception):
    def __init__(self, value_kind: str, spec: _Spec, struct: str, path: tuple[str, ...]) -> None:
        if struct or path:
            text = (
                f"json: cannot unmarshal {value_kind} into Go struct field "
                f"{struct}.{'.'.join(path)} of type {spec.go_name}"
            )
        else:
            text = f"json: cannot unmarshal {value_kind} into Go value of type {spec.go_name}"
        super().__init__(text)
        self.text = text


def _spec_for(annotation: Any) -> _Spec:
    go_name = ""
    if typing.get_origin(annotation) is Annotated:
        annotation, *extras = typing.get_args(annotation)
        for extra in extras:
            if isinstance(extra, GoType):
                go_name = extra.name
    origin = typing.get_origin(annotation)
    if annotation is object:  # json.RawMessage: kept as decoded, for the caller to decode
        return _Spec("raw", go_name or "json.RawMessage")
    if annotation is bool:
        return _Spec("bool", go_name or "bool")
    if annotation is str:
        return _Spec("string", go_name or "string")
    if annotation is int:
        return _Spec("int", go_name or "int")
    if annotation is float:
        return _Spec("float", go_name or "float64")
    if origin is list:
        (element,) = typing.get_args(annotation)
        element_spec = _spec_for(element)
        return _Spec("list", go_name or f"[]{element_spec.go_name}", element=element_spec)
    if origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise TypeError(f"map keys must be strings, not {key!r}")
        value_spec = _spec_for(value)
        return _Spec("map", go_name or f"map[string]{value_spec.go_name}", element=value_spec)
    if isinstance(annotation, type) and issubclass(annotation, _Request):
        return _Spec("struct", go_name or annotation.GO_NAME, model=annotation)
    raise TypeError(f"unsupported request field type {annotation!r}")


@functools.cache
def _fields_of(model: type[_Request]) -> dict[str, tuple[str, _Spec]]:
    """Folded JSON key -> (field name, spec)."""
    hints = typing.get_type_hints(model, include_extras=True)
    return {_fold(name): (name, _spec_for(hints[name])) for name in model.model_fields}


def _fold(key: str) -> str:
    # Go matches keys with Unicode simple case folding; against ASCII field names
    # that is ASCII lower-casing plus KELVIN SIGN -> k and LONG S -> s.
    return key.lower().replace("\u017f", "s")


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, json_decode.JSONObject):
        return "object"
    return "array"


def _model_short_name(model: type[_Request]) -> str:
    return model.GO_NAME.rpartition(".")[2]


def _decode(value: Any, spec: _Spec, existing: Any, struct: str, path: tuple[str, ...]) -> Any:
    """Decode ``value`` into a Go value of ``spec`` (``existing``: current value)."""
    if value is None:
        # null leaves a Go value untouched; maps and slices become nil.
        return None if spec.kind in ("list", "map") else existing
    kind = spec.kind
    if kind == "raw":
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "string":
        if isinstance(value, str):
            return json_decode.sanitize_string(value)
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            if _INT64_MIN <= value <= _INT64_MAX:
                return value
            raise _TypeMismatch(f"number {value}", spec, struct, path)
        if isinstance(value, json_decode.JSONNumber):
            raise _TypeMismatch(f"number {value.text}", spec, struct, path)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
            limit = _FLOAT32_MAX if spec.go_name == "float32" else 1.7976931348623157e308
            if abs(number) > limit:
                text = value.text if isinstance(value, json_decode.JSONNumber) else str(value)
                raise _TypeMismatch(f"number {text}", spec, struct, path)
            return number
    elif kind == "list":
        if isinstance(value, list) and not isinstance(value, json_decode.JSONObject):
            assert spec.element is not None
            return [
                _decode(item, spec.element, _zero(spec.element), struct, path) for item in value
            ]
    elif kind == "map":
        if isinstance(value, json_decode.JSONObject):
            assert spec.element is not None
            result = dict(existing) if isinstance(existing, dict) else {}
            for key, item in value:
                key = json_decode.sanitize_string(key)
                result[key] = _decode(item, spec.element, _zero(spec.element), struct, path)
            return result
    elif kind == "struct" and isinstance(value, json_decode.JSONObject):
        assert spec.model is not None
        partial = existing if isinstance(existing, _Partial) else _Partial(spec.model, {}, set())
        _decode_object(value, partial, path)
        return partial
    raise _TypeMismatch(_kind_of(value), spec, struct, path)


def _zero(spec: _Spec) -> Any:
    return {"bool": False, "string": "", "int": 0, "float": 0.0}.get(spec.kind)


def _decode_object(pairs: json_decode.JSONObject, partial: _Partial, path: tuple[str, ...]) -> None:
    fields = _fields_of(partial.model)
    struct = _model_short_name(partial.model)
    for key, item in pairs:
        match = fields.get(key) or fields.get(_fold(key))
        if match is None:
            continue  # unknown keys are ignored, as Go does
        name, spec = match
        decoded = _decode(item, spec, partial.values.get(name), struct, (*path, name))
        if item is None:
            if spec.kind in ("list", "map"):
                partial.values.pop(name, None)
            continue
        partial.values[name] = decoded
        partial.present.add(name)


@functools.cache
def _defaults_of(model: type[_Request]) -> dict[str, tuple[bool, Any]]:
    """Field name -> (is a factory, default); pydantic's own lookup is slow per call."""
    defaults: dict[str, tuple[bool, Any]] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            defaults[name] = (True, field.default_factory)
        else:
            defaults[name] = (False, field.default)
    return defaults


def _build(partial: _Partial) -> _Request:
    values: dict[str, Any] = {}
    for name, (is_factory, default) in _defaults_of(partial.model).items():
        if name in partial.values:
            value = partial.values[name]
            if isinstance(value, list):
                value = [_build(item) if isinstance(item, _Partial) else item for item in value]
            values[name] = _build(value) if isinstance(value, _Partial) else value
        else:
            values[name] = default() if is_factory else default
    return partial.model.model_construct(_fields_set=set(partial.present), **values)


def parse_body(
    model: type[RequestT], raw: bytes, *, allow_empty: bool = False
) -> RequestT:
    """Decode ``raw`` into ``model`` exactly as Go's ``json.Unmarshal`` would.

    ``allow_empty``: an empty body yields the zero request (routes whose body is
    optional: ``DELETE /devices/{id}``, ``POST /bricks/to-evict/{id}``).
    Raises ``ParseError`` for anything Go refuses.
    """
    if allow_empty and not raw:
        return model()
    try:
        document = json_decode.loads(raw)
    except json_decode.GoJSONSyntaxError as exc:
        raise ParseError(exc.text) from None
    return decode_document(model, document)


def decode_document(model: type[RequestT], document: Any) -> RequestT:
    """Decode an already loaded ``json_decode.loads`` value (say a ``json.RawMessage`` field, an
    ``object`` field here) into ``model`` as ``json.Unmarshal`` would; raises ``ParseError``."""
    partial = _Partial(model, {}, set())
    spec = _Spec("struct", model.GO_NAME, model=model)
    try:
        result = _decode(document, spec, partial, "", ())
    except _TypeMismatch as exc:
        raise ParseError(exc.text) from None
    return typing.cast(RequestT, _build(result))
