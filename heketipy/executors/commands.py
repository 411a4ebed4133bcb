"""Public face of the node command builders and parsers.

The builders are pure functions returning argv lists (never shell strings) and the parsers
read real tool output; both live in ``commands_lvm`` (LVM, XFS, mounts, fstab), and
``commands_gluster`` (gluster CLI, gluster-block), on the validators and settings of
``commands_common``. Import from here: ``commands.lvm.pvcreate(...)``,
``commands.gluster.volume_create(...)``, ``commands.UnsafeArgument``.
"""

from __future__ import annotations

from heketipy.executors import commands_gluster as gluster
from heketipy.executors import commands_lvm as lvm
from heketipy.executors.commands_common import (
    CommandOptions,
    UnsafeArgument,
    clean_stderr,
    safe_device_path,
    safe_hostname,
    safe_id,
    safe_lvm_size,
    safe_mount_options,
    safe_option_words,
    safe_path,
    safe_prealloc,
    safe_tag,
    safe_volume_name,
    with_sudo,
)
from heketipy.executors.commands_lvm import ParseError

__all__ = [
    "CommandOptions",
    "ParseError",
    "UnsafeArgument",
    "clean_stderr",
    "gluster",
    "lvm",
    "safe_device_path",
    "safe_hostname",
    "safe_id",
    "safe_lvm_size",
    "safe_mount_options",
    "safe_option_words",
    "safe_path",
    "safe_prealloc",
    "safe_tag",
    "safe_volume_name",
    "with_sudo",
]
