"""The ``glusterfs`` object of ``heketi.json``: executor, database, transports, tunables.

Owns the schema of ``glusterfs`` (internals 1.1) and of its ``sshexec``/``kubeexec`` transport
objects (internals 3.1-3.3) and ``operation_retry_limits``, plus the executor, log level and
zone checking names they accept.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from heketipy.config.errors import _KeyedValueError
from heketipy.config.fields import (
    NonNegativeInt,
    _check_lvm_size,
    _empty_means,
    _GoJsonModel,
    _matches,
    _one_of,
    _tcp_port,
    _zero_means,
)
from heketipy.domain.units import KIB_PER_GIB

# -- Defaults the server reads elsewhere too: defined here once, imported from heketipy.config.
# Heketi's log level names (glusterfs.loglevel, POST /internal/logging), quietest first.
LOG_LEVELS = ("none", "critical", "error", "warning", "info", "debug")
DEFAULT_LOG_LEVEL = "info"
# The gluster CLI's own --timeout, in seconds (sshexec/kubeexec gluster_cli_timeout).
DEFAULT_GLUSTER_CLI_TIMEOUT_S = 600
ZONE_CHECKING_MODES = ("none", "strict")
# Canonical executor names after normalisation ("" -> ssh, kube -> kubernetes).
EXECUTORS = ("mock", "ssh", "kubernetes", "simulator", "inject/ssh", "inject/mock")
_EXECUTOR_ALIASES = {"": "ssh", "kube": "kubernetes"}


# ---------------------------------------------------------------------------------------------
# glusterfs.sshexec / glusterfs.kubeexec
# ---------------------------------------------------------------------------------------------


class ExecCommonSettings(_GoJsonModel):
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
    gluster_cli_timeout: Annotated[
        int, Field(ge=0), _zero_means(DEFAULT_GLUSTER_CLI_TIMEOUT_S)
    ] = DEFAULT_GLUSTER_CLI_TIMEOUT_S
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


class SshExecSettings(ExecCommonSettings):
    """``glusterfs.sshexec``: the SSH transport (internals 3.2)."""

    keyfile: str = ""
    user: Annotated[str, _empty_means("heketi")] = "heketi"
    port: Annotated[str, _empty_means("22"), AfterValidator(_tcp_port(allow_zero=False))] = "22"
    # heketipy: host keys are verified against these known_hosts files (":" or "," separated;
    # empty = $SSH_KNOWN_HOSTS, then ~/.ssh/known_hosts). Unchecked only when set to false.
    known_hosts: str = ""
    host_key_checking: bool = True


class KubeExecSettings(ExecCommonSettings):
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
        str, _empty_means(DEFAULT_LOG_LEVEL), AfterValidator(_one_of(LOG_LEVELS, "log level"))
    ] = DEFAULT_LOG_LEVEL
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

