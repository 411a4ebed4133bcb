"""gocompat.strconv parses as Go's strconv does (heketi-cli's int and float64 flags), errors
included: only ASCII digits, Go's literal syntax for base 0, no surrounding space."""

from __future__ import annotations

import math
import re

import pytest

from heketipy.gocompat.errors import GoParseError
from heketipy.gocompat.strconv import parse_float, parse_int


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42), ("+5", 5), ("-0", 0), ("1_000", 1000), ("0x1F", 31), ("0x_1F", 31),
        ("0b101", 5), ("0o17", 15), ("017", 15), ("0_17", 15), ("0", 0),
        ("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1),
    ],
)
def test_parse_int_accepts_go_integer_literals(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize(
    "text", ["", "x", " 1", "1 ", "_1", "1_", "1__0", "08", "0x", "1e3", "٣", "١٢", "0x1G", "+-1"]
)
def test_parse_int_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(GoParseError, match=f'^strconv.ParseInt: parsing "{re.escape(text)}": invalid syntax$'):
        parse_int(text)


def test_parse_int_range() -> None:
    with pytest.raises(GoParseError, match='"9223372036854775808": value out of range$'):
        parse_int("9223372036854775808")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5", 1.5), ("-2", -2.0), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("1E-2", 0.01),
        ("0x1p-2", 0.25), ("0x1.8p1", 3.0), ("0x_1p0", 1.0), ("inf", math.inf),
        ("-Infinity", -math.inf), ("+INF", math.inf),
    ],
)
def test_parse_float_accepts_go_float_literals(text: str, value: float) -> None:
    assert parse_float(text) == value


def test_parse_float_nan() -> None:
    assert math.isnan(parse_float("NaN"))


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "1_000.5", "١", "0x1", "0xp1", "0x1._5p0", "+nan", "+-inf", "infin", "1e", "e3", "."],
)
def test_parse_float_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(GoParseError, match=f'^strconv.ParseFloat: parsing "{re.escape(text)}": invalid syntax$'):
        parse_float(text)


def test_parse_float_range() -> None:
    with pytest.raises(GoParseError, match='"1e400": value out of range$'):
        parse_float("1e400")
