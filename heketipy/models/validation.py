"""Request validation with Heketi's exact texts (ozzo-validation style) and the
database-free pre-checks of ``POST /volumes`` and ``POST /internal/logging``.

``validate(request)`` raises ``ValidationError`` whose ``text`` is the full 400
body without the newline: ``validation failed: `` + per failing field
``<json key>: <message>`` sorted by key, joined by ``; ``, ending in ``.``; a nested
object renders as ``<key>: (<inner summary>)``. Each field reports only its first
failing rule. Rules that are not ``required`` accept the zero value. Names, device
paths, hostnames and tags are checked by ``heketipy.domain.validators``, the rules the
executors apply too (stricter than Heketi's where Heketi let unsafe values through).

``check_volume_request`` / ``check_log_level`` raise
``RequestRejected(text, status)`` with Heketi's plain texts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Union

from heketipy.config import ADMIN_STATES, LOG_LEVELS
from heketipy.domain import validators
from heketipy.gocompat.strconv import shortest_float32
from heketipy.models import requests as req

__all__ = [
    "RequestRejected",
    "ValidationError",
    "check_log_level",
    "check_volume_request",
    "render_errors",
    "validate",
]

VALID_DISPERSIONS = frozenset({(2, 1), (4, 2), (8, 3), (8, 4)})

MAX_CLEANUP_IDS = 32

FieldErrors = dict[str, Union[str, "FieldErrors"]]
Rule = Callable[[Any], "str | None"]


class ValidationError(Exception):
    """A request failed field validation; ``text`` is the 400 body without newline."""

    def __init__(self, errors: FieldErrors) -> None:
        self.errors = errors
        self.text = "validation failed: " + render_errors(errors)
        super().__init__(self.text)


class RequestRejected(Exception):
    """A request failed a handler pre-check; ``text`` is the plain-text body."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def render_errors(errors: FieldErrors) -> str:
    """ozzo-validation's ``Errors.Error()``: sorted keys, nested maps in parentheses."""
    parts = []
    for key in sorted(errors):
        message = errors[key]
        if isinstance(message, dict):
            parts.append(f"{key}: ({render_errors(message)})")
        else:
            parts.append(f"{key}: {message}")
    return "; ".join(parts) + "."


# ------------------------------------------------------------------------------ rules


def _is_blank(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == 0
        or (hasattr(value, "__len__") and len(value) == 0)
    )


def required(value: Any) -> str | None:
    return "cannot be blank" if _is_blank(value) else None


def at_least(minimum: int) -> Rule:
    def rule(value: Any) -> str | None:
        if _is_blank(value) or value >= minimum:
            return None
        return f"must be no less than {minimum}"

    return rule


def checked_by(problem: Callable[[str], str | None]) -> Rule:
    """A rule from one of ``domain.validators`` (the executors apply the same ones)."""

    def rule(value: str) -> str | None:
        return None if value == "" else problem(value)

    return rule


def one_of(*choices: str) -> Rule:
    def rule(value: str) -> str | None:
        if value == "" or value in choices:
            return None
        return "must be a valid value"

    return rule


def valid_id(value: str) -> str | None:
    return None if validators.is_valid_id(value) else f"{value} is not a valid UUID"


def valid_state(value: str) -> str | None:
    return None if value in ("online", "offline", "failed") else f"{value} is not valid state"


def valid_healcheck(value: str) -> str | None:
    if value in ("", "enable", "disable"):
        return None
    return f"{value} is not valid heal info check"


def go_list(items: Iterable[str]) -> str:
    """Go's ``%v`` rendering of a ``[]string``."""
    return "[" + " ".join(items) + "]"


def valid_hosts(kind: str) -> Rule:
    def rule(hosts: list[str]) -> str | None:
        if all(validators.is_valid_host(host) for host in hosts):
            return None
        return f"{go_list(hosts)} is not a valid {kind} hostname"

    return rule


def valid_cleanup_ids(ids: list[str]) -> str | None:
    if len(ids) > MAX_CLEANUP_IDS:
        return f"too many ids specified ({len(ids)}), up to {MAX_CLEANUP_IDS} supported"
    for operation_id in ids:
        message = valid_id(operation_id)
        if message:
            return message
    return None


# ------------------------------------------------------------------- per-model checks


def _check(obj: Any, rules: dict[str, tuple[Rule, ...]]) -> FieldErrors:
    errors: FieldErrors = {}
    for key, chain in rules.items():
        value = getattr(obj, key)
        for rule in chain:
            message = rule(value)
            if message:
                errors[key] = message
                break
    return errors


_VOLUME_NAME = checked_by(validators.name_problem)


