"""The e2e scenario over the SSH transport, against real glusterd on the namespace testbed."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import record_result
from tests.e2e.scenario import run_scenario
from tests.e2e.testbed import Testbed, Timings, command_timings
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_scenario_over_ssh(
    heketi_over_ssh: ServerProcess, testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    timings = Timings("ssh")
    try:
        run_scenario(heketi_over_ssh, testbed, timings)
    finally:
        result = timings.as_dict()
        result["commands"] = command_timings(heketi_over_ssh.log_path.read_text())
        record_result(result, tmp_path_factory.getbasetemp())
