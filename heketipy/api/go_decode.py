"""Go's decoders, reproduced to the error text: base64.RawURLEncoding and encoding/json.

Owns: decoding unpadded base64url the way Go's (non-strict) decoder does, and scanning JSON
the way Go's `json.Unmarshal` and `json.Decoder.Decode` do, with Go's syntax-error texts and
byte offsets. Heketi parses tokens with Go's jwt library, so clients see these texts in 401
replies; `heketipy.api.auth` decodes tokens with them.
"""

from __future__ import annotations

import json
from typing import Any

from heketipy.models.gojson import go_quote_char

# ---------------------------------------------------------------------------------------
# Go base64.RawURLEncoding (what Go's jwt library decodes segments with)
# ---------------------------------------------------------------------------------------

_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUES = {byte: index for index, byte in enumerate(_B64URL_ALPHABET)}


class GoError(Exception):
    """A Go library error; `str()` is the exact Go text."""


def go_base64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url like Go (non-strict); errors name Go's byte offset.

    Go skips CR/LF, rejects `=` (no padding in the raw encoding) and any other byte at
    its offset, and rejects a final group of a single character.
    """
    data = segment.encode("utf-8", "surrogateescape")
    out = bytearray()
    group: list[int] = []
    position = 0
    while position < len(data):
        byte = data[position]
        position += 1
        if byte in (0x0A, 0x0D):
            continue
        value = _B64URL_VALUES.get(byte)
        if value is None:
            raise GoError(f"illegal base64 data at input byte {position - 1}")
        group.append(value)
        if len(group) == 4:
            bits = group[0] << 18 | group[1] << 12 | group[2] << 6 | group[3]
            out += bits.to_bytes(3, "big")
            group = []
    if len(group) == 1:
        # Go names the input length minus one here (the lone character, unless newlines
        # follow it).
        raise GoError(f"illegal base64 data at input byte {len(data) - 1}")
    if group:
        bits = 0
        for value in group:
            bits = bits << 6 | value
        bits <<= 6 * (4 - len(group))
        out += bits.to_bytes(3, "big")[: len(group) - 1]
    return bytes(out)


# ---------------------------------------------------------------------------------------
# Go encoding/json: syntax errors and the type errors the claims struct can produce
# ---------------------------------------------------------------------------------------

_JSON_SPACE = frozenset(b" \t\r\n")
_JSON_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_JSON_ESCAPES = frozenset(b'"\\/bfnrt')
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


class GoJsonSyntaxError(GoError):
    pass


class _GoJsonEnd(Exception):
    """Input ended inside a value."""


_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = b"{}[]"
_CLOSER = {_LBRACE: _RBRACE, _LBRACKET: _RBRACKET}


class _GoJsonCursor:
    """Byte-level readers for JSON tokens, failing with Go's scanner messages."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def fail(self, context: str) -> GoJsonSyntaxError:
        byte = self.data[self.position]
        return GoJsonSyntaxError(f"invalid character {go_quote_char(byte)} {context}")

    def peek(self) -> int:
        if self.position >= len(self.data):
            raise _GoJsonEnd
        return self.data[self.position]

    def skip_space(self) -> int:
        while self.peek() in _JSON_SPACE:
            self.position += 1
        return self.peek()

    def at(self, allowed: bytes) -> bool:
        """Whether the next byte is one of `allowed` (False at the end of the input)."""
        return self.position < len(self.data) and self.data[self.position] in allowed

    def string(self) -> None:
        """Read the rest of a string whose opening quote was consumed."""
        while True:
            byte = self.peek()
            if byte == ord('"'):
                self.position += 1
                return
            if byte < 0x20:
                raise self.fail("in string literal")
            self.position += 1
            if byte != ord("\\"):
                continue
            escape = self.peek()
            if escape == ord("u"):
                self.position += 1
                for _ in range(4):
                    if self.peek() not in _HEX_DIGITS:
                        raise self.fail("in \\u hexadecimal character escape")
                    self.position += 1
            elif escape in _JSON_ESCAPES:
                self.position += 1
            else:
                raise self.fail("in string escape code")

    def digits(self, context: str) -> None:
        if self.peek() not in _DIGITS:
            raise self.fail(context)
        while self.at(b"0123456789"):
            self.position += 1

    def number(self) -> None:
        if self.peek() == ord("-"):
            self.position += 1
        if self.peek() == ord("0"):
            self.position += 1
        else:
            self.digits("in numeric literal")
        if self.at(b"."):
            self.position += 1
            self.digits("after decimal point in numeric literal")
        if self.at(b"eE"):
            self.position += 1
            if self.peek() in b"+-":
                self.position += 1
            self.digits("in exponent of numeric literal")

    def literal(self, word: bytes) -> None:
        self.position += 1
        for expected in word[1:]:
            if self.peek() != expected:
                raise self.fail(
                    f"in literal {word.decode()} (expecting {go_quote_char(expected)})"
                )
            self.position += 1

    def object_key(self) -> bytes:
        """Read `"key" :` and return the raw key token."""
        if self.skip_space() != ord('"'):
            raise self.fail("looking for beginning of object key string")
        start = self.position
        self.position += 1
        self.string()
        key = self.data[start : self.position]
        if self.skip_space() != ord(":"):
            raise self.fail("after object key")
        self.position += 1
        return key

    def scalar(self) -> None:
        byte = self.peek()
        if byte == ord('"'):
            self.position += 1
            self.string()
        elif byte == ord("-") or byte in _DIGITS:
            self.number()
        elif byte in _JSON_LITERALS:
            self.literal(_JSON_LITERALS[byte])
        else:
            raise self.fail("looking for beginning of value")


