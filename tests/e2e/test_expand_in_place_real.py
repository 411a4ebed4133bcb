"""An in-place expand on the testbed (issue 14 item 2): real glusterd, real XFS on the thin-LV
shim's loop images. The expand adds no brick (``gluster volume info`` shows the same bricks),
every brick's filesystem really grows (``df``), the data written before is intact, a single file
larger than the old bricks now fits, and drift and ``/db/check`` stay clean
(``scenario.check_in_place_expand``, which the VM tier runs on real dm-thin too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.conftest import record_result, start_heketi
from tests.e2e.scenario import check_in_place_expand
from tests.e2e.testbed import Testbed, Timings
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@contextmanager
def reconfigured(api: ServerProcess, bed: Testbed, **heketipy: Any) -> Iterator[ServerProcess]:
    """The session's server restarted with ``heketipy`` settings, then restored (the testbed
    forwards one port, so two servers cannot run side by side)."""
    original = api.config_path.read_text()
    config = json.loads(original)
    config["heketipy"].update(heketipy)
    api.stop()
    api.config_path.write_text(json.dumps(config, indent=1))
    api.process = start_heketi(api.config_path, bed, api.env).process
    try:
        yield api
    finally:
        api.stop()
        api.config_path.write_text(original)
        api.process = start_heketi(api.config_path, bed, api.env).process


def test_real_expand_in_place(
    heketi_over_ssh: ServerProcess, testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    timings = Timings("ssh-expand-in-place")
    try:
        with reconfigured(heketi_over_ssh, testbed, volume_expansion="in-place") as api:
            check_in_place_expand(api, testbed, timings)
    finally:
        record_result(timings.as_dict(), tmp_path_factory.getbasetemp())
