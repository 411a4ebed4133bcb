"""Start a real heketipy server process for black-box tests, and talk to it like Heketi's
Go client does: a fresh JWT per request, redirects never followed automatically."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heketipy.client.token import make_token
from tests.openapi_check import validate_response

ADMIN_KEY = "adminkey"
USER_KEY = "userkey"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    config_path: Path
    db_path: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    check_openapi: bool = True

    def request(
        self, method: str, path: str, body: Any = None, *, role: str = "admin",
        raw: bytes | None = None,
    ) -> Reply:
        """One HTTP exchange with a fresh token (``role``: admin, user or none)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if role != "none":
            key = ADMIN_KEY if role == "admin" else USER_KEY
            req.add_header("Authorization", "bearer " + make_token(role, key, method, path.split("?")[0]))
        try:
            with _OPENER.open(req, timeout=30) as resp:
                reply = Reply(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            reply = Reply(err.code, dict(err.headers), err.read())
        if self.check_openapi:
            # Every real answer must be described by api-spec/openapi.yaml.
            validate_response(method, path, reply.status, reply.headers, reply.body)
        return reply

    def wait_queue(self, location: str, *, limit_s: float = 60) -> Reply:
        """Poll a /queue location as heketi-cli does until it is no longer pending."""
        deadline = time.monotonic() + limit_s
        while True:
            reply = self.request("GET", location)
            if not (reply.status == 200 and reply.headers.get("X-Pending") == "true"):
                return reply
            if time.monotonic() > deadline:
                raise AssertionError(f"{location} still pending after {limit_s}s")
            time.sleep(0.05)

    def async_call(self, method: str, path: str, body: Any = None) -> Reply:
        """Issue an async request, expect 202, and return the final /queue reply."""
        reply = self.request(method, path, body)
        assert reply.status == 202, (reply.status, reply.text)
        return self.wait_queue(reply.headers["Location"])

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def write_config(directory: Path, glusterfs: dict[str, Any] | None = None,
                 heketipy: dict[str, Any] | None = None, port: int | None = None) -> Path:
    config = {
        "port": str(port or free_port()),
        "use_auth": True,
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {"executor": "mock", "db": str(directory / "heketi.db"),
                      "loglevel": "warning", **(glusterfs or {})},
        "heketipy": {"listen": "127.0.0.1", **(heketipy or {})},
    }
    path = directory / "heketi.json"
    path.write_text(json.dumps(config))
    return path


def update_config(config_path: Path, **top: Any) -> Path:
    """Set top-level keys of a heketi.json written by ``write_config`` (TLS, backups, ...)."""
    config = json.loads(config_path.read_text())
    config.update(top)
    config_path.write_text(json.dumps(config))
    return config_path


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process: ours without HEKETI_* overrides, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    full_env.update(env or {})
    return full_env


def start_fails(config_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Start a server that must refuse to start: exit 1 with one line on stderr, returned."""
    result = subprocess.run(
        [sys.executable, "-m", "heketipy", "--config", str(config_path), *args],
        capture_output=True, text=True, timeout=60, cwd=config_path.parent, env=server_env(env),
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def start_server(config_path: Path, *, args: list[str] | None = None,
                 env: dict[str, str] | None = None, ready_s: float = 30) -> ServerProcess:
    config = json.loads(config_path.read_text())
    port = config["port"]
    log_path = config_path.with_suffix(f".{port}.log")
    full_env = server_env(env)
    log_file = open(log_path, "ab")  # noqa: SIM115 - owned by the process lifetime
    process = subprocess.Popen(
        [sys.executable, "-m", "heketipy", "--config", str(config_path), *(args or [])],
        stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
        cwd=config_path.parent,  # heketipy's data_dir ("var") lands beside the config
    )
    server = ServerProcess(
        base_url=f"http://127.0.0.1:{port}", process=process, config_path=config_path,
        db_path=Path(config["glusterfs"]["db"]), log_path=log_path, env=full_env,
    )
    return wait_ready(server, ready_s)


def wait_ready(server: ServerProcess, ready_s: float = 30) -> ServerProcess:
    """Poll GET /hello until the server answers; kill it and raise with its log if it dies
    or stays silent."""
    deadline = time.monotonic() + ready_s
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"server exited with {server.process.returncode}:\n{server.log_path.read_text()}"
            )
        try:
            if server.request("GET", "/hello", role="none").status == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"server not ready:\n{server.log_path.read_text()}")
        time.sleep(0.05)


@contextmanager
def running_server(directory: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    config_path = write_config(directory, kwargs.pop("glusterfs", None),
                               kwargs.pop("heketipy", None))
    server = start_server(config_path, **kwargs)
    try:
        yield server
    finally:
        server.stop()
