"""Golden conformance: every recorded upstream Heketi HTTP file replayed against heketipy.

One test per file in `tests/data/golden/http/`; each starts heketipy as a subprocess with the
file's configuration, replays all exchanges and fails with a report listing every mismatching
exchange. Files listed in EXPECTED_FAILURES are marked xfail (non-strict) with their reason;
those in SLOW_FILES (the longest replays, 9 s and more) carry the ``slow`` marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.replay import HTTP_DIR, format_report, heketipy_server, replay_file_async

# file name -> why heketipy is known to differ (the test is then xfail, non-strict).
EXPECTED_FAILURES: dict[str, str] = {}
SLOW_FILES = frozenset({"throttle.json", "queue.json", "stale-ops.json"})

GOLDEN_FILES = sorted(HTTP_DIR.glob("*.json"))


def _params() -> list[object]:
    params = []
    for path in GOLDEN_FILES:
        marks = [pytest.mark.golden]
        if path.name in EXPECTED_FAILURES:
            marks.append(pytest.mark.xfail(reason=EXPECTED_FAILURES[path.name], strict=False))
        if path.name in SLOW_FILES:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def test_every_recording_is_present() -> None:
    assert len(GOLDEN_FILES) == 24
    assert set(EXPECTED_FAILURES) | SLOW_FILES <= {p.name for p in GOLDEN_FILES}


@pytest.mark.parametrize("golden_path", _params())
async def test_golden_http(golden_path: Path, tmp_path: Path) -> None:
    result = await replay_file_async(golden_path, heketipy_server(workdir=tmp_path))
    if result.mismatches:
        pytest.fail(format_report(result), pytrace=False)
