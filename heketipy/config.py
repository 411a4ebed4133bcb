"""Server configuration: Heketi's ``heketi.json`` format, HEKETI_* overrides, heketipy extensions.

This module owns turning a config file (or the embedded ``make run`` defaults), the process
environment and the command-line overrides into one frozen, validated :class:`Settings`.

Rules, as upstream Heketi applies them:

* JSON keys match case-insensitively (Go ``encoding/json``), unknown keys (``_comment``) are
  ignored, ``null`` leaves the default in place, and types are strict: ``"port": 8080`` or
  ``"max_inflight_operations": "8"`` are errors, as a Go decoder would reject them.
* Numeric tunables where 0 means "use the default" (Go zero value) are normalised here, so
  consumers read the effective value.
* Environment variables win when non-empty; booleans parse like Go ``strconv.ParseBool``,
  integers like ``strconv.Atoi``, the two "disable" switches accept exactly ``true``, and the
  two kube switches read the first character (``y``/``1``, ``n``/``0``).

Every rejected value raises :class:`ConfigError` whose one-line text names the dotted key.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ADMIN_STATES",
    "EXECUTORS",
    "ConfigError",
    "GlusterfsSettings",
    "HeketipySettings",
    "KubeExecSettings",
    "LatencySettings",
    "OperationRetryLimits",
    "Settings",
    "SimulatorSettings",
    "SshExecSettings",
    "load_settings",
]

KIB_PER_GIB = 1024 * 1024
ADMIN_STATES = ("normal", "read-only", "local-client")
LOG_LEVELS = ("none", "critical", "error", "warning", "info", "debug")
ZONE_CHECKING_MODES = ("none", "strict")
# Canonical executor names after normalisation ("" -> ssh, kube -> kubernetes).
EXECUTORS = ("mock", "ssh", "kubernetes", "simulator", "inject/ssh", "inject/mock")
_EXECUTOR_ALIASES = {"": "ssh", "kube": "kubernetes"}
SECRETS_FILE_NAME = "secrets.json"


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


# ---------------------------------------------------------------------------------------------
# glusterfs.sshexec / glusterfs.kubeexec
# ---------------------------------------------------------------------------------------------


class _ExecCommonSettings(_GoJsonModel):
    """Keys shared by ``sshexec`` and ``kubeexec`` (internals 3.1)."""

    fstab: Annotated[str, _empty_means("/etc/fstab")] = "/etc/fstab"
    mountopts: Annotated[str, _empty_means("rw,inode64,noatime,nouuid")] = (
        "rw,inode64,noatime,nouuid"
    )
    sudo: bool = False
    snapshot_limit: NonNegativeInt = 0
    # The file key is ignored upstream (forced true); only the environment can turn it off.
    rebalance_on_expansion: bool = True
    backup_lvm_metadata: bool = False
    gluster_cli_timeout: Annotated[int, Field(ge=0), _zero_means(600)] = 600
    pv_data_alignment: Annotated[str, _empty_means("256K"), AfterValidator(_check_lvm_size)] = (
        "256K"
    )
    vg_physicalextentsize: Annotated[str, _empty_means("4M"), AfterValidator(_check_lvm_size)] = (
        "4M"
    )
    lv_chunksize: Annotated[str, _empty_means("256K"), AfterValidator(_check_lvm_size)] = "256K"
    xfs_sw: NonNegativeInt = 0
    xfs_su: NonNegativeInt = 0
    debug_umount_failures: bool = False
    block_prealloc: Annotated[
        str,
        _empty_means("full"),
        AfterValidator(_matches(r"[A-Za-z0-9_-]+", "letters, digits, '-' or '_'")),
    ] = "full"
    lvm_wrapper: str = ""


class SshExecSettings(_ExecCommonSettings):
    """``glusterfs.sshexec``: the SSH transport (internals 3.2)."""

    keyfile: str = ""
    user: Annotated[str, _empty_means("heketi")] = "heketi"
    port: Annotated[str, _empty_means("22"), AfterValidator(_tcp_port(allow_zero=False))] = "22"
    # heketipy: host keys are verified against these known_hosts files (":" or "," separated;
    # empty = $SSH_KNOWN_HOSTS, then ~/.ssh/known_hosts). Unchecked only when set to false.
    known_hosts: str = ""
    host_key_checking: bool = True


class KubeExecSettings(_ExecCommonSettings):
    """``glusterfs.kubeexec``: the Kubernetes pod-exec transport (internals 3.3).

    Legacy ``host``/``cert``/``insecure``/``user``/``password`` keys are ignored.
    """

    namespace: str = ""
    gluster_daemonset: bool = False
    use_pod_names: bool = False
    # 0 means the default of 64; a negative value means unlimited.
    max_connections: Annotated[int, _zero_means(64)] = 64
    disable_timeout_prefix: bool = False

    @property
    def max_connections_limit(self) -> int | None:
        """Concurrent exec streams allowed, ``None`` for unlimited."""
        return None if self.max_connections < 0 else self.max_connections


# ---------------------------------------------------------------------------------------------
# glusterfs
# ---------------------------------------------------------------------------------------------


class OperationRetryLimits(_GoJsonModel):
    """``glusterfs.operation_retry_limits``: extra attempts after a failed execution phase."""

    # 0 is Go's "unset": the default of 4 retries (5 attempts) applies.
    volume_create: Annotated[int, Field(ge=0), _zero_means(4)] = 4


def _normalise_executor(value: str) -> str:
    name = _EXECUTOR_ALIASES.get(value, value)
    if name not in EXECUTORS:
        raise ValueError(f"invalid executor: {value}")
    return name


class GlusterfsSettings(_GoJsonModel):
    """The ``glusterfs`` object: executor, database and allocation tunables (internals 1.1)."""

    executor: Annotated[str, AfterValidator(_normalise_executor)] = "ssh"
    db: Annotated[str, _empty_means("heketi.db")] = "heketi.db"
    db_read_only: bool = False
    loglevel: Annotated[
        str, _empty_means("info"), AfterValidator(_one_of(LOG_LEVELS, "log level"))
    ] = "info"
    sshexec: SshExecSettings = SshExecSettings()
    kubeexec: KubeExecSettings = KubeExecSettings()
    brick_max_size_gb: Annotated[int, Field(ge=0), _zero_means(4096)] = 4096
    brick_min_size_gb: Annotated[int, Field(ge=0), _zero_means(1)] = 1
    max_bricks_per_volume: Annotated[int, Field(ge=0), _zero_means(32)] = 32
    average_file_size_kb: Annotated[int, Field(ge=0), _zero_means(64)] = 64
    pre_request_volume_options: str = ""
    post_request_volume_options: str = ""
    zone_checking: Annotated[
        str,
        _empty_means("none"),
        AfterValidator(_one_of(ZONE_CHECKING_MODES, "zone checking mode")),
    ] = "none"
    # 0 means the default of 1000; a negative value means unlimited.
    max_volumes_per_cluster: Annotated[int, _zero_means(1000)] = 1000
    auto_create_block_hosting_volume: bool = False
    block_hosting_volume_size: Annotated[int, Field(ge=0), _zero_means(1024)] = 1024
    block_hosting_volume_options: Annotated[str, _empty_means("group gluster-block")] = (
        "group gluster-block"
    )
    disable_monitor_gluster_nodes: bool = False
    refresh_time_monitor_gluster_nodes: Annotated[int, Field(ge=0), _zero_means(120)] = 120
    start_time_monitor_gluster_nodes: Annotated[int, Field(ge=0), _zero_means(10)] = 10
    max_inflight_operations: Annotated[int, Field(ge=0), _zero_means(8)] = 8
    disable_background_cleaner: bool = False
    refresh_time_background_cleaner: Annotated[int, Field(ge=0), _zero_means(3600)] = 3600
    start_time_background_cleaner: Annotated[int, Field(ge=0), _zero_means(60)] = 60
    operation_retry_limits: OperationRetryLimits = OperationRetryLimits()
    # Upstream reads this only from HEKETI_MOCK_DEVICE_SIZE_GB; the file key is a heketipy extra.
    mock_device_size_gb: Annotated[int, Field(ge=1)] = 500

    @model_validator(mode="after")
    def _ssh_needs_a_key(self) -> GlusterfsSettings:
        if self.executor in ("ssh", "inject/ssh") and not self.sshexec.keyfile:
            raise _KeyedValueError(
                "sshexec.keyfile", "Missing ssh private key file in configuration"
            )
        return self

    @property
    def brick_max_size_kib(self) -> int:
        return self.brick_max_size_gb * KIB_PER_GIB

    @property
    def brick_min_size_kib(self) -> int:
        return self.brick_min_size_gb * KIB_PER_GIB

    @property
    def mock_device_size_kib(self) -> int:
        return self.mock_device_size_gb * KIB_PER_GIB

    @property
    def max_volumes_per_cluster_limit(self) -> int | None:
        """Volumes allowed per cluster, ``None`` for unlimited."""
        return None if self.max_volumes_per_cluster < 0 else self.max_volumes_per_cluster

    @property
    def volume_create_attempts(self) -> int:
        """Total execution attempts of a volume create (first try plus retries)."""
        return self.operation_retry_limits.volume_create + 1


# ---------------------------------------------------------------------------------------------
# heketipy extensions (top-level "heketipy" object)
# ---------------------------------------------------------------------------------------------

NonNegativeMs = Annotated[float, Field(ge=0)]


class LatencySettings(_GoJsonModel):
    """Simulated command latency per command class, in milliseconds."""

    lvm: NonNegativeMs = 5.0
    fs: NonNegativeMs = 5.0
    gluster: NonNegativeMs = 20.0


class SimulatorSettings(_GoJsonModel):
    """The ``simulator`` executor: stateful in-memory storage nodes."""

    device_size_gb: Annotated[int, Field(ge=1)] = 1024
    latency_ms: LatencySettings = LatencySettings()
    # "" means "<glusterfs.db>.simulator.json"; load_settings fills the effective path in.
    state_file: str = ""
    # Fault injection rules: {"faults": [{"kind", "nth"?, "node"?, "after"?}]} (tests only).
    faults: dict[str, Any] = Field(default_factory=dict)

    @property
    def device_size_kib(self) -> int:
        return self.device_size_gb * KIB_PER_GIB


class HeketipySettings(_GoJsonModel):
    """heketipy's own settings, all optional."""

    listen: Annotated[str, _empty_means("0.0.0.0")] = "0.0.0.0"
    # Requests beyond max_inflight_operations wait in a FIFO of this size before a 429.
    wait_queue_size: Annotated[int, Field(ge=0)] = 1024
    data_dir: Annotated[str, _empty_means("var")] = "var"
    simulator: SimulatorSettings = SimulatorSettings()
    # The mock executor sleeps this long per node call: keeps operations observably in flight.
    mock_latency_ms: Annotated[float, Field(ge=0)] = 0
    # Smallest brick placement makes (arbiters): None = 300 on ssh/kubernetes (mkfs.xfs's
    # floor), 0 (Heketi's exact 16 MiB minimum) on mock/simulator.
    min_filesystem_mb: Annotated[int | None, Field(ge=0)] = None


