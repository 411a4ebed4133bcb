"""Config errors: :class:`ConfigError`, and turning pydantic validation errors into one.

Owns the one exception every rejected configuration value raises (one line naming the dotted
key), the cross-field failure that points below the validated model, the brief rendering of a
rejected value, and the translation of the first pydantic error into a ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration problem; ``str(error)`` is one line naming the offending key.

    ``key`` is the dotted key (``None`` for file-level problems), ``message`` the bare reason
    (for upstream-compatible texts such as ``Missing JWT information in config file``) and
    ``source`` where an overriding value came from (an environment variable), if not the file.
    """

    def __init__(self, message: str, key: str | None = None, source: str | None = None) -> None:
        self.message = message
        self.key = key
        self.source = source
        text = message if key is None else f"invalid configuration: {key}: {message}"
        if source and source != key:
            text += f" (from {source})"
        super().__init__(" ".join(text.splitlines()))


class _KeyedValueError(ValueError):
    """A cross-field validation failure that belongs to a key below the validated model."""

    def __init__(self, relative_key: str, message: str) -> None:
        super().__init__(message)
        self.relative_key = relative_key


def _describe(value: Any) -> str:
    """Render a rejected value briefly, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Validation errors -> ConfigError
# ---------------------------------------------------------------------------------------------

_TYPE_MESSAGES = {
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be a boolean",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}
_BOUND_MESSAGES = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}
# Settings fields that do not appear under their own name in heketi.json.
_SETTINGS_KEY_NAMES = {
    "admin_key": "jwt.admin.key",
    "user_key": "jwt.user.key",
    "iat_leeway_s": "HEKETI_JWT_IAT_LEEWAY_SECONDS",
    "kube_db_secret_name": "HEKETI_KUBE_DB_SECRET_NAME",
}


def _config_error(
    exc: ValidationError,
    sources: Mapping[str, str],
    key_names: Mapping[str, str] | None = None,
) -> ConfigError:
    """Turn the first pydantic error into a one-line ConfigError naming the dotted key."""
    first = exc.errors()[0]
    parts = [str(part) for part in first["loc"]]
    ctx = first.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _KeyedValueError):
        parts.append(cause.relative_key)
    key = ".".join(parts)
    if key_names:
        key = key_names.get(key, key)
    kind = first["type"]
    got = f"(got {_describe(first.get('input'))})"
    if kind in _TYPE_MESSAGES:
        message = f"{_TYPE_MESSAGES[kind]} {got}"
    elif kind in _BOUND_MESSAGES:
        bound, symbol = _BOUND_MESSAGES[kind]
        message = f"must be {symbol} {ctx.get(bound)} {got}"
    elif kind == "value_error" and cause is not None:
        message = str(cause)
    else:
        message = f"{first['msg']} {got}"
    return ConfigError(message, key=key or "<top level>", source=sources.get(key))

