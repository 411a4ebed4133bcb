"""Go ``encoding/json`` compatibility: byte-exact encoding and Go-like decoding.

Owns three things every Heketi-compatible reply and request depends on:

* ``dumps`` / ``dumps_indent4``: what Go's ``json.Marshal`` (plus the ``\\n`` the
  Heketi handlers write) and ``json.MarshalIndent(v, "", "    ")`` produce:
  compact separators, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c``
  style sequences, other non-ASCII kept as UTF-8, floats formatted like Go
  (``1`` not ``1.0``). Dict insertion order is the emission order; Go sorts map
  keys, so callers emit Go maps (tags, ...) with sorted keys.
* ``go_syntax_error``: the exact text of Go's syntax error for an invalid document
  (``invalid character 'n' looking for beginning of object key string``,
  ``unexpected end of JSON input`` ...).
* ``loads``: decoding that accepts exactly what Go accepts and keeps what a typed,
  Go-like decoder needs: objects as ordered key/value pairs (duplicate keys
  preserved) and non-integer number literals with their source text.

The encoder builds on the C ``json`` encoder and only post-processes the output
when a Go difference can occur, so it stays fast for 10,000-volume lists.
"""

from __future__ import annotations

import codecs
import json
import re
import secrets
import struct
from typing import Any

__all__ = [
    "GoJSONSyntaxError",
    "JSONNumber",
    "JSONObject",
    "dumps",
    "dumps_indent4",
    "dumps_string_list",
    "format_float",
    "go_quote_char",
    "go_syntax_error",
    "loads",
]

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

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
            go_text = format_float(item)
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
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8") + b"\n"


def format_float(value: float, bits: int = 64) -> str:
    """Go's encoding of a float64 (``bits=64``) or float32 (``bits=32``) value."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {value!r}")
    if bits == 32:
        value = shortest_float32(value)
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    magnitude = abs(value)
    if 1e-6 <= magnitude < 1e21:
        return _fixed_notation(value)
    text = repr(value)  # shortest round-trip digits, exponent form here
    mantissa, _, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    sign = "-" if exponent.startswith("-") else "+"
    # Go writes at least two exponent digits for e+NN and trims e-07 to e-7.
    digits = exponent.lstrip("+-").lstrip("0").rjust(2 if sign == "+" else 1, "0")
    return f"{mantissa}e{sign}{digits}"


def _fixed_notation(value: float) -> str:
    """Shortest round-trip digits written without an exponent (Go's 'f', -1)."""
    text = repr(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text)
    negative = mantissa.startswith("-")
    mantissa = mantissa.lstrip("-")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).rstrip("0") or "0"
    point = len(whole) + exponent  # position of the decimal point within digits
    if point <= 0:
        body = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        body = digits + "0" * (point - len(digits))
    else:
        body = digits[:point] + "." + digits[point:]
    return ("-" if negative else "") + body


def shortest_float32(value: float) -> float:
    """The Python float whose repr is Go's shortest text for ``float32(value)``."""
    rounded = struct.unpack("<f", struct.pack("<f", value))[0]
    for precision in range(1, 10):
        candidate = float(f"{rounded:.{precision}g}")
        if struct.unpack("<f", struct.pack("<f", candidate))[0] == rounded:
            return candidate
    return rounded


# --------------------------------------------------------------------------- decoding