def _scan_json_value(cursor: _GoJsonCursor) -> list[tuple[bytes, bytes]]:
    """Scan one JSON value from the cursor (iteratively: nesting depth is no problem).

    Returns the raw (key, value) tokens of the members when the value is an object;
    only the top level matters to the callers.
    """
    data = cursor.data
    stack: list[int] = []
    members: list[tuple[bytes, bytes]] = []
    key = b""
    value_start = 0
    while True:
        byte = cursor.skip_space()
        if stack == [_LBRACE]:
            value_start = cursor.position
        if byte in _CLOSER:
            cursor.position += 1
            if cursor.skip_space() != _CLOSER[byte]:
                stack.append(byte)
                if byte == _LBRACE:
                    key = cursor.object_key()
                continue
            cursor.position += 1
        else:
            cursor.scalar()
        # A value is complete: record it, then consume delimiters and closers.
        while stack:
            if stack == [_LBRACE]:
                members.append((key, data[value_start : cursor.position]))
            container = stack[-1]
            byte = cursor.skip_space()
            if byte == ord(","):
                cursor.position += 1
                if container == _LBRACE:
                    key = cursor.object_key()
                break
            if byte != _CLOSER[container]:
                raise cursor.fail(
                    "after object key:value pair" if container == _LBRACE else "after array element"
                )
            cursor.position += 1
            stack.pop()
        if not stack:
            return members


class JsonObject(list):
    """An object's top-level members in document order (Go assigns in order; last wins)."""


class JsonNumber(str):
    """A JSON number kept as its literal, because Go's int64 check is on the literal."""


def _parse_json_value(data: bytes, members: list[tuple[bytes, bytes]]) -> Any:
    """The scanned value: scalars decoded; an object as its members with decoded scalars;
    deeper containers only as empty placeholders (their kind is all Go's errors need)."""
    first = data.lstrip(bytes(_JSON_SPACE))[:1]
    if first == b"{":
        return JsonObject((_parse_json_value(k, []), _parse_json_value(v, [])) for k, v in members)
    if first == b"[":
        return []
    if first == b'"':
        return json.loads(data.decode("utf-8", "replace"))
    literals = {b"t": True, b"f": False, b"n": None}
    if first in literals:
        return literals[first]
    return JsonNumber(data.strip(bytes(_JSON_SPACE)).decode())


def go_json_unmarshal(data: bytes) -> Any:
    """Parse `data` like Go's `json.Unmarshal` (the whole input must be one value)."""
    cursor = _GoJsonCursor(data)
    try:
        members = _scan_json_value(cursor)
    except _GoJsonEnd:
        raise GoJsonSyntaxError("unexpected end of JSON input") from None
    end = cursor.position
    while cursor.position < len(data):
        if data[cursor.position] not in _JSON_SPACE:
            raise cursor.fail("after top-level value")
        cursor.position += 1
    return _parse_json_value(data[:end], members)


def go_stream_decode(data: bytes) -> Any:
    """Decode the first JSON value of `data` like Go's `json.Decoder.Decode`.

    The decoder ignores whatever follows the first value, answers `EOF` for an input of
    only whitespace and `unexpected EOF` for a value cut short.
    """
    if all(byte in _JSON_SPACE for byte in data):
        raise GoError("EOF")
    cursor = _GoJsonCursor(data)
    try:
        members = _scan_json_value(cursor)
    except _GoJsonEnd:
        raise GoError("unexpected EOF") from None
    return _parse_json_value(data[: cursor.position], members)


def go_json_kind(value: Any) -> str:
    if isinstance(value, JsonObject):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, JsonNumber):
        return "number"
    return "string"