def valid_options(options: list[str] | None) -> str | None:
    """``glustervolumeoptions``: each non-blank entry in the gluster option alphabet (blank
    entries are skipped, as Heketi skips them when setting options)."""
    for option in options or ():
        if option.strip():
            problem = validators.option_problem(option)
            if problem:
                return f"{validators.shown(option)} {problem}"
    return None

_SIZE = (required, at_least(1))


def _node_add(obj: req.NodeAddRequest) -> FieldErrors:
    errors = _check(
        obj,
        {
            "zone": (required, at_least(1)),
            "cluster": (required, valid_id),
            "tags": (validators.tags_problem,),
        },
    )
    host_errors = _check(
        obj.hostnames,
        {
            "manage": (required, valid_hosts("manage")),
            "storage": (required, valid_hosts("storage")),
        },
    )
    if host_errors:
        errors["hostnames"] = host_errors
    return errors


_RULES: dict[type, Callable[[Any], FieldErrors]] = {
    req.NodeAddRequest: _node_add,
    req.DeviceAddRequest: lambda o: _check(
        o,
        {
            "name": (required, checked_by(validators.device_path_problem)),
            "node": (required, valid_id),
            "tags": (validators.tags_problem,),
        },
    ),
    req.StateRequest: lambda o: _check(
        o, {"state": (required, valid_state), "healcheck": (valid_healcheck,)}
    ),
    req.TagsChangeRequest: lambda o: _check(
        o,
        {
            "change_type": (required, one_of("set", "update", "delete")),
            "tags": (validators.tags_problem,),
        },
    ),
    req.VolumeCreateRequest: lambda o: _check(
        o, {"size": _SIZE, "name": (_VOLUME_NAME,), "glustervolumeoptions": (valid_options,)}
    ),
    req.VolumeExpandRequest: lambda o: _check(o, {"expand_size": _SIZE}),
    req.VolumeCloneRequest: lambda o: _check(o, {"name": (_VOLUME_NAME,)}),
    req.BlockRestrictionRequest: lambda o: _check(o, {"restriction": (one_of("", "locked"),)}),
    req.BlockVolumeCreateRequest: lambda o: _check(
        o, {"size": _SIZE, "name": (_VOLUME_NAME,), "hacount": (at_least(1),)}
    ),
    req.BlockVolumeExpandRequest: lambda o: _check(o, {"new_size": _SIZE}),
    req.BrickEvictRequest: lambda o: _check(o, {"healcheck": (valid_healcheck,)}),
    req.CleanupRequest: lambda o: _check(o, {"operations": (valid_cleanup_ids,)}),
    req.AdminStateRequest: lambda o: _check(
        o, {"state": (required, one_of(*ADMIN_STATES))}
    ),
}


def validate(obj: Any) -> None:
    """Raise ``ValidationError`` when ``obj`` (a request model) breaks Heketi's rules.

    Requests Heketi does not validate (cluster create/flags, device delete, log
    level) always pass.
    """
    check = _RULES.get(type(obj))
    if check is None:
        return
    errors = check(obj)
    if errors:
        raise ValidationError(errors)


# --------------------------------------------------------------- POST /volumes checks


def check_volume_request(request: req.VolumeCreateRequest) -> None:
    """The database-free checks Heketi runs after validation, in its order."""
    if request.gid < 0:
        raise RequestRejected("Bad group id less than zero")
    if request.gid >= 2**31 - 1:
        raise RequestRejected("Bad group id equal or greater than 2**32")
    durability = request.durability
    if durability.type not in ("", "none", "replicate", "disperse"):
        raise RequestRejected("Unknown durability type")
    if request.snapshot.enable:
        factor = shortest_float32(request.snapshot.factor)
        if factor < 1 or factor > 100:
            raise RequestRejected("Invalid snapshot factor")
    # Upstream accepts a negative replica and creates a volume without bricks (a defect).
    if durability.type == "replicate" and not 0 <= durability.replicate.replica <= 3:
        raise RequestRejected("Invalid replica value")
    if durability.type == "disperse":
        combination = (durability.disperse.data, durability.disperse.redundancy)
        if combination not in VALID_DISPERSIONS:
            raise RequestRejected(
                f"Invalid dispersion combination: {combination[0]}+{combination[1]}"
            )


# ------------------------------------------------------------- POST /internal/logging


def check_log_level(request: req.LogLevelRequest) -> str | None:
    """The new ``glusterfs`` level, or None when the request leaves it unchanged.

    Raises ``RequestRejected`` with status 422, as Heketi answers these.
    """
    if "glusterfs" not in request.loglevel:
        raise RequestRejected('Only "glusterfs" logger may be modified', 422)
    level = request.loglevel["glusterfs"]
    if level == "":
        return None
    if level not in LOG_LEVELS:
        raise RequestRejected(f"invalid log level: {level}", 422)
    return level
