"""Structured logging: one line per event, each carrying the operation it belongs to.

``operation_id`` is a context variable set while an operation's job runs; the filter puts it
on every record (``op=-`` outside one) unless the call names one itself (the request line of a
request that started an operation). ``event`` logs a named event with ``key=value`` fields:
the text format renders them on the line (values quoted so an event never spans two lines),
the JSON format (``heketipy.log_format: "json"``, for log shippers) also emits them as keys of
one JSON object per line beside ``time``, ``level``, ``logger``, ``message`` and ``op``.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

operation_id: contextvars.ContextVar[str] = contextvars.ContextVar("operation_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s op=%(op)s %(message)s"
# Heketi's level names (glusterfs.loglevel, POST /internal/logging) -> logging levels.
LEVELS = {
    "none": logging.CRITICAL + 10,
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
_ENVELOPE = ("time", "level", "logger", "message", "op")


def level_number(name: str) -> int:
    return LEVELS.get(name, logging.INFO)


def set_level(name: str) -> None:
    """Apply a Heketi level name to heketipy's loggers (third-party ones stay at WARNING)."""
    logging.getLogger("heketipy").setLevel(level_number(name))


class OperationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "op", None) is None:
            record.op = operation_id.get()
        return True


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = shlex.join(str(word) for word in value)
    text = str(value)
    if not text or any(c.isspace() or c in '"=\\' or not c.isprintable() for c in text):
        return json.dumps(text)
    return text


def render(name: str, fields: Mapping[str, Any]) -> str:
    """``name key=value ...``; a value with spaces, quotes or control characters is quoted."""
    return " ".join([name, *(f"{key}={_value(value)}" for key, value in fields.items())])


def event(
    logger: logging.Logger,
    level: int,
    name: str,
    /,
    *,
    op: str | None = None,
    exc_info: Any = None,
    **fields: Any,
) -> None:
    """Log the event ``name`` with structured ``fields`` (``op`` overrides the context's)."""
    if not logger.isEnabledFor(level):
        return
    extra: dict[str, Any] = {"fields": fields}
    if op is not None:
        extra["op"] = op
    logger.log(level, "%s", render(name, fields), extra=extra, exc_info=exc_info)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the envelope, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        op = getattr(record, "op", "-")
        document: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "op": None if op == "-" else op,
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            if key not in _ENVELOPE:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, default=str)


def announce(message: str, log_format: str, stream: TextIO, logger: str = "heketipy") -> None:
    """Write a start-up warning whatever the log level: the bare text in the text format, one
    JSON object in the JsonFormatter's envelope in the json format (one object per line)."""
    if log_format == "json":
        record = logging.LogRecord(logger, logging.WARNING, __file__, 0, message, None, None)
        record.op = "-"
        message = JsonFormatter().format(record)
    print(message, file=stream, flush=True)


def configure(level: int, log_format: str = "text") -> None:
    """Log to stderr in ``log_format``; heketipy at ``level``, everything else at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
    handler.addFilter(OperationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("heketipy").setLevel(level)
    # Python warnings become log records too, so a JSON log stays one object per line.
    logging.captureWarnings(True)
