"""Request decoding, validation texts and Go-compatible JSON encoding.

The golden part replays every request body of the recorded upstream exchanges
(tests/data/golden/http) through parse_body + validate + the POST /volumes
pre-checks: refusals that concern parsing or field validation must carry the
recorded text exactly, and every body upstream accepted must pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from heketipy.gocompat import json_encode
from heketipy.models import requests as wire
from heketipy.models import validation
from heketipy.operations import volumes

GOLDEN_HTTP = Path(__file__).resolve().parents[1] / "data" / "golden" / "http"
GOLDEN_FILES = [
    "errors.json",
    "volumes-validation.json",
    "nodes.json",
    "devices.json",
    "clusters.json",
    "admin.json",
    "ops-and-db.json",
    "blockvolumes.json",
    "blockvolumes-locked.json",
    "blockvolumes-manual.json",
    "bricks.json",
]
# Every other scenario file: only its accepted bodies are replayed.
OTHER_GOLDEN_FILES = sorted(
    path.name for path in GOLDEN_HTTP.glob("*.json") if path.name not in GOLDEN_FILES
)
BRICK_MIN_KIB = 1024 * 1024

ID = "[A-Fa-f0-9]+"
ROUTES: list[tuple[str, re.Pattern[str], type, bool]] = [
    (method, re.compile(pattern), model, optional)
    for method, pattern, model, optional in [
        ("POST", "/clusters", wire.ClusterCreateRequest, False),
        ("POST", f"/clusters/{ID}/flags", wire.ClusterFlagsRequest, False),
        ("POST", "/nodes", wire.NodeAddRequest, False),
        ("POST", f"/nodes/{ID}/state", wire.StateRequest, False),
        ("POST", f"/nodes/{ID}/tags", wire.TagsChangeRequest, False),
        ("POST", "/devices", wire.DeviceAddRequest, False),
        ("DELETE", f"/devices/{ID}", wire.DeviceDeleteRequest, True),
        ("POST", f"/devices/{ID}/state", wire.StateRequest, False),
        ("POST", f"/devices/{ID}/tags", wire.TagsChangeRequest, False),
        ("POST", "/volumes", wire.VolumeCreateRequest, False),
        ("POST", f"/volumes/{ID}/expand", wire.VolumeExpandRequest, False),
        ("POST", f"/volumes/{ID}/clone", wire.VolumeCloneRequest, False),
        ("POST", f"/volumes/{ID}/block-restriction", wire.BlockRestrictionRequest, False),
        ("POST", "/blockvolumes", wire.BlockVolumeCreateRequest, False),
        ("POST", f"/blockvolumes/{ID}/expand", wire.BlockVolumeExpandRequest, False),
        ("POST", f"/bricks/to-evict/{ID}", wire.BrickEvictRequest, True),
        ("POST", "/operations/pending/cleanup", wire.CleanupRequest, False),
        ("POST", "/admin", wire.AdminStateRequest, False),
        ("POST", "/internal/logging", wire.LogLevelRequest, False),
    ]
]
GO_TEXT_ROUTES = ("/admin", "/internal/logging")
# Refusals that need the database (cluster existence, device state): not ours.
DATABASE_TEXTS = ("No clusters configured", "Cluster id ", "is not in failed state")


def _unmask(text: str) -> str:
    def fake_id(match: re.Match[str]) -> str:
        fake = f"{int(match.group(1)):032x}"
        return fake.upper() if match.group(2) else fake

    return re.sub(r"<ID:(\d+)(:UPPER)?>", fake_id, text)


def _route(method: str, path: str) -> tuple[type, bool] | None:
    for route_method, pattern, model, optional in ROUTES:
        if route_method == method and pattern.fullmatch(path):
            return model, optional
    return None


def answer(method: str, path: str, raw: bytes) -> tuple[int, str] | None:
    """What the parsing/validation front of a route answers, or None if it passes."""
    route = _route(method, path)
    assert route is not None, (method, path)
    model, optional = route
    try:
        body = wire.parse_body(model, raw, allow_empty=optional)
    except wire.ParseError as exc:
        if path in GO_TEXT_ROUTES:
            return 400, f"{exc.text}: {exc.go_text}"
        return 422, exc.text
    try:
        validation.validate(body)
        if isinstance(body, wire.VolumeCreateRequest):
            validation.check_volume_request(body)
            durability = body.durability
            problem = volumes.min_size_problem(
                body.size, durability.type, durability.disperse.data, BRICK_MIN_KIB
            )
            if problem:
                return 400, problem
        if isinstance(body, wire.LogLevelRequest):
            validation.check_log_level(body)
    except validation.ValidationError as exc:
        return 400, exc.text
    except validation.RequestRejected as exc:
        return exc.status, exc.text
    return None


def _raw_body(request: dict[str, Any]) -> bytes:
    if "body_text" in request:
        return _unmask(request["body_text"]).encode()
    if "body" in request:
        return _unmask(json.dumps(request["body"])).encode()
    return b""


def _exchanges(files: list[str]) -> list[Any]:
    cases = []
    for name in files:
        for exchange in json.loads((GOLDEN_HTTP / name).read_text())["exchanges"]:
            request = exchange.get("request")
            if request is None or request["method"] not in ("POST", "DELETE"):
                continue
            if _route(request["method"], _unmask(request["path"])) is None:
                continue
            cases.append(pytest.param(exchange, id=f"{name}#{exchange['seq']}"))
    return cases


def _refusals() -> list[Any]:
    result = []
    for case in _exchanges(GOLDEN_FILES):
        response = case.values[0]["response"]
        if response["status"] in (400, 422) and not any(
            text in response["body"] for text in DATABASE_TEXTS
        ):
            result.append(case)
    return result


def _acceptances() -> list[Any]:
    result = []
    for case in _exchanges(GOLDEN_FILES + OTHER_GOLDEN_FILES):
        exchange = case.values[0]
        # 401/503 answer before the body is read; 400/422 are the refusals above.
        if exchange["response"]["status"] in (400, 401, 422, 503):
            continue
        # heketipy refuses what upstream wrongly accepted (a negative replica count).
        if exchange.get("caveat", "").startswith("upstream-defect"):
            continue
        result.append(case)
    return result


def test_negative_replica_is_refused() -> None:
    body = b'{"size": 1, "durability": {"type": "replicate", "replicate": {"replica": -1}}}'
    assert answer("POST", "/volumes", body) == (400, "Invalid replica value")


@pytest.mark.parametrize("exchange", _refusals())
def test_golden_refusal_is_reproduced(exchange: dict[str, Any]) -> None:
    request, response = exchange["request"], exchange["response"]
    expected = (response["status"], _unmask(response["body"]).removesuffix("\n"))
    path = _unmask(request["path"])
    assert answer(request["method"], path, _raw_body(request)) == expected


@pytest.mark.parametrize("exchange", _acceptances())
def test_golden_accepted_body_passes(exchange: dict[str, Any]) -> None:
    request = exchange["request"]
    path = _unmask(request["path"])
    assert answer(request["method"], path, _raw_body(request)) is None


def test_golden_refusals_cover_every_kind() -> None:
    texts = {case.values[0]["response"]["body"] for case in _refusals()}
    assert len(_refusals()) >= 120
    assert any(text.startswith("validation failed: hostnames: (") for text in texts)
    assert any("json: cannot unmarshal" in text for text in texts)
    assert "Invalid dispersion combination: 0+0\n" in texts


# --------------------------------------------------------------------- own decoding


def test_null_body_is_the_zero_request() -> None:
    body = wire.parse_body(wire.ClusterCreateRequest, b"null")
    assert (body.file, body.block) == (False, False)
    assert body.model_fields_set == set()


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored() -> None:
    raw = b'{"SIZE":1,"Durability":{"TYPE":"replicate","Replicate":{"REPLICA":3}},"x":[1]}'
    body = wire.parse_body(wire.VolumeCreateRequest, raw)
    assert body.size == 1
    assert body.durability.type == "replicate"
    assert body.durability.replicate.replica == 3
    assert body.model_fields_set == {"size", "durability"}
    assert body.durability.model_fields_set == {"type", "replicate"}


def test_kelvin_sign_and_long_s_fold_like_go() -> None:
    body = wire.parse_body(wire.DeviceDeleteRequest, '{"forcefor\u212aet": true}'.encode())
    assert body.forceforget is False  # K folds to k, not to g
    body = wire.parse_body(
        wire.ClusterFlagsRequest, '{"\u017fomething":1,"BLOC\u212a":true}'.encode()
    )
    assert body.block is True


def test_repeated_keys_merge_objects_and_replace_lists() -> None:
    raw = (
        b'{"durability":{"type":"replicate"},"durability":{"replicate":{"replica":3}},'
        b'"clusters":["a","b"],"clusters":["c"],"size":2,"size":null}'
    )
    body = wire.parse_body(wire.VolumeCreateRequest, raw)
    assert body.durability.type == "replicate"
    assert body.durability.replicate.replica == 3
    assert body.clusters == ["c"]
    assert body.size == 2  # null leaves the value untouched


def test_tags_maps_merge_on_repeated_key_and_null_clears() -> None:
    raw = b'{"tags":{"a":"1"},"tags":{"b":"2"}}'
    assert wire.parse_body(wire.TagsChangeRequest, raw).tags == {"a": "1", "b": "2"}
    raw = b'{"tags":{"a":"1"},"tags":null}'
    assert wire.parse_body(wire.TagsChangeRequest, raw).tags == {}


@pytest.mark.parametrize(
    ("model", "raw", "go_text"),
    [
        (
            wire.AdminStateRequest,
            b"{not json",
            "invalid character 'n' looking for beginning of object key string",
        ),
        (wire.AdminStateRequest, b"", "unexpected end of JSON input"),
        (wire.AdminStateRequest, b"   ", "unexpected end of JSON input"),
        (
            wire.AdminStateRequest,
            b'{"state":1}',
            "json: cannot unmarshal number into Go struct field AdminStatus.state of type api.AdminState",
        ),
        (
            wire.AdminStateRequest,
            b"[]",
            "json: cannot unmarshal array into Go value of type api.AdminStatus",
        ),
        (
            wire.AdminStateRequest,
            b'"normal"',
            "json: cannot unmarshal string into Go value of type api.AdminStatus",
        ),
        (
            wire.LogLevelRequest,
            b'{"loglevel":"debug"}',
            "json: cannot unmarshal string into Go struct field LogLevelInfo.loglevel of type map[string]string",
        ),
        (
            wire.LogLevelRequest,
            b'{"loglevel":{"glusterfs":true}}',
            "json: cannot unmarshal bool into Go struct field LogLevelInfo.loglevel of type string",
        ),
        (wire.LogLevelRequest, b'{"loglevel":{}} x', "invalid character 'x' after top-level value"),
        (
            wire.VolumeCreateRequest,
            b'{"size":1.5}',
            "json: cannot unmarshal number 1.5 into Go struct field VolumeCreateRequest.size of type int",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"size":1e2}',
            "json: cannot unmarshal number 1e2 into Go struct field VolumeCreateRequest.size of type int",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"size":9223372036854775808}',
            "json: cannot unmarshal number 9223372036854775808 into Go struct field "
            "VolumeCreateRequest.size of type int",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"gid":123456789012345678901234}',
            "json: cannot unmarshal number 123456789012345678901234 into Go struct field "
            "VolumeCreateRequest.gid of type int64",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"snapshot":{"factor":1e39}}',
            "json: cannot unmarshal number 1e39 into Go struct field VolumeSnapshotRequest.snapshot.factor "
            "of type float32",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"clusters":[1]}',
            "json: cannot unmarshal number into Go struct field VolumeCreateRequest.clusters of type string",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"durability":{"replicate":[]}}',
            "json: cannot unmarshal array into Go struct field VolumeDurabilityInfo.durability.replicate "
            "of type api.ReplicaDurability",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"size":NaN}',
            "invalid character 'N' looking for beginning of value",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"size":01}',
            "invalid character '1' after object key:value pair",
        ),
        (wire.VolumeCreateRequest, b'{"size":-}', "invalid character '}' in numeric literal"),
        (
            wire.VolumeCreateRequest,
            b'{"name":"a\x01"}',
            "invalid character '\\x01' in string literal",
        ),
        (
            wire.VolumeCreateRequest,
            b'{"block":tru}',
            "invalid character '}' in literal true (expecting 'e')",
        ),
        (
            wire.VolumeCreateRequest,
            b"\xef\xbb\xbf{}",
            "invalid character '\u00ef' looking for beginning of value",
        ),
        (
            wire.ClusterCreateRequest,
            b'{"file":true,}',
            "invalid character '}' looking for beginning of object key string",
        ),
        (wire.ClusterCreateRequest, b'{"file" true}', "invalid character 't' after object key"),
        (
            wire.ClusterCreateRequest,
            b"[1,]",
            "invalid character ']' looking for beginning of value",
        ),
        (wire.ClusterCreateRequest, b'"\\q"', "invalid character 'q' in string escape code"),
        (
            wire.ClusterCreateRequest,
            b"'x'",
            "invalid character '\\'' looking for beginning of value",
        ),
    ],
)
def test_parse_errors_carry_go_text(model: type, raw: bytes, go_text: str) -> None:
    with pytest.raises(wire.ParseError) as caught:
        wire.parse_body(model, raw)
    assert caught.value.text == "request unable to be parsed"
    assert caught.value.go_text == go_text


def test_invalid_utf8_inside_strings_is_replaced_like_go() -> None:
    body = wire.parse_body(wire.VolumeCloneRequest, b'{"name":"a\xffb","name2":"\\ud800"}')
    assert body.name == "a\ufffdb"
    body = wire.parse_body(wire.VolumeCloneRequest, b'{"name":"\\ud800x"}')
    assert body.name == "\ufffdx"


def test_optional_body_routes_accept_an_empty_body_only_when_allowed() -> None:
    assert wire.parse_body(wire.BrickEvictRequest, b"", allow_empty=True).healcheck == ""
    with pytest.raises(wire.ParseError):
        wire.parse_body(wire.BrickEvictRequest, b"")


def test_float32_snapshot_factor_and_echo() -> None:
    body = wire.parse_body(wire.VolumeCreateRequest, b'{"snapshot":{"enable":true,"factor":1.1}}')
    assert wire.snapshot_echo(body.snapshot) == {"enable": True, "factor": 1.1}
    assert json_encode.dumps(wire.snapshot_echo(body.snapshot)) == b'{"enable":true,"factor":1.1}\n'
    body = wire.parse_body(wire.VolumeCreateRequest, b'{"snapshot":{"enable":false,"factor":500}}')
    assert wire.snapshot_echo(body.snapshot) == {"enable": False, "factor": 1}
    # 100.000001 is 100 as a float32: upstream accepts it.
    body = wire.parse_body(
        wire.VolumeCreateRequest, b'{"size":1,"snapshot":{"enable":true,"factor":100.000001}}'
    )
    validation.check_volume_request(body)


@pytest.mark.parametrize(
    ("durability", "echo"),
    [
        ({}, {"type": "none", "replicate": {}, "disperse": {}}),
        ({"type": "replicate"}, {"type": "replicate", "replicate": {}, "disperse": {}}),
        (
            {"type": "replicate", "replicate": {"replica": 0}},
            {"type": "replicate", "replicate": {}, "disperse": {}},
        ),
        (
            {"type": "replicate", "replicate": {"replica": -1}},
            {"type": "replicate", "replicate": {"replica": -1}, "disperse": {}},
        ),
        (
            {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}},
            {"type": "disperse", "replicate": {}, "disperse": {"data": 4, "redundancy": 2}},
        ),
    ],
)
def test_durability_is_echoed_as_sent(durability: dict[str, Any], echo: dict[str, Any]) -> None:
    raw = json.dumps({"size": 1, "durability": durability}).encode()
    body = wire.parse_body(wire.VolumeCreateRequest, raw)
    assert wire.durability_echo(body.durability) == echo


# ------------------------------------------------------------------- own validation

NODE = {"zone": 1, "hostnames": {"manage": ["m1"], "storage": ["10.0.0.1"]}, "cluster": "a" * 32}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        (
            "POST",
            "/nodes",
            {**NODE, "hostnames": {"manage": ["a", ""], "storage": ["fe80::1%eth0"]}},
            "validation failed: hostnames: (manage: [a ] is not a valid manage hostname; "
            "storage: [fe80::1%eth0] is not a valid storage hostname.).",
        ),
        (
            "POST",
            "/nodes",
            {**NODE, "hostnames": {"manage": ["-lead.example"], "storage": ["x" * 64]}},
            "validation failed: hostnames: (manage: [-lead.example] is not a valid manage hostname; "
            f"storage: [{'x' * 64}] is not a valid storage hostname.).",
        ),
        ("POST", "/nodes", {**NODE, "cluster": "A" * 32, "zone": 3}, None),
        (
            "POST",
            "/nodes",
            {**NODE, "hostnames": {"manage": ["host.", "h_"], "storage": ["::ffff:1.2.3.4"]}},
            None,
        ),
        (
            "POST",
            "/nodes",
            {**NODE, "tags": {"": "x", "a b": "y"}},
            "validation failed: tags: tag names may not be empty.",
        ),
        ("POST", "/nodes", {**NODE, "tags": {"k": "é" * 64}}, None),
        ("POST", "/nodes", {**NODE, "tags": {"k": ""}}, None),
        (
            "POST",
            "/devices",
            {"name": "/dev/sdb\n", "node": "a" * 32},
            "validation failed: name: must be in a valid format.",
        ),
        ("POST", "/devices", {"name": "/dev/disk/by-id/wwn-0x5000:1", "node": "a" * 32}, None),
        (
            "POST",
            f"/nodes/{'a' * 32}/tags",
            {"change_type": "delete", "tags": {"k:v": ""}},
            "validation failed: tags: invalid characters in tag name k:v.",
        ),
        ("POST", f"/nodes/{'a' * 32}/state", {"state": "failed", "healcheck": "enable"}, None),
        (
            "POST",
            f"/volumes/{'a' * 32}/expand",
            {"expand_size": -2},
            "validation failed: expand_size: must be no less than 1.",
        ),
        (
            "POST",
            f"/volumes/{'a' * 32}/clone",
            {"name": "bad name"},
            "validation failed: name: must be in a valid format.",
        ),
        ("POST", f"/volumes/{'a' * 32}/clone", {}, None),
        (
            "POST",
            "/blockvolumes",
            {"size": 0, "name": "x y", "hacount": -1},
            "validation failed: hacount: must be no less than 1; name: must be in a valid format; "
            "size: cannot be blank.",
        ),
        (
            "POST",
            "/operations/pending/cleanup",
            {"operations": ["a" * 32] * 33},
            "validation failed: operations: too many ids specified (33), up to 32 supported.",
        ),
        (
            "POST",
            "/operations/pending/cleanup",
            {"operations": ["a" * 32, "xyz"]},
            "validation failed: operations: xyz is not a valid UUID.",
        ),
        ("POST", "/admin", {"state": ""}, "validation failed: state: cannot be blank."),
        (
            "POST",
            "/volumes",
            {"size": 1, "glustervolumeoptions": ["user.x ok", "", "key $(reboot)"]},
            "validation failed: glustervolumeoptions: 'key $(reboot)' must be words of letters, "
            "digits and .,:/*@=+%!~^#[]- not starting with '-'.",
        ),
        (
            "POST",
            "/volumes",
            {"size": 1, "glustervolumeoptions": ["k " + "x" * 500 + "\n"]},
            "validation failed: glustervolumeoptions: 'k " + "x" * 57 + "... (503 characters) "
            "must not contain control characters.",
        ),
        ("POST", "/volumes", {"size": 1, "glustervolumeoptions": ["server.allow-insecure on", " "]}, None),
        ("POST", "/admin", {"STATE": "local-client"}, None),
        ("POST", "/internal/logging", {"loglevel": {"glusterfs": "debug", "x": "y"}}, None),
    ],
)
def test_validation_table(method: str, path: str, body: Any, expected: str | None) -> None:
    result = answer(method, path, json.dumps(body).encode())
    assert result == (None if expected is None else (400, expected))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"size": 1, "gid": 2147483646}, None),
        ({"size": 1, "gid": 2147483647}, "Bad group id equal or greater than 2**32"),
        ({"size": 1, "durability": {"type": "none", "replicate": {"replica": 9}}}, None),
        ({"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}, None),
        (
            {
                "size": 1,
                "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
                "snapshot": {"enable": True, "factor": 0},
            },
            "Invalid snapshot factor",
        ),
        (
            {
                "size": 2,
                "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
            },
            None,
        ),
        (
            {
                "size": 1,
                "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
            },
            "Requested volume size (1 GB) is smaller than the minimum supported volume size (2097152)",
        ),
        (
            {
                "size": 8,
                "durability": {"type": "disperse", "disperse": {"data": 8, "redundancy": 4}},
            },
            None,
        ),
        (
            {
                "size": 1,
                "durability": {"type": "disperse", "disperse": {"data": 8, "redundancy": 2}},
            },
            "Invalid dispersion combination: 8+2",
        ),
    ],
)
def test_volume_prechecks(body: dict[str, Any], expected: str | None) -> None:
    result = answer("POST", "/volumes", json.dumps(body).encode())
    assert result == (None if expected is None else (400, expected))


def test_log_level_refusals_are_422() -> None:
    assert answer("POST", "/internal/logging", b'{"LogLevel":{"glusterfs":"loud"}}') == (
        422,
        "invalid log level: loud",
    )
    level = validation.check_log_level(wire.LogLevelRequest(loglevel={"glusterfs": "info"}))
    assert level == "info"
    assert validation.check_log_level(wire.LogLevelRequest(loglevel={"glusterfs": ""})) is None


def test_requests_can_be_built_directly_with_go_zero_defaults() -> None:
    body = wire.VolumeCreateRequest(size=3)
    assert body.durability.type == ""
    assert body.snapshot.factor == 0.0
    assert body.clusters == [] and body.glustervolumeoptions == []


# ------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"b": 1, "a": [True, None]}, b'{"b":1,"a":[true,null]}\n'),
        ("<a href='x'>&</a>", b"\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\"\n"),
        ("h\u00e9 \u2603 \U0001f600", '"h\u00e9 \u2603 \U0001f600"\n'.encode()),
        ("\u2028\u2029", b'"\\u2028\\u2029"\n'),
        ("\b\f\n\r\t\x01\x7f", b'"\\u0008\\u000c\\n\\r\\t\\u0001\x7f"\n'),
        ("\\b\\\\f", b'"\\\\b\\\\\\\\f"\n'),
        ("\ud800", '"\ufffd"\n'.encode()),
        ([], b"[]\n"),
        ({}, b"{}\n"),
        (
            {"f": 1.0, "g": 1.5, "h": -0.0, "i": 1e21, "j": 1e-7, "k": 1e20, "l": 1e-5},
            b'{"f":1,"g":1.5,"h":-0,"i":1e+21,"j":1e-7,"k":100000000000000000000,"l":0.00001}\n',
        ),
        ({"v1.0,": "x 2.0]"}, b'{"v1.0,":"x 2.0]"}\n'),
        ({"n": "storage-0", "m": "x e-5,", "f": 2.0}, b'{"n":"storage-0","m":"x e-5,","f":2}\n'),
        ([1e16, 123.0, 0.5, 1e-4], b"[10000000000000000,123,0.5,0.0001]\n"),
    ],
)
def test_dumps_matches_go(value: Any, encoded: bytes) -> None:
    assert json_encode.dumps(value) == encoded


def test_dumps_rejects_nan_like_go() -> None:
    with pytest.raises(ValueError):
        json_encode.dumps({"x": float("nan")})


def test_dumps_indent4_matches_go_marshal_indent() -> None:
    value = {"a": {"b": [], "c": {}, "d": [1, {"e": "<"}]}, "f": 2.0}
    expected = (
        '{\n    "a": {\n        "b": [],\n        "c": {},\n        "d": [\n            1,\n'
        '            {\n                "e": "\\u003c"\n            }\n        ]\n    },\n'
        '    "f": 2\n}\n'
    )
    assert json_encode.dumps_indent4(value).decode() == expected


def test_dumps_handles_large_lists() -> None:
    volumes = [{"id": f"{i:032x}", "name": f"vol_{i}", "size": i} for i in range(10000)]
    encoded = json_encode.dumps({"volumes": volumes})
    assert json.loads(encoded) == {"volumes": volumes}
    assert encoded.endswith(b"}\n")


def test_dumps_without_floats_encodes_strings_like_go() -> None:
    ids = [f"{i:032x}" for i in range(1000)] + ["a<b&c\u2028", "v1.0,", "x e-5,"]
    assert json_encode.dumps({"volumes": ids}, floats=False) == json_encode.dumps({"volumes": ids})


@pytest.mark.parametrize(
    "items",
    [
        [],
        [f"{i:032x}" for i in range(1000)],
        ["abc", "déjà2"],
        ["a<b", "c&d"],
        ['quo"te', "back\\slash", "new\nline", "\u2028", "\ud800"],
        ["", "x"],
    ],
)
def test_dumps_string_list_matches_dumps(items: list[str]) -> None:
    assert json_encode.dumps_string_list("volumes", items) == json_encode.dumps({"volumes": items})
