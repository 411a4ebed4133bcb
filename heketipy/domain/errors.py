"""The one error hierarchy of heketipy.

Every layer raises these; ``heketipy.api.errors`` maps them to HTTP status codes and Heketi's
texts in one place. ``str(error)`` is always the exact text a client sees (without the trailing
newline the HTTP layer adds).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence


class HeketiError(Exception):
    """Base class: ``text`` is the client-visible message."""

    status = 500

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotFound(HeketiError):
    """An id (or name) that names nothing."""

    status = 404


class Conflict(HeketiError):
    """The target exists, is in use, or holds other items."""

    status = 409


class InvalidRequest(HeketiError):
    """A request with an invalid value (Heketi answers 400)."""

    status = 400


class Unprocessable(HeketiError):
    """A request body that cannot be parsed (Heketi answers 422)."""

    status = 422


class OperationFailed(HeketiError):
    """A failure reported as 500 (allocation failures, state-transition refusals, ...)."""

    status = 500


class Busy(HeketiError):
    """Too many operations in flight and the wait queue is full."""

    status = 429

    def __init__(self, text: str = "Server busy. Retry operation later.", retry_after_s: int = 1):
        super().__init__(text)
        self.retry_after_s = retry_after_s


class NodeCommandError(HeketiError):
    """A command on a storage node failed."""

    def __init__(
        self,
        node: str,
        argv: Sequence[str],
        exit_code: int | None,
        stderr: str,
        text: str | None = None,
    ) -> None:
        self.node = node
        self.argv = list(argv)
        self.exit_code = exit_code
        self.stderr = stderr
        message = text or (
            f"Unable to execute command on {node} ({command_name(argv)}): "
            f"{stderr.strip() or f'exit code {exit_code}'}"
        )
        super().__init__(message)


_WRAPPER_WORDS = {"sudo", "env"}
_VERB = re.compile(r"[a-z]+")


def command_name(argv: Sequence[str]) -> str:
    """What an error calls a node command: the tool and its verbs (``gluster volume create``,
    ``lvm lvcreate``, ``mkfs.xfs``), without wrappers (``sudo -n --``, ``env LC_ALL=C``),
    options or arguments (which can be long, and are in the debug log)."""
    words = list(argv)
    while words and (words[0] in _WRAPPER_WORDS or words[0].startswith("-") or "=" in words[0]):
        words.pop(0)
    if not words:
        return "?"
    named = [os.path.basename(words[0])]
    for word in words[1:]:
        if len(named) == 3:
            break
        if word.startswith("-"):
            continue
        if not _VERB.fullmatch(word):
            break
        named.append(word)
    return " ".join(named)


ID_NOT_FOUND = "Id not found"
TARGET_IN_USE = "The target exists, contains other items, or is in use."
