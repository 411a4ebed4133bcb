"""An active/standby pair with the database on a FUSE-mounted replica-3 Gluster volume of the
namespace testbed: the two servers reach the database through two different mounts (as two
pods would), so the database lock that decides leadership is GlusterFS's, enforced across the
two clients. Three failovers (SIGKILL of the active during a burst of creates): each time the
standby takes over and every acknowledged volume is there, no operation is left, /db/check and
drift are clean; the takeover times are recorded (``benchmarks/ha_takeover.py``).

The storage nodes of the testbed hold the database volume; the pair runs the simulator
executor (whose state file lives on the same volume), which keeps this test about the
database's failover. Runs on its own testbed instance (prefix ``hkha``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.ha_takeover import measure
from tests.e2e.conftest import record_result
from tests.e2e.dbvol import REPLICA_3, FuseMount, Servers, write_config
from tests.e2e.scenario import call, load_topology
from tests.e2e.testbed import Testbed, missing_requirement, remote_executor_missing

pytestmark = pytest.mark.e2e

TESTBED_ENV = {
    "TESTBED_PREFIX": "hkha",
    "TESTBED_DIR": "/tmp/heketipy-testbed-ha",
    "TESTBED_NET": "10.93.0",
}
DB_VOLUME = "heketidbstorage"
RUNS = 3


@pytest.fixture(scope="module")
def mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FuseMount, FuseMount]]:
    reason = missing_requirement() or remote_executor_missing()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("ha-on-gluster")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TESTBED_ENV.items():
            patch.setenv(name, value)
        with Testbed.running(Path(TESTBED_ENV["TESTBED_DIR"]), work / "testbed.log") as bed:
            servers = Servers(bed)
            made: list[FuseMount] = []
            try:
                # Heketi's bootstrap: a server with a local database makes the volume.
                boot = servers.start(write_config(bed, work / "boot", work / "boot" / "h.db"),
                                     "bootstrap")
                load_topology(boot, bed)
                reply = call(boot, "POST", "/volumes",
                             {"size": 2, "name": DB_VOLUME, "durability": REPLICA_3})
                assert reply.status == 303, reply.text
                boot.stop()
                (work / "fuse-logs").mkdir()
                for index, letter in enumerate("ab"):
                    mount = FuseMount(bed, bed.nodes[index].storage, DB_VOLUME,
                                      work / f"mnt-{letter}", work / "fuse-logs" / f"{letter}.log")
                    made.append(mount)
                    mount.mount()
                yield made[0], made[1]
            finally:
                servers.end_all()
                for mount in made:
                    mount.unmount()


def test_failover_with_the_database_on_gluster(
    mounts: tuple[FuseMount, FuseMount], tmp_path_factory: pytest.TempPathFactory
) -> None:
    mount_a, mount_b = mounts
    report = measure(RUNS, mount_a.path, mount_b.path)  # each run asserts the outcome
    report["database"] = f"replica-3 Gluster volume {DB_VOLUME}, two FUSE mounts"
    report["transport"] = "ha-on-gluster"
    print(json.dumps(report, indent=1))
    record_result(report, tmp_path_factory.getbasetemp())
    assert len(report["runs"]) == RUNS
    assert all(run["acknowledged_before_kill"] >= 1 for run in report["runs"])
