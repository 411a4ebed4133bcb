"""`settags` / `rmtags` for nodes and devices (shared argument rules and texts)."""

from __future__ import annotations

from collections.abc import Callable

from heketipy.cli.commandline import Command, Flag
from heketipy.cli.context import CliError, Context

SetTags = Callable[[str, dict[str, str], str], object]


def parse_pairs(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        name, colon, value = item.partition(":")
        if not colon:
            raise CliError(f"expected colon (:) between tag name and value, got: {item}")
        tags[name] = value
    return tags


def settags(ctx: Context, apply: SetTags) -> None:
    if not ctx.args:
        raise CliError("id required")
    if len(ctx.args) < 2:
        raise CliError("at least one tag:value pair expected")
    tags = parse_pairs(ctx.args[1:])
    apply(ctx.args[0], tags, "set" if ctx.flag("exact") else "update")


def rmtags(ctx: Context, apply: SetTags) -> None:
    if not ctx.args:
        raise CliError("id required")
    names = ctx.args[1:]
    if ctx.flag("all"):
        if names:
            raise CliError("--all may not be combined with named tags")
        apply(ctx.args[0], {}, "set")
        return
    if not names:
        raise CliError("at least one tag expected")
    # Names are sent verbatim: `k:v` is refused by the server's name check, as upstream does.
    apply(ctx.args[0], {name: "" for name in names}, "delete")


def tag_commands(noun: str, client_call: Callable[[Context], SetTags]) -> list[Command]:
    """`<noun> settags` and `<noun> rmtags` (noun: node or device) with heketi-cli's texts;
    `client_call(ctx)` gives the client method that applies a tags change."""
    use = f"[{noun}_id] tag1:value1 tag2:value2..."
    example = f"  $ heketi-cli {noun} {{}} 886a86a868711bef83001 {{}}"
    return [
        Command("rmtags", short=f"Removes tags from a {noun}",
                long=f"Removes user-controlled metadata tags on a {noun}",
                run=lambda ctx: rmtags(ctx, client_call(ctx)), aliases=["deltags", "removetags"],
                use_args=use, example=example.format("rmtags", "foo"),
                flags=[Flag("all", "bool", False, "Remove all tags.")]),
        Command("settags", short=f"Sets tags on a {noun}",
                long=f"Sets user-controlled metadata tags on a {noun}",
                run=lambda ctx: settags(ctx, client_call(ctx)),
                use_args=use, example=example.format("settags", "foo:bar"),
                flags=[Flag("exact", "bool", False,
                            "Set the object to this exact set of tags. Overwrites existing tags.",
                            "e")]),
    ]
