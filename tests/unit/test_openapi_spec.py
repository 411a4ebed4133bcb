"""Tests of api-spec/openapi.yaml and of the tests/openapi_check.py helper.

The spec must be a valid OpenAPI 3.1 document, document every route of the Heketi contract
(section 7 plus the operational routes), and accept every response recorded from upstream
Heketi in the golden traces, except where heketipy deliberately differs. The helper must
reject responses that stray from the spec.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_spec

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import openapi_check  # noqa: E402  (tests/ is not a package)
from openapi_check import documented_operations, load_spec, validate_request, validate_response  # noqa: E402

# Fixtures inside the repository: section 7 of the contract (the endpoint table) and the
# recorded upstream exchanges. A missing fixture fails the test, it never skips it.
CONTRACT_PATH = TESTS_DIR / "data" / "contract" / "endpoint-reference.md"
GOLDEN_HTTP_DIR = TESTS_DIR / "data" / "golden" / "http"

MASKED_ID = re.compile(r"<ID:(\d+)(:UPPER)?>")
FAKE_TIMESTAMP = 1_700_000_000
FAKE_RETRY_AFTER = "3"

# Every route of contract section 7 plus the operational routes heketipy serves.
EXPECTED_OPERATIONS = {
    ("GET", "/hello"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/clusters"),
    ("GET", "/clusters"),
    ("GET", "/clusters/{id}"),
    ("DELETE", "/clusters/{id}"),
    ("POST", "/clusters/{id}/flags"),
    ("POST", "/nodes"),
    ("GET", "/nodes/{id}"),
    ("DELETE", "/nodes/{id}"),
    ("POST", "/nodes/{id}/state"),
    ("POST", "/nodes/{id}/tags"),
    ("POST", "/devices"),
    ("GET", "/devices/{id}"),
    ("DELETE", "/devices/{id}"),
    ("POST", "/devices/{id}/state"),
    ("POST", "/devices/{id}/tags"),
    ("GET", "/devices/{id}/resync"),
    ("POST", "/volumes"),
    ("GET", "/volumes"),
    ("GET", "/volumes/{id}"),
    ("DELETE", "/volumes/{id}"),
    ("POST", "/volumes/{id}/expand"),
    ("POST", "/volumes/{id}/clone"),
    ("POST", "/volumes/{id}/block-restriction"),
    ("POST", "/blockvolumes"),
    ("GET", "/blockvolumes"),
    ("GET", "/blockvolumes/{id}"),
    ("DELETE", "/blockvolumes/{id}"),
    ("POST", "/blockvolumes/{id}/expand"),
    ("POST", "/bricks/to-evict/{id}"),
    ("GET", "/queue/{id}"),
    ("GET", "/backup/db"),
    ("GET", "/db/dump"),
    ("GET", "/db/check"),
    ("GET", "/internal/state/examine/gluster"),
    ("GET", "/internal/logging"),
    ("POST", "/internal/logging"),
    ("GET", "/operations"),
    ("GET", "/operations/pending"),
    ("GET", "/operations/pending/{id}"),
    ("POST", "/operations/pending/cleanup"),
    ("GET", "/admin"),
    ("POST", "/admin"),
}

CONTRACT_STATUSES = {"200", "201", "202", "204", "301", "303", "400", "401", "404", "405", "409",
                     "422", "429", "500", "503"}

# Operations the contract throttles (checklist 17); they must document 429 + Retry-After.
THROTTLED_OPERATIONS = {
    ("POST", "/volumes"),
    ("DELETE", "/volumes/{id}"),
    ("POST", "/volumes/{id}/expand"),
    ("POST", "/volumes/{id}/clone"),
    ("POST", "/volumes/{id}/block-restriction"),
    ("POST", "/blockvolumes"),
    ("DELETE", "/blockvolumes/{id}"),
    ("POST", "/blockvolumes/{id}/expand"),
    ("POST", "/bricks/to-evict/{id}"),
    ("POST", "/nodes/{id}/state"),
    ("POST", "/devices/{id}/state"),
}


# ---- golden trace helpers ------------------------------------------------------------------


def fake_id(masked: re.Match[str]) -> str:
    """A deterministic 32-hex id for `<ID:n>` (upper-cased for `<ID:n:UPPER>`)."""
    fake = hashlib.sha256(f"golden-id-{masked.group(1)}".encode()).hexdigest()[:32]
    return fake.upper() if masked.group(2) else fake


def unmask(text: str) -> str:
    return MASKED_ID.sub(fake_id, text)


def unmask_json(value: Any) -> Any:
    text = unmask(json.dumps(value)).replace('"<TIMESTAMP>"', str(FAKE_TIMESTAMP))
    return json.loads(text)


def metrics_text(reduced: dict[str, Any]) -> str:
    """Rebuild Prometheus text from the reduced form the golden files store."""
    lines = []
    for family in reduced["heketi_families"]:
        lines.append(f"# HELP {family['name']} {family['help']}")
        lines.append(f"# TYPE {family['name']} {family['type']}")
        for sample in family["samples"]:
            labels = ",".join(f'{key}="{value}"' for key, value in sample["labels"].items())
            lines.append(f"{family['name']}{{{labels}}} 0" if labels else f"{family['name']} 0")
    return unmask("\n".join(lines) + "\n")


def go_json(value: Any) -> bytes:
    """Compact JSON as Go's encoder writes it: HTML characters escaped, one newline."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for character, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(character, escaped)
    return text.encode() + b"\n"


