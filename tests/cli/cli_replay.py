"""Golden CLI replay: runs heketipy-cli with every recorded heketi-cli invocation of
`tests/data/golden/cli/*.json` against a live heketipy server and compares exit code, stdout
and stderr after masking (format and rules: `tests/data/golden/README.md` sections 3-5).

The server start-up, id binding, masking and JSON comparison come from the HTTP replay engine
(`tests.golden.replay`); this module adds what is CLI-specific:

* argv/env/file substitution (`<SERVER>`, `<FILE:name>`, `<ID:n>`, `null` = unset);
* id numbering from server state after each invocation (clusters, nodes, devices, volumes,
  bricks, block volumes, pending operations, in the README's sort orders), then argv, stdout,
  stderr in order of appearance;
* text nondeterminism: `line-order`, `mount-host`, `item-order`, `error-text`;
* skip rules, by name (see `CLI_SKIP_RULES`): upstream-mock caveats and their aftermath, and
  the stale-operation window after a crash, which heketipy recovers by itself.

The CLI runs in-process (`heketipy.cli.main.run`), with the same argv and environment the
console script would get; a few tests also run the installed `heketipy-cli` script.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from heketipy.cli.main import run as run_cli
from heketipy.cli.main import version_text
from heketipy.client import HeketiClient, HeketiError
from heketipy.client.token import authorization_header
from heketipy.gocompat.json_encode import text_compact, text_indent4
from tests.golden.replay import (
    GOLDEN_DIR,
    GoldenFile,
    IdBinding,
    JsonComparison,
    Masker,
    Nondeterminism,
    ServerUnderTest,
    _without_node_data,
    apply_no_space_rule,
    fresh_id,
    heketipy_server,
    normalize_expected,
    placeholder_numbers,
    substitute_text,
    unify,
)

CLI_DIR = GOLDEN_DIR / "cli"

RULE_UPSTREAM_MOCK = "caveat-upstream-mock"
RULE_UPSTREAM_MOCK_AFTERMATH = "upstream-mock-aftermath"
RULE_STALE_RECOVERY = "stale-operation-recovery"
RULE_SKIPPED_FOLLOW_UP = "follow-up-of-skipped-invocation"
RULE_PLACEMENT_CHOICE = "random-device-choice"

# Invocations that show the state an upstream-mock failure left behind (heketipy succeeded
# there), or the stale operation upstream kept after the crash (heketipy recovers it at
# start-up). They are run, but not compared.
CLI_SKIP_RULES: dict[str, dict[int, str]] = {
    # device remove of a device with a brick succeeded: the brick moved, the device is failed,
    # so delete succeeds, enable fails, resync/info find it gone.
    "device.json": {
        **{s: RULE_UPSTREAM_MOCK_AFTERMATH for s in (22, 23, 24, 25, 26)},
        # node2 has four devices that all qualify for the `dvol` brick (seq 16): upstream and
        # heketipy both pick one at random, so which device shows the brick (and its usage
        # after the mock's resync) is not comparable.
        30: RULE_PLACEMENT_CHOICE,
        37: RULE_PLACEMENT_CHOICE,
    },
    # after the SIGKILL upstream shows one stale create-volume until the cleanup at seq 26.
    "server.json": {s: RULE_STALE_RECOVERY for s in (22, 23, 24, 25, 26, 27)},
}

CONFIRM_PAUSE_ENV = {"HEKETIPY_CLI_CONFIRM_PAUSE_SECONDS": "0"}
ITEM_LIST_RE = re.compile(r"^(\s*(?:Hosts|Block Volumes): \[)(.*)(\])$")
MOUNT_RE = re.compile(r"^(\s*)Mount: ([^:]*):(.*)$")
MOUNT_OPTIONS_RE = re.compile(r"^(\s*)Mount Options: backup-volfile-servers=(.*)$")


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class CliMismatch:
    file: str
    seq: int
    argv: list[str]
    problems: list[str]

    def format(self) -> str:
        head = f"[{self.file} seq {self.seq}] {' '.join(self.argv)}"
        return "\n".join([head, *(f"    - {p}" for p in self.problems)])


@dataclass
class CliReplayResult:
    file: str
    compared: int = 0
    mismatches: list[CliMismatch] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"{self.file}: {len(self.mismatches)} mismatching of {self.compared} compared"
                 f" ({len(self.skipped)} run without comparison)"]
        lines += [m.format() for m in self.mismatches]
        lines += [f"  skipped seq {s} [{rule}]: {what}" for s, rule, what in self.skipped]
        return "\n".join(lines)


def load_cli_golden(path: Path) -> GoldenFile:
    return GoldenFile(path, json.loads(path.read_text(encoding="utf-8")))


# --- binding ids from server state ------------------------------------------------------------


def bind_state(client: HeketiClient, masker: Masker) -> None:
    """Number unknown ids of the visible objects in the README's order (section 4, CLI)."""
    clusters = [client.cluster_info(c) for c in client.cluster_list().clusters]
    nodes = {n: client.node_info(n) for c in clusters for n in c.nodes}

    def host(node_id: str) -> str:
        node = nodes.get(node_id)
        return node.hostnames.manage[0] if node and node.hostnames.manage else ""

    for c in sorted(clusters, key=lambda c: min((host(n) for n in c.nodes), default="")):
        masker.text(c.id)
    for n in sorted(nodes.values(), key=lambda n: host(n.id)):
        masker.text(n.id)
    devices = {d.id: (n, d) for n in nodes.values() for d in n.devices}
    for _, d in sorted(devices.values(), key=lambda nd: (
            host(nd[0].id), nd[1].name, sorted((nd[1].tags or {}).items()))):
        masker.text(d.id)
    volumes = [client.volume_info(v) for v in client.volume_list().volumes]
    for v in sorted(volumes, key=lambda v: v.name):
        masker.text(v.id)
    bricks = [(v, b) for v in volumes for b in v.bricks]
    for _, b in sorted(bricks, key=lambda vb: (
            vb[0].name, host(vb[1].node),
            devices[vb[1].device][1].name if vb[1].device in devices else "", vb[1].size)):
        masker.text(b.id)
    blockvolumes = [client.blockvolume_info(b) for b in client.blockvolume_list().blockvolumes]
    for bv in sorted(blockvolumes, key=lambda b: b.name):
        masker.text(bv.id)
    for op in sorted(client.pending_operations().pendingoperations, key=lambda o: o.type_name):
        masker.text(op.id)


