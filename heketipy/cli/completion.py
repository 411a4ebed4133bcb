"""`heketi-cli completion bash|zsh`: shell completion scripts generated from the command tree.

Both scripts carry the same table: for every command path (`heketi-cli volume`), the words
that may follow it (its sub-commands, then its flags). The shell walks the words typed so far
to the deepest known path and offers that path's words.
"""

from __future__ import annotations

from collections.abc import Callable

from heketipy.cli.commandline import Command
from heketipy.cli.context import Context


def completion_table(root: Command) -> dict[str, list[str]]:
    """Command path -> the sub-command names and `--flags` that may follow it."""
    table: dict[str, list[str]] = {}

    def visit(command: Command) -> None:
        words = [child.name for child in command.visible_children()]
        words += sorted(f"--{flag.name}" for flag in command.all_flags())
        table[command.path] = words
        for child in command.visible_children():
            visit(child)

    visit(root)
    return table


def _entries(root: Command, indent: str, pattern: str) -> str:
    """One line per command path; `pattern` lays out key and value for the shell."""
    return "".join(
        indent + pattern.format(key=_quote(path), value=_quote(" ".join(words))) + "\n"
        for path, words in completion_table(root).items()
    )


def _quote(text: str) -> str:
    # Names and flags are our own ([a-z-]); single quotes keep them literal in both shells.
    return "'" + text.replace("'", "'\\''") + "'"


def bash_script(root: Command) -> str:
    return (
        f"# bash completion for {root.name} (heketipy); source it or put it in\n"
        "# /etc/bash_completion.d/\n"
        "_heketi_cli() {\n"
        "    local -A tree=(\n"
        + _entries(root, "        ", "[{key}]={value}")
        + "    )\n"
        f"    local cmdpath={_quote(root.name)} word i\n"
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        '        word="${COMP_WORDS[i]}"\n'
        '        [[ $word == -* ]] && continue\n'
        '        [[ -n ${tree["$cmdpath $word"]+set} ]] && cmdpath="$cmdpath $word"\n'
        "    done\n"
        '    COMPREPLY=($(compgen -W "${tree[$cmdpath]}" -- "${COMP_WORDS[COMP_CWORD]}"))\n'
        "}\n"
        "complete -F _heketi_cli heketi-cli heketipy-cli\n"
    )


def zsh_script(root: Command) -> str:
    return (
        "#compdef heketi-cli heketipy-cli\n"
        f"# zsh completion for {root.name} (heketipy): put it on $fpath as _heketi-cli, or\n"
        "# source it after compinit.\n"
        "_heketi-cli() {\n"
        "    local -A tree\n"
        "    tree=(\n"
        + _entries(root, "        ", "{key} {value}")
        + "    )\n"
        f"    local cmdpath={_quote(root.name)} word key i\n"
        "    for ((i = 2; i < CURRENT; i++)); do\n"
        "        word=${words[i]}\n"
        "        [[ $word == -* ]] && continue\n"
        '        key="$cmdpath $word"\n'
        "        (( ${+tree[$key]} )) && cmdpath=$key\n"
        "    done\n"
        "    compadd -- ${=tree[$cmdpath]}\n"
        "}\n"
        'if [[ "${funcstack[1]}" == "_heketi-cli" ]]; then\n'
        '    _heketi-cli "$@"\n'
        "else\n"
        "    compdef _heketi-cli heketi-cli heketipy-cli\n"
        "fi\n"
    )


def command(root: Command) -> Command:
    """`completion`, with one sub-command per shell (cobra's layout)."""

    def script(render: Callable[[Command], str]) -> Callable[[Context], None]:
        return lambda ctx: ctx.write(render(root))

    return Command(
        "completion", short="Generate the autocompletion script for the specified shell",
        long="Generate the autocompletion script for heketi-cli for the specified shell.\n"
             "See each sub-command's help for details on how to use the generated script.",
    ).add(
        Command("bash", short="Generate the autocompletion script for bash",
                run=script(bash_script)),
        Command("zsh", short="Generate the autocompletion script for zsh",
                run=script(zsh_script)),
    )