def response_bytes(response: dict[str, Any]) -> bytes:
    body_format = response["body_format"]
    if body_format == "json":
        return go_json(unmask_json(response["body"]))
    if body_format == "text":
        return unmask(response["body"]).encode()
    if body_format == "metrics":
        return metrics_text(response["body"]).encode()
    if body_format == "omitted":
        return b"SQLite format 3\x00"  # /backup/db: only status and headers were recorded
    return b""


def golden_files() -> list[Path]:
    files = sorted(GOLDEN_HTTP_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no golden traces in {GOLDEN_HTTP_DIR}")
    return files


def golden_exchanges(path: Path) -> Iterator[dict[str, Any]]:
    for entry in json.loads(path.read_text(encoding="utf-8"))["exchanges"]:
        if "request" in entry:
            yield entry


def is_upstream_defect(exchange: dict[str, Any]) -> bool:
    return exchange.get("caveat", "").startswith("upstream-defect")


def lower_keys(value: Any, *, inside_map: bool = False) -> Any:
    """Normalise request keys like the server does (case-insensitive), keeping tag names."""
    if isinstance(value, dict):
        return {
            (key if inside_map else key.lower()): lower_keys(item, inside_map=key.lower() == "tags")
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [lower_keys(item) for item in value]
    return value


# ---- the spec itself -----------------------------------------------------------------------


def test_spec_is_a_valid_openapi_31_document() -> None:
    spec = load_spec()
    assert spec["openapi"].startswith("3.1")
    validate_spec(spec)


def test_every_expected_route_is_documented() -> None:
    missing = EXPECTED_OPERATIONS - documented_operations()
    assert not missing, f"routes missing from the spec: {sorted(missing)}"


def parse_contract_routes(markdown: str) -> set[tuple[str, str]]:
    """(METHOD, path) pairs of the first column of contract section 7's table."""
    section = markdown.split("## 7. Endpoint reference", 1)[1].split("\n## 8.", 1)[0]
    routes: set[tuple[str, str]] = set()
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| method path") or "---" in line:
            continue
        cell = line.split("|")[1].strip()
        methods: list[str] = []
        pending_methods: list[str] = []
        for token in (part.strip() for part in cell.split(",")):
            words = token.split()
            if len(words) == 1 and words[0].isupper():  # "GET, POST /admin"
                pending_methods.append(words[0])
                continue
            if len(words) == 2:
                methods = [*pending_methods, words[0]]
                pending_methods = []
                path = words[1]
            else:
                path = words[0]  # "POST /nodes/{id}/state, /devices/{id}/state"
            routes.update((method, path) for method in methods)
    return routes


def test_every_route_of_contract_section_7_is_documented() -> None:
    contract_routes = parse_contract_routes(CONTRACT_PATH.read_text(encoding="utf-8"))
    assert len(contract_routes) >= 40, "section 7 parser found too few routes"
    missing = contract_routes - documented_operations()
    assert not missing, f"contract routes missing from the spec: {sorted(missing)}"


def all_documented_statuses() -> set[str]:
    spec = load_spec()
    statuses = {
        status
        for item in spec["paths"].values()
        for method in openapi_check.HTTP_METHODS
        if method in item
        for status in item[method]["responses"]
    }
    for case in spec["x-heketi-routing"].values():
        if isinstance(case, dict):
            statuses.update(case["responses"])
    return statuses


def test_every_status_of_the_contract_is_documented() -> None:
    assert all_documented_statuses() >= CONTRACT_STATUSES


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in load_spec()["paths"].items():
        for method in openapi_check.HTTP_METHODS:
            if method in item:
                yield method.upper(), template, item[method]


def test_authenticated_operations_document_auth_and_admin_gate_errors() -> None:
    for method, template, operation in operations():
        if operation.get("security") == []:
            assert template in ("/hello", "/metrics", "/livez", "/readyz")
            continue
        assert {"400", "401"} <= set(operation["responses"]), (method, template)
        if method != "GET":
            assert "503" in operation["responses"], (method, template)


def test_async_operations_document_a_required_queue_location() -> None:
    for method, template, operation in operations():
        accepted = operation["responses"].get("202")
        if accepted is None:
            continue
        location = openapi_check._resolve(accepted)["headers"]["Location"]
        assert openapi_check._resolve(location)["required"] is True, (method, template)


def test_throttled_operations_document_429_with_required_retry_after() -> None:
    throttled = {(method, template) for method, template, operation in operations()
                 if "429" in operation["responses"]}
    assert throttled == THROTTLED_OPERATIONS
    busy = openapi_check._resolve(load_spec()["paths"]["/volumes"]["post"]["responses"]["429"])
    assert busy["headers"]["Retry-After"]["required"] is True


def response_schema_names() -> set[str]:
    """Component schemas reachable from any documented response body."""
    spec = load_spec()
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in names:
                    names.add(name)
                    visit(spec["components"]["schemas"][name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for _, _, operation in operations():
        for response in operation["responses"].values():
            visit(openapi_check._resolve(response).get("content", {}))
    return names


def closed_object_violations(node: Any, where: str) -> list[str]:
    """Object schemas with named properties that do not forbid other properties."""
    found = []
    if isinstance(node, dict):
        if "properties" in node and node.get("additionalProperties") is not False:
            found.append(where)
        for key, value in node.items():
            found.extend(closed_object_violations(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(closed_object_violations(value, f"{where}[{index}]"))
    return found


def test_response_objects_forbid_stray_fields() -> None:
    schemas = load_spec()["components"]["schemas"]
    names = response_schema_names()
    assert {"Cluster", "Node", "Device", "Brick", "Volume", "BlockVolume", "DbDump"} <= names
    violations = [v for name in sorted(names)
                  for v in closed_object_violations(schemas[name], name)]
    assert not violations, f"response schemas without additionalProperties: false: {violations}"


# ---- the golden traces ---------------------------------------------------------------------


@pytest.mark.parametrize("golden_file", golden_files(), ids=lambda path: path.stem)
def test_golden_responses_match_the_spec(golden_file: Path) -> None:
    checked = 0
    for exchange in golden_exchanges(golden_file):
        if is_upstream_defect(exchange):
            continue  # heketipy refuses these requests (see the defect test below)
        request, response = exchange["request"], exchange["response"]
        headers = {name: unmask(value) for name, value in response.get("headers", {}).items()}
        if response["status"] == 429:
            # Deliberate difference: heketipy's 429 (wait queue full) carries Retry-After.
            headers["Retry-After"] = FAKE_RETRY_AFTER
        try:
            validate_response(request["method"], unmask(request["path"]), response["status"],
                              headers, response_bytes(response))
        except AssertionError as error:
            raise AssertionError(f"{golden_file.name} seq {exchange['seq']}: {error}") from None
        checked += 1
    assert checked > 0


def test_golden_traces_cover_every_json_shape() -> None:
    json_routes = set()
    for golden_file in golden_files():
        for exchange in golden_exchanges(golden_file):
            if exchange["response"]["body_format"] == "json":
                route = openapi_check.find_route(unmask(exchange["request"]["path"]))
                assert route is not None
                json_routes.add((exchange["request"]["method"], route[0]))
    json_operations = {
        (method, template) for method, template, operation in operations()
        if any("application/json" in openapi_check._resolve(r).get("content", {})
               for r in operation["responses"].values())
    }
    # heketipy's own routes (no upstream recording): exercised by tests/integration instead.
    heketipy_only = {
        ("GET", "/internal/state/drift"), ("POST", "/internal/state/drift/repair"),
        ("GET", "/internal/state/volumes/{id}/sets"),
    }
    assert json_routes == json_operations - heketipy_only


def test_golden_successful_request_bodies_match_the_request_schemas() -> None:
    checked = 0
    for golden_file in golden_files():
        for exchange in golden_exchanges(golden_file):
            request, status = exchange["request"], exchange["response"]["status"]
            if status >= 300 or is_upstream_defect(exchange):
                continue
            if "body" in request:
                body = lower_keys(unmask_json(request["body"]))
            elif request.get("body_text", "").strip():
                body = json.loads(request["body_text"])
            else:
                continue  # no body or an empty one (accepted where the body is optional)
            validate_request(request["method"], unmask(request["path"]), body)
            checked += 1
    assert checked > 100


def test_upstream_negative_replica_volume_is_outside_the_spec() -> None:
    defects = [
        exchange
        for golden_file in golden_files()
        for exchange in golden_exchanges(golden_file)
        if is_upstream_defect(exchange) and exchange["response"]["body_format"] == "json"
        and exchange["request"]["path"].startswith("/volumes/")
    ]
    assert defects
    for exchange in defects:
        with pytest.raises(AssertionError, match="replica"):
            validate_response("GET", unmask(exchange["request"]["path"]), 200, {
                "Content-Type": "application/json; charset=UTF-8"},
                response_bytes(exchange["response"]))


# ---- validate_response on hand-made responses ------------------------------------------------

VOLUME_ID = "0123456789abcdef0123456789abcdef"
CLUSTER_ID = "fedcba9876543210fedcba9876543210"
JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
ERROR_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}


def json_body(value: Any) -> bytes:
    return go_json(value)


def cluster(**changes: Any) -> dict[str, Any]:
    body = {"id": CLUSTER_ID, "nodes": [], "volumes": [VOLUME_ID], "block": False, "file": True,
            "blockvolumes": []}
    body.update(changes)
    return body


def test_valid_cluster_passes() -> None:
    validate_response("GET", f"/clusters/{CLUSTER_ID}", 200, JSON_HEADERS, json_body(cluster()))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (cluster(extra=1), "Additional properties"),
        ({k: v for k, v in cluster().items() if k != "blockvolumes"}, "'blockvolumes' is a required"),
        (cluster(volumes=[VOLUME_ID.upper()]), "does not match"),
        (cluster(volumes=None), "not of type 'array'"),
    ],
    ids=["stray-field", "missing-field", "upper-case-id", "null-list"],
)
def test_cluster_shape_errors_are_reported(body: dict[str, Any], expected: str) -> None:
    with pytest.raises(AssertionError, match=expected):
        validate_response("GET", f"/clusters/{CLUSTER_ID}", 200, JSON_HEADERS, json_body(body))


def test_omitempty_fields_must_be_omitted_not_empty() -> None:
    node = {"zone": 1, "hostnames": {"manage": ["n1"], "storage": ["10.0.0.1"]},
            "cluster": CLUSTER_ID, "id": VOLUME_ID, "state": "online", "devices": []}
    validate_response("GET", f"/nodes/{VOLUME_ID}", 200, JSON_HEADERS, json_body(node))
    with pytest.raises(AssertionError, match="tags"):
        validate_response("GET", f"/nodes/{VOLUME_ID}", 200, JSON_HEADERS,
                          json_body({**node, "tags": {}}))


def test_json_body_needs_trailing_newline_and_json_content_type() -> None:
    with pytest.raises(AssertionError, match="newline"):
        validate_response("GET", "/clusters", 200, JSON_HEADERS, b'{"clusters":[]}')
    with pytest.raises(AssertionError, match="Content-Type"):
        validate_response("GET", "/clusters", 200, ERROR_HEADERS, b'{"clusters":[]}\n')
    with pytest.raises(AssertionError, match="empty body"):
        validate_response("GET", "/clusters", 200, JSON_HEADERS, b"")
    with pytest.raises(AssertionError, match="escape"):
        validate_response("POST", "/nodes/" + VOLUME_ID + "/tags", 200, JSON_HEADERS,
                          b'{"a":"<b>"}\n')
    validate_response("POST", "/nodes/" + VOLUME_ID + "/tags", 200, JSON_HEADERS,
                      go_json({"a": "<b>"}))


def test_undocumented_status_is_reported() -> None:
    with pytest.raises(AssertionError, match="status 409 is not documented"):
        validate_response("GET", "/clusters", 409, ERROR_HEADERS, b"conflict\n")


def test_async_acceptance_needs_a_queue_location() -> None:
    location = {"Location": f"/queue/{VOLUME_ID}"}
    validate_response("POST", "/volumes", 202, location, b"")
    with pytest.raises(AssertionError, match="location"):
        validate_response("POST", "/volumes", 202, {}, b"")
    with pytest.raises(AssertionError, match="location"):
        validate_response("POST", "/volumes", 202, {"Location": f"/volumes/{VOLUME_ID}"}, b"")
    with pytest.raises(AssertionError, match="no body"):
        validate_response("POST", "/volumes", 202, location, b"accepted")


def test_queue_protocol_headers() -> None:
    queue = f"/queue/{VOLUME_ID}"
    validate_response("GET", queue, 200, {"X-Pending": "true"}, b"")
    validate_response("GET", queue, 303, {"Location": f"/volumes/{VOLUME_ID}",
                                          "Content-Type": "text/html; charset=utf-8"},
                      b'<a href="/volumes/x">See Other</a>.\n\n')
    validate_response("GET", queue, 204, {}, b"")
    with pytest.raises(AssertionError, match="x-pending"):
        validate_response("GET", queue, 200, {}, b"")
    with pytest.raises(AssertionError, match="x-pending"):
        validate_response("GET", queue, 204, {"X-Pending": "true"}, b"")


def test_busy_needs_retry_after() -> None:
    validate_response("POST", "/volumes", 429, {**ERROR_HEADERS, "Retry-After": "7"},
                      b"Server busy. Retry operation later.\n")
    with pytest.raises(AssertionError, match="retry-after"):
        validate_response("POST", "/volumes", 429, ERROR_HEADERS,
                          b"Server busy. Retry operation later.\n")
    with pytest.raises(AssertionError, match="retry-after"):
        validate_response("POST", "/volumes", 429, {**ERROR_HEADERS, "Retry-After": "soon"},
                          b"Server busy. Retry operation later.\n")


def test_error_text_needs_newline_and_nosniff() -> None:
    with pytest.raises(AssertionError, match="body does not match"):
        validate_response("GET", f"/volumes/{VOLUME_ID}", 404, ERROR_HEADERS, b"Id not found")
    with pytest.raises(AssertionError, match="x-content-type-options"):
        validate_response("GET", f"/volumes/{VOLUME_ID}", 404,
                          {"Content-Type": "text/plain; charset=utf-8"}, b"Id not found\n")


def test_routing_fallbacks() -> None:
    validate_response("GET", "/nope", 404, ERROR_HEADERS, b"Invalid path or request\n")
    validate_response("GET", "/clusters/xyz", 404, ERROR_HEADERS, b"Invalid path or request\n")
    validate_response("PATCH", f"/volumes/{VOLUME_ID}", 405, {}, b"")
    validate_response("HEAD", "/clusters", 405, {}, b"")
    validate_response("GET", "/clusters/", 301, {"Location": "/clusters",
                                                 "Content-Type": "text/html; charset=utf-8"},
                      b'<a href="/clusters">Moved Permanently</a>.\n\n')
    with pytest.raises(AssertionError, match="not documented"):
        validate_response("GET", "/nope", 200, JSON_HEADERS, b"{}\n")


def test_query_is_ignored_and_literal_routes_win_over_ids() -> None:
    validate_response("GET", "/clusters?x=1", 200, JSON_HEADERS, json_body({"clusters": []}))
    assert openapi_check.find_route("/operations/pending/cleanup")[0] == (
        "/operations/pending/cleanup")
    assert openapi_check.find_route(f"/operations/pending/{VOLUME_ID}")[0] == (
        "/operations/pending/{id}")
    assert openapi_check.find_route("/volumes/not-hex") is None


def test_validate_request_reports_invalid_bodies() -> None:
    validate_request("POST", "/volumes", {"size": 1, "durability": {"type": "replicate"}})
    with pytest.raises(AssertionError, match="size"):
        validate_request("POST", "/volumes", {"size": 0})
    with pytest.raises(AssertionError, match="no request body"):
        validate_request("GET", "/volumes", {})
