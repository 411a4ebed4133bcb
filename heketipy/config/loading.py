"""Loading and resolution: :func:`load_settings` and the sources it reads.

Owns reading ``heketi.json`` (or the embedded ``make run`` defaults), the JWT secrets stored
in ``<data_dir>/secrets.json`` for the embedded defaults, and resolving file, environment and
command-line arguments into one :class:`Settings`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from heketipy.config.environment import _apply_environment, _child_object, _pop_any_case
from heketipy.config.errors import _SETTINGS_KEY_NAMES, ConfigError, _config_error
from heketipy.config.settings import Settings, _ConfigFile, _PassedThrough

SECRETS_FILE_NAME = "secrets.json"


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
    if config_path is None:
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
        "auth_enabled": file_model.use_auth and not disable_auth,
        "admin_key": admin_key,
        "user_key": user_key,
        **file_model.model_dump(include=set(_PassedThrough.model_fields)),
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
