"""`heketi-cli db …`, `loglevel …` and `server …` (mode, operations, state examine)."""

from __future__ import annotations

from typing import Any

from heketipy.cli import output
from heketipy.cli.commandline import Command
from heketipy.cli.context import CliError, Context
from heketipy.client.gojson import dumps_indent4

CLEANUP_NOTE = (
    "Note: Operation clean up is a batch operation.\n"
    "* The results of individual operation clean ups are not reported here.\n"
    "* Use 'heketi-cli server operations [list|info]' to view operations.\n"
)


def _raw_json(ctx: Context, value: Any) -> None:
    # These print the server's 4-space indented JSON whatever --json says.
    ctx.write(dumps_indent4(value) + "\n")


def db_command() -> Command:
    return Command("db", short="Heketi Database Management", long="Heketi Database Management").add(
        Command("check", short="Check Heketi database for inconsistencies",
                run=lambda ctx: _raw_json(ctx, ctx.client.db_check())),
        Command("dump", short="Dumps the database in JSON format",
                run=lambda ctx: _raw_json(ctx, ctx.client.db_dump())),
    )


def loglevel_set(ctx: Context) -> None:
    if not ctx.args:
        raise CliError("missing log-level argument")
    if len(ctx.args) > 1:
        raise CliError("too many arguments")
    ctx.client.set_log_level(ctx.args[0])
    ctx.write("Server log level updated\n")


def loglevel_command() -> Command:
    return Command("loglevel", short="Heketi Log Level", long="Heketi Log Level").add(
        Command("get", short="Get the log level of the Heketi server",
                run=lambda ctx: ctx.write(ctx.client.log_level() + "\n")),
        Command("set", short="Set the log level of the Heketi server", run=loglevel_set,
                use_args="[level]"),
    )


def mode_set(ctx: Context) -> None:
    if not ctx.args:
        raise CliError("missing mode argument")
    if len(ctx.args) > 1:
        raise CliError("too many arguments")
    ctx.client.set_admin_state(ctx.args[0])


def operations_info(ctx: Context) -> None:
    if ctx.args:
        ctx.write(output.operation_details(ctx.client.pending_operation_info(ctx.args[0])))
    else:
        ctx.write(output.operations_counts(ctx.client.operations_info()))


def operations_list(ctx: Context) -> None:
    ops = ctx.client.pending_operations().pendingoperations
    ctx.write("".join(output.operation_line(op) for op in ops))


def operations_cleanup(ctx: Context) -> None:
    ctx.client.pending_operations_cleanup(list(ctx.args) or None)
    ctx.err.write(CLEANUP_NOTE)


def server_command() -> Command:
    return Command("server", short="Heketi Server Management", long="Heketi Server Management").add(
        Command("mode", short="Manage the server's administrative mode").add(
            Command("get", short="Print the server's administrative mode",
                    run=lambda ctx: ctx.write(ctx.client.admin_state() + "\n")),
            Command("set", short="Set the server's administrative mode", run=mode_set,
                    use_args="[normal|read-only|local-client]"),
        ),
        Command("operations", short="Manage ongoing server operations").add(
            Command("cleanup", short="Clean up stale or failed operations",
                    run=operations_cleanup, use_args="[operation_id ...]"),
            Command("info", short="Display information about operations", run=operations_info,
                    use_args="[operation_id]"),
            Command("list", short="List pending operations", run=operations_list),
        ),
        Command("state", short="View the server's state").add(
            Command("examine", short="Examine the state of the system").add(
                Command("gluster", short="Compare Heketi's state with Gluster's",
                        run=lambda ctx: _raw_json(ctx, ctx.client.examine_gluster())),
            ),
        ),
    )
