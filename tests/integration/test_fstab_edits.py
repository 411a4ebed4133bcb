"""The fstab edits of the LVM command builders, run for real (awk and sed, no shell) on a
file in the test's directory: lines are added once and removed exactly."""

from __future__ import annotations

import subprocess
from pathlib import Path

from heketipy.executors.base import BrickRequest
from heketipy.executors.commands import CommandOptions
from heketipy.executors.commands import lvm as l

DEV = "0123456789abcdef0123456789abcdef"


def brick(**overrides: object) -> BrickRequest:
    brick_id = "b1000000000000000000000000000000"
    values: dict[str, object] = dict(
        device_id=DEV, brick_id=brick_id, tp_name=f"tp_{brick_id}", lv_name=f"brick_{brick_id}",
        tp_size_kib=2048, size_kib=2000, pool_metadata_kib=16,
    )
    values.update(overrides)
    return BrickRequest(**values)  # type: ignore[arg-type]


def test_fstab_edits_really_work_without_a_shell(tmp_path: Path) -> None:
    fstab = tmp_path / "fstab"
    fstab.write_text("/dev/sda1 / ext4 defaults 0 1\n")
    options = CommandOptions(fstab=str(fstab))
    other = "b10" + "f" * 29  # starts with brick b1's id
    b1, b2 = brick(), brick(brick_id=other, lv_name=f"brick_{other}", tp_name=f"tp_{other}")
    for b in (b1, b1, b2):  # the second add of b1 is a replay: no duplicate line
        subprocess.run(l.fstab_add(options, l.brick_device(b), b.mount_path), check=True)
    lines = fstab.read_text().splitlines()
    assert lines[1:] == [
        l.fstab_line(options, l.brick_device(b1), b1.mount_path),
        l.fstab_line(options, l.brick_device(b2), b2.mount_path),
    ]
    # Removing brick b1 must not touch brick b10... (upstream's /brick_b1/ pattern would).
    subprocess.run(l.fstab_remove(options, b1.mount_path), check=True)
    assert fstab.read_text().splitlines() == [lines[0], lines[2]]
    assert (tmp_path / "fstab.save").exists()
    subprocess.run(l.fstab_remove(options, b1.mount_path), check=True)  # idempotent
    assert len(fstab.read_text().splitlines()) == 2
