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
    _matches,
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
# POST /volumes/{id}/expand (issue 14 item 2): "add-brick" adds a distribute set and rebalances
# (Heketi's behaviour); "in-place" grows every brick (lvextend + xfs_growfs) and fails with
# "No space" when a device lacks room; "auto" grows in place when it can, else adds a set.
EXPANSION_MODES = ("add-brick", "in-place", "auto")
DEFAULT_EXPANSION_MODE = "add-brick"
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


# -- Remote executors' limits (issue 14, item 1) ------------------------------------------------

# Commands the ssh and kubernetes executors run at once on one storage node
# (``heketipy.node_command_concurrency``); more wait for a slot. OpenSSH's MaxSessions is 10.
# Chosen by measurement (benchmarks/results/testbed-{ssh,kubernetes}.md, 1/2/4/8 alternating):
# 10 concurrent creates took 11.7/10.5/9.0/9.0 s over ssh and 11.1/9.7/10.6/8.6 s over
# kubernetes exec; below 4 the nodes' LVM and XFS work queues behind itself.
DEFAULT_NODE_COMMAND_CONCURRENCY = 8
# Per-command timeout of the ssh and kubernetes executors (``heketipy.node_command_timeout_s``):
# upstream's 10 minutes for non-gluster batches; gluster CLI commands get
# max(this, glusterfs.<executor>.gluster_cli_timeout + 60).
DEFAULT_NODE_COMMAND_TIMEOUT_S = 600.0


# -- Active/standby high availability (issue 13, item 1) ---------------------------------------

# Leader-election timing (client-go's defaults; heketipy.ha.leadership explains each).
DEFAULT_LEASE_DURATION_S = 15.0
DEFAULT_RENEW_DEADLINE_S = 10.0
DEFAULT_RETRY_PERIOD_S = 2.0
DEFAULT_LEASE_NAME = "heketipy"


def check_lease_timing(retry_period_s: float, renew_deadline_s: float,
                       lease_duration_s: float) -> None:
    """ValueError unless 0 < retry period < renew deadline < lease duration: the active must
    give leadership up (renew deadline) before a standby may take it (lease duration)."""
    if not 0 < retry_period_s < renew_deadline_s < lease_duration_s:
        raise ValueError(
            "leader election needs 0 < retry_period_s < renew_deadline_s < "
            f"lease_duration_s (got {retry_period_s}, {renew_deadline_s}, {lease_duration_s})"
        )

# A Kubernetes object name (DNS-1123 subdomain), as the Lease's metadata.name must be.
_check_lease_name = _matches(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", "a lowercase DNS name"
)
_check_namespace = _matches(r"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?", "a namespace name or empty")


class HaSettings(_GoJsonModel):
    """Active/standby (``heketipy.ha``): with ``enabled``, a server whose database another one
    holds waits as a standby and takes over when leadership frees; see ``heketipy.ha``."""

    enabled: bool = False
    lease_duration_s: PositiveSeconds = DEFAULT_LEASE_DURATION_S
    renew_deadline_s: PositiveSeconds = DEFAULT_RENEW_DEADLINE_S
    retry_period_s: PositiveSeconds = DEFAULT_RETRY_PERIOD_S
    lease_name: Annotated[
        str, _empty_means(DEFAULT_LEASE_NAME), AfterValidator(_check_lease_name)
    ] = DEFAULT_LEASE_NAME
    # "" = the service account's namespace, else "default" (heketipy.ha.factory resolves it).
    lease_namespace: Annotated[str, AfterValidator(_check_namespace)] = ""
    # "" = $POD_NAME or the host name, plus the process id (heketipy.ha.factory resolves it).
    identity: str = ""
    # "auto": a Lease when running in a pod or with the kubernetes executor; true / false.
    kubernetes_lease: bool | str = "auto"

    @field_validator("kubernetes_lease", mode="before")
    @classmethod
    def _true_false_or_auto(cls, value: Any) -> Any:
        if value is True or value is False or value == "auto":
            return value
        raise ValueError(f'must be true, false or "auto" (got {value!r})')

    @model_validator(mode="after")
    def _timing_is_consistent(self) -> HaSettings:
        check_lease_timing(self.retry_period_s, self.renew_deadline_s, self.lease_duration_s)
        return self


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
    # How a volume expand grows the volume: one of EXPANSION_MODES.
    volume_expansion: Annotated[
        str,
        _empty_means(DEFAULT_EXPANSION_MODE),
        AfterValidator(_one_of(EXPANSION_MODES, "volume expansion mode")),
    ] = DEFAULT_EXPANSION_MODE
    # Background drift scan feeding the metrics: seconds between scans, 0 = off; unset = off on
    # the mock executor (it has no nodes to read), DEFAULT_DRIFT_SCAN_INTERVAL_S otherwise.
    drift_scan_interval_s: Annotated[float | None, Field(ge=0)] = None
    # "text" (key=value lines) or "json" (one object per line, for log shippers).
    log_format: Annotated[
        str, _empty_means("text"), AfterValidator(_one_of(LOG_FORMATS, "log format"))
    ] = "text"
    ha: HaSettings = HaSettings()
    # ssh/kubernetes executors: commands at once per node, and each one's timeout (see above).
    node_command_concurrency: Annotated[int, Field(ge=1)] = DEFAULT_NODE_COMMAND_CONCURRENCY
    node_command_timeout_s: PositiveSeconds = DEFAULT_NODE_COMMAND_TIMEOUT_S


# ---------------------------------------------------------------------------------------------
# The file as written, and the resolved settings
# ---------------------------------------------------------------------------------------------


class _JwtKey(_GoJsonModel):
    key: str = ""


class _JwtSection(_GoJsonModel):
    admin: _JwtKey = _JwtKey()
    user: _JwtKey = _JwtKey()


class _PassedThrough(_GoJsonModel):
    """Top-level keys of ``heketi.json`` that :class:`Settings` takes over as they are."""

    enable_tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    backup_db_to_kube_secret: bool = False
    profiling: bool = False


class _ConfigFile(_PassedThrough):
    """The top level of ``heketi.json``."""

    port: str = "8080"
    # Heketi 10 ignores this key; Heketi 8/9 honoured it, and the gluster-kubernetes templates
    # the classic walkthroughs use ship it false (with placeholder keys): heketipy honours it.
    use_auth: bool = True
    jwt: _JwtSection = _JwtSection()
    default_state: str = ""
    glusterfs: GlusterfsSettings | None = None
    heketipy: HeketipySettings = HeketipySettings()


class Settings(_PassedThrough):
    """Everything the server needs at start-up, resolved and validated."""

    port: Annotated[str, AfterValidator(_tcp_port(allow_zero=True))] = "8080"
    listen: Annotated[str, _empty_means("0.0.0.0")] = "0.0.0.0"
    auth_enabled: bool = True
    admin_key: str = ""
    user_key: str = ""
    iat_leeway_s: NonNegativeInt = DEFAULT_IAT_LEEWAY_S
    kube_db_secret_name: Annotated[str, _empty_means("heketi-db-backup")] = "heketi-db-backup"
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

