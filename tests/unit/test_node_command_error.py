"""A failed node command's error names the node and the command (issue 14: faults on real
nodes), so an operator reading ``Unable to execute command on ...`` knows what to look at."""

from __future__ import annotations

import pytest

from heketipy.domain.errors import NodeCommandError


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["sudo", "-n", "--", "env", "LC_ALL=C", "gluster", "--mode=script", "volume", "create",
          "vol_1", "replica", "3"], "gluster volume create"),
        (["env", "LC_ALL=C", "lvm", "lvcreate", "-qq", "--poolmetadatasize", "12K"],
         "lvm lvcreate"),
        (["/sbin/lvm", "lvcreate", "--thin", "vg_1/tp_1"], "lvm lvcreate"),
        (["mkfs.xfs", "-i", "size=512", "/dev/mapper/vg-brick"], "mkfs.xfs"),
        (["umount", "/var/lib/heketi/mounts/vg_1/brick_1"], "umount"),
    ],
)  # fmt: skip
def test_message_names_node_and_command(argv: list[str], named: str) -> None:
    error = NodeCommandError("10.99.0.3", argv, 1, "Connection failed.\n")
    assert str(error) == f"Unable to execute command on 10.99.0.3 ({named}): Connection failed."


def test_an_explicit_text_is_kept() -> None:
    error = NodeCommandError("n1", ["gluster", "volume", "list"], None, "", "SSH command timeout")
    assert str(error) == "SSH command timeout"
