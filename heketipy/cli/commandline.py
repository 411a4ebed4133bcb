"""A small command-line framework that parses and prints like Go's cobra/pflag, which
heketi-cli is built on: the same flag syntax (`--f=v`, `--f v`, `-f v`, `-abc`, bool flags
without value), the same error texts (`unknown flag: --x`, `invalid argument "x" for "--size"
flag: ...`, `unknown command "x" for "heketi-cli"`) and the same help/usage layout.

Commands form a tree; flags marked `persistent` are inherited by every sub-command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from heketipy.gocompat.errors import GoParseError
from heketipy.gocompat.strconv import parse_bool, parse_float, parse_int

ROOT_NAME = "heketi-cli"
MIN_NAME_PADDING = 11


class UsageError(Exception):
    """A command line that cannot be parsed: printed as `Error: <text>`, exit 255."""




FLAG_TYPES: dict[str, Callable[[str], Any]] = {
    "bool": parse_bool,
    "string": str,
    "int": parse_int,
    "float64": parse_float,
    "strings": lambda text: [part for part in text.split(",")],
}
TYPE_LABEL = {"bool": "", "string": "string", "int": "int", "float64": "float", "strings": "strings"}


@dataclass
class Flag:
    name: str
    kind: str  # bool | string | int | float64 | strings
    default: Any = None
    usage: str = ""
    shorthand: str = ""
    persistent: bool = False

    def zero(self) -> Any:
        return {"bool": False, "string": "", "int": 0, "float64": 0.0, "strings": []}[self.kind]

    def initial(self) -> Any:
        if self.default is not None:
            return list(self.default) if self.kind == "strings" else self.default
        return self.zero()

    def default_text(self) -> str:
        value = self.initial()
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "float64":
            return format(value, "g")
        if self.kind == "strings":
            return "[" + ",".join(value) + "]"
        return str(value)

    def usage_line(self) -> tuple[str, str]:
        head = f"  -{self.shorthand}, --{self.name}" if self.shorthand else f"      --{self.name}"
        label = TYPE_LABEL[self.kind]
        if label:
            head += " " + label
        usage = self.usage
        if self.initial() != self.zero():
            shown = f'"{self.default_text()}"' if self.kind == "string" else self.default_text()
            usage += f" (default {shown})"
        return head, usage


def flag_usages(flags: Sequence[Flag]) -> str:
    """pflag's FlagUsages: aligned columns, multi-line usages indented under the text column."""
    rows = [f.usage_line() for f in sorted(flags, key=lambda f: f.name)]
    if not rows:
        return ""
    width = max(len(head) for head, _ in rows) + 1
    out = []
    for head, usage in rows:
        spacing = " " * (width - len(head))
        wrapped = usage.replace("\n", "\n" + " " * (width + 2))
        out.append(f"{head} {spacing} {wrapped}")
    return "\n".join(out) + "\n"


@dataclass
class Command:
    name: str
    short: str = ""
    long: str = ""
    use_args: str = ""
    example: str = ""
    run: Callable[..., int | None] | None = None
    flags: list[Flag] = field(default_factory=list)
    children: list[Command] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    hidden: bool = False
    parent: Command | None = None

    def add(self, *commands: Command) -> Command:
        for command in commands:
            command.parent = self
            self.children.append(command)
        return self

    def child(self, name: str) -> Command | None:
        for command in self.children:
            if name == command.name or name in command.aliases:
                return command
        return None

    @property
    def path(self) -> str:
        return f"{self.parent.path} {self.name}" if self.parent else self.name

    def inherited_flags(self) -> list[Flag]:
        """The ancestors' persistent flags, less those a local flag of the same name shadows
        (`topology load --json FILE` is its own string flag, not the global `--json`)."""
        local = {f.name for f in self.flags}
        out: list[Flag] = []
        node = self.parent
        while node is not None:
            out += [f for f in node.flags if f.persistent and f.name not in local]
            node = node.parent
        return out

    def local_flags(self) -> list[Flag]:
        return [*self.flags, help_flag(self)]

    def all_flags(self) -> list[Flag]:
        return [*self.local_flags(), *self.inherited_flags()]

    def visible_children(self) -> list[Command]:
        return sorted((c for c in self.children if not c.hidden), key=lambda c: c.name)

    # --- help -------------------------------------------------------------------------------

    def usage_text(self) -> str:
        parts = ["Usage:"]
        if self.run is not None:
            line = self.path + (" " + self.use_args if self.use_args else "")
            parts.append(f"\n  {line} [flags]")
        children = self.visible_children()
        if children:
            parts.append(f"\n  {self.path} [command]")
        if self.aliases:
            parts.append("\n\nAliases:\n  " + ", ".join([self.name, *self.aliases]))
        if self.example:
            parts.append("\n\nExamples:\n" + self.example)
        if children:
            pad = max(MIN_NAME_PADDING, *(len(c.name) for c in children))
            parts.append("\n\nAvailable Commands:")
            for c in children:
                parts.append(f"\n  {c.name.ljust(pad)} {c.short}")
        parts.append("\n\nFlags:\n" + flag_usages(self.local_flags()).rstrip())
        inherited = self.inherited_flags()
        if inherited:
            parts.append("\n\nGlobal Flags:\n" + flag_usages(inherited).rstrip())
        if children:
            parts.append(
                f'\n\nUse "{self.path} [command] --help" for more information about a command.'
            )
        return "".join(parts) + "\n"

    def help_text(self) -> str:
        head = (self.long or self.short).rstrip()
        return (head + "\n\n" if head else "") + self.usage_text()


