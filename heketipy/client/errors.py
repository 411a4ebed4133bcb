"""Errors raised by the client library: one exception type carrying status and Heketi's text."""

from __future__ import annotations


class HeketiError(Exception):
    """The server refused a request: HTTP `status` and Heketi's (trimmed) error `message`.

    `status` is 0 when no HTTP answer arrived (see `HeketiConnectionError`).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"HeketiError(status={self.status}, message={self.message!r})"


class HeketiConnectionError(HeketiError):
    """The server could not be reached; the message reads like Go's `url.Error`."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)
