"""`heketipy-cli`: a drop-in for heketi-cli (contract section 13).

Entry point `main(argv) -> exit code`. Errors are one line, `Error: <message>` on stderr,
exit code 255, never a traceback. The `cli` package talks to the server only through
`heketipy.client`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TextIO

from heketipy.cli import (
    cmd_cluster,
    cmd_kube,
    cmd_node,
    cmd_server,
    cmd_setup,
    cmd_topology,
    cmd_volume,
    completion,
)
from heketipy.cli.commandline import ROOT_NAME, Command, Flag, UsageError, parse, suggestions
from heketipy.cli.context import CliError, Context
from heketipy.client.errors import HeketiError

EXIT_ERROR = 255


def version_text() -> str:
    try:
        version = metadata.version("heketipy")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    return f"v{version} (heketipy)"


GLOBAL_FLAGS = [
    Flag("server", "string", None,
         "\n\tHeketi server. Can also be set using the\n\tenvironment variable HEKETI_CLI_SERVER"
         " (the default one is http://localhost:8080)", "s", persistent=True),
    Flag("user", "string", None,
         "\n\tHeketi user.  Can also be set using the\n\tenvironment variable HEKETI_CLI_USER",
         persistent=True),
    Flag("secret", "string", None,
         "\n\tSecret key for specified user.  Can also be\n\tset using the environment variable"
         " HEKETI_CLI_KEY", persistent=True),
    Flag("json", "bool", False, "\n\tPrint response as JSON", persistent=True),
    Flag("insecure-tls", "bool", False,
         "\n\tIf using TLS (HTTPS) do not verify server certificates (insecure)", "I",
         persistent=True),
    Flag("tls-cert", "strings", None,
         "\n\tIf using TLS (HTTPS), specify a certificate file that can be used to verify"
         "\n\tthe TLS connection (can be repeated)", "C", persistent=True),
    Flag("version", "bool", False, "\n\tPrint version", "v"),
]

def build_root() -> Command:
    root = Command(
        ROOT_NAME,
        short="Command line program for Heketi",
        long="Command line program for Heketi",
        example="  $ heketi-cli volume list",
        flags=list(GLOBAL_FLAGS),
        run=lambda ctx: None,  # the root is runnable (prints its usage), as in heketi-cli
    )
    root.add(
        cmd_volume.blockvolume_command(),
        cmd_volume.brick_command(),
        cmd_cluster.command(),
        cmd_server.db_command(),
        cmd_node.device_command(),
        cmd_server.loglevel_command(),
        cmd_node.node_command(),
        cmd_server.server_command(),
        cmd_topology.command(),
        cmd_volume.volume_command(),
        cmd_setup.command(),
        cmd_kube.command(),
        Command("help", short="Help about any command", use_args="[command]"),
    )
    root.add(completion.command(root))
    return root


def _unknown_command(root: Command, name: str, err: TextIO) -> int:
    text = f'Error: unknown command "{name}" for "{ROOT_NAME}"\n'
    close = suggestions(root, name)
    if close:
        text += "\nDid you mean this?\n" + "".join(f"\t{c}\n" for c in close) + "\n"
    err.write(text + f"Run '{ROOT_NAME} --help' for usage.\n")
    return EXIT_ERROR


def run(argv: Sequence[str], env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    root = build_root()
    try:
        inv = parse(root, argv)
    except UsageError as exc:
        err.write(f"Error: {exc}\n")
        return EXIT_ERROR
    command = inv.command
    if inv["help"]:
        out.write(command.help_text())
        return 0
    if command.name == "help" and command.parent is root:
        target = root
        for name in inv.args:
            target = target.child(name) or target
        out.write(target.help_text())
        return 0
    if command is root:
        if inv["version"]:
            out.write(f"{ROOT_NAME} {version_text()}\n")
            return 0
        if inv.args:
            return _unknown_command(root, inv.args[0], err)
        err.write(root.usage_text())
        return 0
    if command.run is None:
        out.write(command.help_text())
        return 0
    ctx = Context(inv, env, out, err)
    try:
        code = command.run(ctx)
    except (CliError, HeketiError) as exc:
        ctx.close()
        err.write(f"Error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.close()
        err.write("Error: interrupted\n")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        ctx.close()
        err.write(f"Error: {exc.__class__.__name__}: {exc}\n".replace("\n", " ").rstrip() + "\n")
        return EXIT_ERROR
    ctx.close()
    # A command may return its own exit status (kube migrate-pvs: 1 when something is left).
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def main(argv: Sequence[str] | None = None) -> int:
    code = run(sys.argv[1:] if argv is None else argv, os.environ, sys.stdout, sys.stderr)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
