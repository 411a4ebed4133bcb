"""Server configuration: Heketi's ``heketi.json`` format, HEKETI_* overrides, heketipy extensions.

This package owns turning a config file (or the embedded ``make run`` defaults), the process
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

Modules, each owning one part:

* :mod:`~heketipy.config.errors`: :class:`ConfigError` and pydantic errors -> ``ConfigError``.
* :mod:`~heketipy.config.fields`: field helpers and the Go-JSON base model.
* :mod:`~heketipy.config.glusterfs`: the ``glusterfs`` object and its transports.
* :mod:`~heketipy.config.settings`: the ``heketipy`` object, the file, resolved ``Settings``.
* :mod:`~heketipy.config.environment`: the HEKETI_* overrides.
* :mod:`~heketipy.config.loading`: :func:`load_settings`, embedded defaults, stored secrets.

This module only re-exports; import from ``heketipy.config``.
"""

from __future__ import annotations

from heketipy.config.errors import ConfigError
from heketipy.config.fields import NonNegativeInt as NonNegativeInt
from heketipy.config.glusterfs import (
    DEFAULT_GLUSTER_CLI_TIMEOUT_S,
    DEFAULT_LOG_LEVEL,
    EXECUTORS,
    LOG_LEVELS,
    ExecCommonSettings,
    GlusterfsSettings,
    KubeExecSettings,
    OperationRetryLimits,
    SshExecSettings,
)
from heketipy.config.glusterfs import ZONE_CHECKING_MODES as ZONE_CHECKING_MODES
from heketipy.config.loading import SECRETS_FILE_NAME as SECRETS_FILE_NAME
from heketipy.config.loading import load_settings
from heketipy.config.settings import (
    ADMIN_STATES,
    DEFAULT_ADMIN_STATE,
    DEFAULT_DRIFT_SCAN_INTERVAL_S,
    DEFAULT_IAT_LEEWAY_S,
    DEFAULT_NODE_COMMAND_CONCURRENCY,
    DEFAULT_NODE_COMMAND_TIMEOUT_S,
    DEFAULT_QUEUE_RESULT_TTL_S,
    HeketipySettings,
    HttpSettings,
    LatencySettings,
    Settings,
    SimulatorSettings,
)
from heketipy.config.settings import HaSettings as HaSettings
from heketipy.config.settings import NonNegativeMs as NonNegativeMs
from heketipy.domain.units import KIB_PER_GIB as KIB_PER_GIB

__all__ = [
    "ADMIN_STATES",
    "DEFAULT_ADMIN_STATE",
    "DEFAULT_GLUSTER_CLI_TIMEOUT_S",
    "DEFAULT_IAT_LEEWAY_S",
    "DEFAULT_LOG_LEVEL",
    "DEFAULT_DRIFT_SCAN_INTERVAL_S",
    "DEFAULT_NODE_COMMAND_CONCURRENCY",
    "DEFAULT_NODE_COMMAND_TIMEOUT_S",
    "DEFAULT_QUEUE_RESULT_TTL_S",
    "EXECUTORS",
    "LOG_LEVELS",
    "ConfigError",
    "ExecCommonSettings",
    "GlusterfsSettings",
    "HeketipySettings",
    "HttpSettings",
    "KubeExecSettings",
    "LatencySettings",
    "OperationRetryLimits",
    "Settings",
    "SimulatorSettings",
    "SshExecSettings",
    "load_settings",
]
