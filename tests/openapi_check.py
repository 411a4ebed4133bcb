"""Checks HTTP exchanges against heketipy's OpenAPI description (api-spec/openapi.yaml).

Owns the test-side reading of the spec: finding the path template of a concrete path,
checking that a response status is documented, that its protocol headers (Location, X-Pending,
Retry-After, ...) are as documented, and that its body matches the documented media type and
JSON schema (OpenAPI 3.1 dialect, via openapi-schema-validator). Other tests import
`validate_response` to hold every answer of the server to the written contract, and
`validate_request` to check request bodies they build.

Requests that match no documented operation are judged by the spec's root extension
`x-heketi-routing` (unknown path, trailing slash, method not allowed), so the spec stays the
single source of truth for those answers too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from openapi_schema_validator import OAS31Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "api-spec" / "openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Protocol headers whose mere presence means something to clients (a stray X-Pending makes the
# Go client poll forever, a stray Location is followed), so they must be documented to appear.
_MEANINGFUL_HEADERS = ("location", "x-pending", "retry-after")

_MAX_REPORTED_ERRORS = 5


@functools.lru_cache(maxsize=1)
def _cached_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as spec_file:
        return yaml.safe_load(spec_file)


def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document (a shared, cached object: do not mutate it)."""
    return _cached_spec()