class GoJSONSyntaxError(ValueError):
    """The document is not JSON as Go accepts it; ``text`` is Go's error text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class JSONObject(list):
    """A decoded JSON object: its ``(key, value)`` pairs in document order."""

    __slots__ = ()


class JSONNumber(float):
    """A number literal that is not a plain int64-sized integer; keeps its source text."""

    text: str
    is_integer_literal: bool

    def __new__(cls, text: str, is_integer_literal: bool) -> JSONNumber:
        number = super().__new__(cls, text)
        number.text = text
        number.is_integer_literal = is_integer_literal
        return number


def _parse_float(text: str) -> JSONNumber:
    return JSONNumber(text, False)


def _parse_int(text: str) -> int | JSONNumber:
    # 20 characters hold every int64 (19 digits plus sign); longer literals are out
    # of range for every Go integer field and would trip Python's digit limit.
    if len(text) <= 20:
        return int(text)
    return JSONNumber(text, True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Go does not accept {name}")


def _replace_each_byte(error: UnicodeError) -> tuple[str, int]:
    # Go's string decoder turns every invalid byte into one U+FFFD. Registered for decoding
    # only; an encoding error is not ours to replace.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\ufffd", error.start + 1


codecs.register_error("heketipy-go-replace", _replace_each_byte)


def loads(raw: bytes) -> Any:
    """Decode ``raw`` as Go's ``json.Unmarshal`` would see it.

    Objects become ``JSONObject`` pair lists, integer literals ``int`` (or
    ``JSONNumber`` when longer than any int64), other numbers ``JSONNumber``.
    Raises ``GoJSONSyntaxError`` with Go's text for anything Go rejects.
    """
    try:
        text = raw.decode("utf-8")
        return _python_loads(text)
    except (ValueError, RecursionError):
        pass  # fall through to the exact scanner for Go's message
    message = go_syntax_error(raw)
    if message is not None:
        raise GoJSONSyntaxError(message)
    # Valid for Go but not for the fast path: invalid UTF-8 inside strings.
    try:
        return _python_loads(raw.decode("utf-8", errors="heketipy-go-replace"))
    except (ValueError, RecursionError) as exc:
        raise GoJSONSyntaxError("exceeded max depth") from exc


def _python_loads(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=JSONObject,
        parse_float=_parse_float,
        parse_int=_parse_int,
        parse_constant=_reject_constant,
    )


def sanitize_string(value: str) -> str:
    """Go decodes an escaped lone surrogate (``\\ud800``) as U+FFFD."""
    if _LONE_SURROGATE.search(value):
        return _LONE_SURROGATE.sub("\ufffd", value)
    return value


# ----------------------------------------------------------------- Go syntax scanner

_MAX_DEPTH = 10000
_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = frozenset(b'bfnrt\\/"')

# scanner states
(
    _BEGIN_VALUE,
    _BEGIN_VALUE_OR_EMPTY,
    _BEGIN_KEY_OR_EMPTY,
    _BEGIN_KEY,
    _END_VALUE,
    _END_TOP,
    _STRING,
    _STRING_ESC,
    _STRING_U1,
    _STRING_U2,
    _STRING_U3,
    _STRING_U4,
    _NEG,
    _ZERO,
    _DIGITS_1,
    _DOT,
    _DOT_DIGITS,
    _EXP,
    _EXP_SIGN,
    _EXP_DIGITS,
) = range(20)

_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = range(3)

# literal spelling states: (remaining letters, literal name)
_LITERALS = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}


def go_quote_char(byte: int) -> str:
    """Go's `quoteChar`: a byte as it appears in `invalid character ...` messages."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    return "'" + _go_quote_rune(chr(byte)) + "'"


