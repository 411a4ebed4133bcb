"""What a rebuild reads from each storage node, as plain data (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from heketipy.executors.base import DeviceInfo, GlusterVolume, NodeInventory, RecoveryFacts


class RebuildError(Exception):
    """The rebuild is refused; the message says why. Nothing has been written."""


@dataclass(frozen=True)
class NodeFacts:
    """One node: its inventory (VGs, LVs with tags and sizes, mounts, the gluster volumes of
    its pool), ``device_info`` of each heketipy VG, and brick gids and block volumes."""

    host: str  # manage hostname
    inventory: NodeInventory
    devices: dict[str, DeviceInfo]  # device id (from vg_<id>) -> what LVM says of it
    recovery: RecoveryFacts = field(default_factory=lambda: RecoveryFacts({}, {}))

    @property
    def volumes(self) -> tuple[GlusterVolume, ...]:
        return self.inventory.volumes
