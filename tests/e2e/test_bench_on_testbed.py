"""The testbed benchmark (``python -m benchmarks.run --executor ssh|kubernetes --testbed``) at a
toy size on the session's testbed, so it cannot rot: every phase runs, the node commands are
read from the server's log, the bound is computed, and nothing is left behind. Never asserts
how fast anything was."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.on_testbed import OnTestbedOptions
from benchmarks.run import run_on_testbed
from tests.e2e.test_e2e_kube import kube_missing
from tests.e2e.testbed import Testbed

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("executor", ["ssh", "kubernetes"])
def test_the_testbed_benchmark_runs_every_phase(
    testbed: Testbed, tmp_path: Path, executor: str
) -> None:
    if executor == "kubernetes" and kube_missing(testbed):
        pytest.fail(f"the kubernetes benchmark cannot run: {kube_missing(testbed)}")
    before = testbed.states()
    options = OnTestbedOptions(executor=executor, sequential=1, concurrent=(1, 2),
                               node_concurrency=(2,), log=lambda _message: None)
    out = tmp_path / f"testbed-{executor}.json"
    results = run_on_testbed(options, out, "smoke", bed=testbed)

    (run,) = results["runs"]
    assert run["node_concurrency"] == 2
    phases = run["phases"]
    assert phases["after"] == {"drift_clean": True, "pending_operations": 0}
    sequential = phases["sequential"]
    assert sequential["node_commands_per_brick"] <= 6
    per_volume = sequential["gluster_commands_per_volume"]
    for count, phase in phases["concurrent"].items():
        assert phase["gluster_commands"] == int(count) * per_volume
        assert phase["glusterd_bound_s"] > 0 and phase["ratio"] == pytest.approx(
            phase["wall_s"] / phase["glusterd_bound_s"], rel=0.02)
        assert phase["commands"]["lvm lvcreate"]["count"] == 3 * int(count)
    assert phases["expand"]["mode"] == "in-place" and phases["expand"]["gluster_commands"] == 0
    assert phases["deletes"]["volumes"] == 4
    assert "| node_command_concurrency |" in out.with_suffix(".md").read_text()
    assert {name: s.without_free() for name, s in testbed.states().items()} == {
        name: s.without_free() for name, s in before.items()
    }
