"""Unit tests of the golden replay engine (masking, numbering, comparison rules, tokens, polling).

The end-to-end checks replay golden files against `PerfectServer`, a tiny in-process aiohttp
server that answers every request with the recorded answer rebuilt with real fresh ids, and
with upstream's nondeterminism made visible (shuffled `order` lists and id-keyed dictionaries,
another mount host, shuffled `Cluster` lines, real durations and timestamps, extra
`X-Pending` polls). A correct engine finds zero mismatches there, and finds every tampered one.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import random
import re
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web

from tests.golden.replay import (
    COMPARED_HEADERS,
    HTTP_DIR,
    MOCK_LATENCY_MS,
    PLACEHOLDER_RE,
    GoldenFile,
    IdBinding,
    JsonComparison,
    Masker,
    Nondeterminism,
    ServerUnderTest,
    apply_no_space_rule,
    build_authorization,
    build_token,
    child_path,
    format_report,
    go_json,
    heketipy_config,
    is_id_keyed,
    reduce_metrics,
    replay_file,
    replay_file_async,
    stale_recovery_window,
    unify,
)

SECRETS = {"admin": "adminkey", "user": "userkey"}
NOW = 1_700_000_000.0


def hexid(n: int) -> str:
    return f"{n:032x}"


# --- A "perfect server" built from a recording --------------------------------------------

RECORDED_HEADERS = web.ResponseKey("recorded_headers", set)


def _quiet_decode(token: str, key: str, **options: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the recorded secrets are short on purpose
        return jwt.decode(token, key, **options)


Tamper = Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


class PerfectServer:
    """Answers request i with recorded answer i, rebuilt with real ids and upstream's randomness."""

    def __init__(
        self,
        golden: GoldenFile,
        *,
        seed: int = 7,
        pending_polls: int = 2,
        explain_no_space: bool = True,
        retry_after_on_429: bool = False,
        tamper: dict[int, Tamper] | None = None,
        trust_request_ids: frozenset[int] = frozenset(),
    ):
        self.golden = golden
        self.rng = random.Random(seed)
        self.pending_polls = pending_polls
        self.explain_no_space = explain_no_space
        self.retry_after_on_429 = retry_after_on_429
        self.tamper = tamper or {}
        # Seqs whose request ids override the recording's (a server that never handed those
        # ids out would just look them up).
        self.trust_request_ids = trust_request_ids
        self.ids: dict[int, str] = {}
        self.cursor = 0
        self.pending_left: dict[int, int] = {}
        self.problems: list[str] = []
        self.actions: list[str] = []
        self.base_url = ""

    # ServerUnderTest
    async def restart(self) -> None:
        self._expect_action("restart-server")

    async def send_signal(self, signum: int) -> None:
        self._expect_action("signal")

    def _expect_action(self, name: str) -> None:
        entry = self.golden.entries[self.cursor] if self.cursor < len(self.golden.entries) else {}
        if entry.get("action") != name:
            self.problems.append(f"action {name} arrived at entry {self.cursor}: {entry}")
        else:
            self.cursor += 1
        self.actions.append(name)

    # id mapping
    def real(self, number: int) -> str:
        if number not in self.ids:
            self.ids[number] = f"{self.rng.getrandbits(128):032x}"
        return self.ids[number]

    def unmask(self, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            real = self.real(int(m.group(1)))
            return real.upper() if m.group(2) else real

        return PLACEHOLDER_RE.sub(repl, text)

    def unmask_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.unmask(value)
        if isinstance(value, list):
            return [self.unmask_json(v) for v in value]
        if isinstance(value, dict):
            return {self.unmask(k): self.unmask_json(v) for k, v in value.items()}
        return value

    def learn(self, expected: Any, actual: Any) -> None:
        shadow = IdBinding()
        for number, real in self.ids.items():
            shadow.bind(number, real)
        unify(expected, actual, shadow)
        for number, real in shadow.by_number.items():
            self.ids.setdefault(number, real)

    def relearn(self, recorded: dict[str, Any], path: str, body: bytes) -> None:
        shadow = IdBinding()
        unify(recorded["path"], path, shadow)
        if "body" in recorded:
            unify(recorded["body"], json.loads(body), shadow)
        self.ids.update(shadow.by_number)

    # request handling
    async def handle(self, request: web.Request) -> web.StreamResponse:
        while (
            self.cursor < len(self.golden.entries) and "action" in self.golden.entries[self.cursor]
        ):
            self.problems.append(
                f"request arrived while action {self.golden.entries[self.cursor]} was due"
            )
            self.cursor += 1
        if self.cursor >= len(self.golden.entries):
            self.problems.append(f"unexpected extra request {request.method} {request.path_qs}")
            return web.Response(status=599, text="no more recorded exchanges")
        exchange = self.golden.entries[self.cursor]
        body = await request.read()
        problem = self.check_request(exchange, request, body)
        if problem:
            self.problems.append(f"seq {exchange['seq']}: {problem}")
            self.cursor += 1
            return web.Response(status=599, text=problem)
        recorded = exchange["response"]
        is_pending = recorded["status"] == 200 and "X-Pending" in recorded["headers"]
        if request.method == "GET" and request.path.startswith("/queue/") and not is_pending:
            left = self.pending_left.setdefault(exchange["seq"], self.pending_polls)
            if left > 0:
                self.pending_left[exchange["seq"]] = left - 1
                return self.respond(200, {"X-Pending": "true"}, b"")
        self.cursor += 1
        status, headers, payload = self.build_answer(exchange)
        if exchange["seq"] in self.tamper:
            status, headers, payload = self.tamper[exchange["seq"]](status, headers, payload)
        return self.respond(status, headers, payload)

    def respond(self, status: int, headers: dict[str, str], payload: bytes) -> web.Response:
        response = web.Response(status=status, body=payload, headers=headers)
        response[RECORDED_HEADERS] = set(headers)
        return response

    def check_request(
        self, exchange: dict[str, Any], request: web.Request, body: bytes
    ) -> str | None:
        recorded = exchange["request"]
        if request.method != recorded["method"]:
            return f"method {request.method}, recorded {recorded['method']}"
        self.learn(recorded["path"], request.raw_path)
        if exchange["seq"] in self.trust_request_ids:
            self.relearn(recorded, request.raw_path, body)
        if self.unmask(recorded["path"]) != request.raw_path:
            return f"path {request.raw_path}, recorded {recorded['path']}"
        if "body" in recorded:
            try:
                sent = json.loads(body)
            except ValueError:
                return f"body is not JSON: {body!r}"
            self.learn(recorded["body"], sent)
            if sent != self.unmask_json(recorded["body"]):
                return f"body {sent}, recorded {recorded['body']}"
            if request.headers.get("Content-Type") != "application/json":
                return "JSON body without Content-Type application/json"
        elif "body_text" in recorded:
            if body.decode() != self.unmask(recorded["body_text"]):
                return f"body {body!r}, recorded {recorded['body_text']!r}"
        elif body:
            return f"unexpected body {body!r}"
        return self.check_auth(recorded.get("auth"), request)

    def check_auth(self, auth: Any, request: web.Request) -> str | None:
        header = request.headers.get("Authorization")
        if auth == "none":
            return None if header is None else f"unexpected Authorization {header!r}"
        if isinstance(auth, dict) and "raw" in auth:
            # HTTP parsers drop trailing whitespace from header values (Go's as well).
            return (
                None
                if header == auth["raw"].strip()
                else f"Authorization {header!r}, recorded raw {auth['raw']!r}"
            )
        if auth in (None, "user"):
            if not header or not header.startswith("Bearer "):
                return f"missing bearer token: {header!r}"
            claims = _quiet_decode(
                header[7:], SECRETS["user" if auth else "admin"], algorithms=["HS256"]
            )
            want_qsh = hashlib.sha256(f"{request.method}&{request.path}".encode()).hexdigest()
            if claims["iss"] != (auth or "admin") or claims["qsh"] != want_qsh:
                return f"bad claims {claims}"
            return None
        scheme = auth.get("scheme", "Bearer")
        if not header or not header.startswith(scheme + " "):
            return f"Authorization {header!r} does not use scheme {scheme!r}"
        return None

    def build_answer(self, exchange: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        recorded = exchange["response"]
        nd = Nondeterminism.of(exchange)
        headers = {k: self.unmask(v) for k, v in recorded["headers"].items()}
        if recorded["status"] == 429 and self.retry_after_on_429:
            headers["Retry-After"] = "1"
        fmt = recorded["body_format"]
        if fmt == "json":
            value = self.scramble(copy.deepcopy(recorded["body"]), nd, "response.body")
            value = self.unmask_json(value)
            value = _replace_value(value, "<TIMESTAMP>", "2024-05-01T10:00:00.123456789Z")
            return recorded["status"], headers, go_json(value, recorded.get("json_layout")).encode()
        if fmt == "text":
            text = self.unmask(recorded["body"]).replace("<DURATION>", "1m40.123456s")
            lines = text.split("\n")
            if self.explain_no_space:
                lines = [
                    line + ": 2 devices lack 2 GiB" if line.endswith("No space") else line
                    for line in lines
                ]
            if "response.body" in nd("line-order"):
                slots = [i for i, line in enumerate(lines) if line.startswith("Cluster ")]
                shuffled = [lines[i] for i in slots]
                self.rng.shuffle(shuffled)
                for slot, line in zip(slots, shuffled, strict=True):
                    lines[slot] = line
            return recorded["status"], headers, "\n".join(lines).encode()
        if fmt == "metrics":
            return recorded["status"], headers, self.metrics_text(exchange).encode()
        if fmt == "omitted":
            return recorded["status"], headers, b"SQLite format 3\x00..."
        return recorded["status"], headers, b""

    def scramble(self, value: Any, nd: Nondeterminism, path: str) -> Any:
        if isinstance(value, dict):
            if f"{path}.device" in nd("mount-host"):
                hosts = value["hosts"]
                host = self.rng.choice(hosts)
                others = [h for h in hosts if h != host]
                self.rng.shuffle(others)
                value["device"] = f"{host}:{value['device'].partition(':')[2]}"
                value["options"]["backup-volfile-servers"] = ",".join(others)
            items = [(k, self.scramble(v, nd, child_path(path, k))) for k, v in value.items()]
            if is_id_keyed(value):
                self.rng.shuffle(items)
            return dict(items)
        if isinstance(value, list):
            items = [self.scramble(v, nd, path + "[*]") for v in value]
            if path in nd("order"):
                self.rng.shuffle(items)
            return items
        return value

    def metrics_text(self, exchange: dict[str, Any]) -> str:
        body = self.unmask_json(exchange["response"]["body"])
        out = []
        for fam in body["heketi_families"]:
            out.append(f"# HELP {fam['name']} {fam['help']}")
            out.append(f"# TYPE {fam['name']} {fam['type']}")
            samples = list(fam["samples"])
            self.rng.shuffle(samples)
            for sample in samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sample["labels"].items())
                out.append(f"{fam['name']}{{{labels}}} 1" if labels else f"{fam['name']} 1")
        for name in body["other_family_names"]:
            out += [f"# HELP {name} runtime", f"# TYPE {name} gauge", f"{name} 3.5"]
        return "\n".join(out) + "\n"


def _replace_value(value: Any, old: str, new: str) -> Any:
    if value == old:
        return new
    if isinstance(value, list):
        return [_replace_value(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_value(v, old, new) for k, v in value.items()}
    return value


async def _drop_unrecorded_headers(request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp adds a default Content-Type; the recording says exactly which listed headers exist.
    recorded = response.get(RECORDED_HEADERS) if isinstance(response, web.Response) else None
    if recorded is None:
        return
    for name in COMPARED_HEADERS:
        if name not in recorded and name in response.headers:
            del response.headers[name]


def perfect_factory(holder: list[PerfectServer], **options: Any):
    @contextlib.asynccontextmanager
    async def factory(golden: GoldenFile) -> AsyncIterator[ServerUnderTest]:
        server = PerfectServer(golden, **options)
        holder.append(server)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", server.handle)
        app.on_response_prepare.append(_drop_unrecorded_headers)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        server.base_url = f"http://127.0.0.1:{port}"
        try:
            yield server
        finally:
            await runner.cleanup()

    return factory


FAST = {"poll_interval": 0.001}


def replay_perfectly(name: str, **options: Any) -> tuple[Any, PerfectServer]:
    holder: list[PerfectServer] = []
    import asyncio

    result = asyncio.run(
        replay_file_async(HTTP_DIR / name, perfect_factory(holder, **options), **FAST)
    )
    return result, holder[0]


# --- Whole files against the perfect server -------------------------------------------------

ALL_FILES = sorted(p.name for p in HTTP_DIR.glob("*.json"))


@pytest.mark.parametrize(
    "name", ["errors.json", "clusters.json", "volumes-replicate.json", "auth.json"]
)
def test_perfect_server_yields_no_mismatch(name: str) -> None:
    holder: list[PerfectServer] = []
    mismatches = replay_file(HTTP_DIR / name, perfect_factory(holder), **FAST)
    assert holder[0].problems == []
    assert mismatches == [], "\n".join(m.format() for m in mismatches)


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_file_replays_cleanly_against_the_perfect_server(name: str) -> None:
    result, server = replay_perfectly(name)
    assert server.problems == []
    assert result.mismatches == [], format_report(result)
    assert server.cursor == len(server.golden.entries)


def test_queue_is_polled_until_done_and_recorded_pending_steps_are_sent_once() -> None:
    result, server = replay_perfectly("queue.json", pending_polls=3)
    assert result.mismatches == [], format_report(result)
    polled = [seq for seq, left in server.pending_left.items() if left == 0]
    assert len(polled) >= 5  # every non-pending /queue step saw 3 X-Pending answers first
    assert 9 not in server.pending_left  # "still running" step: sent once, answered pending


def test_actions_reach_the_server_in_order() -> None:
    _, stale = replay_perfectly("stale-ops.json")
    _, admin = replay_perfectly("admin.json")
    assert stale.actions == ["restart-server"]
    assert admin.actions == ["signal"]


def test_no_space_explanations_are_tolerated_and_required_otherwise() -> None:
    result, _ = replay_perfectly("volumes-replicate.json", explain_no_space=True)
    assert result.mismatches == []
    broken = {61: lambda s, h, b: (s, h, b.replace(b"No space", b"No room"))}
    result, _ = replay_perfectly("volumes-replicate.json", tamper=broken)
    assert [m.seq for m in result.mismatches] == [61]


def test_retry_after_on_429_is_a_documented_deviation() -> None:
    result, _ = replay_perfectly("throttle.json", retry_after_on_429=True)
    assert result.mismatches == [], format_report(result)


def test_caveat_exchanges_are_replayed_but_not_compared() -> None:
    everything_differs = {seq: (lambda s, h, b: (204, {}, b"")) for seq in (31, 32, 33, 34, 38, 39)}
    result, _ = replay_perfectly("bricks.json", tamper=everything_differs)
    assert result.mismatches == []
    assert {(s.seq, s.rule) for s in result.skipped} == {
        (35, "upstream-mock-aftermath"),
        (40, "upstream-mock-aftermath"),
        (31, "caveat-upstream-mock"),
        (32, "caveat-upstream-mock"),
        (33, "caveat-upstream-mock"),
        (34, "caveat-upstream-mock"),
        (38, "caveat-upstream-mock"),
        (39, "caveat-upstream-mock"),
    }


def test_stricter_answer_to_an_upstream_defect_skips_its_follow_ups() -> None:
    text_plain = {"Content-Type": "text/plain; charset=utf-8"}
    refuse = {
        24: lambda s, h, b: (
            400, text_plain, b"validation failed: name: the length must be no more than 255.\n"
        ),
        35: lambda s, h, b: (400, text_plain, b"Invalid replica value\n"),
    }
    result, _ = replay_perfectly("volumes-validation.json", tamper=refuse)
    # 25 and 36 poll queue ids heketipy never handed out; 26 and 37 read volumes it never
    # created.
    assert result.mismatches == [], format_report(result)
    assert {(s.seq, s.rule) for s in result.skipped} == {
        (24, "caveat-upstream-defect"),
        (25, "follow-up-of-skipped-exchange"),
        (26, "follow-up-of-skipped-exchange"),
        (35, "caveat-upstream-defect"),
        (36, "follow-up-of-skipped-exchange"),
        (37, "caveat-upstream-defect"),
    }


def test_stale_recovery_window_covers_the_stale_view_only() -> None:
    golden = GoldenFile.load(HTTP_DIR / "stale-ops.json")
    assert stale_recovery_window(golden.entries) == {11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 24, 25}
    clean = GoldenFile.load(HTTP_DIR / "clusters.json")
    assert stale_recovery_window(clean.entries) == set()


def test_recovered_operation_after_restart_is_compared_leniently() -> None:
    # heketipy rolled the interrupted create back: nothing pending, nothing stale.
    recovered = {
        11: lambda s, h, b: (s, h, b'{"total":0,"in_flight":0,"stale":0,"failed":0,"new":0}\n'),
        12: lambda s, h, b: (s, h, b'{"pendingoperations":[]}\n'),
        13: lambda s, h, b: (
            404,
            {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
            b"Id not found\n",
        ),
    }
    result, _ = replay_perfectly(
        "stale-ops.json", tamper=recovered, trust_request_ids=frozenset({13, 24, 28})
    )
    assert result.mismatches == [], format_report(result)


def test_every_mismatching_exchange_is_reported() -> None:
    def wrong_status(s, h, b):
        return 500, h, b

    def extra_key(s, h, b):
        body = json.loads(b)
        body["extra"] = 1
        return s, h, go_json(body).encode()

    def pretty(s, h, b):
        return s, h, json.dumps(json.loads(b), indent=2).encode()

    def header_gone(s, h, b):
        return s, {}, b

    tamper = {1: wrong_status, 6: extra_key, 7: pretty, 16: header_gone}
    result, _ = replay_perfectly("clusters.json", tamper=tamper)
    assert [m.seq for m in result.mismatches] == [1, 6, 7, 16]
    report = format_report(result)
    assert "seq 6] GET /clusters/" in report
    assert "unexpected keys ['extra']" in report
    assert "JSON layout differs" in report
    assert "status 500, expected 201" in report
    assert "header Content-Type: None, expected 'text/plain; charset=utf-8'" in report
    assert "expected: 201" in report and "actual:   500" in report


def test_binding_conflict_is_a_mismatch() -> None:
    golden = GoldenFile.load(HTTP_DIR / "clusters.json")
    holder: list[PerfectServer] = []

    def reuse_first_cluster(s, h, b):
        body = json.loads(b)
        body["id"] = holder[0].ids[1]  # cluster 2 answers with cluster 1's id
        return s, h, go_json(body).encode()

    import asyncio

    result = asyncio.run(
        replay_file_async(
            golden.path, perfect_factory(holder, tamper={2: reuse_first_cluster}), **FAST
        )
    )
    assert 2 in [m.seq for m in result.mismatches]
    assert any(
        "expected '<ID:2>', got '<ID:1>'" in p for m in result.mismatches for p in m.problems
    )


def test_wrong_mount_host_and_missing_brick_are_mismatches() -> None:
    def bad_mount(s, h, b):
        body = json.loads(b)
        body["mount"]["glusterfs"]["device"] = "10.9.9.9:" + body["name"]
        body["bricks"] = body["bricks"][:-1]
        return s, h, go_json(body).encode()

    result, _ = replay_perfectly("volumes-replicate.json", tamper={42: bad_mount})
    assert result.mismatches[0].seq == 42
    problems = "\n".join(result.mismatches[0].problems)
    assert "mount-host" in problems
    assert "response.body.bricks (compared as a multiset): missing" in problems


# --- Masking and numbering -----------------------------------------------------------------


def test_ids_are_numbered_in_order_of_first_appearance_inside_strings() -> None:
    binding = IdBinding()
    masker = Masker(binding)
    text = f"vol_{hexid(0xA5)} /queue/{hexid(0xB9)} brick_{hexid(0xA5)} {hexid(0xB9).upper()}"
    assert masker.text(text) == "vol_<ID:1> /queue/<ID:2> brick_<ID:1> <ID:2:UPPER>"
    assert masker.newly_assigned == [1, 2]


def test_hex_runs_longer_than_an_id_are_not_ids() -> None:
    masker = Masker(IdBinding())
    assert masker.text("a" * 33) == "a" * 33
    assert masker.text("x" + "b" * 32 + "y") == "x<ID:1>y"


def test_peek_masking_does_not_bind() -> None:
    binding = IdBinding()
    assert Masker(binding, assign=False).text(hexid(1)) == "<ID:?>"
    assert binding.by_number == {}


def test_durations_and_timestamps_are_masked() -> None:
    masker = Masker(IdBinding())
    assert masker.text("Invalid JWT token: Token is expired by 1m40.5s\n") == (
        "Invalid JWT token: Token is expired by <DURATION>\n"
    )
    assert masker.json({"Timestamp": 1714557600, "x": 1}) == {"Timestamp": "<TIMESTAMP>", "x": 1}


def test_order_list_numbers_new_ids_in_sorted_masked_order() -> None:
    binding = IdBinding()
    binding.bind(1, hexid(0xA))
    binding.bind(2, hexid(0xB))
    masker = Masker(binding, {"response.body.bricks"})
    bricks = [
        {"id": hexid(0xF1), "device": hexid(0xB)},  # sorts after the <ID:1> one
        {"id": hexid(0xF2), "device": hexid(0xA)},
    ]
    masked = masker.json({"bricks": bricks})
    assert binding.number_of(hexid(0xF2)) == 3
    assert binding.number_of(hexid(0xF1)) == 4
    assert masked["bricks"] == [
        {"id": "<ID:3>", "device": "<ID:1>"},
        {"id": "<ID:4>", "device": "<ID:2>"},
    ]


def test_id_keyed_dictionaries_number_inner_ids_in_sorted_entry_order() -> None:
    binding = IdBinding()
    binding.bind(8, hexid(0x8))
    binding.bind(11, hexid(0x11))
    masker = Masker(binding)
    dump = {
        "brickentries": {
            hexid(0x8): {"tp": "tp_" + hexid(0x99)},
            hexid(0x11): {"tp": "tp_" + hexid(0x98)},
        }
    }
    binding.next_number = 17
    masked = masker.json(dump)
    # "<ID:11>" sorts before "<ID:8>", so its thin pool is numbered first.
    assert masked == {
        "brickentries": {"<ID:11>": {"tp": "tp_<ID:17>"}, "<ID:8>": {"tp": "tp_<ID:18>"}}
    }


def test_line_order_sorts_cluster_lines_only() -> None:
    binding = IdBinding()
    binding.bind(1, hexid(1))
    binding.bind(14, hexid(14))
    text = f"Failed: Unable to create volume on any cluster:\nCluster {hexid(1)}: No space\nCluster {hexid(14)}: No space\n"
    assert Masker(binding).line_ordered_text(text) == (
        "Failed: Unable to create volume on any cluster:\nCluster <ID:14>: No space\nCluster <ID:1>: No space\n"
    )


def test_no_space_rule_cuts_explanations_per_line() -> None:
    expected = "Unable:\nCluster <ID:1>: No space\nCluster <ID:2>: No space\n"
    actual = "Unable:\nCluster x: No space: 3 devices full\nCluster y: No space\n"
    assert (
        apply_no_space_rule(expected, actual)
        == "Unable:\nCluster x: No space\nCluster y: No space\n"
    )
    assert apply_no_space_rule("Other error\n", "No space: why\n") == "No space: why\n"


def test_mount_host_accepts_any_host_with_the_others_as_backup() -> None:
    nd = Nondeterminism(
        {
            "mount-host": {
                "response.body.mount.glusterfs.device",
                "response.body.mount.glusterfs.options.backup-volfile-servers",
            }
        }
    )
    expected = {
        "mount": {
            "glusterfs": {
                "hosts": ["a", "b", "c"],
                "device": "c:v",
                "options": {"backup-volfile-servers": "b,a"},
            }
        }
    }
    good = {
        "mount": {
            "glusterfs": {
                "hosts": ["a", "b", "c"],
                "device": "a:v",
                "options": {"backup-volfile-servers": "c,b"},
            }
        }
    }
    assert JsonComparison(nd).compare(expected, good) == []
    for device, backup in (("a:v", "b"), ("z:v", "a,b,c"), ("a:w", "b,c")):
        bad = copy.deepcopy(good)
        bad["mount"]["glusterfs"]["device"] = device
        bad["mount"]["glusterfs"]["options"]["backup-volfile-servers"] = backup
        assert JsonComparison(nd).compare(expected, bad), (device, backup)


def test_random_subset_checks_count_and_membership() -> None:
    nd = Nondeterminism({"random-subset": {"response.body.blockvolume.hosts"}})
    expected = {"blockvolume": {"hosts": ["h2", "h3"]}}
    assert (
        JsonComparison(nd, block_hosting_hosts=["h1", "h2", "h3"]).compare(
            expected, {"blockvolume": {"hosts": ["h1", "h3"]}}
        )
        == []
    )
    assert JsonComparison(nd, block_hosting_hosts=["h1", "h2", "h3"]).compare(
        expected, {"blockvolume": {"hosts": ["h1"]}}
    )
    assert JsonComparison(nd, block_hosting_hosts=["h1", "h2"]).compare(
        expected, {"blockvolume": {"hosts": ["h1", "h9"]}}
    )


def test_key_order_and_types_are_compared() -> None:
    nd = Nondeterminism()
    assert JsonComparison(nd).compare({"a": 1, "b": 2}, {"b": 2, "a": 1}) == [
        "response.body: key order ['b', 'a'], expected ['a', 'b']"
    ]
    assert JsonComparison(nd).compare({"a": True}, {"a": 1})
    assert JsonComparison(nd).compare({"<ID:1>": 1, "<ID:2>": 2}, {"<ID:2>": 2, "<ID:1>": 1}) == []


def test_go_json_layouts() -> None:
    assert go_json({"a": "<b>&", "c": []}) == '{"a":"\\u003cb\\u003e\\u0026","c":[]}\n'
    assert (
        go_json({"a": {"b": 1}}, "indent4+newline") == '{\n    "a": {\n        "b": 1\n    }\n}\n'
    )


def test_metrics_are_reduced_to_families_and_label_sets() -> None:
    text = (
        "# HELP heketi_up Is heketi running?\n# TYPE heketi_up gauge\nheketi_up 1\n"
        "# HELP heketi_device_count Number of devices on host\n# TYPE heketi_device_count gauge\n"
        'heketi_device_count{hostname="n1",cluster="c"} 2\n'
        "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 7\n"
    )
    assert reduce_metrics(text) == {
        "heketi_families": [
            {
                "name": "heketi_device_count",
                "help": "Number of devices on host",
                "type": "gauge",
                "samples": [{"labels": {"cluster": "c", "hostname": "n1"}}],
            },
            {
                "name": "heketi_up",
                "help": "Is heketi running?",
                "type": "gauge",
                "samples": [{"labels": {}}],
            },
        ],
        "other_family_names": ["go_goroutines"],
    }


# --- Tokens ----------------------------------------------------------------------------------


def _decode(header: str, key: str, alg: str = "HS256") -> dict[str, Any]:
    token = header.split(" ", 1)[1]
    return _quiet_decode(
        token,
        key,
        algorithms=[alg],
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )


def _qsh(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_default_token_is_a_fresh_admin_token_with_a_valid_qsh() -> None:
    header = build_authorization(None, "GET", "/volumes?name=x", SECRETS, NOW)
    assert header is not None and header.startswith("Bearer ")
    claims = _decode(header, "adminkey")
    assert claims == {
        "iss": "admin",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "qsh": _qsh("GET&/volumes"),
    }


def test_user_none_and_raw_auth() -> None:
    assert (
        _decode(build_authorization("user", "GET", "/x", SECRETS, NOW), "userkey")["iss"] == "user"
    )
    assert build_authorization("none", "GET", "/x", SECRETS) is None
    assert build_authorization({"raw": ""}, "GET", "/x", SECRETS) == ""
    assert build_authorization({"raw": "Basic abc"}, "GET", "/x", SECRETS) == "Basic abc"


def test_recipe_keys_times_omissions_and_scheme() -> None:
    recipe = {"iss": "bob", "key": "admin", "iat": 600, "exp": 900, "nbf": -10, "scheme": "BEARER"}
    header = build_authorization(recipe, "POST", "/clusters", SECRETS, NOW)
    assert header.startswith("BEARER ")
    assert _decode(header, "adminkey") == {
        "iss": "bob",
        "iat": int(NOW) + 600,
        "exp": int(NOW) + 900,
        "nbf": int(NOW) - 10,
        "qsh": _qsh("POST&/clusters"),
    }
    assert _decode(
        build_authorization({"iss": "admin", "key": "wrong-secret"}, "GET", "/", SECRETS, NOW),
        "wrong-secret",
    )
    assert _decode(
        build_authorization({"iss": "admin", "key": "user"}, "GET", "/", SECRETS, NOW), "userkey"
    )
    omitted = _decode(
        build_authorization({"iss": "admin", "omit": ["iss", "exp"]}, "GET", "/", SECRETS, NOW),
        "adminkey",
    )
    assert "iss" not in omitted and "exp" not in omitted and "iat" in omitted


def test_recipe_qsh_variants() -> None:
    wrong = _decode(
        build_authorization({"iss": "admin", "qsh": "wrong"}, "GET", "/clusters", SECRETS, NOW),
        "adminkey",
    )
    assert wrong["qsh"] == _qsh("GET&/something-else")
    exact = {"iss": "admin", "qsh": {"method": "GET", "path": "/clusters?x=1"}}
    assert _decode(build_authorization(exact, "GET", "/clusters", SECRETS, NOW), "adminkey")[
        "qsh"
    ] == _qsh("GET&/clusters?x=1")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_recipe_real_hmac_algorithms(alg: str) -> None:
    header = build_authorization({"iss": "admin", "alg": alg}, "GET", "/", SECRETS, NOW)
    assert jwt.get_unverified_header(header[7:])["alg"] == alg
    assert _decode(header, "adminkey", alg)["iss"] == "admin"


def test_recipe_none_and_foreign_algorithms() -> None:
    none_token = build_token({"iss": "admin", "alg": "none"}, "GET", "/", SECRETS, NOW)
    assert none_token.endswith(".") and jwt.get_unverified_header(none_token)["alg"] == "none"
    rs = build_token({"iss": "admin", "alg": "RS256"}, "GET", "/", SECRETS, NOW)
    assert jwt.get_unverified_header(rs)["alg"] == "RS256"
    assert rs.split(".")[2]
    with pytest.raises(jwt.InvalidTokenError):
        _quiet_decode(rs, "adminkey", algorithms=["HS256"])


# --- Server configuration --------------------------------------------------------------------


def test_heketipy_config_rewrites_port_db_and_adds_knobs(tmp_path: Path) -> None:
    queue = GoldenFile.load(HTTP_DIR / "queue.json")
    cfg = heketipy_config(queue, 4242, tmp_path / "x.db")
    assert cfg["port"] == "4242"
    assert cfg["glusterfs"]["db"] == str(tmp_path / "x.db")
    assert cfg["heketipy"] == {"listen": "127.0.0.1", "mock_latency_ms": MOCK_LATENCY_MS}
    throttle = heketipy_config(GoldenFile.load(HTTP_DIR / "throttle.json"), 1, tmp_path / "y.db")
    assert throttle["heketipy"]["wait_queue_size"] == 0
    assert throttle["glusterfs"]["max_inflight_operations"] == 1
    plain = heketipy_config(GoldenFile.load(HTTP_DIR / "clusters.json"), 1, tmp_path / "z.db")
    assert plain["heketipy"] == {"listen": "127.0.0.1"}
    assert queue.server["config"]["glusterfs"]["db"] == "<fresh db file>"  # recording untouched
