"""Go ``encoding/json`` input: Go's syntax scanner, its error texts, and Go-like decoding.

Owns the one JSON scanner heketipy has (a port of the state machine Go's decoder runs), and the
readings built on it:

* ``go_syntax_error``: the exact text of Go's syntax error for an invalid document
  (``invalid character 'n' looking for beginning of object key string``, ``unexpected end of
  JSON input`` ...);
* ``loads``: decoding that accepts exactly what Go accepts and keeps what a typed, Go-like
  decoder needs: objects as ``JSONObject`` ordered key/value pairs (duplicate keys preserved),
  integer literals as ``int`` and other number literals as ``JSONNumber`` with their text;
* ``unmarshal`` / ``stream_decode``: ``json.Unmarshal`` and ``json.Decoder.Decode`` of a
  document whose top level is all that matters (JWT headers and claims): the top-level
  object's members are decoded, deeper containers are empty placeholders of their kind, so
  nesting depth costs nothing.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from heketipy.gocompat.errors import GoError, GoJSONSyntaxError
from heketipy.gocompat.json_encode import LONE_SURROGATE

__all__ = [
    "GoJSONSyntaxError",
    "JSONNumber",
    "JSONObject",
    "go_quote_char",
    "go_syntax_error",
    "json_kind",
    "loads",
    "number_literal",
    "sanitize_string",
    "stream_decode",
    "unmarshal",
]


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


def _replace_each_byte(error: UnicodeError) -> tuple[str | bytes, int]:
    # Go's string decoder turns every invalid byte into one U+FFFD.
    assert isinstance(error, UnicodeDecodeError)
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
    if LONE_SURROGATE.search(value):
        return LONE_SURROGATE.sub("\ufffd", value)
    return value


# ------------------------------------------------------------------- Go's scanner

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


def _on(chars: bytes, target: int) -> dict[int, int]:
    return dict.fromkeys(chars, target)


_DIGIT_BYTES = b"0123456789"

# Number states: the bytes that continue the literal (-> next state), and Go's error context
# for any other byte, or None where the literal may end there.
_NUMBER_STEPS: dict[int, tuple[dict[int, int], str | None]] = {
    _NEG: ({**_on(b"0", _ZERO), **_on(b"123456789", _DIGITS_1)}, "in numeric literal"),
    _ZERO: ({**_on(b".", _DOT), **_on(b"eE", _EXP)}, None),
    _DIGITS_1: ({**_on(_DIGIT_BYTES, _DIGITS_1), **_on(b".", _DOT), **_on(b"eE", _EXP)}, None),
    _DOT: (_on(_DIGIT_BYTES, _DOT_DIGITS), "after decimal point in numeric literal"),
    _DOT_DIGITS: ({**_on(_DIGIT_BYTES, _DOT_DIGITS), **_on(b"eE", _EXP)}, None),
    _EXP: (
        {**_on(b"+-", _EXP_SIGN), **_on(_DIGIT_BYTES, _EXP_DIGITS)},
        "in exponent of numeric literal",
    ),
    _EXP_SIGN: (_on(_DIGIT_BYTES, _EXP_DIGITS), "in exponent of numeric literal"),
    _EXP_DIGITS: (_on(_DIGIT_BYTES, _EXP_DIGITS), None),
}


def go_quote_char(byte: int) -> str:
    """Go's `quoteChar`: a byte as it appears in `invalid character ...` messages."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    return "'" + _go_quote_rune(chr(byte)) + "'"


