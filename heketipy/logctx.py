"""Structured logging: one line per event, each carrying the operation it belongs to.

``operation_id`` is a context variable set while an operation's job runs; the filter puts it
on every record, so lines of concurrent operations can be told apart (``op=-`` outside one).
"""

from __future__ import annotations

import contextvars
import logging

operation_id: contextvars.ContextVar[str] = contextvars.ContextVar("operation_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s op=%(op)s %(message)s"


class OperationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.op = operation_id.get()
        return True


def configure(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(OperationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("heketipy").setLevel(level)
