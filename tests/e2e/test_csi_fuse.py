"""heketipy-csi on the namespace testbed: real glusterd, real FUSE mounts, a real driver process.

The driver (``heketipy-csi --mode all``) runs inside the testbed's client namespaces - network,
mount and UTS of the client's holder process, entered with ``nsenter`` - where the gluster
nodes and the heketipy server (SSH executor) are reachable and where its FUSE and bind mounts
live. The test speaks gRPC to it over a unix socket under /tmp (a path the host and the client
mount namespace share), reads the driver's mounts from ``/proc/<driver pid>/mountinfo`` and
does file I/O in the same mount namespace. Mount points are under the client's private /mnt.

Proven against the real thing:

* CreateVolume, NodeStage (one FUSE mount), NodePublish read-write and read-only (bind mounts):
  a file written through one path is read through the other, the read-only one refuses writes;
* ControllerExpandVolume to 2 GiB: NodeGetVolumeStats' total grows on the live mount;
* SIGSTOP of the glusterfs client (a hung mount): the condition turns abnormal ("not
  answering") while the driver keeps serving other RPCs, publish answers UNAVAILABLE, a pod's
  unpublish still unmounts at once, and after SIGCONT all is well again without a remount;
* SIGKILL of the glusterfs client of the staging mount: the volume condition turns abnormal
  (ENOTCONN), the next NodePublish mounts and binds again, the file is still there;
* the driver SIGKILLed with its mounts in place (a node plugin upgrade): the new process's
  stage and publish find them healthy and leave them be;
* NodeUnpublish (both) and NodeUnstage leave no mount and no glusterfs client behind, and the
  target directories are removed; DeleteVolume removes the Heketi and the gluster volume;
* the driver SIGKILLed while heketipy runs its CreateVolume, started again, the CO retrying:
  exactly one Heketi volume for the name.

Whatever runs or is mounted is removed at the end, also on failure; the topology is taken out
of heketipy again so the session's other e2e modules find the nodes as the testbed made them.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from heketipy.csi.mounts import GLUSTERFS_FSTYPE, MountEntry, parse_mountinfo
from heketipy.third_party.csi_spec import csi_pb2 as pb
from tests.csi.driver import GIB, MOUNT, Driver, create_request, running_driver
from tests.e2e.conftest import record_result
from tests.e2e.scenario import Topology, load_topology, remove_topology
from tests.e2e.testbed import Testbed, Timings
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

Code = grpc.StatusCode
T = TypeVar("T")
CSI_ROOT = "/mnt/hkcsi"  # inside the client mount namespace (/mnt is the holder's tmpfs)
NAME_PREFIX = "pvc-e2e-"  # every CSI volume name of this module
PAYLOAD = "written through heketipy-csi's FUSE mount\n"
SETTLE_S = 60.0  # bound of every wait for the real system to catch up


@dataclass
class Rig:
    bed: Testbed
    api: ServerProcess
    topology: Topology
    workdir: Path
    timings: Timings
    facts: dict[str, Any] = field(default_factory=dict)  # reported with the timings

    @property
    def holder_pid(self) -> int:
        return int(self.bed.description["client"]["holder_pid"])

    @property
    def heketi_url(self) -> str:
        """heketipy as the client namespace reaches it (127.0.0.1 there is not the host's)."""
        listen = self.bed.description["heketi_listen"]
        return f"http://{listen['host']}:{listen['port']}"

    @contextmanager
    def driver(self, name: str) -> Iterator[Driver]:
        launcher = ["nsenter", "-t", str(self.holder_pid), "-m", "-n", "-u", "--"]
        with running_driver(self.heketi_url, mode="all", launcher=launcher,
                            node_id="client") as drv:
            try:
                # nsenter execs the driver: the process is the driver, in the client namespaces
                assert mount_namespace(drv.process.pid) == mount_namespace(self.holder_pid)
                yield drv
            finally:
                shutil.copyfile(drv.log_path, self.workdir / f"{name}.log")


@pytest.fixture(scope="module")
def rig(
    heketi_over_ssh: ServerProcess, testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    timings = Timings("csi-fuse")
    workdir = tmp_path_factory.mktemp("csi-fuse")
    facts: dict[str, Any] = {}
    try:
        with timings.step("topology load (3 nodes, peer probe, device setup)"):
            topology = load_topology(heketi_over_ssh, testbed)
        setup = Rig(testbed, heketi_over_ssh, topology, workdir, timings, facts=facts)
        try:
            yield setup
        finally:
            with timings.step("teardown: mounts, volumes, topology"):
                clean_client_mounts(testbed, setup.holder_pid)
                delete_our_volumes(heketi_over_ssh)
                remove_topology(heketi_over_ssh, testbed, topology)
    finally:
        record_result({**timings.as_dict(), **facts}, tmp_path_factory.getbasetemp())


# -- the client mount namespace ------------------------------------------------------------


def mount_namespace(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/mnt")


def our_mounts(pid: int) -> list[MountEntry]:
    """The mounts under CSI_ROOT that process ``pid`` sees, in mount order."""
    text = Path(f"/proc/{pid}/mountinfo").read_text(errors="surrogateescape")
    return [e for e in parse_mountinfo(text) if e.mount_point.startswith(CSI_ROOT + "/")]


def fuse_clients(holder_pid: int, path: str) -> list[int]:
    """glusterfs client processes of the client mount namespace serving ``path`` or a mount
    point below it."""
    namespace = mount_namespace(holder_pid)
    wanted = path.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "glusterfs":
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if os.readlink(entry / "ns" / "mnt") != namespace:
                continue
        except OSError:
            continue  # exited meanwhile
        if any(arg == wanted or arg.startswith(wanted + b"/") for arg in argv):
            found.append(int(entry.name))
    return found


def clean_client_mounts(bed: Testbed, holder_pid: int) -> None:
    """Detach everything under CSI_ROOT (innermost first), end its glusterfs clients, and
    remove the directories: nothing of this module stays in the client namespace."""
    for entry in reversed(our_mounts(holder_pid)):
        bed.client_run(["umount", "-l", entry.mount_point], check=False)
    for pid in fuse_clients(holder_pid, CSI_ROOT):
        os.kill(pid, signal.SIGKILL)
    bed.client_run(["rm", "-rf", "--one-file-system", CSI_ROOT], check=False)


def write_file(bed: Testbed, path: str, text: str, *, check: bool = True) -> Any:
    return bed.client_run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path], check=check)


def read_file(bed: Testbed, path: str) -> str:
    return str(bed.client_run(["cat", path]).stdout)


def exists(bed: Testbed, path: str) -> bool:
    return bed.client_run(["test", "-e", path], check=False).returncode == 0


def delete_our_volumes(api: ServerProcess) -> None:
    """Whatever this module's volumes a failure left behind, once heketipy is idle."""
    eventually("heketipy to finish its operations", lambda: (
        True if api.request("GET", "/operations").json()["in_flight"] == 0 else None
    ), limit_s=180)  # fmt: skip
    for volume_id in api.request("GET", "/volumes").json()["volumes"]:
        if api.request("GET", f"/volumes/{volume_id}").json()["name"].startswith(NAME_PREFIX):
            reply = api.request("DELETE", f"/volumes/{volume_id}")
            assert reply.status == 202, reply.text
            assert api.wait_queue(reply.headers["Location"], limit_s=180).status == 204


# -- waiting on the real system --------------------------------------------------------------


def eventually(what: str, probe: Callable[[], T | None], limit_s: float = SETTLE_S) -> T:
    """``probe()``'s first non-None answer, polled until ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit_s:g} s")
        time.sleep(0.1)


def retried(call: Callable[[], T], retry_on: set[grpc.StatusCode], what: str) -> tuple[T, list[Any]]:
    """The CO's retry loop: ``call()`` again while it fails with a code in ``retry_on``."""
    codes: list[Any] = []
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            return call(), codes
        except grpc.RpcError as error:
            if error.code() not in retry_on or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {error.code()} {error.details()} "
                                     f"(after {codes})") from None
            codes.append(error.code().name)
            time.sleep(0.5)


