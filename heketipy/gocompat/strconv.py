"""Go's ``strconv``: parsing flag and environment values, formatting floats.

Parsers raise ``GoParseError`` with Go's text (``strconv.ParseInt: parsing "x": invalid
syntax``). Float formatting works from the shortest round-trip digits (Python's ``repr`` and
Go's shortest formatting agree on them) and lays them out as Go's ``'f'``, ``'e'`` and ``'g'``
formats and ``encoding/json`` do.
"""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal

from heketipy.gocompat.errors import GoParseError

_TRUE_TEXTS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_TEXTS = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def parse_bool(text: str) -> bool:
    """``strconv.ParseBool``."""
    if text in _TRUE_TEXTS:
        return True
    if text in _FALSE_TEXTS:
        return False
    raise GoParseError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


# Go's integer literal syntax (what ParseInt accepts with base 0): ASCII digits only, a base
# prefix or a legacy octal leading 0, single underscores between digits (after a prefix too).
_INT_LITERAL = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+"
    r"|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)"
)
_BASE_PREFIXES = {"0x": 16, "0b": 2, "0o": 8}


def parse_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``: Go's integer literal syntax, int64 range."""
    if not _INT_LITERAL.fullmatch(text):
        raise GoParseError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    negative = text.startswith("-")
    body = text.lstrip("+-").replace("_", "")
    base = _BASE_PREFIXES.get(body[:2].lower(), 8 if len(body) > 1 and body[0] == "0" else 10)
    digits = body[2:] if base != 10 and body[1:2].isalpha() else body
    value = int(digits, base) * (-1 if negative else 1)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise GoParseError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


# Go's float syntax for ParseFloat: decimal (no underscores) or hexadecimal with a mandatory
# binary exponent (underscores allowed after the prefix); Inf/Infinity with an optional sign
# and an unsigned NaN, in any case.
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?=[0-9a-fA-F_.]*[0-9a-fA-F])(?:_?[0-9a-fA-F])*"
    r"(?:\.(?:[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)?)?[pP][+-]?[0-9]+"
)


def parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``."""
    unsigned = text[1:] if text[:1] in "+-" else text
    if unsigned.lower() in ("inf", "infinity") or text.lower() == "nan":
        return float(text)
    if _DECIMAL_FLOAT.fullmatch(text):
        value = float(text)
    elif _HEX_FLOAT.fullmatch(text):
        value = float.fromhex(text.replace("_", ""))
    else:
        raise GoParseError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if math.isinf(value):
        raise GoParseError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


# ------------------------------------------------------------------------------ formatting


def shortest_float32(value: float) -> float:
    """The Python float whose repr is Go's shortest text for ``float32(value)``."""
    rounded = struct.unpack("<f", struct.pack("<f", value))[0]
    for precision in range(1, 10):
        candidate = float(f"{rounded:.{precision}g}")
        if struct.unpack("<f", struct.pack("<f", candidate))[0] == rounded:
            return candidate
    return rounded


def _shortest_digits(magnitude: float) -> tuple[str, int]:
    """The shortest round-trip digits of a positive finite float and the position of the
    decimal point within them: ``magnitude == 0.<digits> * 10**point``."""
    _, digit_tuple, exponent = Decimal(repr(magnitude)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)  # finite by the callers' checks
    return digits, len(digits) + exponent


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int, *, min_negative_digits: int) -> str:
    head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    decimal_exponent = point - 1
    if decimal_exponent < 0:
        return f"{head}e-{str(-decimal_exponent).rjust(min_negative_digits, '0')}"
    return f"{head}e+{decimal_exponent:02d}"


def _signed_zero(value: float) -> str:
    return "-0" if math.copysign(1.0, value) < 0 else "0"


def format_float_json(value: float, bits: int = 64) -> str:
    """How ``encoding/json`` writes a float64 (``bits=64``) or float32 (``bits=32``): fixed
    notation within [1e-6, 1e21), else ``'e'`` with ``e-07`` trimmed to ``e-7``."""
    if value != value or value in (math.inf, -math.inf):
        raise ValueError(f"json: unsupported value: {value!r}")
    if bits == 32:
        value = shortest_float32(value)
    if value == 0:
        return _signed_zero(value)
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    if 1e-6 <= abs(value) < 1e21:
        return sign + _fixed(digits, point)
    return sign + _exponent(digits, point, min_negative_digits=1)


def format_float_g(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)``: shortest digits, exponent form when the
    decimal exponent is below -4 or at least 6 (``5.24288e+08``, ``1e+06``, ``123456``)."""
    value = float(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return _signed_zero(value)
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    if not -4 <= point - 1 < 6:
        return sign + _exponent(digits, point, min_negative_digits=2)
    return sign + _fixed(digits, point)
