"""Typed request storage keys on every aiohttp this project supports.

aiohttp 3.14 added ``web.RequestKey`` (typed like ``web.AppKey``); older releases take a plain
string key, which is what ``request_key`` returns there. Type checkers see the typed key.
"""

from __future__ import annotations

from typing import TypeVar, cast

from aiohttp import web

T = TypeVar("T")


def request_key(name: str, kind: type[T]) -> web.RequestKey[T]:
    """``web.RequestKey(name, kind)``, or the string ``heketipy.<name>`` before aiohttp 3.14."""
    typed = getattr(web, "RequestKey", None)
    if typed is None:
        return cast("web.RequestKey[T]", f"heketipy.{name}")
    return cast("web.RequestKey[T]", typed(name, kind))
