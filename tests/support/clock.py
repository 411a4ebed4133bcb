"""A hand-driven clock for code that takes a ``clock`` callable: tests move time, never sleep."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
