"""Unit: heketipy-csi's Node service against a fake node - a mount table the fake `mount` and
`umount` commands change, FUSE mounts that can be made stale (ENOTCONN), a fake heketipy - and
the pure mount helpers it is built from."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from heketipy.client.errors import HeketiConnectionError, HeketiError
from heketipy.client.models import Volume
from heketipy.csi import mounts
from heketipy.csi.mounts import CommandResult
from heketipy.csi.node import NodeService
from heketipy.third_party.csi_spec import csi_pb2 as pb
from tests.csi.driver import BLOCK, MOUNT

Code = grpc.StatusCode
VOLUME_ID = "a" * 32
HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


class FakeContext:
    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


class FakeHeketi:
    def __init__(self) -> None:
        self.volumes = {VOLUME_ID: Volume.model_validate({
            "id": VOLUME_ID, "name": "pvc-1", "size": 1,
            "mount": {"glusterfs": {"hosts": HOSTS, "device": "10.0.0.1:pvc-1",
                                    "options": {"backup-volfile-servers": "10.0.0.2,10.0.0.3"}}},
        })}
        self.down = False

    async def volume_info(self, volume_id: str) -> Volume:
        if self.down:
            raise HeketiConnectionError('Get "http://heketi/volumes": connection refused')
        if volume_id not in self.volumes:
            raise HeketiError(404, "Id not found")
        return self.volumes[volume_id]


class FakeHost:
    """Mounts as /proc/self/mountinfo shows them; `mount`/`umount` argv applied to them."""

    def __init__(self) -> None:
        self.mounts: list[dict[str, Any]] = []
        self.stale: set[str] = set()
        self.commands: list[list[str]] = []
        self.failing: dict[str, CommandResult] = {}  # argv joined -> result
        # hung FUSE clients (stopped, or waiting on unreachable bricks): stat and statvfs of
        # these paths block until `answer` is set (bounded, so a broken test cannot hang)
        self.hung: set[str] = set()
        self.timed_out: list[list[str]] = []
        self.answer = threading.Event()
        self.blocked_now = 0
        self.blocked_most = 0
        self._lock = threading.Lock()

    async def run(self, argv: Sequence[str]) -> CommandResult:
        argv = list(argv)
        self.commands.append(argv)
        failure = self.failing.get(" ".join(argv))
        if failure is not None:
            return failure
        if argv[:3] == ["mount", "-t", "glusterfs"]:
            self.mounts.append({"point": argv[-1], "fstype": "fuse.glusterfs",
                                "source": argv[-2], "options": "rw"})
        elif argv[:2] == ["mount", "--bind"]:
            source = self._top(argv[2])
            assert source is not None, "bind of an unmounted path"
            self.mounts.append({**source, "point": argv[3], "options": "rw"})
        elif argv[:3] == ["mount", "-o", "remount,bind,ro"]:
            top = self._top(argv[3])
            assert top is not None
            top["options"] = "ro"
        elif argv[0] == "umount":
            if os.path.normpath(argv[-1]) in self.hung and not {"-c", "-l"} & set(argv):
                # umount resolves the path first: a stat that waits for the hung client, until
                # run_command's timeout kills it (-c and -l go straight to umount(2))
                self.timed_out.append(argv)
                return CommandResult(-9, "", "timed out after 120s")
            top = self._top(argv[-1])
            if top is None:
                return CommandResult(32, "", f"umount: {argv[-1]}: not mounted.")
            self.mounts.remove(top)
            self.stale.discard(argv[-1])
        else:
            raise AssertionError(f"unexpected command {argv}")
        return CommandResult(0)

    def _top(self, point: str) -> dict[str, Any] | None:
        found = [m for m in self.mounts if m["point"] == point]
        return found[-1] if found else None

    def mountinfo(self) -> str:
        lines = ["22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"]
        for i, m in enumerate(self.mounts, start=100):
            point = m["point"].replace(" ", "\\040")
            lines.append(f"{i} 22 0:{i} / {point} {m['options']},relatime shared:{i} - "
                         f"{m['fstype']} {m['source']} rw,user_id=0")
        return "\n".join(lines) + "\n"

    def _maybe_hang(self, path: str) -> None:
        if os.path.normpath(path) not in self.hung:
            return
        with self._lock:
            self.blocked_now += 1
            self.blocked_most = max(self.blocked_most, self.blocked_now)
        self.answer.wait(timeout=5)
        with self._lock:
            self.blocked_now -= 1

    def stat(self, path: str) -> object:
        self._maybe_hang(path)
        if os.path.normpath(path) in self.stale:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        return os.stat(path)

    def statvfs(self, path: str) -> Any:
        self._maybe_hang(path)
        return SimpleNamespace(f_frsize=4096, f_blocks=1000, f_bfree=400, f_bavail=300,
                               f_files=500, f_ffree=200, f_favail=150)


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
def heketi() -> FakeHeketi:
    return FakeHeketi()


@pytest.fixture
def node(host: FakeHost, heketi: FakeHeketi) -> NodeService:
    return NodeService(heketi, "node-a", runner=host.run, mountinfo=host.mountinfo,  # type: ignore[arg-type]
                       stat=host.stat, statvfs=host.statvfs)


@pytest.fixture
def paths(tmp_path: Path) -> SimpleNamespace:
    staging = tmp_path / "plugins" / "globalmount"
    staging.mkdir(parents=True)
    return SimpleNamespace(staging=str(staging), target=str(tmp_path / "pods" / "p1" / "mount"))


async def call(method: Any, request: Any) -> Any:
    return await method(request, FakeContext())


async def expect(code: grpc.StatusCode, method: Any, request: Any) -> Aborted:
    with pytest.raises(Aborted) as excinfo:
        await call(method, request)
    assert excinfo.value.code == code, excinfo.value.details
    return excinfo.value


def stage_request(paths: SimpleNamespace, capability: pb.VolumeCapability = MOUNT,
                  **kwargs: Any) -> pb.NodeStageVolumeRequest:
    return pb.NodeStageVolumeRequest(volume_id=VOLUME_ID, staging_target_path=paths.staging,
                                     volume_capability=capability, **kwargs)


def publish_request(paths: SimpleNamespace, readonly: bool = False,
                    capability: pb.VolumeCapability = MOUNT) -> pb.NodePublishVolumeRequest:
    return pb.NodePublishVolumeRequest(volume_id=VOLUME_ID, staging_target_path=paths.staging,
                                       target_path=paths.target, volume_capability=capability,
                                       readonly=readonly)


FUSE_MOUNT = ["mount", "-t", "glusterfs", "-o", "backup-volfile-servers=10.0.0.2:10.0.0.3",
              "10.0.0.1:/pvc-1"]


# --- stage / unstage -------------------------------------------------------------------------

async def test_stage_mounts_once_with_backup_volfile_servers(node: NodeService, host: FakeHost,
                                                             paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    assert host.commands == [[*FUSE_MOUNT, paths.staging]]
    await call(node.NodeStageVolume, stage_request(paths))
    assert len(host.commands) == 1  # already staged: nothing to do


async def test_mount_flags_are_passed_and_hostile_ones_refused(node: NodeService, host: FakeHost,
                                                               paths: SimpleNamespace) -> None:
    flagged = pb.VolumeCapability()
    flagged.CopyFrom(MOUNT)
    flagged.mount.mount_flags.extend(["log-level=WARNING", "acl"])
    await call(node.NodeStageVolume, stage_request(paths, flagged))
    assert host.commands[-1][4] == "backup-volfile-servers=10.0.0.2:10.0.0.3,log-level=WARNING,acl"
    host.mounts.clear()
    hostile = pb.VolumeCapability()
    hostile.CopyFrom(MOUNT)
    hostile.mount.mount_flags.append("ro,x;reboot")
    await expect(Code.INVALID_ARGUMENT, node.NodeStageVolume, stage_request(paths, hostile))
    assert len(host.commands) == 1


async def test_unstage_unmounts_and_is_idempotent(node: NodeService, host: FakeHost,
                                                  paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    request = pb.NodeUnstageVolumeRequest(volume_id=VOLUME_ID, staging_target_path=paths.staging)
    await call(node.NodeUnstageVolume, request)
    assert host.commands[-1] == ["umount", "-c", paths.staging] and host.mounts == []
    await call(node.NodeUnstageVolume, request)
    assert len(host.commands) == 2


async def test_stale_staging_mount_is_remounted_at_next_stage(node: NodeService, host: FakeHost,
                                                              paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    host.stale.add(paths.staging)
    await call(node.NodeStageVolume, stage_request(paths))
    assert host.commands[1:] == [["umount", "-c", paths.staging], [*FUSE_MOUNT, paths.staging]]
    assert len(host.mounts) == 1


async def test_a_stale_mount_refusing_umount_is_detached_lazily(node: NodeService, host: FakeHost,
                                                                paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    host.stale.add(paths.staging)
    host.failing[f"umount -c {paths.staging}"] = CommandResult(32, "", "target is busy")
    await call(node.NodeStageVolume, stage_request(paths))
    assert ["umount", "-c", "-l", paths.staging] in host.commands
    assert host.commands[-1] == [*FUSE_MOUNT, paths.staging]


async def test_stage_errors(node: NodeService, host: FakeHost, heketi: FakeHeketi,
                            paths: SimpleNamespace) -> None:
    await expect(Code.INVALID_ARGUMENT, node.NodeStageVolume, stage_request(paths, BLOCK))
    await expect(Code.INVALID_ARGUMENT, node.NodeStageVolume,
                 pb.NodeStageVolumeRequest(volume_id=VOLUME_ID, volume_capability=MOUNT))
    await expect(Code.INVALID_ARGUMENT, node.NodeStageVolume,
                 pb.NodeStageVolumeRequest(volume_id=VOLUME_ID, staging_target_path=paths.staging))
    await expect(Code.INVALID_ARGUMENT, node.NodeStageVolume,
                 pb.NodeStageVolumeRequest(volume_id=VOLUME_ID, staging_target_path="relative",
                                           volume_capability=MOUNT))
    unknown = pb.NodeStageVolumeRequest(volume_id="b" * 32, staging_target_path=paths.staging,
                                        volume_capability=MOUNT)
    await expect(Code.NOT_FOUND, node.NodeStageVolume, unknown)
    heketi.down = True
    await expect(Code.UNAVAILABLE, node.NodeStageVolume, stage_request(paths))
    assert host.commands == []
    host.failing[" ".join([*FUSE_MOUNT, paths.staging])] = CommandResult(1, "", "no route")
    heketi.down = False
    failed = await expect(Code.INTERNAL, node.NodeStageVolume, stage_request(paths))
    assert "no route" in failed.details


async def test_stage_falls_back_to_the_volume_context_when_heketipy_is_down(
        node: NodeService, host: FakeHost, heketi: FakeHeketi, paths: SimpleNamespace) -> None:
    heketi.down = True
    context = {"glusterVolume": "pvc-1", "glusterHosts": ",".join(HOSTS)}
    await call(node.NodeStageVolume, stage_request(paths, volume_context=context))
    assert host.commands == [[*FUSE_MOUNT, paths.staging]]


# --- publish / unpublish ---------------------------------------------------------------------

async def test_publish_binds_and_unpublish_removes_what_it_created(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    await call(node.NodePublishVolume, publish_request(paths))
    assert host.commands[-1] == ["mount", "--bind", paths.staging, paths.target]
    assert os.path.isdir(paths.target)
    await call(node.NodePublishVolume, publish_request(paths))  # idempotent
    assert len(host.commands) == 2
    await expect(Code.ALREADY_EXISTS, node.NodePublishVolume, publish_request(paths, readonly=True))

    request = pb.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID, target_path=paths.target)
    await call(node.NodeUnpublishVolume, request)
    assert host.commands[-1] == ["umount", "-c", paths.target]
    assert not os.path.exists(paths.target)
    await call(node.NodeUnpublishVolume, request)  # nothing mounted, nothing there: OK
    assert len(host.commands) == 3


async def test_read_only_publish_remounts_ro(node: NodeService, host: FakeHost,
                                             paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    await call(node.NodePublishVolume, publish_request(paths, readonly=True))
    assert host.commands[-2:] == [["mount", "--bind", paths.staging, paths.target],
                                  ["mount", "-o", "remount,bind,ro", paths.target]]
    await call(node.NodePublishVolume, publish_request(paths, readonly=True))
    assert len(host.commands) == 3


async def test_reader_only_access_mode_publishes_ro(node: NodeService, host: FakeHost,
                                                    paths: SimpleNamespace) -> None:
    reader = pb.VolumeCapability()
    reader.CopyFrom(MOUNT)
    reader.access_mode.mode = pb.VolumeCapability.AccessMode.MULTI_NODE_READER_ONLY
    await call(node.NodeStageVolume, stage_request(paths, reader))
    await call(node.NodePublishVolume, publish_request(paths, capability=reader))
    assert host.commands[-1] == ["mount", "-o", "remount,bind,ro", paths.target]


async def test_failed_ro_remount_leaves_nothing_writable(node: NodeService, host: FakeHost,
                                                         paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    host.failing[f"mount -o remount,bind,ro {paths.target}"] = CommandResult(1, "", "denied")
    await expect(Code.INTERNAL, node.NodePublishVolume, publish_request(paths, readonly=True))
    assert host.commands[-1] == ["umount", "-c", paths.target]
    assert [m["point"] for m in host.mounts] == [paths.staging]


async def test_publish_remounts_stale_staging_and_rebinds_stale_target(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    await call(node.NodePublishVolume, publish_request(paths))
    host.stale.update({paths.staging, paths.target})  # the glusterfs client died
    await call(node.NodePublishVolume, publish_request(paths))
    assert host.commands[2:] == [
        ["umount", "-c", paths.staging], [*FUSE_MOUNT, paths.staging],
        ["umount", "-c", paths.target], ["mount", "--bind", paths.staging, paths.target],
    ]
    assert [m["point"] for m in host.mounts] == [paths.staging, paths.target]


async def test_publish_over_another_volumes_mount_is_already_exists(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))
    os.makedirs(paths.target)
    host.mounts.append({"point": paths.target, "fstype": "fuse.glusterfs",
                        "source": "10.0.0.1:/pvc-other", "options": "rw"})
    failed = await expect(Code.ALREADY_EXISTS, node.NodePublishVolume, publish_request(paths))
    assert "pvc-other" in failed.details
    host.mounts[-1].update(fstype="tmpfs", source="tmpfs")
    await expect(Code.ALREADY_EXISTS, node.NodePublishVolume, publish_request(paths))
    assert len(host.commands) == 1  # nothing bound over it, nothing unmounted


async def test_publish_from_a_staging_path_holding_another_volume_is_refused(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    host.mounts.append({"point": paths.staging, "fstype": "fuse.glusterfs",
                        "source": "10.0.0.1:/pvc-other", "options": "rw"})
    request = publish_request(paths)
    request.volume_context["glusterVolume"] = "pvc-1"
    failed = await expect(Code.FAILED_PRECONDITION, node.NodePublishVolume, request)
    assert "pvc-other" in failed.details
    host.mounts[-1].update(fstype="tmpfs", source="tmpfs")
    await expect(Code.FAILED_PRECONDITION, node.NodePublishVolume, request)
    assert host.commands == []  # never bound into the pod


async def test_stage_over_another_volumes_mount_is_already_exists(
        node: NodeService, host: FakeHost, heketi: FakeHeketi, paths: SimpleNamespace) -> None:
    host.mounts.append({"point": paths.staging, "fstype": "fuse.glusterfs",
                        "source": "10.0.0.1:/pvc-other", "options": "rw"})
    failed = await expect(Code.ALREADY_EXISTS, node.NodeStageVolume, stage_request(paths))
    assert "pvc-other" in failed.details and "pvc-1" in failed.details
    host.mounts[-1]["source"] = "10.0.0.2:/pvc-1"  # this volume, from another volfile server
    await call(node.NodeStageVolume, stage_request(paths))
    host.mounts[-1]["source"] = "[fd00::2]:pvc-1"  # the client may list it without the '/'
    await call(node.NodeStageVolume, stage_request(paths))
    heketi.down = True  # the volume context names the volume as well
    await call(node.NodeStageVolume, stage_request(
        paths, volume_context={"glusterVolume": "pvc-1", "glusterHosts": ",".join(HOSTS)}))
    assert host.commands == []


async def test_publish_errors(node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    await expect(Code.FAILED_PRECONDITION, node.NodePublishVolume, publish_request(paths))
    await expect(Code.INVALID_ARGUMENT, node.NodePublishVolume, publish_request(paths, capability=BLOCK))
    no_staging = publish_request(paths)
    no_staging.staging_target_path = ""
    await expect(Code.INVALID_ARGUMENT, node.NodePublishVolume, no_staging)
    await expect(Code.INVALID_ARGUMENT, node.NodeUnpublishVolume,
                 pb.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID))
    assert host.commands == []


# --- stats, info, capabilities ---------------------------------------------------------------

async def test_volume_stats_and_condition(node: NodeService, host: FakeHost,
                                          paths: SimpleNamespace) -> None:
    request = pb.NodeGetVolumeStatsRequest(volume_id=VOLUME_ID, volume_path=paths.staging)
    await expect(Code.NOT_FOUND, node.NodeGetVolumeStats, request)  # a directory, not a mount
    await call(node.NodeStageVolume, stage_request(paths))
    stats = await call(node.NodeGetVolumeStats, request)
    usage = {u.unit: u for u in stats.usage}
    assert usage[pb.VolumeUsage.BYTES].total == 1000 * 4096
    assert usage[pb.VolumeUsage.BYTES].available == 300 * 4096
    assert usage[pb.VolumeUsage.BYTES].used == 600 * 4096
    assert (usage[pb.VolumeUsage.INODES].total, usage[pb.VolumeUsage.INODES].used) == (500, 300)
    assert stats.volume_condition.abnormal is False
    host.stale.add(paths.staging)
    stale = await call(node.NodeGetVolumeStats, request)
    assert stale.volume_condition.abnormal is True
    assert "not connected" in stale.volume_condition.message
    await expect(Code.NOT_FOUND, node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=VOLUME_ID, volume_path=paths.target))


async def test_a_hung_fuse_mount_is_abnormal_and_never_blocks_the_driver(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    """A FUSE client that does not answer (stopped, bricks unreachable) blocks every stat of
    its mount in the kernel. The driver's one event loop serves all RPCs, so the stat must
    not run on it: the answer is "abnormal" after a bounded wait, one thread per hung mount."""
    await call(node.NodeStageVolume, stage_request(paths))
    await call(node.NodePublishVolume, publish_request(paths))
    commands = list(host.commands)
    node.health_timeout_s = 0.05
    host.hung.update({paths.staging, paths.target})
    request = pb.NodeGetVolumeStatsRequest(volume_id=VOLUME_ID, volume_path=paths.target)
    try:
        # the mount answers only once these calls have returned: on the event loop they
        # would wait for it (5 s, then report it healthy)
        hung = await call(node.NodeGetVolumeStats, request)
        again = await call(node.NodeGetVolumeStats, request)
        await expect(Code.UNAVAILABLE, node.NodePublishVolume, publish_request(paths))
        assert not host.answer.is_set()
    finally:
        host.answer.set()
    for answer in (hung, again):
        assert answer.volume_condition.abnormal is True
        assert "not answering" in answer.volume_condition.message
        assert not answer.usage
    assert host.blocked_most == 2  # one probe for the target, one for the staging path
    assert host.commands == commands  # nothing unmounted or mounted over a hung client
    host.hung.clear()
    for _ in range(100):  # the stuck probes return once the client answers
        if host.blocked_now == 0:
            break
        await asyncio.sleep(0.01)
    healthy = await call(node.NodeGetVolumeStats, request)
    assert healthy.volume_condition.abnormal is False and healthy.usage


async def test_unpublish_and_unstage_of_a_hung_mount_do_not_wait_for_it(
        node: NodeService, host: FakeHost, paths: SimpleNamespace) -> None:
    """Pods get deleted while the bricks are unreachable: their mounts must go at once, not
    after a umount that waited for the hung client until it was killed."""
    await call(node.NodeStageVolume, stage_request(paths))
    await call(node.NodePublishVolume, publish_request(paths))
    host.hung.update({paths.staging, paths.target})
    await call(node.NodeUnpublishVolume,
               pb.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID, target_path=paths.target))
    await call(node.NodeUnstageVolume, pb.NodeUnstageVolumeRequest(
        volume_id=VOLUME_ID, staging_target_path=paths.staging))
    assert host.timed_out == []
    assert host.mounts == [] and not os.path.exists(paths.target)


async def test_a_failing_probe_is_an_error_not_a_hang(node: NodeService, host: FakeHost,
                                                    paths: SimpleNamespace) -> None:
    await call(node.NodeStageVolume, stage_request(paths))

    def denied(path: str) -> object:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    node.stat = denied
    failure = await expect(Code.INTERNAL, node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=VOLUME_ID, volume_path=paths.staging))
    assert "Permission denied" in failure.details


async def test_info_and_capabilities(node: NodeService) -> None:
    assert (await call(node.NodeGetInfo, pb.NodeGetInfoRequest())).node_id == "node-a"
    caps = await call(node.NodeGetCapabilities, pb.NodeGetCapabilitiesRequest())
    rpc = pb.NodeServiceCapability.RPC
    assert {c.rpc.type for c in caps.capabilities} == {
        rpc.STAGE_UNSTAGE_VOLUME, rpc.GET_VOLUME_STATS, rpc.VOLUME_CONDITION,
    }


# --- the pure helpers ------------------------------------------------------------------------

def test_mountinfo_parsing() -> None:
    text = (
        "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
        "40 22 0:45 / /var/lib/kubelet/g ro,relatime shared:3 - fuse.glusterfs 10.0.0.1:/v rw\n"
        "41 22 0:46 / /no/optional rw - tmpfs tmpfs rw\n"
    )
    entries = mounts.parse_mountinfo(text)
    assert [e.mount_point for e in entries] == ["/mnt two", "/var/lib/kubelet/g", "/no/optional"]
    assert entries[0].root == "/mnt1" and entries[0].fstype == "ext3"
    assert entries[1].fstype == "fuse.glusterfs" and entries[1].source == "10.0.0.1:/v"
    assert entries[1].read_only and not entries[0].read_only
    assert mounts.MountTable(entries).get("/var/lib/kubelet/g/") is entries[1]


@pytest.mark.parametrize("host_name, volume", [
    ("-oexec", "v"), ("a b", "v"), ("h", "-v"), ("h", "v;x"), ("h", "../v"),
])
def test_hostile_sources_are_refused(host_name: str, volume: str) -> None:
    with pytest.raises(Exception) as excinfo:
        mounts.mount_glusterfs_argv(host_name, volume, "/staging")
    assert getattr(excinfo.value, "code", None) == Code.INVALID_ARGUMENT


@pytest.mark.parametrize("option", [
    # characters alone pass these: each would write a host file as root or redirect the mount
    "log-file=/var/lib/kubelet/pods/other/volumes/x", "volfile-server=10.9.9.9",
    "backup-volfile-servers=10.9.9.9", "backupvolfile-server=10.9.9.9", "transport=rdma",
    "volfile-server-port=24008", "xlator-option=*.client.remote-host=evil",
    "fuse-mountopts=allow_other", "dump-fuse=/etc/x", "subdir-mount=/other", "volume-name=v2",
    "process-name=x", "oom-score-adj=-1000", "no-root-squash", "unknown-option=1",
    "log-level=/etc/passwd", "ro=yes", "attribute-timeout",
])
def test_mount_options_outside_the_allow_list_are_refused(option: str) -> None:
    with pytest.raises(Exception) as excinfo:
        mounts.checked_options([f"acl,{option}"])
    assert getattr(excinfo.value, "code", None) == Code.INVALID_ARGUMENT
    assert option.split("=")[0] in str(excinfo.value)


def test_mount_options_users_legitimately_set_pass() -> None:
    flags = ["ro,acl", "log-level=WARNING", "attribute-timeout=0.5", "entry-timeout=1",
             "negative-timeout=2", "gid-timeout=300", "background-qlen=64",
             "congestion-threshold=48", "direct-io-mode=disable", "use-readdirp=no",
             "fopen-keep-cache", "reader-thread-count=4", "lru-limit=0", "invalidate-limit=16",
             "auto_unmount", "noatime,nodiratime,relatime,nodev,nosuid,noexec,_netdev"]
    assert mounts.checked_options(flags) == [o for f in flags for o in f.split(",")]


def test_argv_builders() -> None:
    assert mounts.mount_glusterfs_argv("h1", "v", "/s") == ["mount", "-t", "glusterfs", "h1:/v", "/s"]
    assert mounts.umount_argv("/t//x/", lazy=True) == ["umount", "-c", "-l", "/t/x"]
    assert mounts.remount_readonly_argv("/t") == ["mount", "-o", "remount,bind,ro", "/t"]
    assert mounts.bind_mount_argv("/s", "/t") == ["mount", "--bind", "/s", "/t"]


async def test_run_command_captures_output_without_a_shell() -> None:
    result = await mounts.run_command(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert result == CommandResult(3, "out\n", "err\n")
    literal = await mounts.run_command(["echo", "$(id)", ";", "x"])
    assert literal.stdout == "$(id) ; x\n"