def _go_quote_rune(char: str) -> str:
    short = {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
    }
    if char in short:
        return short[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if char == " " or (char.isprintable() and code != 0xA0):
        return char
    return f"\\u{code:04x}"


def go_syntax_error(data: bytes) -> str | None:
    """Go's syntax error text for ``data``, or None when Go considers it valid JSON."""
    stack: list[int] = []
    state = _BEGIN_VALUE
    literal = ""  # remaining letters of true/false/null being read
    literal_name = ""

    def error(byte: int, context: str) -> str:
        return f"invalid character {go_quote_char(byte)} {context}"

    for byte in [*data, 0x20, None]:
        if byte is None:
            return None if state == _END_TOP else "unexpected end of JSON input"
        while True:  # re-dispatch loop: a number or literal end hands the byte on
            if literal:
                if byte == ord(literal[0]):
                    literal = literal[1:]
                    if not literal:
                        state = _END_VALUE
                    break
                return error(
                    byte, f"in literal {literal_name} (expecting {go_quote_char(ord(literal[0]))})"
                )
            if state in (_BEGIN_VALUE, _BEGIN_VALUE_OR_EMPTY):
                if byte in _SPACE:
                    break
                if state == _BEGIN_VALUE_OR_EMPTY and byte == 0x5D:  # ]
                    stack.pop()
                    state = _END_VALUE
                    break
                if byte == 0x7B:  # {
                    stack.append(_OBJECT_KEY)
                    if len(stack) > _MAX_DEPTH:
                        return error(byte, "exceeded max depth")
                    state = _BEGIN_KEY_OR_EMPTY
                elif byte == 0x5B:  # [
                    stack.append(_ARRAY_VALUE)
                    if len(stack) > _MAX_DEPTH:
                        return error(byte, "exceeded max depth")
                    state = _BEGIN_VALUE_OR_EMPTY
                elif byte == 0x22:
                    state = _STRING
                elif byte == 0x2D:
                    state = _NEG
                elif byte == 0x30:
                    state = _ZERO
                elif byte in _DIGITS:
                    state = _DIGITS_1
                elif byte in _LITERALS:
                    literal_name = _LITERALS[byte]
                    literal = literal_name[1:]
                else:
                    return error(byte, "looking for beginning of value")
                break
            if state in (_BEGIN_KEY_OR_EMPTY, _BEGIN_KEY):
                if byte in _SPACE:
                    break
                if state == _BEGIN_KEY_OR_EMPTY and byte == 0x7D:  # }
                    stack.pop()
                    state = _END_VALUE
                    break
                if byte == 0x22:
                    state = _STRING
                    break
                return error(byte, "looking for beginning of object key string")
            if state == _END_VALUE:
                if not stack:
                    state = _END_TOP
                    continue
                if byte in _SPACE:
                    break
                top = stack[-1]
                if top == _OBJECT_KEY:
                    if byte == 0x3A:  # :
                        stack[-1] = _OBJECT_VALUE
                        state = _BEGIN_VALUE
                        break
                    return error(byte, "after object key")
                if top == _OBJECT_VALUE:
                    if byte == 0x2C:
                        stack[-1] = _OBJECT_KEY
                        state = _BEGIN_KEY
                        break
                    if byte == 0x7D:
                        stack.pop()
                        break
                    return error(byte, "after object key:value pair")
                if byte == 0x2C:
                    state = _BEGIN_VALUE
                    break
                if byte == 0x5D:
                    stack.pop()
                    break
                return error(byte, "after array element")
            if state == _END_TOP:
                if byte in _SPACE:
                    break
                return error(byte, "after top-level value")
            if state == _STRING:
                if byte == 0x22:
                    state = _END_VALUE
                elif byte == 0x5C:
                    state = _STRING_ESC
                elif byte < 0x20:
                    return error(byte, "in string literal")
                break
            if state == _STRING_ESC:
                if byte in _ESCAPES:
                    state = _STRING
                elif byte == 0x75:  # u
                    state = _STRING_U1
                else:
                    return error(byte, "in string escape code")
                break
            if _STRING_U1 <= state <= _STRING_U4:
                if byte not in _HEX:
                    return error(byte, "in \\u hexadecimal character escape")
                state = _STRING if state == _STRING_U4 else state + 1
                break
            if state == _NEG:
                if byte == 0x30:
                    state = _ZERO
                elif byte in _DIGITS:
                    state = _DIGITS_1
                else:
                    return error(byte, "in numeric literal")
                break
            if state in (_ZERO, _DIGITS_1):
                if state == _DIGITS_1 and byte in _DIGITS:
                    break
                if byte == 0x2E:
                    state = _DOT
                    break
                if byte in (0x65, 0x45):
                    state = _EXP
                    break
                state = _END_VALUE
                continue
            if state == _DOT:
                if byte in _DIGITS:
                    state = _DOT_DIGITS
                    break
                return error(byte, "after decimal point in numeric literal")
            if state == _DOT_DIGITS:
                if byte in _DIGITS:
                    break
                if byte in (0x65, 0x45):
                    state = _EXP
                    break
                state = _END_VALUE
                continue
            if state == _EXP:
                if byte in (0x2B, 0x2D):
                    state = _EXP_SIGN
                    break
                if byte in _DIGITS:
                    state = _EXP_DIGITS
                    break
                return error(byte, "in exponent of numeric literal")
            if state == _EXP_SIGN:
                if byte in _DIGITS:
                    state = _EXP_DIGITS
                    break
                return error(byte, "in exponent of numeric literal")
            if state == _EXP_DIGITS:
                if byte in _DIGITS:
                    break
                state = _END_VALUE
                continue
            raise AssertionError(f"unknown scanner state {state}")  # pragma: no cover
    return None  # pragma: no cover - loop always returns at the None sentinel
