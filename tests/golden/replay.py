"""Golden replay engine: proves heketipy answers exactly like upstream Heketi.

It owns everything needed to replay one recorded HTTP file of `tests/data/golden/http/`
(format and rules: `tests/data/golden/README.md`) against a server under test:

* building requests from the recording (id substitution, fresh client-chosen ids, JWT recipes),
* `/queue` polling, the `restart-server` and `signal` actions,
* masking the actual answers (id numbering in order of first appearance, `order` lists and
  id-keyed dictionaries numbered in sorted order, UPPER ids, timestamps, durations),
* comparing status, the listed headers and the body per `body_format`, with the recorded
  nondeterminism kinds and heketipy's documented deviations as named rules (`RULE_*`),
* starting heketipy as a subprocess (`heketipy_server`), and a CLI printing the report:
  `python -m tests.golden.replay <file.json> [--server-cmd "..."]`.

Public entry points: `replay_file(path, base_url_factory) -> list[Mismatch]`,
`replay_golden(golden, server) -> ReplayResult` (async), `format_report(...)`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import difflib
import hashlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import jwt
from yarl import URL

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "golden"
HTTP_DIR = GOLDEN_DIR / "http"

# An id is exactly 32 hex digits not adjacent to another hex digit (README section 4).
ID_RE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")
FULL_ID_RE = re.compile(r"[0-9a-fA-F]{32}")
PLACEHOLDER_RE = re.compile(r"<ID:(\d+)(:UPPER)?>")
FULL_PLACEHOLDER_RE = re.compile(r"<ID:\d+(?::UPPER)?>")
UNKNOWN_ID = "<ID:?>"
TIMESTAMP_MASK = "<TIMESTAMP>"
DURATION_RE = re.compile(r"(Token is expired by )(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|μs|ms|s|m|h))+")

# Only these response headers were recorded; a listed header absent from the recording was
# not sent by upstream.
COMPARED_HEADERS = (
    "Content-Type",
    "Location",
    "X-Pending",
    "Retry-After",
    "X-Content-Type-Options",
    "Content-Disposition",
)

# --- Rules: named, so every tolerance of this harness is visible in one place ------------------

# heketipy explains placement failures: Heketi's `No space` may be followed by `: <why>`.
RULE_NO_SPACE_EXPLANATION = "no-space-explanation"
# Steps that show what upstream's mock executor could not do (brick moves, clone).
RULE_UPSTREAM_MOCK = "caveat-upstream-mock"
# Untagged exchanges that only show the aftermath of an upstream-mock failure (the brick move
# that upstream could not do left the state "unchanged"; heketipy really moves the brick).
# The README says aftermath exchanges carry the caveat; these few do not, so they are listed.
RULE_UPSTREAM_MOCK_AFTERMATH = "upstream-mock-aftermath"
UNTAGGED_UPSTREAM_MOCK_AFTERMATH: dict[str, frozenset[int]] = {
    # evict / node remove "failed": the volume and node are shown unchanged
    "bricks.json": frozenset({35, 40}),
    # device set to failed "failed": shown still offline with its brick, then set online again
    "devices.json": frozenset({82, 84, 87, 88}),
    # evict of a brick in a 3-node replica-3 volume: the mock fails with "Id not found" before
    # placement could answer "No Replacement was found ..."
    "errors.json": frozenset({125}),
}
# Steps that record upstream bugs; heketipy may be stricter.
RULE_UPSTREAM_DEFECT = "caveat-upstream-defect"
# An exchange naming an object that only a skipped exchange created (and the server under test
# therefore never produced): its recorded answer describes state heketipy does not have.
RULE_SKIPPED_FOLLOW_UP = "follow-up-of-skipped-exchange"
# heketipy recovers operations interrupted by a crash at start-up instead of leaving them stale.
RULE_STALE_RECOVERY = "stale-operation-recovery"
# heketipy's 429 (wait queue full) carries Retry-After; upstream never sent it.
RULE_RETRY_AFTER_ON_429 = "retry-after-on-429"
# /internal/state/examine/gluster reports what each node's gluster says. Upstream's mock
# executor answers every node with two fake volumes of `<host>:/mockpath` bricks, which makes
# its report say the lists differ; heketipy's mock reports the volumes it really created. The
# per-node data and the report lines after the first are therefore not compared; the embedded
# database dump and the cluster/node ids are.
RULE_EXAMINE_NODE_DATA = "examine-node-data"
EXAMINE_PATH = "/internal/state/examine/gluster"

SKIP_RULE_DESCRIPTIONS = {
    RULE_UPSTREAM_MOCK: "caveat upstream-mock: upstream's mock executor failed here; heketipy's "
    "answer is recorded, not compared",
    RULE_UPSTREAM_DEFECT: "caveat upstream-defect: upstream accepted something it should refuse; "
    "heketipy may be stricter",
    RULE_UPSTREAM_MOCK_AFTERMATH: "shows the state upstream's failed mock brick move left behind",
    RULE_SKIPPED_FOLLOW_UP: "names an id that only a skipped exchange produced",
    RULE_STALE_RECOVERY: "after a crash heketipy recovers the interrupted operation at start-up; "
    "upstream's stale-operation view is not compared",
}

# heketipy-specific configuration the harness adds (README "Where heketipy deliberately differs").
# Keeps operations in flight past the server's /queue hold (350 ms), as upstream's delayed DB
# syncs kept them pending when the recording was made.
MOCK_LATENCY_MS = 800
WAIT_QUEUE_ZERO_FILES = frozenset({"throttle.json"})  # 429 as soon as the in-flight slot is taken

QUEUE_POLL_INTERVAL_S = 0.05
QUEUE_POLL_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 60.0
SERVER_READY_TIMEOUT_S = 30.0
SIGNAL_SETTLE_S = 0.2


# --- Golden file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldenFile:
    """One recorded HTTP scenario file."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GoldenFile:
        p = Path(path)
        return cls(p, json.loads(p.read_text(encoding="utf-8")))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def server(self) -> dict[str, Any]:
        return self.data["server"]

    @property
    def entries(self) -> list[dict[str, Any]]:
        return self.data["exchanges"]

    @property
    def client_chosen_numbers(self) -> set[int]:
        return {
            int(PLACEHOLDER_RE.fullmatch(p).group(1))
            for p in self.data.get("client_chosen_ids", [])
        }

    def secrets(self) -> dict[str, str]:
        jwt_cfg = self.server.get("config", {}).get("jwt", {})
        return {
            "admin": jwt_cfg.get("admin", {}).get("key", "adminkey"),
            "user": jwt_cfg.get("user", {}).get("key", "userkey"),
        }


