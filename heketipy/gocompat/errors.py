"""Errors that carry a Go library's exact error text."""

from __future__ import annotations


class GoError(Exception):
    """A Go library error; ``str()`` is the exact Go text."""


class GoJSONSyntaxError(GoError, ValueError):
    """The document is not JSON as Go accepts it; ``text`` is Go's error text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GoParseError(GoError, ValueError):
    """A ``strconv`` parse failure (``strconv.ParseInt: parsing "x": invalid syntax``)."""