# --- text nondeterminism ------------------------------------------------------------------


def sort_items(text: str) -> str:
    """item-order: sort the items inside `Hosts: [...]` / `Block Volumes: [...]`."""
    out = []
    for line in text.split("\n"):
        m = ITEM_LIST_RE.match(line)
        if m:
            line = m.group(1) + " ".join(sorted(m.group(2).split())) + m.group(3)
        out.append(line)
    return "\n".join(out)


def fix_mount_hosts(expected: str, actual: str, problems: list[str]) -> str:
    """mount-host: the `Mount:` host and backup servers may be any split of the same hosts."""
    exp_lines, act_lines = expected.split("\n"), actual.split("\n")
    if len(exp_lines) != len(act_lines):
        return actual
    for i, line in enumerate(act_lines):
        m_act, m_exp = MOUNT_RE.match(line), MOUNT_RE.match(exp_lines[i])
        if not (m_act and m_exp) or i + 1 >= len(act_lines):
            continue
        o_act = MOUNT_OPTIONS_RE.match(act_lines[i + 1])
        o_exp = MOUNT_OPTIONS_RE.match(exp_lines[i + 1])
        if not (o_act and o_exp):
            continue
        act_hosts = sorted([m_act.group(2), *filter(None, o_act.group(2).split(","))])
        exp_hosts = sorted([m_exp.group(2), *filter(None, o_exp.group(2).split(","))])
        if act_hosts == exp_hosts and m_act.group(3) == m_exp.group(3):
            act_lines[i], act_lines[i + 1] = exp_lines[i], exp_lines[i + 1]
        else:
            problems.append(f"mount-host: {line!r} / {act_lines[i + 1]!r} do not split the "
                            f"hosts of {exp_lines[i]!r} / {exp_lines[i + 1]!r}")
    return "\n".join(act_lines)


def sort_cluster_lines(text: str) -> str:
    lines = text.split("\n")
    slots = [i for i, line in enumerate(lines) if line.startswith("Cluster ")]
    for slot, line in zip(slots, sorted(lines[i] for i in slots), strict=True):
        lines[slot] = line
    return "\n".join(lines)


# --- the replayer ---------------------------------------------------------------------------