def placeholder_numbers(value: Any) -> set[int]:
    """Every `<ID:n>` number used anywhere inside a recorded JSON value."""
    text = value if isinstance(value, str) else json.dumps(value)
    return {int(m.group(1)) for m in PLACEHOLDER_RE.finditer(text)}


# --- Id binding -----------------------------------------------------------------------------


class IdBinding:
    """The two-way map `<ID:n>` <-> real id of one replay, plus the next number to hand out."""

    def __init__(self) -> None:
        self.by_number: dict[int, str] = {}
        self.by_real: dict[str, int] = {}
        self.next_number = 1

    def bind(self, number: int, real: str) -> None:
        real = real.lower()
        self.by_number[number] = real
        self.by_real[real] = number
        self.next_number = max(self.next_number, number + 1)

    def unbind(self, number: int) -> None:
        real = self.by_number.pop(number, None)
        if real is not None:
            self.by_real.pop(real, None)

    def number_of(self, real: str) -> int | None:
        return self.by_real.get(real.lower())

    def real_of(self, number: int) -> str | None:
        return self.by_number.get(number)

    def assign(self, real: str) -> int:
        number = self.next_number
        self.bind(number, real)
        return number


def fresh_id() -> str:
    return uuid.uuid4().hex


def substitute_text(text: str, binding: IdBinding, on_unbound: Callable[[int], str]) -> str:
    """Replace `<ID:n>` / `<ID:n:UPPER>` by the bound real id (`on_unbound` supplies missing ones)."""

    def repl(m: re.Match[str]) -> str:
        number = int(m.group(1))
        real = binding.real_of(number)
        if real is None:
            real = on_unbound(number)
        return real.upper() if m.group(2) else real

    return PLACEHOLDER_RE.sub(repl, text)


def substitute_json(value: Any, binding: IdBinding, on_unbound: Callable[[int], str]) -> Any:
    if isinstance(value, str):
        return substitute_text(value, binding, on_unbound)
    if isinstance(value, list):
        return [substitute_json(v, binding, on_unbound) for v in value]
    if isinstance(value, dict):
        return {
            substitute_text(k, binding, on_unbound): substitute_json(v, binding, on_unbound)
            for k, v in value.items()
        }
    return value


# --- Masking --------------------------------------------------------------------------------


def sort_text(value: Any) -> str:
    """The text `order` lists are sorted by: masked JSON with keys sorted."""
    return json.dumps(value, sort_keys=True)


def is_id_key(key: str) -> bool:
    return bool(
        FULL_ID_RE.fullmatch(key) or FULL_PLACEHOLDER_RE.fullmatch(key) or key == UNKNOWN_ID
    )


def is_id_keyed(value: dict[str, Any]) -> bool:
    return bool(value) and all(is_id_key(k) for k in value)


def child_path(path: str, key: str) -> str:
    return f"{path}.<id>" if is_id_key(key) else f"{path}.{key}"


