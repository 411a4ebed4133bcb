"""Shared pieces of the node command builders: allow-list validation, settings, sudo.

Every value that reaches a node command passes one of the ``safe_*`` validators here, which
either return it unchanged or raise ``UnsafeArgument``. Commands are argv lists, never shell
lines, so a validated value is always one inert argv element; the validators are the second
wall (a value starting with ``-`` would still be read as an option by the receiving tool, and
gluster's CLI takes ``--`` words anywhere on its command line).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from heketipy.config import ExecCommonSettings
from heketipy.domain import validators
from heketipy.domain.errors import InvalidRequest


class UnsafeArgument(InvalidRequest, ValueError):
    """A value bound for a node command failed its allow-list; nothing was executed."""

    def __init__(self, what: str, value: object, problem: str = "") -> None:
        reason = f" ({problem})" if problem else ""
        super().__init__(
            f"Unsafe {what}: {validators.shown(value)} is not allowed in a node command{reason}"
        )
        self.what = what
        self.value = value


_LVM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ABS_PATH = re.compile(r"/[A-Za-z0-9_.:/+@-]*")
_MOUNT_OPTIONS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,=:/+-]*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+.-]{0,127}")
_LVM_SIZE = re.compile(r"[0-9]+(?:\.[0-9]+)?[bBsSkKmMgGtTpPeE]?")
_PREALLOC = re.compile(r"[A-Za-z0-9_-]+")


def _check(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeArgument(what, value)
    return value


def _apply(rule: Callable[[str], str | None], value: object, what: str) -> str:
    """``value`` when the domain ``rule`` accepts it; ``UnsafeArgument`` otherwise."""
    if not isinstance(value, str):
        raise UnsafeArgument(what, value)
    problem = rule(value)
    if problem:
        raise UnsafeArgument(what, value, problem)
    return value


def safe_volume_name(value: object) -> str:
    """A gluster volume, snapshot or block volume name (``domain.validators.name_problem``)."""
    return _apply(validators.name_problem, value, "volume name")


def safe_id(value: object, what: str = "id") -> str:
    """A heketi id used inside LV, VG and directory names (``domain.validators.is_valid_id``)."""
    return _apply(validators.id_problem, value, what)


def safe_lvm_name(value: object, what: str = "logical volume name") -> str:
    """A thin pool or logical volume name (``tp_<id>``, ``brick_<id>``)."""
    return _check(_LVM_NAME, value, what)


def safe_hostname(value: object) -> str:
    """A DNS name, IPv4 or IPv6 address (``domain.validators.host_problem``)."""
    return _apply(validators.host_problem, value, "hostname")


def safe_path(value: object, what: str = "path") -> str:
    """An absolute path without ``..`` components or shell metacharacters."""
    path = _check(_ABS_PATH, value, what)
    if any(part in (".", "..") for part in path.split("/")):
        raise UnsafeArgument(what, value)
    return path


def safe_device_path(value: object) -> str:
    """A block device path under /dev (``domain.validators.device_path_problem``)."""
    return _apply(validators.device_path_problem, value, "device path")


def safe_mount_options(value: object) -> str:
    return _check(_MOUNT_OPTIONS, value, "mount options")


def safe_tag(value: object) -> str:
    """An LVM tag (LVM allows ``[A-Za-z0-9_+.-]``; the first character is not ``-``)."""
    return _check(_TAG, value, "LVM tag")


def safe_lvm_size(value: object) -> str:
    return _check(_LVM_SIZE, value, "LVM size")


def safe_option_words(option: object) -> list[str]:
    """Split a ``"key value"`` gluster option into words, as upstream's shell did, and check
    each one (``domain.validators.option_problem``)."""
    return validators.option_words(_apply(validators.option_problem, option, "volume option"))


def safe_prealloc(value: object) -> str:
    """``block_prealloc``: upstream falls back to ``full`` for values it does not accept."""
    if isinstance(value, str) and _PREALLOC.fullmatch(value):
        return value
    return "full"


def safe_positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnsafeArgument(what, value)
    return value


# The sshexec/kubeexec defaults, from their one definition in heketipy.config.
_EXEC_DEFAULTS = ExecCommonSettings()


@dataclass(frozen=True)
class CommandOptions:
    """The ``sshexec``/``kubeexec`` keys that shape node commands (internals 3.1)."""

    sudo: bool = _EXEC_DEFAULTS.sudo
    lvm_wrapper: tuple[str, ...] = ()
    fstab: str = _EXEC_DEFAULTS.fstab
    mountopts: str = _EXEC_DEFAULTS.mountopts
    backup_lvm_metadata: bool = _EXEC_DEFAULTS.backup_lvm_metadata
    gluster_cli_timeout: int = _EXEC_DEFAULTS.gluster_cli_timeout
    pv_data_alignment: str = _EXEC_DEFAULTS.pv_data_alignment
    vg_physicalextentsize: str = _EXEC_DEFAULTS.vg_physicalextentsize
    lv_chunksize: str = _EXEC_DEFAULTS.lv_chunksize
    xfs_sw: int = _EXEC_DEFAULTS.xfs_sw
    xfs_su: int = _EXEC_DEFAULTS.xfs_su
    block_prealloc: str = _EXEC_DEFAULTS.block_prealloc
    snapshot_limit: int = _EXEC_DEFAULTS.snapshot_limit
    rebalance_on_expansion: bool = _EXEC_DEFAULTS.rebalance_on_expansion
    debug_umount_failures: bool = _EXEC_DEFAULTS.debug_umount_failures

    def __post_init__(self) -> None:
        safe_path(self.fstab, "fstab path")
        safe_mount_options(self.mountopts)
        for size in (self.pv_data_alignment, self.vg_physicalextentsize, self.lv_chunksize):
            safe_lvm_size(size)
        safe_positive_int(self.xfs_sw, "xfs_sw")
        safe_positive_int(self.xfs_su, "xfs_su")
        safe_positive_int(self.gluster_cli_timeout, "gluster_cli_timeout")
        safe_positive_int(self.snapshot_limit, "snapshot_limit")
        # Loaded settings never hold a bad value (the config refuses it); options built
        # directly get upstream's fallback.
        object.__setattr__(self, "block_prealloc", safe_prealloc(self.block_prealloc))

    @classmethod
    def from_settings(
        cls, settings: ExecCommonSettings, *, sudo: bool | None = None
    ) -> CommandOptions:
        """The options of a loaded ``sshexec``/``kubeexec`` object.

        ``lvm_wrapper`` is an administrator's command prefix such as ``/usr/sbin/exec-on-host
        --``; it is split like a shell would, once, here.
        """
        # Every other option is the settings key of the same name.
        same_named = {f.name for f in fields(cls)} - {"sudo", "lvm_wrapper"}
        return cls(
            sudo=settings.sudo if sudo is None else sudo,
            lvm_wrapper=tuple(shlex.split(settings.lvm_wrapper)),
            **settings.model_dump(include=same_named),
        )

    @property
    def autobackup(self) -> str:
        return "--autobackup=y" if self.backup_lvm_metadata else "--autobackup=n"


# Every node command runs in the C locale (as os-brick runs LVM): tool output and messages
# are then the same on every node, whatever its language. Decisions still go by exit codes and
# structured output first; see executors/remote.py.
LOCALE_PREFIX = ("env", "LC_ALL=C")
SUDO_PREFIX = ("sudo", "-n", "--")


def with_locale(argv: Sequence[str]) -> list[str]:
    """``env LC_ALL=C <argv>``."""
    return [*LOCALE_PREFIX, *argv]


def unwrap(argv: Sequence[str]) -> list[str]:
    """The tool's own argv: without the ``sudo -n --`` and ``env LC_ALL=C`` that
    ``RemoteExecutor`` puts in front (for transports' timeouts and simulated nodes)."""
    words = list(argv)
    for prefix in (SUDO_PREFIX, LOCALE_PREFIX):
        if tuple(words[: len(prefix)]) == prefix:
            words = words[len(prefix) :]
    return words


def with_sudo(argv: Sequence[str], sudo: bool) -> list[str]:
    """Wrap the *whole* command in sudo (upstream prefixed only its first word).

    ``-n`` fails instead of prompting for a password; ``--`` ends sudo's own options.
    """
    return [*SUDO_PREFIX, *argv] if sudo else list(argv)


# stderr lines that LVM and device-mapper print on healthy runs (containers without dm
# access, fd leaks from the transport, missing metadata backups); never part of an error.
_NOISE = re.compile(
    r"^\s*(File descriptor \d+ .*leaked on .* invocation"
    r"|/dev/mapper/control: open failed"
    r"|Failure to communicate with kernel device-mapper driver"
    r"|Check that device-mapper is available in the kernel"
    r"|Incompatible libdevmapper"
    r"|WARNING: This metadata update is NOT backed up"
    r"|WARNING: Failed to connect to lvmetad"
    r"|WARNING: lvmetad"
    r"|WARNING: Device .* not initialized in udev database"
    r"|Udev is running and DM_DISABLE_UDEV environment variable is set"
    r"|Please remove the lvm2 .* from udev"
    r"|/run/lvm/lvmetad.socket: connect failed"
    r")",
)


def clean_stderr(stderr: str) -> str:
    """stderr without LVM/device-mapper noise lines, trimmed."""
    kept = [line for line in stderr.splitlines() if line.strip() and not _NOISE.match(line)]
    return "\n".join(line.strip() for line in kept)
