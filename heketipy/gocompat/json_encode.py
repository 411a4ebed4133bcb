"""Go ``encoding/json`` output, byte for byte: what ``json.Marshal`` (plus the ``\\n`` the Heketi
handlers write) and ``json.MarshalIndent(v, "", "    ")`` produce.

Compact separators, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c`` style
sequences, other non-ASCII kept as UTF-8, floats formatted like Go (``1`` not ``1.0``). Dict
insertion order is the emission order; Go sorts map keys, so callers emit Go maps (tags, ...)
with sorted keys.

The encoder builds on the C ``json`` encoder and only post-processes the output when a Go
difference can occur, so it stays fast for 10,000-volume lists.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from heketipy.gocompat.strconv import format_float_json

__all__ = ["dumps", "dumps_indent4", "dumps_string_list", "text_compact", "text_indent4"]

# Go's encoder before 1.22 writes backspace and form feed as \u0008 / \u000c; Python
# writes \b / \f. Heketi v10.4.1 builds predate that change.
_INF = float("inf")
_SHORT_BF_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\([bf])")
_BF_REPLACEMENT = {"b": "\\u0008", "f": "\\u000c"}

# Python float reprs that differ from Go's: integral values ("1.0", Go "1") and
# exponent forms ("1e+16", "1e-05"; Go switches to exponents only outside
# [1e-6, 1e21)). A hit may be inside a string; the exact path then runs for nothing.
# Two literal-prefixed patterns scan far faster than one alternation.
_INTEGRAL_FLOAT = re.compile(r"\.0(?:[,\]}\s]|$)")
_EXPONENT_FLOAT = re.compile(r"e[+-][0-9]+(?:[,\]}\s]|$)")

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any, *, floats: bool = True) -> bytes:
    """Go ``json.Marshal(value)`` followed by ``\\n``, as Heketi writes replies.

    ``floats=False`` promises that ``value`` holds no float (an id list, say) and skips
    scanning the text for Python float forms: a third of the cost of a long list.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if floats and (_INTEGRAL_FLOAT.search(text) or _EXPONENT_FLOAT.search(text)):
        text = _encode_go_floats(value, indent=None)
    return _finish(text)


def dumps_string_list(key: str, items: list[str]) -> bytes:
    """``dumps({key: items})`` for a list of strings, e.g. 10,000 volume ids.

    When no item needs escaping (ASCII letters and digits only, as every Heketi id) the
    text is joined directly, five times faster than the encoder; otherwise it is ``dumps``.
    """
    if items and _is_ascii_alnum(key) and _is_ascii_alnum("".join(items)):
        return ('{"' + key + '":["' + '","'.join(items) + '"]}\n').encode("utf-8")
    return dumps({key: items}, floats=False)


def _is_ascii_alnum(text: str) -> bool:
    # bytes.isalnum is a table lookup per byte; str.isalnum consults Unicode data (25x slower).
    return text.isascii() and text.encode("ascii").isalnum()


def dumps_indent4(value: Any) -> bytes:
    """Go ``json.MarshalIndent(value, "", "    ")`` followed by ``\\n``."""
    text = json.dumps(value, ensure_ascii=False, indent=4, separators=(",", ": "), allow_nan=False)
    if _INTEGRAL_FLOAT.search(text) or _EXPONENT_FLOAT.search(text):
        text = _encode_go_floats(value, indent=4)
    return _finish(text)


def _encode_go_floats(value: Any, indent: int | None) -> str:
    """Encode with every float written as Go writes it.

    Integral floats below 1e16 become ints (same text); any other float whose
    Python text differs is swapped for a unique placeholder string, replaced in
    the output by Go's text.
    """
    marker = f"\x00gofloat-{secrets.token_hex(8)}-"
    replacements: list[str] = []

    def convert(item: Any) -> Any:
        if isinstance(item, float):
            if item != item or item in (_INF, -_INF):
                raise ValueError(f"Out of range float values are not JSON compliant: {item!r}")
            go_text = format_float_json(item)
            if go_text == repr(item):
                return item
            if item.is_integer() and abs(item) < 1e16 and go_text != "-0":
                return int(item)
            replacements.append(go_text)
            return f"{marker}{len(replacements) - 1}"
        if isinstance(item, dict):
            return {key: convert(child) for key, child in item.items()}
        if isinstance(item, (list, tuple)):
            return [convert(child) for child in item]
        return item

    converted = convert(value)
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(converted, ensure_ascii=False, indent=indent, separators=separators)
    if replacements:
        quoted_marker = json.dumps(marker, ensure_ascii=False)[:-1]
        text = re.sub(
            re.escape(quoted_marker) + r'(\d+)"',
            lambda match: replacements[int(match.group(1))],
            text,
        )
    return text


def _finish(text: str) -> bytes:
    # '<', '>', '&', U+2028 and U+2029 can only occur inside string literals of
    # the encoded text, so replacing them globally is safe.
    if "<" in text:
        text = text.replace("<", "\\u003c")
    if ">" in text:
        text = text.replace(">", "\\u003e")
    if "&" in text:
        text = text.replace("&", "\\u0026")
    if "\u2028" in text:
        text = text.replace("\u2028", "\\u2028")
    if "\u2029" in text:
        text = text.replace("\u2029", "\\u2029")
    if "\\" in text and ("\\b" in text or "\\f" in text):
        text = _SHORT_BF_ESCAPE.sub(lambda m: m.group(1) + _BF_REPLACEMENT[m.group(2)], text)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # Go replaces invalid UTF-8 (here: lone surrogates) with U+FFFD.
        return LONE_SURROGATE.sub("\ufffd", text).encode("utf-8") + b"\n"


def text_compact(value: Any) -> str:
    """``json.Marshal`` as text, without the trailing newline (heketi-cli's output)."""
    return dumps(value).decode("utf-8")[:-1]


def text_indent4(value: Any) -> str:
    """``json.MarshalIndent(v, "", "    ")`` as text, without the trailing newline."""
    return dumps_indent4(value).decode("utf-8")[:-1]
