"""`"use_auth": false` in heketi.json disables authentication, as Heketi 8/9 did (Heketi 10
ignores the key), with the same loud start-up warning as `--disable-auth`.

The gluster-kubernetes templates of the classic walkthroughs ship `use_auth: false` with
placeholder keys, and their StorageClass and heketi-cli calls send no token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heketipy.__main__ import AUTH_DISABLED_WARNING
from tests.support.server import ServerProcess, start_server, write_config


@contextmanager
def serving(directory: Path, *, args: list[str] | None = None,
            **top_level: object) -> Iterator[ServerProcess]:
    """A server whose heketi.json has these top-level keys replaced."""
    path = write_config(directory)
    config = json.loads(path.read_text())
    config.update(top_level)
    path.write_text(json.dumps(config))
    server = start_server(path, args=args)
    try:
        yield server
    finally:
        server.stop()


def _warning_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.log_path.read_text().splitlines() if "WARNING" in line
            and "authentication" in line]


def _serves_without_token(server: ServerProcess) -> None:
    assert server.request("GET", "/clusters", role="none").json() == {"clusters": []}
    reply = server.request("POST", "/clusters", {"file": True}, role="none")
    assert reply.status == 201, reply.text
    # Tokens (the Go client sends one even with auth off) are not looked at either.
    assert server.request("GET", "/clusters", role="user").status == 200


def test_use_auth_false_serves_requests_without_a_token(tmp_path: Path) -> None:
    # The walkthrough template: placeholder keys that no client knows.
    placeholders = {"admin": {"key": "My Secret"}, "user": {"key": "My Secret"}}
    with serving(tmp_path, use_auth=False, jwt=placeholders) as server:
        _serves_without_token(server)
        assert _warning_lines(server) == [AUTH_DISABLED_WARNING]


def test_use_auth_false_needs_no_keys(tmp_path: Path) -> None:
    with serving(tmp_path, use_auth=False, jwt={}) as server:
        _serves_without_token(server)


def test_disable_auth_gives_the_identical_warning(tmp_path: Path) -> None:
    with serving(tmp_path, args=["--disable-auth"]) as server:
        _serves_without_token(server)
        assert _warning_lines(server) == [AUTH_DISABLED_WARNING]


def test_auth_stays_on_with_use_auth_true_and_no_warning(tmp_path: Path) -> None:
    with serving(tmp_path, use_auth=True) as server:
        reply = server.request("GET", "/clusters", role="none")
        assert (reply.status, reply.text) == (401, "Required authorization token not found\n")
        assert _warning_lines(server) == []


def test_json_log_format_gives_the_warning_as_one_json_line(tmp_path: Path) -> None:
    """With heketipy.log_format json every stderr line is one JSON object, the warning too,
    and it shows at any log level."""
    glusterfs = {"executor": "mock", "db": str(tmp_path / "heketi.db"), "loglevel": "none"}
    heketipy = {"listen": "127.0.0.1", "log_format": "json"}
    with serving(tmp_path, use_auth=False, heketipy=heketipy, glusterfs=glusterfs) as server:
        _serves_without_token(server)
        lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
        documents = [json.loads(line) for line in lines]
    warnings = [d for d in documents if d["message"] == AUTH_DISABLED_WARNING]
    assert len(warnings) == 1
    assert {k: warnings[0][k] for k in ("level", "logger", "op")} == {
        "level": "WARNING", "logger": "heketipy", "op": None,
    }
    assert "time" in warnings[0]