def _resolve(node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s of non-schema objects; sibling summary/description override (3.1)."""
    resolved = dict(node)
    seen: set[str] = set()
    while "$ref" in resolved:
        ref = resolved.pop("$ref")
        if not ref.startswith("#/") or ref in seen:
            raise AssertionError(f"unsupported or cyclic $ref {ref!r} in {SPEC_PATH}")
        seen.add(ref)
        target: Any = load_spec()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        overrides = {key: resolved[key] for key in ("summary", "description") if key in resolved}
        resolved = {**target, **{k: v for k, v in resolved.items() if k not in overrides}}
        resolved.update(overrides)
    return resolved


class _Route:
    """One path template of the spec, compiled to a regular expression."""

    def __init__(self, template: str, path_item: Mapping[str, Any]) -> None:
        self.template = template
        self.path_item = path_item
        parameter_patterns = {}
        for parameter in path_item.get("parameters", []):
            parameter = _resolve(parameter)
            if parameter.get("in") == "path":
                pattern = parameter.get("schema", {}).get("pattern", "^[^/]+$")
                parameter_patterns[parameter["name"]] = pattern.removeprefix("^").removesuffix("$")
        regex = ""
        for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
            regex += re.escape(literal)
            if name:
                regex += f"(?:{parameter_patterns.get(name, '[^/]+')})"
        self.regex = re.compile(regex)
        # Literal segments win over templated ones (/operations/pending/cleanup vs /{id}).
        self.specificity = (-template.count("{"), len(template))

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


@functools.lru_cache(maxsize=1)
def _routes() -> tuple[_Route, ...]:
    routes = [_Route(template, item) for template, item in load_spec()["paths"].items()]
    return tuple(sorted(routes, key=lambda route: route.specificity, reverse=True))


def find_route(path: str) -> tuple[str, dict[str, Any]] | None:
    """The (template, path item) documenting `path` (query ignored), or None."""
    bare_path = urlsplit(path).path
    for route in _routes():
        if route.matches(bare_path):
            return route.template, dict(route.path_item)
    return None


def _documented_responses(method: str, path: str) -> tuple[str, Mapping[str, Any]]:
    """A label for messages and the `responses` map that applies to this request."""
    bare_path = urlsplit(path).path
    routing = load_spec()["x-heketi-routing"]
    route = find_route(bare_path)
    if route is None:
        if len(bare_path) > 1 and bare_path.endswith("/") and find_route(bare_path.rstrip("/")):
            return f"{method} {bare_path} (trailing slash)", routing["trailingSlash"]["responses"]
        return f"{method} {bare_path} (no such path)", routing["unknownPath"]["responses"]
    template, path_item = route
    operation = path_item.get(method.lower())
    if operation is None:
        label = f"{method} {template} (method not documented)"
        return label, routing["methodNotAllowed"]["responses"]
    return f"{method} {template}", operation["responses"]


@functools.lru_cache(maxsize=256)
def _validator_for(schema_json: str) -> OAS31Validator:
    # The schema is validated inside a copy of the whole document so that local
    # `#/components/schemas/...` references resolve against it.
    schema = json.loads(schema_json)
    root = {**schema, "components": load_spec()["components"]}
    return OAS31Validator(root)


def _schema_errors(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    validator = _validator_for(json.dumps(schema, sort_keys=True))
    messages = []
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    for error in errors[:_MAX_REPORTED_ERRORS]:
        location = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        messages.append(f"body{location}: {error.message}")
    if len(errors) > _MAX_REPORTED_ERRORS:
        messages.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
    return messages


def _header_value(schema: Mapping[str, Any], raw: str) -> Any:
    """Header values are text; integer headers (Retry-After) are compared as numbers."""
    if _resolve(schema).get("type") == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _check_headers(label: str, response: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    sent = {name.lower(): value for name, value in headers.items()}
    documented = {
        name.lower(): _resolve(header) for name, header in response.get("headers", {}).items()
    }
    for name, header in documented.items():
        if name not in sent:
            if header.get("required"):
                raise AssertionError(f"{label}: required header {name!r} is missing")
            continue
        schema = header.get("schema", {})
        errors = _schema_errors(_header_value(schema, sent[name]), schema)
        if errors:
            raise AssertionError(
                f"{label}: header {name}: {sent[name]!r} does not match the spec: "
                + "; ".join(error.removeprefix("body: ") for error in errors)
            )
    for name in _MEANINGFUL_HEADERS:
        if name in sent and name not in documented:
            raise AssertionError(
                f"{label}: header {name!r} ({sent[name]!r}) is not documented for this response"
            )


def _media_type(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return None


def _check_body(
    label: str, response: Mapping[str, Any], headers: Mapping[str, str], body: bytes
) -> None:
    content: Mapping[str, Any] = response.get("content", {})
    if not body:
        if not content:
            return
        # An empty body is fine for documented non-JSON content whose schema accepts "".
        for media_type, media in content.items():
            if "json" in media_type:
                continue
            if "schema" not in media or not _schema_errors("", media["schema"]):
                return
        raise AssertionError(f"{label}: empty body, expected {', '.join(content)}")
    if not content:
        raise AssertionError(f"{label}: the spec documents no body, got {body[:120]!r}")
    media_type = _media_type(headers)
    if media_type is None:
        raise AssertionError(f"{label}: body without Content-Type, expected {', '.join(content)}")
    media = content.get(media_type)
    if media is None:
        raise AssertionError(
            f"{label}: Content-Type {media_type!r} not documented (documented: "
            f"{', '.join(content)})"
        )
    schema = media.get("schema")
    if media_type == "application/json":
        if not body.endswith(b"\n"):
            raise AssertionError(f"{label}: a JSON body must end with one newline")
        if any(character in body for character in (b"<", b">", b"&")):
            # Go's encoder escapes these as \u003c, \u003e, \u0026; clients compare raw text.
            raise AssertionError(f"{label}: JSON body must escape <, > and & as \\u00XX")
        try:
            instance = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise AssertionError(f"{label}: body is not JSON ({error}): {body[:120]!r}") from None
    elif media_type.startswith("text/"):
        try:
            instance = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AssertionError(f"{label}: text body is not UTF-8 ({error})") from None
    else:
        return  # binary content (the database backup): only the media type is checked
    if schema is not None:
        errors = _schema_errors(instance, schema)
        if errors:
            raise AssertionError(f"{label}: body does not match the spec:\n  " + "\n  ".join(errors))


def validate_response(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> None:
    """Assert that this response is documented by the spec and matches it.

    `path` is the request path as sent (a query string is ignored). Raises AssertionError
    naming the operation, the status and what differs.
    """
    method = method.upper()
    label, responses = _documented_responses(method, path)
    response_object = responses.get(str(status))
    if response_object is None:
        raise AssertionError(
            f"{label}: status {status} is not documented (documented: "
            f"{', '.join(sorted(responses))})"
        )
    response = _resolve(response_object)
    label = f"{label} -> {status}"
    _check_headers(label, response, headers)
    _check_body(label, response, headers, body)


def validate_request(method: str, path: str, body: Any) -> None:
    """Assert that a parsed JSON request body matches the documented request schema.

    Keys are compared as written: the server matches them case-insensitively, so callers
    should send (or normalise to) the lower-case keys of the contract.
    """
    method = method.upper()
    route = find_route(path)
    if route is None:
        raise AssertionError(f"{method} {path}: no such path in the spec")
    template, path_item = route
    operation = path_item.get(method.lower())
    if operation is None:
        raise AssertionError(f"{method} {template}: method not documented")
    request_body = operation.get("requestBody")
    if request_body is None:
        raise AssertionError(f"{method} {template}: the spec documents no request body")
    schema = _resolve(request_body)["content"]["application/json"]["schema"]
    errors = _schema_errors(body, schema)
    if errors:
        raise AssertionError(
            f"{method} {template}: request body does not match the spec:\n  " + "\n  ".join(errors)
        )


def documented_operations() -> set[tuple[str, str]]:
    """Every (METHOD, template) pair the spec documents."""
    return {
        (method.upper(), template)
        for template, item in load_spec()["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
