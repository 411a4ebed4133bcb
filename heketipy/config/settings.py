"""heketipy's own ``heketipy`` object, the file's top level, and the resolved :class:`Settings`.

Owns the schema of the heketipy extensions (listen address, queue, data directory, simulator,
latencies), of ``heketi.json`` as written (``_ConfigFile``, JWT keys) and of the frozen,
validated :class:`Settings` the server starts from, with its cross-field checks.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from heketipy.config.errors import _KeyedValueError
from heketipy.config.fields import (
    KIB_PER_GIB,
    NonNegativeInt,
    _empty_means,
    _GoJsonModel,
    _one_of,
    _tcp_port,
)
from heketipy.config.glusterfs import GlusterfsSettings

ADMIN_STATES = ("normal", "read-only", "local-client")
LOG_FORMATS = ("text", "json")


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