def stats(drv: Driver, volume_id: str, path: str) -> pb.NodeGetVolumeStatsResponse:
    return drv.node.NodeGetVolumeStats(
        pb.NodeGetVolumeStatsRequest(volume_id=volume_id, volume_path=path)
    )


def total_bytes(answer: pb.NodeGetVolumeStatsResponse) -> int:
    return next(u.total for u in answer.usage if u.unit == pb.VolumeUsage.BYTES)


def gluster_volumes(bed: Testbed) -> list[str]:
    return bed.gluster(bed.nodes[0], "volume", "list").split()


def heketi_names(api: ServerProcess) -> list[str]:
    """Every volume name heketipy has (a full listing: not the ``?name=`` index)."""
    ids = api.request("GET", "/volumes").json()["volumes"]
    return [api.request("GET", f"/volumes/{vid}").json()["name"] for vid in ids]


# -- the tests -------------------------------------------------------------------------------


def test_stage_publish_io_expand_stale_mount_and_cleanup(rig: Rig) -> None:
    bed, steps = rig.bed, rig.timings
    staging = f"{CSI_ROOT}/staging/pv-io/globalmount"
    target_rw = f"{CSI_ROOT}/pods/pod-a/volumes/pv-io/mount"
    target_ro = f"{CSI_ROOT}/pods/pod-b/volumes/pv-io/mount"

    with rig.driver("driver-io") as drv:
        with steps.step("CreateVolume 1 GiB replica 3"):
            volume = drv.controller.CreateVolume(create_request(f"{NAME_PREFIX}io")).volume
        assert volume.capacity_bytes == GIB
        gluster_name = volume.volume_context["glusterVolume"]
        assert gluster_name in gluster_volumes(bed)
        context = dict(volume.volume_context)

        def stage() -> pb.NodeStageVolumeResponse:
            return drv.node.NodeStageVolume(pb.NodeStageVolumeRequest(
                volume_id=volume.volume_id, staging_target_path=staging,
                volume_capability=MOUNT, volume_context=context,
            ))  # fmt: skip

        def publish(target: str, readonly: bool) -> pb.NodePublishVolumeResponse:
            return drv.node.NodePublishVolume(pb.NodePublishVolumeRequest(
                volume_id=volume.volume_id, staging_target_path=staging, target_path=target,
                volume_capability=MOUNT, readonly=readonly, volume_context=context,
            ))  # fmt: skip

        with steps.step("NodeStageVolume (FUSE mount)"):
            # right after "volume start" the bricks may not answer yet: the CO retries
            _answer, stage_retries = retried(stage, {Code.INTERNAL}, "NodeStageVolume")
        stage()  # staged already: OK, nothing mounted twice
        mounts = our_mounts(drv.process.pid)
        assert [(m.mount_point, m.fstype) for m in mounts] == [(staging, GLUSTERFS_FSTYPE)]
        assert mounts[0].source.rsplit(":", 1)[-1].lstrip("/") == gluster_name, mounts[0]
        (client,) = fuse_clients(rig.holder_pid, staging)
        # every storage host is a volfile server (backup-volfile-servers parsed by mount.glusterfs)
        argv = Path(f"/proc/{client}/cmdline").read_bytes().decode().split("\0")
        assert {a for a in argv if a.startswith("--volfile-server=")} == {
            f"--volfile-server={node.storage}" for node in bed.nodes}, argv

        with steps.step("NodePublishVolume read-write and read-only, I/O"):
            publish(target_rw, False)
            publish(target_ro, True)
            publish(target_rw, False)  # idempotent
            with pytest.raises(grpc.RpcError) as excinfo:
                publish(target_ro, False)  # published differently already
            assert excinfo.value.code() == Code.ALREADY_EXISTS, excinfo.value.details()
            by_point = {m.mount_point: m for m in our_mounts(drv.process.pid)}
            assert set(by_point) == {staging, target_rw, target_ro}
            assert not by_point[target_rw].read_only and by_point[target_ro].read_only
            write_file(bed, f"{target_rw}/hello.txt", PAYLOAD)
            assert read_file(bed, f"{target_ro}/hello.txt") == PAYLOAD
            assert read_file(bed, f"{staging}/hello.txt") == PAYLOAD
            refused = write_file(bed, f"{target_ro}/nope.txt", "x", check=False)
            assert refused.returncode != 0 and "Read-only" in refused.stderr, refused
            assert not exists(bed, f"{target_rw}/nope.txt")

        healthy = stats(drv, volume.volume_id, target_rw)
        assert not healthy.volume_condition.abnormal, healthy
        size_before = total_bytes(healthy)
        assert 0.8 * GIB < size_before <= GIB, size_before

        with steps.step("ControllerExpandVolume to 2 GiB, seen in statvfs"):
            expanded = drv.controller.ControllerExpandVolume(pb.ControllerExpandVolumeRequest(
                volume_id=volume.volume_id, capacity_range=pb.CapacityRange(required_bytes=2 * GIB),
            ))  # fmt: skip
            assert expanded.capacity_bytes == 2 * GIB and not expanded.node_expansion_required
            size_after = eventually("the larger size in NodeGetVolumeStats", lambda: (
                size if (size := total_bytes(stats(drv, volume.volume_id, target_ro)))
                > 1.5 * GIB else None
            ))  # fmt: skip
        assert size_after <= 2 * GIB, size_after

        with steps.step("SIGSTOP the glusterfs client: abnormal, driver keeps answering"):
            (stopped,) = fuse_clients(rig.holder_pid, staging)
            os.kill(stopped, signal.SIGSTOP)
            try:
                pending_stats = drv.node.NodeGetVolumeStats.future(pb.NodeGetVolumeStatsRequest(
                    volume_id=volume.volume_id, volume_path=target_rw))
                # every stat of the mount now blocks in the kernel: the driver's event loop
                # must not be the one waiting (a hung mount would freeze every RPC)
                info = drv.identity.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=30)
                assert info.name
                hung = pending_stats.result(timeout=30)
                assert hung.volume_condition.abnormal, hung
                assert "not answering" in hung.volume_condition.message, hung
                with pytest.raises(grpc.RpcError) as excinfo:
                    publish(target_rw, False)
                assert excinfo.value.code() == Code.UNAVAILABLE, excinfo.value.details()
                # a pod deleted meanwhile: its bind mount goes, the hung client notwithstanding
                drv.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
                    volume_id=volume.volume_id, target_path=target_ro), timeout=60)
                assert target_ro not in {m.mount_point for m in our_mounts(drv.process.pid)}
                assert not exists(bed, target_ro)
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert fuse_clients(rig.holder_pid, staging) == [stopped]  # nothing remounted
            eventually("the mount to answer again", lambda: (
                True if not stats(drv, volume.volume_id, target_rw).volume_condition.abnormal
                else None
            ))  # fmt: skip
            publish(target_ro, True)
            assert read_file(bed, f"{target_ro}/hello.txt") == PAYLOAD

        with steps.step("SIGKILL the glusterfs client: abnormal, next publish remounts"):
            (dead,) = fuse_clients(rig.holder_pid, staging)
            os.kill(dead, signal.SIGKILL)
            eventually("the glusterfs client to exit",
                       lambda: True if not Path(f"/proc/{dead}").exists() else None)
            stale = stats(drv, volume.volume_id, target_rw)
            assert stale.volume_condition.abnormal, stale
            assert "not connected" in stale.volume_condition.message, stale
            assert not stale.usage
            failed_read = bed.client_run(["cat", f"{target_rw}/hello.txt"], check=False)
            assert "Transport endpoint is not connected" in failed_read.stderr, failed_read

            publish(target_rw, False)  # the kubelet's next publish: staging and bind redone
            (fresh,) = fuse_clients(rig.holder_pid, staging)
            assert fresh != dead
            assert read_file(bed, f"{target_rw}/hello.txt") == PAYLOAD
            write_file(bed, f"{target_rw}/after.txt", "after the remount\n")
            recovered = stats(drv, volume.volume_id, target_rw)
            assert not recovered.volume_condition.abnormal, recovered
            assert total_bytes(recovered) == size_after
            publish(target_ro, True)  # its bind mount was stale as well: bound again
            assert read_file(bed, f"{target_ro}/after.txt") == "after the remount\n"
            by_point = {m.mount_point: m for m in our_mounts(drv.process.pid)}
            assert set(by_point) == {staging, target_rw, target_ro}, by_point
            assert by_point[target_ro].read_only and not by_point[target_rw].read_only
            (client,) = fuse_clients(rig.holder_pid, staging)

        # the driver process restarts while the glusterfs FUSE client survives it, as when the
        # clients live outside the driver's cgroup (here the driver runs under nsenter in the
        # rig's client namespaces, in no container: killing it leaves the daemonized client).
        # In Kubernetes a node plugin pod restart kills the clients of its cgroup; that is
        # why deploy/csi/csi-node.yaml updates OnDelete after a drain, not tested here.
        drv.process.kill()
        drv.process.wait(timeout=30)
    with rig.driver("driver-io-restarted") as drv:
        with steps.step("restarted driver: stage and publish again find the mounts healthy"):
            stage()
            publish(target_rw, False)
            publish(target_ro, True)
            assert fuse_clients(rig.holder_pid, staging) == [client]  # nothing remounted
            assert {m.mount_point for m in our_mounts(drv.process.pid)} == {
                staging, target_rw, target_ro}
            assert not stats(drv, volume.volume_id, target_ro).volume_condition.abnormal

        with steps.step("NodeUnpublish x2, NodeUnstage: nothing left mounted"):
            for target in (target_rw, target_ro):
                drv.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
                    volume_id=volume.volume_id, target_path=target))
                assert not exists(bed, target), target
            drv.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
                volume_id=volume.volume_id, staging_target_path=staging))
            assert our_mounts(drv.process.pid) == []
            eventually("the glusterfs client to exit after the unmount",
                       lambda: True if not fuse_clients(rig.holder_pid, staging) else None)
            drv.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
                volume_id=volume.volume_id, staging_target_path=staging))  # idempotent
            drv.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
                volume_id=volume.volume_id, target_path=target_rw))  # idempotent

        with steps.step("DeleteVolume"):
            drv.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume.volume_id))
        assert rig.api.request("GET", f"/volumes/{volume.volume_id}").status == 404
        assert gluster_name not in gluster_volumes(bed)
    rig.facts["stage retries (INTERNAL, as a CO retries)"] = stage_retries


