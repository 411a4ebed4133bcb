"""Field helpers shared by every config model, and the Go-JSON base model.

Owns the annotated-field building blocks (Go zero/empty value normalisation, allowed names,
patterns, TCP ports, LVM sizes) and :class:`_GoJsonModel`: strict types, frozen, JSON keys
matched case-insensitively like Go ``encoding/json``, ``null`` leaving the default in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from heketipy.config.errors import _describe

# ---------------------------------------------------------------------------------------------
# Field helpers
# ---------------------------------------------------------------------------------------------


def _zero_means(default: int) -> AfterValidator:
    return AfterValidator(lambda value: default if value == 0 else value)


def _empty_means(default: str) -> AfterValidator:
    return AfterValidator(lambda value: default if value == "" else value)


def _one_of(allowed: tuple[str, ...], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r} (expected one of {', '.join(allowed)})")
        return value

    return check


def _matches(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what} (got {_describe(value)})")
        return value

    return check


def _tcp_port(allow_zero: bool) -> Callable[[str], str]:
    lowest = 0 if allow_zero else 1

    def check(value: str) -> str:
        if not re.fullmatch(r"[0-9]{1,5}", value) or not lowest <= int(value) <= 65535:
            raise ValueError(f"must be a TCP port number {lowest}-65535 (got {_describe(value)})")
        return value

    return check


NonNegativeInt = Annotated[int, Field(ge=0)]
# LVM size arguments end up on a command line; accept only LVM's number[unit] syntax.
_check_lvm_size = _matches(r"[0-9]+(\.[0-9]+)?[bBsSkKmMgGtTpPeE]?", "an LVM size like 256K")


class _GoJsonModel(BaseModel):
    """Base for every config object: strict types, frozen, Go-like key matching."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _match_keys_like_go(cls, data: Any) -> Any:
        # Go matches JSON keys to fields case-insensitively, later keys overwrite earlier ones,
        # and a JSON null leaves the field at its default.
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        by_lower = {name.lower(): name for name in fields}
        matched: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str) or value is None:
                continue
            name = key if key in fields else by_lower.get(key.lower())
            if name is not None:
                matched[name] = value
        return matched