def help_flag(command: Command) -> Flag:
    return Flag("help", "bool", usage=f"help for {command.name}", shorthand="h")


@dataclass
class Invocation:
    command: Command
    args: list[str]
    values: dict[str, Any]
    given: set[str]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def changed(self, name: str) -> bool:
        return name in self.given


def _find_flag(flags: Sequence[Flag], name: str = "", shorthand: str = "") -> Flag | None:
    for flag in flags:
        if (name and flag.name == name) or (shorthand and flag.shorthand == shorthand):
            return flag
    return None


def _set(values: dict[str, Any], given: set[str], flag: Flag, text: str) -> None:
    try:
        value = FLAG_TYPES[flag.kind](text)
    except GoParseError as exc:
        raise UsageError(f'invalid argument "{text}" for "{_flag_label(flag)}" flag: {exc}') from None
    if flag.kind == "strings" and flag.name in given:
        value = [*values[flag.name], *value]
    values[flag.name] = value
    given.add(flag.name)


def _flag_label(flag: Flag) -> str:
    return f"-{flag.shorthand}, --{flag.name}" if flag.shorthand else f"--{flag.name}"


def parse(root: Command, argv: Sequence[str]) -> Invocation:
    """Find the command and read its flags and arguments (cobra's rules)."""
    command = root
    values: dict[str, Any] = {}
    given: set[str] = set()
    args: list[str] = []
    pending: list[tuple[str, str, str]] = []  # flags seen before their command was known
    tokens = list(argv)
    i = 0
    only_args = False
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if only_args or token == "-" or not token.startswith("-"):
            if not args and not only_args and command.child(token) is not None:
                command = command.child(token)  # type: ignore[assignment]
            else:
                args.append(token)
            continue
        if token == "--":
            only_args = True
            continue
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            flag = _find_flag(_known_flags(command, tokens[i:]), name=name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if eq:
                pending.append(("long", name, value))
            elif flag.kind == "bool":
                pending.append(("long", name, "true"))
            elif i < len(tokens):
                pending.append(("long", name, tokens[i]))
                i += 1
            else:
                raise UsageError(f"flag needs an argument: --{name}")
            continue
        shorts = token[1:]
        j = 0
        while j < len(shorts):
            letter = shorts[j]
            flag = _find_flag(_known_flags(command, tokens[i:]), shorthand=letter)
            if flag is None:
                raise UsageError(f"unknown shorthand flag: '{letter}' in -{shorts}")
            rest = shorts[j + 1 :]
            if rest.startswith("="):
                pending.append(("long", flag.name, rest[1:]))
                break
            if flag.kind == "bool":
                pending.append(("long", flag.name, "true"))
                j += 1
                continue
            if rest:
                pending.append(("long", flag.name, rest))
            elif i < len(tokens):
                pending.append(("long", flag.name, tokens[i]))
                i += 1
            else:
                raise UsageError(f"flag needs an argument: '{letter}' in -{shorts}")
            break
    flags = command.all_flags()
    for flag in flags:
        values.setdefault(flag.name, flag.initial())
    for _, name, value in pending:
        flag = _find_flag(flags, name=name)
        if flag is None:
            raise UsageError(f"unknown flag: --{name}")
        _set(values, given, flag, value)
    return Invocation(command, args, values, given)


def _known_flags(command: Command, rest: Sequence[str]) -> list[Flag]:
    """Flags valid at this point: the command's own and inherited, plus those of the
    sub-commands named later on the line (flags may come before the sub-command's name)."""
    flags = command.all_flags()
    node = command
    for token in rest:
        if token.startswith("-"):
            continue
        nxt = node.child(token)
        if nxt is None:
            break
        node = nxt
        flags += node.local_flags()
    return flags


def suggestions(command: Command, typed: str) -> list[str]:
    """cobra's "Did you mean this?": Levenshtein distance <= 2 or a prefix match."""
    out = []
    for c in command.visible_children():
        if _levenshtein(typed.lower(), c.name.lower()) <= 2 or c.name.lower().startswith(
            typed.lower()
        ):
            out.append(c.name)
    return out


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