# ---------------------------------------------------------------------------------------------
# The file as written, and the resolved settings
# ---------------------------------------------------------------------------------------------


class _JwtKey(_GoJsonModel):
    key: str = ""


class _JwtSection(_GoJsonModel):
    admin: _JwtKey = _JwtKey()
    user: _JwtKey = _JwtKey()


class _ConfigFile(_GoJsonModel):
    """The top level of ``heketi.json`` (``use_auth`` is deliberately not read)."""

    port: str = "8080"
    jwt: _JwtSection = _JwtSection()
    enable_tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    backup_db_to_kube_secret: bool = False
    profiling: bool = False
    default_state: str = ""
    glusterfs: GlusterfsSettings | None = None
    heketipy: HeketipySettings = HeketipySettings()


class Settings(_GoJsonModel):
    """Everything the server needs at start-up, resolved and validated."""

    port: Annotated[str, AfterValidator(_tcp_port(allow_zero=True))] = "8080"
    listen: Annotated[str, _empty_means("0.0.0.0")] = "0.0.0.0"
    auth_enabled: bool = True
    admin_key: str = ""
    user_key: str = ""
    iat_leeway_s: NonNegativeInt = 120
    enable_tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    backup_db_to_kube_secret: bool = False
    kube_db_secret_name: Annotated[str, _empty_means("heketi-db-backup")] = "heketi-db-backup"
    profiling: bool = False
    default_state: Annotated[str, _empty_means("normal")] = "normal"
    glusterfs: GlusterfsSettings = Field(default_factory=lambda: GlusterfsSettings(executor="mock"))
    heketipy: HeketipySettings = HeketipySettings()
    config_path: str | None = None

    @field_validator("default_state")
    @classmethod
    def _known_admin_state(cls, value: str) -> str:
        if value not in ADMIN_STATES:
            raise ValueError(f"unknown admin state name: {value}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.auth_enabled and not (self.admin_key and self.user_key):
            raise _KeyedValueError("jwt", "Missing JWT information in config file")
        if self.enable_tls:
            for name in ("cert_file", "key_file"):
                if not getattr(self, name):
                    raise _KeyedValueError(name, "required when enable_tls is true")
        return self


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


# ---------------------------------------------------------------------------------------------
# Environment overrides
# ---------------------------------------------------------------------------------------------

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_SKIP = object()  # an environment value that leaves the configured value alone


def _env_text(value: str) -> Any:
    return value


def _env_go_bool(value: str) -> Any:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise ValueError(f"must be a boolean (true/false/1/0/t/f) (got {_describe(value)})")


def _env_go_int(value: str) -> Any:
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise ValueError(f"must be an integer (got {_describe(value)})")
    return int(value)


def _env_any_value_is_true(value: str) -> Any:
    return True


def _env_exactly_true(value: str) -> Any:
    # Upstream compares with "true" only; any other value keeps the configured setting.
    return True if value == "true" else _SKIP


def _env_first_char_bool(value: str) -> Any:
    if value[0] in "yY1":
        return True
    if value[0] in "nN0":
        return False
    raise ValueError(f"must start with y, 1, n or 0 (got {_describe(value)})")


_EXEC_SECTIONS = (("glusterfs", "sshexec"), ("glusterfs", "kubeexec"))

# (variable, parser, target paths in the raw file dict). "@" targets are Settings-only values.
_ENV_OVERRIDES: tuple[tuple[str, Callable[[str], Any], tuple[tuple[str, ...], ...]], ...] = (
    ("HEKETI_ADMIN_KEY", _env_text, (("jwt", "admin", "key"),)),
    ("HEKETI_USER_KEY", _env_text, (("jwt", "user", "key"),)),
    ("HEKETI_HTTP_PORT", _env_text, (("port",),)),
    ("HEKETI_BACKUP_DB_TO_KUBE_SECRET", _env_any_value_is_true, (("backup_db_to_kube_secret",),)),
    ("HEKETI_PROFILING", _env_any_value_is_true, (("profiling",),)),
    ("HEKETI_DEFAULT_STATE", _env_text, (("default_state",),)),
    ("HEKETI_KUBE_DB_SECRET_NAME", _env_text, (("@", "kube_db_secret_name"),)),
    ("HEKETI_JWT_IAT_LEEWAY_SECONDS", _env_go_int, (("@", "iat_leeway_s"),)),
    ("HEKETI_EXECUTOR", _env_text, (("glusterfs", "executor"),)),
    ("HEKETI_DB_PATH", _env_text, (("glusterfs", "db"),)),
    ("HEKETI_GLUSTERAPP_LOGLEVEL", _env_text, (("glusterfs", "loglevel"),)),
    (
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME",
        _env_go_bool,
        (("glusterfs", "auto_create_block_hosting_volume"),),
    ),
    (
        "HEKETI_BLOCK_HOSTING_VOLUME_SIZE",
        _env_go_int,
        (("glusterfs", "block_hosting_volume_size"),),
    ),
    (
        "HEKETI_BLOCK_HOSTING_VOLUME_OPTIONS",
        _env_text,
        (("glusterfs", "block_hosting_volume_options"),),
    ),
    ("HEKETI_MAX_INFLIGHT_OPERATIONS", _env_go_int, (("glusterfs", "max_inflight_operations"),)),
    (
        "HEKETI_PRE_REQUEST_VOLUME_OPTIONS",
        _env_text,
        (("glusterfs", "pre_request_volume_options"),),
    ),
    (
        "HEKETI_POST_REQUEST_VOLUME_OPTIONS",
        _env_text,
        (("glusterfs", "post_request_volume_options"),),
    ),
    ("HEKETI_ZONE_CHECKING", _env_text, (("glusterfs", "zone_checking"),)),
    (
        "HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER",
        _env_go_int,
        (("glusterfs", "max_volumes_per_cluster"),),
    ),
    (
        "HEKETI_DISABLE_HEALTH_MONITOR",
        _env_exactly_true,
        (("glusterfs", "disable_monitor_gluster_nodes"),),
    ),
    (
        "HEKETI_DISABLE_BACKGROUND_CLEANER",
        _env_exactly_true,
        (("glusterfs", "disable_background_cleaner"),),
    ),
    ("HEKETI_MOCK_DEVICE_SIZE_GB", _env_go_int, (("glusterfs", "mock_device_size_gb"),)),
    (
        "HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION",
        _env_go_bool,
        tuple((*section, "rebalance_on_expansion") for section in _EXEC_SECTIONS),
    ),
    ("HEKETI_FSTAB", _env_text, tuple((*s, "fstab") for s in _EXEC_SECTIONS)),
    ("HEKETI_MOUNT_OPTS", _env_text, tuple((*s, "mountopts") for s in _EXEC_SECTIONS)),
    ("HEKETI_SNAPSHOT_LIMIT", _env_go_int, tuple((*s, "snapshot_limit") for s in _EXEC_SECTIONS)),
    (
        "HEKETI_GLUSTER_CLI_TIMEOUT",
        _env_go_int,
        tuple((*s, "gluster_cli_timeout") for s in _EXEC_SECTIONS),
    ),
    (
        "HEKETI_DEBUG_UMOUNT_FAILURES",
        _env_go_bool,
        tuple((*s, "debug_umount_failures") for s in _EXEC_SECTIONS),
    ),
    (
        "HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC",
        _env_text,
        tuple((*s, "block_prealloc") for s in _EXEC_SECTIONS),
    ),
    ("HEKETI_LVM_WRAPPER", _env_text, tuple((*s, "lvm_wrapper") for s in _EXEC_SECTIONS)),
    ("HEKETI_SSH_KEYFILE", _env_text, (("glusterfs", "sshexec", "keyfile"),)),
    ("HEKETI_SSH_USER", _env_text, (("glusterfs", "sshexec", "user"),)),
    ("HEKETI_SSH_PORT", _env_text, (("glusterfs", "sshexec", "port"),)),
    ("HEKETI_KUBE_NAMESPACE", _env_text, (("glusterfs", "kubeexec", "namespace"),)),
    (
        "HEKETI_KUBE_GLUSTER_DAEMONSET",
        _env_first_char_bool,
        (("glusterfs", "kubeexec", "gluster_daemonset"),),
    ),
    (
        "HEKETI_KUBE_USE_POD_NAMES",
        _env_first_char_bool,
        (("glusterfs", "kubeexec", "use_pod_names"),),
    ),
    ("HEKETI_WAIT_QUEUE_SIZE", _env_go_int, (("heketipy", "wait_queue_size"),)),
)


def _pop_any_case(obj: dict[str, Any], key: str) -> Any:
    """Remove every spelling of ``key`` (Go matches case-insensitively); return the last value."""
    found = None
    for existing in [k for k in obj if isinstance(k, str) and k.lower() == key.lower()]:
        found = obj.pop(existing)
    return found


def _child_object(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The sub-object at ``key``, created when absent; ``None`` if it holds a non-object."""
    value = _pop_any_case(obj, key)
    if value is None:
        value = {}
    obj[key] = value
    return value if isinstance(value, dict) else None


def _apply_environment(
    raw: dict[str, Any], env: Mapping[str, str], sources: dict[str, str]
) -> dict[str, Any]:
    """Write non-empty HEKETI_* values into ``raw``; return the Settings-only values."""
    settings_only: dict[str, Any] = {}
    for section in _EXEC_SECTIONS:
        target = raw
        for key in section:
            target = _child_object(target, key) if target is not None else None
        if target is not None:
            # rebalance_on_expansion from the file is ignored upstream (forced true).
            _pop_any_case(target, "rebalance_on_expansion")
    for variable, parse, paths in _ENV_OVERRIDES:
        text = env.get(variable, "")
        if not text:
            continue
        first_key = _SETTINGS_KEY_NAMES.get(paths[0][-1], ".".join(paths[0]))
        try:
            value = parse(text)
        except ValueError as exc:
            key = variable if paths[0][0] == "@" else first_key
            raise ConfigError(str(exc), key=key, source=variable) from None
        if value is _SKIP:
            continue
        for path in paths:
            if path[0] == "@":
                settings_only[path[1]] = value
                sources[_SETTINGS_KEY_NAMES[path[1]]] = variable
                continue
            target: dict[str, Any] | None = raw
            for key in path[:-1]:
                target = _child_object(target, key) if target is not None else None
            if target is None:
                continue  # a non-object section: validation reports it
            _pop_any_case(target, path[-1])
            target[path[-1]] = value
            sources[".".join(path)] = variable
    return settings_only


# ---------------------------------------------------------------------------------------------
# Sources: the config file, or the embedded defaults of `make run`
# ---------------------------------------------------------------------------------------------


def _reject_non_json_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"Unable to open config file {path}: {exc.strerror or exc}") from None
    try:
        parsed = json.loads(data, parse_constant=_reject_non_json_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Unable to parse config file {path}: {exc}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"Unable to parse config file {path}: the top level is not a JSON object")
    return parsed


def _embedded_defaults(data_dir: str) -> dict[str, Any]:
    return {
        "port": "8080",
        "glusterfs": {"executor": "simulator", "db": os.path.join(data_dir, "heketi.db")},
        "heketipy": {"listen": "127.0.0.1", "data_dir": data_dir},
    }


def _read_secrets(path: str) -> tuple[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        admin_key, user_key = stored["admin_key"], stored["user_key"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"secrets file {path} is unusable: {exc}", key="heketipy.data_dir"
        ) from None
    if not (isinstance(admin_key, str) and admin_key and isinstance(user_key, str) and user_key):
        raise ConfigError(
            f"secrets file {path} must hold non-empty admin_key and user_key strings",
            key="heketipy.data_dir",
        )
    return admin_key, user_key


def _stored_jwt_secrets(data_dir: str) -> tuple[str, str]:
    """The admin and user secrets of ``<data_dir>/secrets.json``, created on first use.

    The file is written completely under a temporary name and then hard-linked into place, so
    two servers starting at once agree on one pair and a crash never leaves a half file.
    """
    path = os.path.join(data_dir, SECRETS_FILE_NAME)
    if os.path.exists(path):
        return _read_secrets(path)
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".secrets-", dir=data_dir)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc}", key="heketipy.data_dir") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(
                {"admin_key": secrets.token_urlsafe(32), "user_key": secrets.token_urlsafe(32)},
                handle,
            )
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc}", key="heketipy.data_dir") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return _read_secrets(path)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def load_settings(
    config_path: str | None,
    env: Mapping[str, str] | None = None,
    *,
    disable_auth: bool = False,
    listen: str | None = None,
    port: str | None = None,
    data_dir: str | None = None,
) -> Settings:
    """Load ``heketi.json`` (or the embedded defaults when ``config_path`` is None).

    Precedence, lowest first: built-in defaults, the file, non-empty HEKETI_* variables of
    ``env`` (``os.environ`` when None), then the explicit ``listen``/``port``/``data_dir``
    arguments. Raises :class:`ConfigError` on any problem.
    """
    environment: Mapping[str, str] = os.environ if env is None else env
    embedded = config_path is None
    if embedded:
        raw = _embedded_defaults(data_dir or "var")
    else:
        raw = _read_config_file(config_path)
        glusterfs = _pop_any_case(raw, "glusterfs")
        if glusterfs is None:
            raise ConfigError("required object is missing", key="glusterfs")
        raw["glusterfs"] = glusterfs
        if data_dir:
            heketipy_section = _child_object(raw, "heketipy")
            if heketipy_section is not None:
                _pop_any_case(heketipy_section, "data_dir")
                heketipy_section["data_dir"] = data_dir

    sources: dict[str, str] = {}
    settings_only = _apply_environment(raw, environment, sources)
    try:
        file_model = _ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, sources) from None
    assert file_model.glusterfs is not None  # guaranteed above
    glusterfs = file_model.glusterfs

    extras = file_model.heketipy
    if listen is not None:
        extras = extras.model_copy(update={"listen": listen or "0.0.0.0"})
        sources["heketipy.listen"] = "--listen"
    if not extras.simulator.state_file:
        simulator = extras.simulator.model_copy(
            update={"state_file": glusterfs.db + ".simulator.json"}
        )
        extras = extras.model_copy(update={"simulator": simulator})

    admin_key, user_key = file_model.jwt.admin.key, file_model.jwt.user.key
    if embedded and not disable_auth and not (admin_key and user_key):
        stored_admin, stored_user = _stored_jwt_secrets(extras.data_dir)
        admin_key, user_key = admin_key or stored_admin, user_key or stored_user

    if port is not None:
        sources["port"] = "--port"
    fields: dict[str, Any] = {
        "port": file_model.port if port is None else port,
        "listen": extras.listen,
        "auth_enabled": not disable_auth,
        "admin_key": admin_key,
        "user_key": user_key,
        "enable_tls": file_model.enable_tls,
        "cert_file": file_model.cert_file,
        "key_file": file_model.key_file,
        "backup_db_to_kube_secret": file_model.backup_db_to_kube_secret,
        "profiling": file_model.profiling,
        "default_state": file_model.default_state,
        "glusterfs": glusterfs,
        "heketipy": extras,
        "config_path": config_path,
        **settings_only,
    }
    try:
        return Settings.model_validate(fields)
    except ValidationError as exc:
        raise _config_error(exc, sources, _SETTINGS_KEY_NAMES) from None
