"""`heketi-cli db …`, `loglevel …` and `server …` (mode, operations, state examine), and
heketipy's own `server metrics` (not a heketi-cli command: hidden from `server --help`'s
listing so heketi-cli's help stays as it was)."""

from __future__ import annotations

from typing import Any

from heketipy.cli import output
from heketipy.cli.commandline import Command
from heketipy.cli.context import Context, single_argument
from heketipy.gocompat.json_encode import text_indent4

CLEANUP_NOTE = (
    "Note: Operation clean up is a batch operation.\n"
    "* The results of individual operation clean ups are not reported here.\n"
    "* Use 'heketi-cli server operations [list|info]' to view operations.\n"
)


def _raw_json(ctx: Context, value: Any) -> None:
    # These print the server's 4-space indented JSON whatever --json says.
    ctx.write(text_indent4(value) + "\n")


def db_command() -> Command:
    return Command("db", short="Heketi Database Management", long="Heketi Database Management").add(
        Command("check", short="checks the db and provides a summary in json format",
                run=lambda ctx: _raw_json(ctx, ctx.client.db_check()),
                example="  $ heketi-cli db check"),
        Command("dump", short="dumps the database in json format",
                run=lambda ctx: _raw_json(ctx, ctx.client.db_dump()),
                example="  $ heketi-cli db dump"),
    )


def loglevel_set(ctx: Context) -> None:
    ctx.client.set_log_level(single_argument(ctx, "missing log-level argument"))
    ctx.write("Server log level updated\n")


def loglevel_command() -> Command:
    return Command("loglevel", short="Heketi Log Level", long="Manage Heketi server Log Level").add(
        Command("get", short="Get Heketi server Log Level",
                run=lambda ctx: ctx.write(ctx.client.log_level() + "\n"),
                example="  $ heketi-cli loglevel get"),
        Command("set", short="Set Heketi server Log Level", run=loglevel_set,
                example="  $ heketi-cli loglevel set debug"),
    )


def mode_set(ctx: Context) -> None:
    ctx.client.set_admin_state(single_argument(ctx, "missing mode argument"))


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


def server_metrics(ctx: Context) -> None:
    from heketipy.cli.metrics_summary import summary

    ctx.write(summary(ctx.client.metrics()))


METRICS_LONG = (
    "A heketipy command that heketi-cli does not have. Prints a short summary of the "
    "server's /metrics: leadership, queue depth and operations in flight, operations by "
    "type and outcome with p50/p95 durations, failing and slowest node commands, the "
    "fullest devices, placement refusals, database commits and the last drift scan."
)


def server_command() -> Command:
    return Command("server", short="Heketi Server Management",
                   long="Heketi Server Information & Management").add(
        Command("metrics", short="Summarize the server's metrics (heketipy extension)",
                long=METRICS_LONG, run=server_metrics, hidden=True,
                example="  $ heketi-cli server metrics"),
        Command("mode", short="Manage server mode").add(
            Command("get", short="Print current server mode",
                    run=lambda ctx: ctx.write(ctx.client.admin_state() + "\n"),
                    example="  $ heketi-cli server mode get"),
            # sic: heketi-cli describes `set` with get's text
            Command("set", short="Print current server mode", run=mode_set,
                    use_args="[normal|local-client|read-only]",
                    example="  $ heketi-cli server mode set read-only"),
        ),
        Command("operations", short="Manage ongoing server operations").add(
            Command("cleanup", short="Clean up stale or failed pending operations",
                    run=operations_cleanup, example="  $ heketi-cli server operations cleanup"),
            Command("info", short="Get a summary of server operations", run=operations_info,
                    example="  $ heketi-cli server operations info"),
            Command("list", short="Get a list of pending operations", run=operations_list,
                    example="  $ heketi-cli server operations list"),
        ),
        Command("state", short="View and/or modify state of server").add(
            Command("examine", short="Compare state of server").add(
                Command("gluster", short="Compare state of server with gluster",
                        run=lambda ctx: _raw_json(ctx, ctx.client.examine_gluster()),
                        example="  $ heketi-cli server state examine gluster"),
            ),
        ),
    )
