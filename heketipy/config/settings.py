"""heketipy's own ``heketipy`` object, the file's top level, and the resolved :class:`Settings`.

Owns the schema of the heketipy extensions (listen address, queue, data directory, simulator,
latencies), of ``heketi.json`` as written (``_ConfigFile``, JWT keys) and of the frozen,
validated :class:`Settings` the server starts from, with its cross-field checks.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from heketipy.config.errors import _KeyedValueError
from heketipy.config.fields import (
    NonNegativeInt,
    _empty_means,
    _GoJsonModel,
    _one_of,
    _tcp_port,
)
from heketipy.config.glusterfs import GlusterfsSettings
from heketipy.domain.units import KIB_PER_GIB

# -- Defaults the server reads elsewhere too: defined here once, imported from heketipy.config.
ADMIN_STATES = ("normal", "read-only", "local-client")
DEFAULT_ADMIN_STATE = "normal"
# How far a token's iat may lie in the future (clock skew between client and server).
DEFAULT_IAT_LEEWAY_S = 120
# How long a finished /queue result nobody collected is kept.
DEFAULT_QUEUE_RESULT_TTL_S = 300.0
LOG_FORMATS = ("text", "json")
# Seconds between background drift scans (heketipy_drift_* and thin-pool metrics) where
# ``heketipy.drift_scan_interval_s`` is not set and the executor has nodes to scan.
DEFAULT_DRIFT_SCAN_INTERVAL_S = 600.0


# ---------------------------------------------------------------------------------------------
# heketipy extensions (top-level "heketipy" object)
# ---------------------------------------------------------------------------------------------

NonNegativeMs = Annotated[float, Field(ge=0)]


class LatencySettings(_GoJsonModel):
    """Simulated command latency per command class, in milliseconds."""

    lvm: NonNegativeMs = 5.0
    fs: NonNegativeMs = 5.0
    gluster: NonNegativeMs = 20.0
    # Per-command overrides, keyed by the command's leading words as the simulator names them
    # ("lvcreate", "mkfs.xfs", "gluster volume create"); the longest matching key wins.
    commands: dict[str, NonNegativeMs] = Field(default_factory=dict)


class SimulatorSettings(_GoJsonModel):
    """The ``simulator`` executor: stateful in-memory storage nodes."""

    device_size_gb: Annotated[int, Field(ge=1)] = 1024
    latency_ms: LatencySettings = LatencySettings()
    # "" means "<glusterfs.db>.simulator.json"; load_settings fills the effective path in.
    state_file: str = ""
    # Command-level fault injection (tests only): {"faults": [{"command": "lvcreate",
    # "nth"?, "node"?, "exit"?, "stderr"?, "timeout"?, "after"?}]}, see simulator/support.py.
    faults: dict[str, Any] = Field(default_factory=dict)

    @property
    def device_size_kib(self) -> int:
        return self.device_size_gb * KIB_PER_GIB


# -- HTTP edge limits (issue 10, items 6, 7, 9) ----------------------------------------------

PositiveSeconds = Annotated[float, Field(gt=0)]
_ROUTE_KEY = re.compile(r"(GET|POST|PUT|PATCH|DELETE) /\S*")


class HttpSettings(_GoJsonModel):
    """The HTTP edge's limits (``heketipy.http``): request body sizes, the lengths of request
    lists, how long a connection may take to send a request or stay idle, and how many
    connections may be open at once."""

    # Request body cap of every route (a volume create is a few KiB); larger bodies get 413
    # before they are read.
    max_body_kib: Annotated[int, Field(ge=1)] = 64
    # Per-route caps overriding max_body_kib, keyed "METHOD /path" as routed, e.g.
    # {"POST /volumes": 16, "POST /nodes/{id}/tags": 8}.
    max_body_kib_by_route: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    # Volume create: each option is one `gluster volume set` on the nodes.
    max_volume_options: Annotated[int, Field(ge=0)] = 64
    max_volume_option_chars: Annotated[int, Field(ge=1)] = 1024
    # Volume and block volume create: candidate clusters named in the request.
    max_request_clusters: Annotated[int, Field(ge=1)] = 32
    # A connection that has not sent a complete request head this long after it opened is
    # closed; a request body must arrive within body_read_timeout_s (408 otherwise).
    header_read_timeout_s: PositiveSeconds = 60.0
    body_read_timeout_s: PositiveSeconds = 60.0
    # An idle keep-alive connection (between requests) is closed after this long.
    keepalive_timeout_s: PositiveSeconds = 75.0
    # Connections beyond this many open ones are closed as soon as they are accepted.
    max_connections: Annotated[int, Field(ge=1)] = 512

    @field_validator("max_body_kib_by_route")
    @classmethod
    def _route_keys(cls, value: dict[str, int]) -> dict[str, int]:
        for key in value:
            if not _ROUTE_KEY.fullmatch(key):
                raise ValueError(f'route keys look like "POST /volumes" (got {key!r})')
        return value


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
    # A finished /queue result nobody collected is forgotten this long after the job ended
    # (the user role cannot poll /queue; Heketi's clients poll every 400 ms).
    queue_result_ttl_s: Annotated[float, Field(gt=0)] = DEFAULT_QUEUE_RESULT_TTL_S
    http: HttpSettings = HttpSettings()
    # Background drift scan feeding the metrics: seconds between scans, 0 = off; unset = off on
    # the mock executor (it has no nodes to read), DEFAULT_DRIFT_SCAN_INTERVAL_S otherwise.
    drift_scan_interval_s: Annotated[float | None, Field(ge=0)] = None
    # "text" (key=value lines) or "json" (one object per line, for log shippers).
    log_format: Annotated[
        str, _empty_means("text"), AfterValidator(_one_of(LOG_FORMATS, "log format"))
    ] = "text"


# ---------------------------------------------------------------------------------------------
# The file as written, and the resolved settings
# ---------------------------------------------------------------------------------------------


class _JwtKey(_GoJsonModel):
    key: str = ""


class _JwtSection(_GoJsonModel):
    admin: _JwtKey = _JwtKey()
    user: _JwtKey = _JwtKey()


class _ConfigFile(_GoJsonModel):
    """The top level of ``heketi.json``."""

    port: str = "8080"
    # Heketi 10 ignores this key; Heketi 8/9 honoured it, and the gluster-kubernetes templates
    # the classic walkthroughs use ship it false (with placeholder keys): heketipy honours it.
    use_auth: bool = True
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
    iat_leeway_s: NonNegativeInt = DEFAULT_IAT_LEEWAY_S
    enable_tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    backup_db_to_kube_secret: bool = False
    kube_db_secret_name: Annotated[str, _empty_means("heketi-db-backup")] = "heketi-db-backup"
    profiling: bool = False
    default_state: Annotated[str, _empty_means(DEFAULT_ADMIN_STATE)] = DEFAULT_ADMIN_STATE
    glusterfs: GlusterfsSettings = Field(default_factory=lambda: GlusterfsSettings(executor="mock"))
    heketipy: HeketipySettings = HeketipySettings()
    config_path: str | None = None

    @property
    def drift_scan_every_s(self) -> float:
        """Seconds between background drift scans; 0 means none."""
        configured = self.heketipy.drift_scan_interval_s
        if configured is not None:
            return configured
        return 0.0 if self.glusterfs.executor == "mock" else DEFAULT_DRIFT_SCAN_INTERVAL_S

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