_SHORT_RUNE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _go_quote_rune(char: str) -> str:
    if char in _SHORT_RUNE_ESCAPES:
        return _SHORT_RUNE_ESCAPES[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if char == " " or (char.isprintable() and code != 0xA0):
        return char
    return f"\\u{code:04x}"


class _Scan:
    """What one scan found: Go's error text (or None), where the first top-level value ends,
    and the byte spans ``(key start, key end, value start, value end)`` of the members of a
    top-level object."""

    __slots__ = ("end", "error", "members")

    def __init__(self) -> None:
        self.error: str | None = None
        self.end = 0
        self.members: list[tuple[int, int, int, int]] = []


def _scan(data: bytes, *, stream: bool = False) -> _Scan:
    """Run Go's scanner over ``data``.

    ``stream=False`` is ``json.Unmarshal``: the whole input must be one value. ``stream=True``
    is ``json.Decoder.Decode``: the first value counts, what follows it is left unread, and the
    input ending early reads ``EOF`` (nothing but space) or ``unexpected EOF``.
    """
    result = _Scan()
    stack: list[int] = []
    state = _BEGIN_VALUE
    literal = ""  # remaining letters of true/false/null being read
    literal_name = ""
    key_start = key_end = value_start = 0

    def fail(text: str) -> _Scan:
        result.error = text
        return result

    def error(byte: int, context: str) -> _Scan:
        if stream and index == len(data):
            # The decoder feeds the scanner one space at the end of its input; any value
            # that does not end there was cut short.
            return fail("unexpected EOF")
        return fail(f"invalid character {go_quote_char(byte)} {context}")

    index = 0
    for index, byte in enumerate([*data, 0x20, None]):
        if byte is None:
            if state == _END_TOP:
                return result
            if not stream:
                return fail("unexpected end of JSON input")
            started = stack or literal or state != _BEGIN_VALUE
            return fail("unexpected EOF" if started else "EOF")
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
                    if len(stack) == 1:
                        key_start = index
                    state = _STRING
                    break
                return error(byte, "looking for beginning of object key string")
            if state == _END_VALUE:
                if not stack:
                    state = _END_TOP
                    if stream:
                        result.end = min(index, len(data))
                        return result
                    continue
                if byte in _SPACE:
                    break
                top = stack[-1]
                if top == _OBJECT_KEY:
                    if byte == 0x3A:  # :
                        if len(stack) == 1:
                            key_end, value_start = index, index + 1
                        stack[-1] = _OBJECT_VALUE
                        state = _BEGIN_VALUE
                        break
                    return error(byte, "after object key")
                if top == _OBJECT_VALUE:
                    if byte in (0x2C, 0x7D) and len(stack) == 1:
                        result.members.append((key_start, key_end, value_start, index))
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
            steps = _NUMBER_STEPS.get(state)
            if steps is not None:
                transitions, context = steps
                if byte in transitions:
                    state = transitions[byte]
                    break
                if context is not None:
                    return error(byte, context)
                state = _END_VALUE  # the number is complete: the byte belongs to what follows
                continue
            raise AssertionError(f"unknown scanner state {state}")  # pragma: no cover
    raise AssertionError("the scan ends at the None sentinel")  # pragma: no cover


def go_syntax_error(data: bytes) -> str | None:
    """Go's syntax error text for ``data``, or None when Go considers it valid JSON."""
    return _scan(data).error


# ------------------------------------------------------------ Unmarshal / Decoder.Decode


def _scalar(token: bytes) -> Any:
    """A scanned scalar, or an empty placeholder of a container's kind."""
    first = token[:1]
    if first == b"{":
        return JSONObject()
    if first == b"[":
        return []
    if first == b'"':
        return json.loads(token.decode("utf-8", errors="heketipy-go-replace"))
    if first in _LITERAL_VALUES:
        return _LITERAL_VALUES[first]
    text = token.decode("ascii")
    if any(char in text for char in ".eE"):
        return _parse_float(text)
    return _parse_int(text)


_LITERAL_VALUES = {b"t": True, b"f": False, b"n": None}
_SPACE_BYTES = bytes(_SPACE)


def _top_level(data: bytes, scan: _Scan) -> Any:
    value = data[: scan.end].strip(_SPACE_BYTES)
    if value[:1] != b"{":
        return _scalar(value)
    return JSONObject(
        (_scalar(data[k0:k1].strip(_SPACE_BYTES)), _scalar(data[v0:v1].strip(_SPACE_BYTES)))
        for k0, k1, v0, v1 in scan.members
    )


def unmarshal(data: bytes) -> Any:
    """``json.Unmarshal`` of ``data`` (the whole input one value), decoded to its top level."""
    scan = _scan(data)
    if scan.error is not None:
        raise GoJSONSyntaxError(scan.error)
    scan.end = len(data)
    return _top_level(data, scan)


def stream_decode(data: bytes) -> Any:
    """``json.Decoder.Decode`` of ``data``: its first value, decoded to its top level.

    What follows the first value is ignored; an input of only space reads ``EOF``, a value
    cut short ``unexpected EOF`` (plain ``GoError``s, as Go's are not syntax errors).
    """
    scan = _scan(data, stream=True)
    if scan.error in ("EOF", "unexpected EOF"):
        raise GoError(scan.error)
    if scan.error is not None:
        raise GoJSONSyntaxError(scan.error)
    return _top_level(data, scan)


def number_literal(value: Any) -> str | None:
    """The literal of a decoded JSON number, or None for any other decoded value."""
    if isinstance(value, JSONNumber):
        return value.text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def json_kind(value: Any) -> str:
    """The JSON kind Go names in ``cannot unmarshal <kind> into ...`` errors."""
    if isinstance(value, JSONObject):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if number_literal(value) is not None:
        return "number"
    return "string"
