"""HEKETI_* environment overrides: the variable table, its Go-like parsers, and applying it.

Owns which variable overrides which key (or which Settings-only value), how each value is
parsed (Go ``strconv.ParseBool``/``Atoi``, "exactly true", first character), and writing the
non-empty ones into the raw file dict before validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from heketipy.config.errors import _SETTINGS_KEY_NAMES, ConfigError, _describe
from heketipy.gocompat.errors import GoParseError
from heketipy.gocompat.strconv import parse_bool

# ---------------------------------------------------------------------------------------------
# Environment overrides
# ---------------------------------------------------------------------------------------------

_SKIP = object()  # an environment value that leaves the configured value alone


def _env_text(value: str) -> Any:
    return value


def _env_go_bool(value: str) -> Any:
    try:
        return parse_bool(value)
    except GoParseError:
        raise ValueError(
            f"must be a boolean (true/false/1/0/t/f) (got {_describe(value)})"
        ) from None


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


def _at(*path: str) -> tuple[tuple[str, ...], ...]:
    """One target path in the raw file dict."""
    return (path,)


def _executors(key: str) -> tuple[tuple[str, ...], ...]:
    """``key`` in both executor sections (the variable sets the ssh and the kube one)."""
    return tuple((*section, key) for section in _EXEC_SECTIONS)


def _glusterfs(key: str) -> tuple[tuple[str, ...], ...]:
    """``key`` in the glusterfs section, where most of the variables land."""
    return _at("glusterfs", key)


# (variable, parser, target paths in the raw file dict). "@" targets are Settings-only values.
_ENV_OVERRIDES: tuple[tuple[str, Callable[[str], Any], tuple[tuple[str, ...], ...]], ...] = (
    ("HEKETI_ADMIN_KEY", _env_text, _at("jwt", "admin", "key")),
    ("HEKETI_USER_KEY", _env_text, _at("jwt", "user", "key")),
    ("HEKETI_HTTP_PORT", _env_text, _at("port")),
    ("HEKETI_BACKUP_DB_TO_KUBE_SECRET", _env_any_value_is_true, _at("backup_db_to_kube_secret")),
    ("HEKETI_PROFILING", _env_any_value_is_true, _at("profiling")),
    ("HEKETI_DEFAULT_STATE", _env_text, _at("default_state")),
    ("HEKETI_KUBE_DB_SECRET_NAME", _env_text, _at("@", "kube_db_secret_name")),
    ("HEKETI_JWT_IAT_LEEWAY_SECONDS", _env_go_int, _at("@", "iat_leeway_s")),
    ("HEKETI_EXECUTOR", _env_text, _glusterfs("executor")),
    ("HEKETI_DB_PATH", _env_text, _glusterfs("db")),
    ("HEKETI_GLUSTERAPP_LOGLEVEL", _env_text, _glusterfs("loglevel")),
    (
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME",
        _env_go_bool,
        _glusterfs("auto_create_block_hosting_volume"),
    ),
    ("HEKETI_BLOCK_HOSTING_VOLUME_SIZE", _env_go_int, _glusterfs("block_hosting_volume_size")),
    ("HEKETI_BLOCK_HOSTING_VOLUME_OPTIONS", _env_text, _glusterfs("block_hosting_volume_options")),
    ("HEKETI_MAX_INFLIGHT_OPERATIONS", _env_go_int, _glusterfs("max_inflight_operations")),
    ("HEKETI_PRE_REQUEST_VOLUME_OPTIONS", _env_text, _glusterfs("pre_request_volume_options")),
    ("HEKETI_POST_REQUEST_VOLUME_OPTIONS", _env_text, _glusterfs("post_request_volume_options")),
    ("HEKETI_ZONE_CHECKING", _env_text, _glusterfs("zone_checking")),
    ("HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER", _env_go_int, _glusterfs("max_volumes_per_cluster")),
    (
        "HEKETI_DISABLE_HEALTH_MONITOR",
        _env_exactly_true,
        _glusterfs("disable_monitor_gluster_nodes"),
    ),
    (
        "HEKETI_DISABLE_BACKGROUND_CLEANER",
        _env_exactly_true,
        _glusterfs("disable_background_cleaner"),
    ),
    ("HEKETI_MOCK_DEVICE_SIZE_GB", _env_go_int, _glusterfs("mock_device_size_gb")),
    (
        "HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION",
        _env_go_bool,
        _executors("rebalance_on_expansion"),
    ),
    ("HEKETI_FSTAB", _env_text, _executors("fstab")),
    ("HEKETI_MOUNT_OPTS", _env_text, _executors("mountopts")),
    ("HEKETI_SNAPSHOT_LIMIT", _env_go_int, _executors("snapshot_limit")),
    ("HEKETI_GLUSTER_CLI_TIMEOUT", _env_go_int, _executors("gluster_cli_timeout")),
    ("HEKETI_DEBUG_UMOUNT_FAILURES", _env_go_bool, _executors("debug_umount_failures")),
    ("HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC", _env_text, _executors("block_prealloc")),
    ("HEKETI_LVM_WRAPPER", _env_text, _executors("lvm_wrapper")),
    ("HEKETI_SSH_KEYFILE", _env_text, _at("glusterfs", "sshexec", "keyfile")),
    ("HEKETI_SSH_USER", _env_text, _at("glusterfs", "sshexec", "user")),
    ("HEKETI_SSH_PORT", _env_text, _at("glusterfs", "sshexec", "port")),
    ("HEKETI_KUBE_NAMESPACE", _env_text, _at("glusterfs", "kubeexec", "namespace")),
    (
        "HEKETI_KUBE_GLUSTER_DAEMONSET",
        _env_first_char_bool,
        _at("glusterfs", "kubeexec", "gluster_daemonset"),
    ),
    (
        "HEKETI_KUBE_USE_POD_NAMES",
        _env_first_char_bool,
        _at("glusterfs", "kubeexec", "use_pod_names"),
    ),
    ("HEKETI_WAIT_QUEUE_SIZE", _env_go_int, _at("heketipy", "wait_queue_size")),
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


def _descend(obj: dict[str, Any], keys: Sequence[str]) -> dict[str, Any] | None:
    """The object at the path ``keys`` below ``obj``, created where absent; ``None`` when a
    step holds a non-object."""
    target: dict[str, Any] | None = obj
    for key in keys:
        if target is None:
            return None
        target = _child_object(target, key)
    return target


def _apply_environment(
    raw: dict[str, Any], env: Mapping[str, str], sources: dict[str, str]
) -> dict[str, Any]:
    """Write non-empty HEKETI_* values into ``raw``; return the Settings-only values."""
    settings_only: dict[str, Any] = {}
    for section in _EXEC_SECTIONS:
        exec_object = _descend(raw, section)
        if exec_object is not None:
            # rebalance_on_expansion from the file is ignored upstream (forced true).
            _pop_any_case(exec_object, "rebalance_on_expansion")
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
            target = _descend(raw, path[:-1])
            if target is None:
                continue  # a non-object section: validation reports it
            _pop_any_case(target, path[-1])
            target[path[-1]] = value
            sources[".".join(path)] = variable
    return settings_only
