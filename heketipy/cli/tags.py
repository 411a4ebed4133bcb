"""`settags` / `rmtags` for nodes and devices (shared argument rules and texts)."""

from __future__ import annotations

from collections.abc import Callable

from heketipy.cli.commandline import Flag
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


SETTAGS_FLAGS = [Flag("exact", "bool", False,
                      "Set the object to this exact set of tags. Overwrites existing tags.", "e")]
RMTAGS_FLAGS = [Flag("all", "bool", False, "Remove all tags.")]
RMTAGS_ALIASES = ("deltags", "removetags")