class Masker:
    """Masks actual answers; with `assign` it numbers unknown ids, otherwise writes `<ID:?>`."""

    def __init__(self, binding: IdBinding, order_paths: Iterable[str] = (), *, assign: bool = True):
        self.binding = binding
        self.order_paths = frozenset(order_paths)
        self.assign = assign
        self.newly_assigned: list[int] = []

    def peeker(self) -> Masker:
        return Masker(self.binding, self.order_paths, assign=False)

    def text(self, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            raw = m.group(0)
            low = raw.lower()
            number = self.binding.number_of(low)
            if number is None:
                if not self.assign:
                    return UNKNOWN_ID
                number = self.binding.assign(low)
                self.newly_assigned.append(number)
            return f"<ID:{number}:UPPER>" if raw != low else f"<ID:{number}>"

        return DURATION_RE.sub(r"\1<DURATION>", ID_RE.sub(repl, text))

    def json(self, value: Any, path: str = "response.body") -> Any:
        if isinstance(value, dict):
            if is_id_keyed(value):
                return self._id_keyed(value, path)
            out: dict[str, Any] = {}
            for key, item in value.items():
                masked_key = self.text(key)
                out[masked_key] = (
                    TIMESTAMP_MASK if key == "Timestamp" else self.json(item, child_path(path, key))
                )
            return out
        if isinstance(value, list):
            if path in self.order_paths:
                return self._ordered(value, path + "[*]")
            return [self.json(item, path + "[*]") for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _ordered(self, items: list[Any], element_path: str) -> list[Any]:
        # New ids are numbered in the order of the elements sorted by their text with the
        # ids known so far numbered and unknown ones written <ID:?> (README section 4).
        peek = self.peeker()
        keyed = sorted(items, key=lambda item: sort_text(peek.json(item, element_path)))
        masked = [self.json(item, element_path) for item in keyed]
        return sorted(masked, key=sort_text)

    def _id_keyed(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        peek = self.peeker()
        entry_path = path + ".<id>"
        entries = sorted(
            value.items(),
            key=lambda kv: sort_text({peek.text(kv[0]): peek.json(kv[1], entry_path)}),
        )
        masked = [(self.text(k), self.json(v, entry_path)) for k, v in entries]
        masked.sort(key=lambda kv: sort_text({kv[0]: kv[1]}))
        return dict(masked)

    def line_ordered_text(self, text: str) -> str:
        """Text whose `Cluster <id>: <reason>` lines come in random order: sort those lines."""
        lines = text.split("\n")
        slots = [i for i, line in enumerate(lines) if line.startswith("Cluster ")]
        if not slots:
            return self.text(text)
        peek = self.peeker()
        out = list(lines)
        for i, line in enumerate(lines):
            if i == slots[0]:
                block = sorted((lines[j] for j in slots), key=peek.text)
                masked_block = sorted(self.text(line) for line in block)
                for slot, masked in zip(slots, masked_block, strict=True):
                    out[slot] = masked
            elif i not in slots:
                out[i] = self.text(line)
        return "\n".join(out)


def normalize_expected(value: Any, order_paths: frozenset[str], path: str = "response.body") -> Any:
    """The recorded value with `order` lists sorted exactly like masked actual ones."""
    if isinstance(value, dict):
        return {
            k: normalize_expected(v, order_paths, child_path(path, k)) for k, v in value.items()
        }
    if isinstance(value, list):
        items = [normalize_expected(v, order_paths, path + "[*]") for v in value]
        return sorted(items, key=sort_text) if path in order_paths else items
    return value


# --- Go-compatible JSON layout --------------------------------------------------------------


def _go_html_escape(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_json(value: Any, layout: str | None = None) -> str:
    """How Go's encoder writes `value`: compact (or 4-space indented), HTML-escaped, plus `\\n`."""
    if layout == "indent4+newline":
        text = json.dumps(value, ensure_ascii=False, indent=4)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _go_html_escape(text) + "\n"


# --- /metrics -------------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+(\s+\S+)?$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape_label(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def reduce_metrics(text: str) -> dict[str, Any]:
    """Reduce a Prometheus text exposition to the recorded shape (values dropped)."""
    families: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def family(name: str) -> dict[str, Any]:
        if name not in families:
            families[name] = {"name": name, "help": "", "type": "untyped", "samples": []}
            order.append(name)
        return families[name]

    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("# HELP "):
            parts = line[len("# HELP ") :].split(" ", 1)
            help_text = parts[1] if len(parts) > 1 else ""
            family(parts[0])["help"] = help_text.replace("\\n", "\n").replace("\\\\", "\\")
            continue
        if line.startswith("# TYPE "):
            parts = line[len("# TYPE ") :].split(" ", 1)
            family(parts[0])["type"] = parts[1] if len(parts) > 1 else "untyped"
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            continue
        name = m.group(1)
        owner = next(
            (f for f in reversed(order) if name == f or name.startswith(f + "_")),
            None,
        )
        labels = {k: _unescape_label(v) for k, v in _LABEL_RE.findall(m.group(3) or "")}
        family(owner or name)["samples"].append({"labels": dict(sorted(labels.items()))})
    heketi = [families[n] for n in sorted(order) if n.startswith("heketi_")]
    others = sorted(n for n in order if not n.startswith("heketi_"))
    return {"heketi_families": heketi, "other_family_names": others}


def _normalize_recorded_metrics(body: dict[str, Any]) -> dict[str, Any]:
    families = sorted(body.get("heketi_families", []), key=lambda f: f["name"])
    return {
        "heketi_families": [
            {
                **fam,
                "samples": [{"labels": dict(sorted(s["labels"].items()))} for s in fam["samples"]],
            }
            for fam in families
        ],
        "other_family_names": body.get("other_family_names", []),
    }


# --- JWT recipes ----------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def qsh_of(method: str, path: str) -> str:
    return hashlib.sha256(f"{method}&{path}".encode()).hexdigest()


def _hmac_token(claims: dict[str, Any], key: str, alg: str) -> str:
    with warnings.catch_warnings():
        # The recorded secrets are short on purpose; pyjwt warns about that.
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm=alg)


def build_token(
    recipe: dict[str, Any],
    method: str,
    path: str,
    secrets: dict[str, str],
    now: float | None = None,
) -> str:
    """The JWT a recipe describes (README section 2); `path` is the real path sent, query included."""
    now = time.time() if now is None else now
    omit = set(recipe.get("omit", []))
    iss = recipe.get("iss", "admin")
    key_name = recipe.get("key")
    if key_name is None:
        secret = secrets.get(iss, secrets["admin"])
    else:
        secret = secrets.get(key_name, key_name)
    qsh_recipe = recipe.get("qsh", "valid")
    if qsh_recipe == "valid":
        qsh = qsh_of(method, path.split("?", 1)[0])
    elif qsh_recipe == "wrong":
        qsh = qsh_of("GET", "/something-else")
    else:
        qsh = qsh_of(qsh_recipe["method"], qsh_recipe["path"])
    claims: dict[str, Any] = {
        "iss": iss,
        "iat": int(now + recipe.get("iat", 0)),
        "exp": int(now + recipe.get("exp", 300)),
    }
    if "nbf" in recipe:
        claims["nbf"] = int(now + recipe["nbf"])
    claims["qsh"] = qsh
    claims = {k: v for k, v in claims.items() if k not in omit}
    alg = recipe.get("alg", "HS256")
    if alg in ("HS256", "HS384", "HS512"):
        return _hmac_token(claims, secret, alg)
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    if alg == "none":
        return f"{header}.{payload}."
    # Any other algorithm name: a signature nobody can verify.
    return f"{header}.{payload}.{_b64url(b'garbage-signature-' + os.urandom(8))}"


def build_authorization(
    auth: Any, method: str, path: str, secrets: dict[str, str], now: float | None = None
) -> str | None:
    """The Authorization header value for a recorded `auth` field (None = send no header)."""
    if auth is None:
        recipe: dict[str, Any] = {"iss": "admin"}
    elif auth == "user":
        recipe = {"iss": "user"}
    elif auth == "none":
        return None
    elif isinstance(auth, dict) and "raw" in auth:
        return auth["raw"]
    elif isinstance(auth, dict):
        recipe = auth
    else:
        raise ValueError(f"unknown auth recipe {auth!r}")
    scheme = recipe.get("scheme", "Bearer")
    return f"{scheme} {build_token(recipe, method, path, secrets, now)}"


# --- Comparison -----------------------------------------------------------------------------


@dataclass
class Nondeterminism:
    """The `nondeterministic` annotations of one exchange, by kind."""

    paths: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, exchange: dict[str, Any]) -> Nondeterminism:
        nd = cls()
        for item in exchange.get("nondeterministic", []):
            nd.paths.setdefault(item["kind"], set()).add(item["path"])
        return nd

    def __call__(self, kind: str) -> frozenset[str]:
        return frozenset(self.paths.get(kind, ()))


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class JsonComparison:
    """Compares a recorded JSON body with the masked actual one, collecting every difference."""

    nd: Nondeterminism
    block_hosting_hosts: list[str] | None = None
    problems: list[str] = field(default_factory=list)

    def compare(self, expected: Any, actual: Any, path: str = "response.body") -> list[str]:
        self._cmp(expected, actual, path)
        return self.problems

    def _cmp(self, exp: Any, act: Any, path: str) -> None:
        if path in self.nd("informational"):
            return
        if isinstance(exp, dict):
            self._cmp_dict(exp, act, path)
        elif isinstance(exp, list):
            self._cmp_list(exp, act, path)
        elif type(exp) is not type(act) or exp != act:
            self.problems.append(f"{path}: expected {_short(exp)}, got {_short(act)}")

    def _cmp_dict(self, exp: dict[str, Any], act: Any, path: str) -> None:
        if not isinstance(act, dict):
            self.problems.append(f"{path}: expected an object, got {_short(act)}")
            return
        if f"{path}.device" in self.nd("mount-host"):
            act = self._mount_host(exp, act, path)
        missing = [k for k in exp if k not in act]
        extra = [k for k in act if k not in exp]
        if missing:
            self.problems.append(f"{path}: missing keys {missing}")
        if extra:
            self.problems.append(
                f"{path}: unexpected keys {extra} ({_short({k: act[k] for k in extra})})"
            )
        if not missing and not extra and not is_id_keyed(exp) and list(exp) != list(act):
            self.problems.append(f"{path}: key order {list(act)}, expected {list(exp)}")
        for key, value in exp.items():
            if key in act:
                self._cmp(value, act[key], child_path(path, key))

    def _mount_host(self, exp: dict[str, Any], act: dict[str, Any], path: str) -> dict[str, Any]:
        # `device` is <h>:<volume name> with h any of `hosts`; backup-volfile-servers lists the
        # other hosts in any order. When that holds, use the recorded texts for both.
        hosts = act.get("hosts")
        device = act.get("device")
        options = act.get("options")
        backup = options.get("backup-volfile-servers") if isinstance(options, dict) else None
        exp_device = exp.get("device", "")
        if not (isinstance(hosts, list) and isinstance(device, str) and isinstance(backup, str)):
            return act
        host, _, name = device.partition(":")
        others = list(hosts)
        if host in others:
            others.remove(host)
        ok = (
            host in hosts
            and name == exp_device.partition(":")[2]
            and sorted(backup.split(",") if backup else []) == sorted(others)
        )
        if not ok:
            self.problems.append(
                f"{path}: mount-host: device {device!r} / backup-volfile-servers {backup!r} "
                f"do not match hosts {hosts} (expected volume name {exp_device.partition(':')[2]!r})"
            )
            return act
        fixed = copy.deepcopy(act)
        fixed["device"] = exp_device
        exp_options = exp.get("options")
        if isinstance(exp_options, dict) and "backup-volfile-servers" in exp_options:
            fixed["options"]["backup-volfile-servers"] = exp_options["backup-volfile-servers"]
        return fixed

    def _cmp_list(self, exp: list[Any], act: Any, path: str) -> None:
        if not isinstance(act, list):
            self.problems.append(f"{path}: expected a list, got {_short(act)}")
            return
        if path in self.nd("random-subset"):
            self._random_subset(exp, act, path)
            return
        if path in self.nd("order"):
            exp_texts = sorted(sort_text(e) for e in exp)
            act_texts = sorted(sort_text(a) for a in act)
            if exp_texts != act_texts:
                missing = _multiset_minus(exp_texts, act_texts)
                extra = _multiset_minus(act_texts, exp_texts)
                self.problems.append(
                    f"{path} (compared as a multiset): missing {missing or '[]'}; unexpected {extra or '[]'}"
                )
            return
        if len(exp) != len(act):
            self.problems.append(
                f"{path}: expected {len(exp)} elements, got {len(act)}: {_short(act)}"
            )
        for e, a in zip(exp, act, strict=False):
            self._cmp(e, a, path + "[*]")

    def _random_subset(self, exp: list[Any], act: list[Any], path: str) -> None:
        if len(act) != len(exp) or len(set(map(str, act))) != len(act):
            self.problems.append(
                f"{path} (random subset): expected {len(exp)} distinct hosts, got {_short(act)}"
            )
            return
        pool = self.block_hosting_hosts
        if pool is not None and not set(act) <= set(pool):
            self.problems.append(
                f"{path} (random subset): {_short(act)} not all among the hosting volume's {pool}"
            )


def _multiset_minus(a: list[str], b: list[str]) -> list[str]:
    rest = list(b)
    out = []
    for item in a:
        if item in rest:
            rest.remove(item)
        else:
            out.append(item)
    return out


def apply_no_space_rule(expected_text: str, actual_text: str) -> str:
    """RULE_NO_SPACE_EXPLANATION: cut `: <why>` after `No space` where the recording ends a line there."""
    if not any(line.endswith("No space") for line in expected_text.split("\n")):
        return actual_text
    return "\n".join(
        line[: line.index("No space: ") + len("No space")] if "No space: " in line else line
        for line in actual_text.split("\n")
    )


# --- Results --------------------------------------------------------------------------------


@dataclass
class ActualResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    polls: int = 1

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Mismatch:
    """One exchange whose answer differs from the recording."""

    file: str
    seq: int
    request: str
    problems: list[str]
    expected: str
    actual: str
    note: str = ""

    def format(self, body_limit: int = 2000) -> str:
        """Readable block; long bodies are cut (the problem lines already name every path)."""
        head = f"[{self.file} seq {self.seq}] {self.request}"
        if self.note:
            head += f"   ({self.note})"
        lines = [head]
        lines += [f"    - {p}" for p in self.problems]
        for label, text in (("expected", self.expected), ("actual", self.actual)):
            if len(text) > body_limit:
                text = f"{text[:body_limit]}... ({len(text)} characters)"
            lines.append(f"    {label + ':':<10}" + text.replace("\n", "\n              "))
        return "\n".join(lines)


@dataclass
class SkippedExchange:
    """An exchange replayed but not compared, with the rule that excused it."""

    seq: int
    request: str
    rule: str
    actual: str


@dataclass
class ReplayResult:
    file: str
    compared: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    skipped: list[SkippedExchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_report(result: ReplayResult, *, show_skipped: bool = True) -> str:
    lines = [
        f"{result.file}: {len(result.mismatches)} mismatching of {result.compared} compared exchanges"
        f" ({len(result.skipped)} replayed without comparison)"
    ]
    for m in result.mismatches:
        lines.append("")
        lines.append(m.format())
    if show_skipped and result.skipped:
        lines.append("")
        lines.append("Replayed without comparison:")
        for s in result.skipped:
            lines.append(f"  seq {s.seq} {s.request} [{s.rule}] -> {s.actual}")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _describe_expected(response: dict[str, Any]) -> str:
    head = f"{response['status']} {json.dumps(response.get('headers', {}))}"
    fmt = response.get("body_format")
    if fmt in ("json", "metrics"):
        return f"{head}\n{json.dumps(response.get('body'), ensure_ascii=False)}"
    if fmt == "text":
        return f"{head}\n{response.get('body')!r}"
    return f"{head} [{fmt} body]"


def _describe_actual(status: int, headers: dict[str, str], body: Any, raw: ActualResponse) -> str:
    head = f"{status} {json.dumps(headers)}"
    if raw.polls > 1:
        head += f" (after {raw.polls} polls)"
    if body is None:
        return head + (f" [{len(raw.body)} body bytes]" if raw.body else " [empty body]")
    if isinstance(body, str):
        return f"{head}\n{body!r}"
    return f"{head}\n{json.dumps(body, ensure_ascii=False)}"


# --- Server under test ----------------------------------------------------------------------


class ServerUnderTest(Protocol):
    """What the replayer needs from a running server."""

    @property
    def base_url(self) -> str: ...

    async def restart(self) -> None:
        """Kill with SIGKILL (an operation may be in flight) and start again on the same DB."""

    async def send_signal(self, signum: int) -> None: ...


ServerFactory = Callable[[GoldenFile], AbstractAsyncContextManager[ServerUnderTest]]


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def heketipy_config(golden: GoldenFile, port: int, db_path: Path) -> dict[str, Any]:
    """The recorded configuration, pointed at a free port and a fresh DB, plus heketipy's knobs."""
    config = copy.deepcopy(golden.server.get("config", {}))
    config["port"] = str(port)
    config.setdefault("glusterfs", {})["db"] = str(db_path)
    extra = config.setdefault("heketipy", {})
    extra["listen"] = "127.0.0.1"
    if "latency_injection" in golden.server:
        extra["mock_latency_ms"] = MOCK_LATENCY_MS
    if golden.name in WAIT_QUEUE_ZERO_FILES:
        extra["wait_queue_size"] = 0
    return config


class HeketipyProcess:
    """heketipy started as a subprocess with a golden file's configuration."""

    def __init__(self, golden: GoldenFile, workdir: Path, server_cmd: Sequence[str] | None = None):
        self.golden = golden
        self.workdir = workdir
        self.server_cmd = list(server_cmd) if server_cmd else [sys.executable, "-m", "heketipy"]
        self.db_path = workdir / "heketi.db"
        self.config_path = workdir / "heketi.json"
        self.log_path = workdir / "server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            *self.server_cmd,
            "--config",
            str(self.config_path),
            *self.golden.server.get("args", []),
        ]

    async def start(self) -> None:
        self.port = free_port()
        self.config_path.write_text(
            json.dumps(heketipy_config(self.golden, self.port, self.db_path), indent=2)
        )
        env = {**os.environ, **self.golden.server.get("env", {})}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                env=env,
                cwd=self.workdir,  # heketipy's data_dir ("var") lands in the temporary dir
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise ServerStartError(
                        f"server exited with {self.process.returncode}: {' '.join(self.command())}\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    async with session.get(self.base_url + "/hello") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise ServerStartError(
            f"server not ready after {SERVER_READY_TIMEOUT_S}s\n{self.log_tail()}"
        )

    async def restart(self) -> None:
        await self.stop(hard=True)
        await self.start()

    async def send_signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            # Let the server's loop handle the signal before the next request arrives.
            await asyncio.sleep(SIGNAL_SETTLE_S)

    async def stop(self, *, hard: bool = False) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        if hard:
            proc.kill()
        else:
            proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def heketipy_server(
    server_cmd: Sequence[str] | None = None, workdir: Path | None = None
) -> ServerFactory:
    """A factory starting heketipy for one golden file; always kills the process afterwards."""

    @contextlib.asynccontextmanager
    async def factory(golden: GoldenFile) -> AsyncIterator[ServerUnderTest]:
        with tempfile.TemporaryDirectory(prefix=f"golden-{golden.path.stem}-", dir=workdir) as tmp:
            server = HeketipyProcess(golden, Path(tmp), server_cmd)
            try:
                await server.start()
                yield server
            finally:
                await server.stop(hard=True)

    return factory


# --- Replay ---------------------------------------------------------------------------------


def _caveat_rule(exchange: dict[str, Any]) -> str | None:
    caveat = exchange.get("caveat", "")
    if caveat.startswith("upstream-mock"):
        return RULE_UPSTREAM_MOCK
    if caveat.startswith("upstream-defect"):
        return RULE_UPSTREAM_DEFECT
    return None


def _shows_stale(response: dict[str, Any]) -> bool:
    body = response.get("body")
    text = json.dumps(body) if body is not None else ""
    return '"status": "stale"' in text or bool(re.search(r'"stale": [1-9]', text))


def stale_recovery_window(entries: list[dict[str, Any]]) -> set[int]:
    """RULE_STALE_RECOVERY: the seqs compared leniently after a crash.

    Upstream leaves an operation interrupted by a SIGKILL "stale" until someone cleans it up;
    heketipy rolls it back or forward at start-up. So after a `restart-server` action that is
    followed by recorded stale operations, the window runs up to (not including) the first
    recorded `GET /operations` that shows `"stale": 0` again (or the end of the file). Inside the
    window every exchange is replayed but not compared, except recorded 4xx answers (validation
    errors, the lost /queue entry), which do not depend on how the operation was resolved and
    stay exact. Ids introduced inside the window are then covered by RULE_SKIPPED_FOLLOW_UP.
    """
    window: set[int] = set()
    for i, entry in enumerate(entries):
        if entry.get("action") != "restart-server":
            continue
        after = [e for e in entries[i + 1 :] if "action" not in e]
        if not any(_shows_stale(e["response"]) for e in after):
            continue
        for e in after:
            resp = e["response"]
            if (
                e["request"]["method"] == "GET"
                and e["request"]["path"] == "/operations"
                and isinstance(resp.get("body"), dict)
                and resp["body"].get("stale") == 0
            ):
                break
            if not 400 <= resp["status"] < 500:
                window.add(e["seq"])
    return window


class Replayer:
    """Replays one golden file against one running server."""

    def __init__(
        self,
        golden: GoldenFile,
        server: ServerUnderTest,
        session: aiohttp.ClientSession,
        *,
        poll_interval: float = QUEUE_POLL_INTERVAL_S,
        poll_timeout: float = QUEUE_POLL_TIMEOUT_S,
    ):
        self.golden = golden
        self.server = server
        self.session = session
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.binding = IdBinding()
        self.secrets = golden.secrets()
        self.client_chosen = golden.client_chosen_numbers
        self.recorded_max = 0
        self.introduced_by_skipped: set[int] = set()
        self.stale_window = stale_recovery_window(golden.entries)
        self.volume_hosts: dict[str, list[str]] = {}
        self.result = ReplayResult(golden.name)

    async def run(self) -> ReplayResult:
        for entry in self.golden.entries:
            if "action" in entry:
                await self._action(entry)
            else:
                await self._exchange(entry)
        return self.result

    async def _action(self, entry: dict[str, Any]) -> None:
        if entry["action"] == "restart-server":
            await self.server.restart()
        elif entry["action"] == "signal":
            await self.server.send_signal(int(getattr(signal, entry["signal"])))
        else:
            raise ValueError(f"unknown action {entry['action']!r}")

    def _skip_rule(self, exchange: dict[str, Any]) -> str | None:
        rule = _caveat_rule(exchange)
        if rule:
            return rule
        if exchange["seq"] in self.stale_window:
            return RULE_STALE_RECOVERY
        if exchange["seq"] in UNTAGGED_UPSTREAM_MOCK_AFTERMATH.get(self.golden.name, ()):
            return RULE_UPSTREAM_MOCK_AFTERMATH
        named = placeholder_numbers(exchange["request"])
        if any(n in self.introduced_by_skipped and self.binding.real_of(n) is None for n in named):
            return RULE_SKIPPED_FOLLOW_UP
        return None

    async def _exchange(self, exchange: dict[str, Any]) -> None:
        seq = exchange["seq"]
        request = exchange["request"]
        expected = exchange["response"]
        numbers = placeholder_numbers(request) | placeholder_numbers(expected)
        introduced = {n for n in numbers if n > self.recorded_max}
        skip_rule = self._skip_rule(exchange)
        self.binding.next_number = self.recorded_max + 1
        unbound_named: list[int] = []

        def on_unbound(number: int) -> str:
            # Client-chosen ids get a fresh value; an id the server under test never produced
            # gets one too, so the request still goes out (its answer will show the damage).
            if number not in self.client_chosen:
                unbound_named.append(number)
            real = fresh_id()
            self.binding.bind(number, real)
            return real

        path = substitute_text(request["path"], self.binding, on_unbound)
        body: bytes | None = None
        if "body" in request:
            body = json.dumps(substitute_json(request["body"], self.binding, on_unbound)).encode()
        elif "body_text" in request:
            body = substitute_text(request["body_text"], self.binding, on_unbound).encode()
        auth = request.get("auth")
        if isinstance(auth, dict) and isinstance(auth.get("qsh"), dict):
            auth = {**auth, "qsh": substitute_json(auth["qsh"], self.binding, on_unbound)}
        label = f"{request['method']} {path}"
        actual = await self._send(request["method"], path, body, auth, expected)
        self.recorded_max = max([self.recorded_max, *numbers])

        if skip_rule:
            self._unify_leniently(expected, actual)
            status, headers, shown = self._mask(
                expected, exchange, actual, Masker(self.binding, assign=False)
            )
            self.result.skipped.append(
                SkippedExchange(
                    seq,
                    label,
                    skip_rule,
                    _describe_actual(status, headers, shown, actual).replace("\n", " "),
                )
            )
            self.introduced_by_skipped |= introduced
            return

        masker = Masker(self.binding, Nondeterminism.of(exchange)("order"))
        problems, actual_text = self._compare(exchange, actual, masker)
        self.result.compared += 1
        # Numbers the server under test used beyond what the recording introduced would collide
        # with later recorded numbers: release them (the mismatch is already reported).
        for number in masker.newly_assigned:
            if number > self.recorded_max:
                self.binding.unbind(number)
        if problems:
            note = ""
            if unbound_named:
                note = (
                    "request names "
                    + ", ".join(f"<ID:{n}>" for n in unbound_named)
                    + " never produced by the server"
                )
            self.result.mismatches.append(
                Mismatch(
                    self.golden.name,
                    seq,
                    label,
                    problems,
                    _describe_expected(expected),
                    actual_text,
                    note,
                )
            )

    async def _send(
        self, method: str, path: str, body: bytes | None, auth: Any, expected: dict[str, Any]
    ) -> ActualResponse:
        is_queue_poll = method == "GET" and path.startswith("/queue/")
        recorded_pending = expected["status"] == 200 and "X-Pending" in expected.get("headers", {})
        deadline = time.monotonic() + self.poll_timeout
        polls = 0
        while True:
            polls += 1
            response = await self._request(method, path, body, auth)
            response.polls = polls
            still_pending = "X-Pending" in response.headers
            if (
                not (is_queue_poll and not recorded_pending and still_pending)
                or time.monotonic() > deadline
            ):
                return response
            await asyncio.sleep(self.poll_interval)

    async def _request(
        self, method: str, path: str, body: bytes | None, auth: Any
    ) -> ActualResponse:
        headers: dict[str, str] = {}
        authorization = build_authorization(auth, method, path, self.secrets)
        if authorization is not None:
            headers["Authorization"] = authorization
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = URL(self.server.base_url.rstrip("/") + path, encoded=True)
        async with self.session.request(
            method, url, data=body, headers=headers, allow_redirects=False
        ) as resp:
            raw = await resp.read()
            listed = {h: resp.headers[h] for h in COMPARED_HEADERS if h in resp.headers}
            return ActualResponse(resp.status, listed, raw)

    def _mask(
        self,
        expected: dict[str, Any],
        exchange: dict[str, Any],
        actual: ActualResponse,
        masker: Masker,
    ) -> tuple[int, dict[str, str], Any]:
        """Masked status, headers and body (parsed per the recorded body_format)."""
        headers = {h: masker.text(v) for h, v in actual.headers.items()}
        fmt = expected.get("body_format")
        nd = Nondeterminism.of(exchange)
        body: Any = None
        if fmt == "json":
            try:
                body = masker.json(json.loads(actual.text))
            except ValueError:
                body = masker.text(actual.text)
        elif fmt == "metrics":
            body = masker.json(reduce_metrics(actual.text))
        elif fmt == "text":
            text = apply_no_space_rule(expected.get("body", ""), actual.text)
            body = (
                masker.line_ordered_text(text)
                if "response.body" in nd("line-order")
                else masker.text(text)
            )
        elif fmt == "empty" and actual.body:
            body = masker.text(actual.text)
        return actual.status, headers, body

    def _compare(
        self, exchange: dict[str, Any], actual: ActualResponse, masker: Masker
    ) -> tuple[list[str], str]:
        self._current_path = exchange["request"]["path"].split("?")[0]
        expected = exchange["response"]
        nd = Nondeterminism.of(exchange)
        status, headers, body = self._mask(expected, exchange, actual, masker)
        problems: list[str] = []
        if status != expected["status"]:
            problems.append(f"status {status}, expected {expected['status']}")
        exp_headers = expected.get("headers", {})
        for name in COMPARED_HEADERS:
            exp_value, act_value = exp_headers.get(name), headers.get(name)
            if (
                name == "Retry-After"
                and exp_value is None
                and status == 429
                and expected["status"] == 429
            ):
                continue  # RULE_RETRY_AFTER_ON_429
            if exp_value != act_value:
                problems.append(f"header {name}: {act_value!r}, expected {exp_value!r}")
        fmt = expected.get("body_format")
        if fmt == "empty":
            if actual.body:
                problems.append(f"expected an empty body, got {len(actual.body)} bytes")
        elif fmt == "text":
            exp_text = expected.get("body", "")
            if "response.body" in nd("line-order"):
                exp_text = _sort_cluster_lines(exp_text)
            if body != exp_text:
                problems.append("text body differs:\n" + _text_diff(exp_text, body))
        elif fmt == "json":
            problems += self._compare_json(expected, nd, actual, body)
        elif fmt == "metrics":
            exp_body = normalize_expected(
                _normalize_recorded_metrics(expected["body"]), nd("order")
            )
            problems += JsonComparison(nd).compare(exp_body, body)
        return problems, _describe_actual(status, headers, body, actual)

    def _compare_json(
        self, expected: dict[str, Any], nd: Nondeterminism, actual: ActualResponse, body: Any
    ) -> list[str]:
        try:
            parsed = json.loads(actual.text)
        except ValueError:
            return [f"body is not JSON: {actual.text[:300]!r}"]
        problems: list[str] = []
        layout = expected.get("json_layout")
        if actual.text != go_json(parsed, layout):
            problems.append(
                f"JSON layout differs from Go's {'4-space indented' if layout else 'compact HTML-escaped'} "
                f"encoding plus newline: got {actual.text[:200]!r}"
            )
        self._remember_volume_hosts(body)
        pool = None
        if isinstance(body, dict) and isinstance(body.get("blockhostingvolume"), str):
            pool = self.volume_hosts.get(body["blockhostingvolume"])
        exp_body = normalize_expected(expected["body"], nd("order"))
        if self._current_path == EXAMINE_PATH:
            exp_body, body = _without_node_data(exp_body), _without_node_data(body)
        problems += JsonComparison(nd, block_hosting_hosts=pool).compare(exp_body, body)
        return problems

    def _remember_volume_hosts(self, body: Any) -> None:
        # For random-subset checks: which hosts each (masked) volume reported.
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            hosts = (
                body.get("mount", {}).get("glusterfs", {}).get("hosts")
                if isinstance(body.get("mount"), dict)
                else None
            )
            if isinstance(hosts, list):
                self.volume_hosts[body["id"]] = hosts

    def _unify_leniently(self, expected: dict[str, Any], actual: ActualResponse) -> None:
        """Bind ids a skipped exchange introduces where the actual answer has the same shape."""
        for name, value in expected.get("headers", {}).items():
            if name in actual.headers:
                unify(value, actual.headers[name], self.binding)
        fmt = expected.get("body_format")
        if fmt == "json":
            with contextlib.suppress(ValueError):
                unify(expected.get("body"), json.loads(actual.text), self.binding)
        elif fmt == "text":
            unify(expected.get("body", ""), actual.text, self.binding)


def unify(expected: Any, actual: Any, binding: IdBinding) -> None:
    """Bind unbound `<ID:n>` of `expected` to unbound ids found at the same place in `actual`."""
    if isinstance(expected, str) and isinstance(actual, str):
        parts = PLACEHOLDER_RE.split(expected)
        # split() yields text, number, upper-flag, text, ...
        pattern = ""
        numbers: list[int] = []
        for i in range(0, len(parts), 3):
            pattern += re.escape(parts[i])
            if i + 1 < len(parts):
                pattern += "([0-9a-fA-F]{32})"
                numbers.append(int(parts[i + 1]))
        m = re.fullmatch(pattern, actual)
        if not m:
            return
        for number, real in zip(numbers, m.groups(), strict=True):
            if binding.real_of(number) is None and binding.number_of(real) is None:
                binding.bind(number, real)
    elif isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if key in actual:
                unify(value, actual[key], binding)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for e, a in zip(expected, actual, strict=True):
            unify(e, a, binding)


def _without_node_data(body: Any) -> Any:
    """RULE_EXAMINE_NODE_DATA: keep the dump, the first report line and the ids only."""
    if not isinstance(body, dict):
        return body
    trimmed = dict(body)
    if isinstance(trimmed.get("report"), list):
        trimmed["report"] = [
            line for line in trimmed["report"] if line.startswith("OnDemand Examiner")
        ]
    if isinstance(trimmed.get("clusters"), list):
        trimmed["clusters"] = [
            {
                "ClusterHeketiID": cluster.get("ClusterHeketiID"),
                "NodesData": [
                    {"NodeHeketiID": node.get("NodeHeketiID")}
                    for node in cluster.get("NodesData") or []
                    if isinstance(node, dict)
                ],
            }
            for cluster in trimmed["clusters"]
            if isinstance(cluster, dict)
        ]
    return trimmed


def _sort_cluster_lines(text: str) -> str:
    lines = text.split("\n")
    slots = [i for i, line in enumerate(lines) if line.startswith("Cluster ")]
    for slot, line in zip(slots, sorted(lines[i] for i in slots), strict=True):
        lines[slot] = line
    return "\n".join(lines)


def _text_diff(expected: str, actual: Any) -> str:
    if not isinstance(actual, str):
        return f"        got {_short(actual)}"
    diff = difflib.ndiff(expected.splitlines(keepends=True), actual.splitlines(keepends=True))
    return "".join(f"        {line!r}\n" for line in diff).rstrip("\n")


# --- Entry points ---------------------------------------------------------------------------


async def replay_golden(
    golden: GoldenFile, server: ServerUnderTest, **options: float
) -> ReplayResult:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # No cookie jar, no redirects: every recorded exchange is exactly one request.
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        return await Replayer(golden, server, session, **options).run()


async def replay_file_async(
    path: str | os.PathLike[str], base_url_factory: ServerFactory | None = None, **options: float
) -> ReplayResult:
    golden = GoldenFile.load(path)
    factory = base_url_factory or heketipy_server()
    async with factory(golden) as server:
        return await replay_golden(golden, server, **options)


def replay_file(
    path: str | os.PathLike[str], base_url_factory: ServerFactory | None = None, **options: float
) -> list[Mismatch]:
    """Replay one golden HTTP file against a server from `base_url_factory` (default: heketipy)."""
    return asyncio.run(replay_file_async(path, base_url_factory, **options)).mismatches


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.golden.replay",
        description="Replay golden Heketi exchanges against heketipy and print every mismatch.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        help="golden HTTP files (a bare name is looked up in tests/data/golden/http)",
    )
    parser.add_argument(
        "--server-cmd",
        default=None,
        help='command starting the server, before "--config <file>" (default: "<python> -m heketipy")',
    )
    parser.add_argument(
        "--quiet-skipped",
        action="store_true",
        help="do not list exchanges replayed without comparison",
    )
    args = parser.parse_args(argv)
    server_cmd = shlex.split(args.server_cmd) if args.server_cmd else None
    failed = False
    for name in args.files:
        path = Path(name)
        if not path.exists():
            path = HTTP_DIR / (name if name.endswith(".json") else name + ".json")
        try:
            result = asyncio.run(replay_file_async(path, heketipy_server(server_cmd)))
        except ServerStartError as exc:
            print(f"{path.name}: server did not start:\n{exc}")
            failed = True
            continue
        print(format_report(result, show_skipped=not args.quiet_skipped))
        print()
        failed = failed or bool(result.mismatches)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
