"""The e2e scenario over SSH against storage-node VMs with real dm-thin (opt-in, slow).

Runs only from ``make e2e-vm`` (tests/testbed/vm/run-e2e.sh), which boots the VMs and points
``HEKETIPY_E2E_VM`` at their description; skipped otherwise. Commands reach the nodes by SSH
(port 2222 on 127.0.0.1N); faults are injected by the image's ``heketipy-fault-wrapper``, set
as ``sshexec.lvm_wrapper``.

Real dm-thin differs from the namespace shim in one way that matters: xfsprogs 6.1 needs at least
64 MiB of log, so a filesystem on a small brick's thin LV writes ~65 MiB into its pool. The first
VM run found that a 16 MiB arbiter brick (``average_file_size_kb`` 64, a 1 GiB volume) filled
its pool during mkfs.xfs; placement now sizes bricks at least ``heketipy.min_filesystem_mb``
(300 MiB on real executors), and the tier runs Heketi's default sizing again (see RESULTS.md).
``HEKETIPY_E2E_VM_AVERAGE_FILE_SIZE_KB`` overrides it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e.conftest import record_result
from tests.e2e.scenario import check_in_place_expand, run_scenario
from tests.e2e.testbed import Node, Testbed, Timings, command_timings, remote_executor_missing
from tests.support.server import ServerProcess, write_config

pytestmark = pytest.mark.e2e

# Heketi's default: a 1 GiB volume's arbiter brick is 16 MiB, raised to the 300 MiB floor.
AVERAGE_FILE_SIZE_KB = int(os.environ.get("HEKETIPY_E2E_VM_AVERAGE_FILE_SIZE_KB", "64"))


class RemoteMarker:
    """A fault marker file on a VM (the local Path API the scenario uses)."""

    def __init__(self, bed: VmTestbed, node: Node, path: str) -> None:
        self.bed, self.node, self.path = bed, node, path

    def exists(self) -> bool:
        return self.bed.node_run(self.node, ["test", "-e", self.path], check=False).returncode == 0

    def unlink(self) -> None:
        self.bed.node_run(self.node, ["rm", "-f", self.path])


class VmTestbed(Testbed):
    __test__ = False

    def _ssh(
        self, node: Node, argv: Sequence[str], check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        ssh = self.description["ssh"]
        full = [
            "ssh", "-q", "-p", str(ssh["port"]), "-i", ssh["keyfile"],
            "-o", f"UserKnownHostsFile={ssh['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", f"{ssh['user']}@{node.manage}", shlex.join(argv),
        ]  # fmt: skip
        done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{shlex.join(argv)} on {node.name}: {done.stderr}")
        return done

    def node_run(
        self, node: Node, argv: Sequence[str], *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self._ssh(node, argv, check, timeout)

    def client_run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self._ssh(self.nodes[0], argv, check, timeout)

    def _marker(self, node: Node, name: str, text: str) -> RemoteMarker:
        path = f"{node.faults_dir}/{name}"
        self.node_run(node, ["mkdir", "-p", node.faults_dir])
        self.node_run(node, ["sh", "-c", 'printf %s "$1" > "$2"', "marker", text, path])
        return RemoteMarker(self, node, path)

    def fail_next(self, node: Node, subcommand: str, text: str) -> RemoteMarker:  # type: ignore[override]
        return self._marker(node, subcommand, text)

    def fail_always(self, node: Node, subcommand: str, text: str) -> RemoteMarker:  # type: ignore[override]
        return self._marker(node, f"{subcommand}.always", text)


@pytest.fixture(scope="module")
def vm_testbed() -> VmTestbed:
    path = os.environ.get("HEKETIPY_E2E_VM", "")
    if not path:
        pytest.skip("VM tier: run `make e2e-vm` (boots storage-node VMs with real dm-thin)")
    reason = remote_executor_missing()
    if reason:
        pytest.skip(reason)
    return VmTestbed(json.loads(Path(path).read_text()), dict(os.environ))


@pytest.fixture(scope="module")
def heketi_on_vms(
    vm_testbed: VmTestbed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server = _vm_server(vm_testbed, tmp_path_factory.mktemp("heketi-vm"))
    try:
        yield server
    finally:
        server.stop()


def _vm_server(vm_testbed: VmTestbed, directory: Path, **heketipy: object) -> ServerProcess:
    """A heketipy over SSH to the VMs; ``directory`` is also its data_dir (markers stay out of
    ./var); ``heketipy`` adds settings."""
    ssh = vm_testbed.description["ssh"]
    config = write_config(directory, glusterfs={
        "executor": "ssh", "loglevel": "debug",
        "sshexec": {"keyfile": ssh["keyfile"], "user": ssh["user"], "port": str(ssh["port"]),
                    "known_hosts": ssh["known_hosts"], "lvm_wrapper": ssh["lvm_wrapper"]},
        "operation_retry_limits": {"volume_create": 1},
        "average_file_size_kb": AVERAGE_FILE_SIZE_KB,
        "disable_monitor_gluster_nodes": True, "disable_background_cleaner": True,
    }, heketipy={"data_dir": str(directory), **heketipy})  # fmt: skip
    return _start(config, ssh["known_hosts"])


def _start(config: Path, known_hosts: str) -> ServerProcess:
    """Like tests.support.server.start_server, through the e2e launcher (wires the SSH executor)."""
    settings = json.loads(config.read_text())
    log_path = config.with_suffix(".log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    env["SSH_KNOWN_HOSTS"] = known_hosts
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.serve", "--config", str(config)],
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, env=env,  # noqa: SIM115
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    server = ServerProcess(
        base_url=f"http://127.0.0.1:{settings['port']}", process=process, config_path=config,
        db_path=Path(settings["glusterfs"]["db"]), log_path=log_path, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.request("GET", "/hello", role="none").status == 200:
                return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"heketipy did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def test_scenario_over_ssh_on_vms(
    heketi_on_vms: ServerProcess, vm_testbed: VmTestbed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    timings = Timings("ssh-vm")
    try:
        run_scenario(heketi_on_vms, vm_testbed, timings)
    finally:
        result = timings.as_dict()
        result["average_file_size_kb"] = AVERAGE_FILE_SIZE_KB
        log_text = heketi_on_vms.log_path.read_text()
        # LVM commands go through the fault wrapper: time them as the lvm subcommand they run.
        wrapper = vm_testbed.description["ssh"]["lvm_wrapper"]
        result["commands"] = command_timings(log_text, wrapper=wrapper)
        record_result(result, tmp_path_factory.getbasetemp())


def test_in_place_expand_on_real_dm_thin(
    vm_testbed: VmTestbed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 14 items 2 and 5: ``lvextend`` of a real thin pool (data and metadata) and thin LV,
    then ``xfs_growfs`` on real dm-thin: same bricks in gluster, bigger filesystems, data intact,
    LVM's ``lvol0_pmspare`` as large as the grown metadata, and drift clean (it counts the spare,
    which neither Heketi nor heketipy charges to a device, as free: the first VM run found device
    free short of the database's by exactly its size)."""
    server = _vm_server(
        vm_testbed, tmp_path_factory.mktemp("heketi-vm-inplace"), volume_expansion="in-place"
    )
    timings = Timings("ssh-vm-expand")
    try:
        # A 1.5 GiB write through FUSE on TCG-emulated VMs takes minutes: shown on the testbed.
        check_in_place_expand(server, vm_testbed, timings, big_file=False)
    finally:
        server.stop()
        record_result(timings.as_dict(), tmp_path_factory.getbasetemp())