def test_driver_killed_mid_create_converges_on_one_volume(rig: Rig) -> None:
    """SIGKILL while heketipy runs the create the driver asked for, start the driver again,
    retry as the CO does: ABORTED while the create is pending, then the same volume."""
    name = f"{NAME_PREFIX}restart"
    api = rig.api

    def in_flight() -> int:
        return int(api.request("GET", "/operations").json()["in_flight"])

    assert in_flight() == 0
    with rig.driver("driver-killed") as first:
        with rig.timings.step("CreateVolume, SIGKILL the driver once heketipy runs it"):
            pending_call = first.controller.CreateVolume.future(create_request(name))
            eventually("heketipy to start the create", lambda: in_flight() or None)
            first.process.kill()
            first.process.wait(timeout=30)
        # still running after the kill: the driver really died in the middle of the create
        assert in_flight() == 1
        with pytest.raises(grpc.RpcError) as excinfo:
            pending_call.result(timeout=30)
        assert excinfo.value.code() == Code.UNAVAILABLE, excinfo.value

    with rig.driver("driver-restarted") as second:
        with rig.timings.step("restarted driver: CreateVolume retried until it answers"):
            answer, codes = retried(
                lambda: second.controller.CreateVolume(create_request(name)),
                {Code.ABORTED}, "CreateVolume after the restart",
            )  # fmt: skip
        volume_id = answer.volume.volume_id
        assert in_flight() == 0
        assert heketi_names(api).count(name) == 1
        assert gluster_volumes(rig.bed).count(name) == 1
        again = second.controller.CreateVolume(create_request(name))
        assert again.volume.volume_id == volume_id
        second.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume_id))
    assert name not in heketi_names(api) and name not in gluster_volumes(rig.bed)
    rig.facts["create retries after the restart"] = codes