class CliReplayer:
    def __init__(self, golden: GoldenFile, server: ServerUnderTest, workdir: Path) -> None:
        self.golden = golden
        self.server = server
        self.workdir = workdir
        self.binding = IdBinding()
        self.secrets = golden.secrets()
        self.client_chosen = golden.client_chosen_numbers
        self.recorded_max = 0
        self.introduced_by_skipped: set[int] = set()
        self.result = CliReplayResult(golden.name)
        self.rules = CLI_SKIP_RULES.get(golden.name, {})
        self.files = self._write_files()

    def _write_files(self) -> dict[str, Path]:
        paths = {}
        for name, content in self.golden.data.get("files", {}).items():
            path = self.workdir / name
            path.write_text(content if isinstance(content, str) else json.dumps(content))
            paths[name] = path
        return paths

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def admin(self) -> HeketiClient:
        return HeketiClient(self.base_url, "admin", self.secrets["admin"])

    async def run(self) -> CliReplayResult:
        for entry in self.golden.data["entries"]:
            if "action" in entry:
                if entry["action"] == "restart-server":
                    await self.server.restart()
                else:
                    await self.server.send_signal(int(getattr(signal, entry["signal"])))
            elif "argv" in entry:
                await asyncio.to_thread(self._invocation, entry)
            else:
                await asyncio.to_thread(self._exchange, entry)
        return self.result

    # -- substitution --

    def _on_unbound(self, number: int) -> str:
        real = fresh_id()
        self.binding.bind(number, real)
        return real

    def _subst(self, text: str) -> str:
        text = text.replace("<SERVER>", self.base_url)
        text = re.sub(r"<FILE:([^>]+)>", lambda m: str(self.workdir / m.group(1)), text)
        return substitute_text(text, self.binding, self._on_unbound)

    def _env(self, entry: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = dict(CONFIRM_PAUSE_ENV)
        merged = {**self.golden.data.get("cli_env", {}), **entry.get("env", {})}
        for key, value in merged.items():
            if value is not None:
                env[key] = self._subst(value)
        return env

    def _mask_text(self, masker: Masker, text: str) -> str:
        hostport = self.base_url.split("://", 1)[1]
        text = text.replace(self.base_url, "<SERVER>").replace(hostport, "<SERVER_HOSTPORT>")
        return masker.text(text.replace(version_text(), "<VERSION>"))

    # -- entries --

    def _exchange(self, entry: dict[str, Any]) -> None:
        """A recorded REST step (cli/server.json): sent as is; only its status is checked."""
        request, expected = entry["request"], entry["response"]
        path = self._subst(request["path"])
        body = json.dumps(request["body"]).encode() if "body" in request else None
        headers = {"Authorization": authorization_header("admin", self.secrets["admin"],
                                                         request["method"], path)}
        with httpx.Client(base_url=self.base_url, follow_redirects=False) as http:
            reply = http.request(request["method"], path, content=body, headers=headers)
        for name, value in expected.get("headers", {}).items():
            if name in reply.headers:
                unify(value, reply.headers[name], self.binding)
        self.recorded_max = max([self.recorded_max, *placeholder_numbers(entry)])
        self.result.compared += 1
        if reply.status_code != expected["status"]:
            self.result.mismatches.append(CliMismatch(
                self.golden.name, entry["seq"], [request["method"], path],
                [f"status {reply.status_code}, expected {expected['status']}"]))

    def _skip_rule(self, entry: dict[str, Any]) -> str | None:
        if entry.get("caveat", "").startswith("upstream-mock"):
            return RULE_UPSTREAM_MOCK
        if entry["seq"] in self.rules:
            return self.rules[entry["seq"]]
        named = placeholder_numbers(entry["argv"])
        if any(n in self.introduced_by_skipped and self.binding.real_of(n) is None
               for n in named):
            return RULE_SKIPPED_FOLLOW_UP
        return None

    def _invocation(self, entry: dict[str, Any]) -> None:
        seq = entry["seq"]
        skip = self._skip_rule(entry)
        self.binding.next_number = max([self.recorded_max, *self.binding.by_number]) + 1
        argv = [self._subst(a) for a in entry["argv"][1:]]
        env = self._env(entry)
        out, err = io.StringIO(), io.StringIO()
        code = run_cli(argv, env, out, err)
        actual = CliRun(code, out.getvalue(), err.getvalue())
        numbers = placeholder_numbers(entry)
        introduced = {n for n in numbers if n > self.recorded_max}
        self.recorded_max = max([self.recorded_max, *numbers])
        if skip:
            for key in ("stdout", "stderr"):
                if isinstance(entry[key], str):
                    unify(entry[key], getattr(actual, key), self.binding)
            self.introduced_by_skipped |= introduced
            self.result.skipped.append((seq, skip, f"exit {code}: {(actual.stdout + actual.stderr)[:160]!r}"))
            return
        # Ids numbered from server state are kept (the recording numbered the same objects,
        # even those its output shows only later); ids numbered from the output beyond what
        # the recording knows would collide with later recorded numbers and are released.
        state_masker = Masker(self.binding, assign=True)
        with self.admin() as client, contextlib.suppress(HeketiError):
            bind_state(client, state_masker)
        self.recorded_max = max([self.recorded_max, *state_masker.newly_assigned])
        masker = Masker(self.binding, assign=True)
        problems = self._compare(entry, actual, masker)
        self.result.compared += 1
        for number in masker.newly_assigned:
            if number > self.recorded_max:
                self.binding.unbind(number)
        if problems:
            self.result.mismatches.append(CliMismatch(self.golden.name, seq, argv, problems))

    # -- comparison --

    def _compare(self, entry: dict[str, Any], actual: CliRun, masker: Masker) -> list[str]:
        problems: list[str] = []
        nd = Nondeterminism.of(entry)
        if actual.exit_code != entry["exit_code"]:
            problems.append(f"exit code {actual.exit_code}, expected {entry['exit_code']}")
        if entry.get("stdout_format") == "json":
            problems += self._compare_json_stdout(entry, actual.stdout, masker, nd)
        else:
            problems += self._compare_text(entry["stdout"], actual.stdout, masker, nd, "stdout")
        if "stderr" not in nd("error-text"):
            exp_err = entry["stderr"]
            act_err = apply_no_space_rule(exp_err, actual.stderr)
            problems += self._compare_text(exp_err, act_err, masker, nd, "stderr")
        return problems

    def _compare_text(self, expected: str, actual: str, masker: Masker, nd: Nondeterminism,
                      where: str) -> list[str]:
        problems: list[str] = []
        masked = self._mask_text(masker, actual)
        if where in nd("mount-host"):
            masked = fix_mount_hosts(expected, masked, problems)
        if where in nd("item-order"):
            expected, masked = sort_items(expected), sort_items(masked)
        if where in nd("line-order"):
            if where == "stderr":
                expected, masked = sort_cluster_lines(expected), sort_cluster_lines(masked)
            else:
                expected = "\n".join(sorted(expected.split("\n")))
                masked = "\n".join(sorted(masked.split("\n")))
        if masked != expected:
            problems.append(f"{where} differs:\n      expected {expected!r}\n      actual   {masked!r}")
        return problems

    def _compare_json_stdout(self, entry: dict[str, Any], stdout: str, masker: Masker,
                             nd: Nondeterminism) -> list[str]:
        layout = entry.get("stdout_layout")
        text = stdout
        if layout == "other":
            prefix = '{"subsets": '
            if not (text.startswith(prefix) and text.endswith("}")):
                return [f"stdout is not an endpoint patch: {text[:200]!r}"]
            raw = entry.get("stdout_raw", "")
            if not raw.startswith(prefix):
                return ["recording has no raw endpoint patch"]
            text = '{"subsets":' + text[len(prefix):]
        try:
            parsed = json.loads(text)
        except ValueError:
            return [f"stdout is not JSON: {stdout[:300]!r}"]
        problems = []
        if layout == "compact" and stdout != text_compact(parsed):
            problems.append(f"stdout is not Go-compact JSON without newline: {stdout[:200]!r}")
        if layout == "indent4" and stdout != text_indent4(parsed) + "\n":
            problems.append(f"stdout is not 4-space indented JSON plus newline: {stdout[:200]!r}")
        order_paths = nd("order")
        masker.order_paths = frozenset(order_paths)
        body = masker.json(parsed, "stdout")
        expected = normalize_expected(entry["stdout"], order_paths, "stdout")
        if entry["argv"][1:4] == ["server", "state", "examine"]:
            expected, body = _without_node_data(expected), _without_node_data(body)
        problems += JsonComparison(nd).compare(expected, body, "stdout")
        return problems


async def replay_cli_file(path: Path) -> CliReplayResult:
    golden = load_cli_golden(path)
    async with heketipy_server()(golden) as server:
        with tempfile.TemporaryDirectory(prefix=f"cli-{path.stem}-") as tmp:
            return await CliReplayer(golden, server, Path(tmp)).run()

