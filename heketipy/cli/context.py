"""What a command implementation gets: parsed flags and arguments, the output streams, and a
client built from `--server/--user/--secret` (or `HEKETI_CLI_SERVER/_USER/_KEY`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from heketipy.cli.commandline import Invocation
from heketipy.client import HeketiClient
from heketipy.client.transport import DEFAULT_SERVER
from heketipy.gocompat.json_encode import text_compact

SPINNER = "|/-\\"


class CliError(Exception):
    """A client-side error: printed as `Error: <message>`, exit 255."""


@dataclass
class Progress:
    """A spinner on stderr while an operation is pending; only drawn on a terminal."""

    stream: TextIO
    drawn: bool = False

    def __call__(self, poll: int) -> None:
        self.stream.write(f"\r{SPINNER[poll % len(SPINNER)]} waiting for the operation to finish")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


@dataclass
class Context:
    inv: Invocation
    env: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _client: HeketiClient | None = None
    _progress: Progress | None = None

    @property
    def args(self) -> list[str]:
        return self.inv.args

    def flag(self, name: str) -> Any:
        return self.inv[name]

    @property
    def json(self) -> bool:
        return bool(self.inv["json"])

    def _setting(self, flag: str, env: str, default: str = "") -> str:
        if self.inv.changed(flag):
            return str(self.inv[flag])
        return self.env.get(env) or default

    @property
    def client(self) -> HeketiClient:
        if self._client is None:
            on_poll = None
            if self.err.isatty():
                self._progress = Progress(self.err)
                on_poll = self._progress
            self._client = HeketiClient(
                self._setting("server", "HEKETI_CLI_SERVER", DEFAULT_SERVER),
                self._setting("user", "HEKETI_CLI_USER"),
                self._setting("secret", "HEKETI_CLI_KEY"),
                insecure=bool(self.inv["insecure-tls"]),
                ca_files=list(self.inv["tls-cert"]),
                on_poll=on_poll,
            )
        return self._client

    def close(self) -> None:
        if self._progress is not None:
            self._progress.clear()
        if self._client is not None:
            self._client.close()

    def write(self, text: str) -> None:
        if self._progress is not None:
            self._progress.clear()
        self.out.write(text)

    def print_json(self, value: Any) -> None:
        """`--json`: Go's compact encoding of the client struct, no trailing newline."""
        if hasattr(value, "to_wire"):
            value = value.to_wire()
        self.write(text_compact(value))

    def show(self, value: Any, render: Callable[[Any], str]) -> None:
        """`--json`: ``value`` as Go's JSON; otherwise the text ``render`` makes of it."""
        if self.json:
            self.print_json(value)
        else:
            self.write(render(value))


def require_id(ctx: Context, message: str) -> str:
    if not ctx.args:
        raise CliError(message)
    return ctx.args[0]


def single_argument(ctx: Context, missing: str, too_many: str = "too many arguments") -> str:
    """The one positional argument: CliError(missing) without it, CliError(too_many) with more."""
    if not ctx.args:
        raise CliError(missing)
    if len(ctx.args) > 1:
        raise CliError(too_many)
    return ctx.args[0]


def delete_by_id(ctx: Context, missing: str, noun: str, delete: Callable[[str], object]) -> None:
    """`<noun> delete <id>`: delete it, then say so as heketi-cli does."""
    item_id = require_id(ctx, missing)
    delete(item_id)
    ctx.write(f"{noun} {item_id} deleted\n")
