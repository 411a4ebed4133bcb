"""Golden conformance: every recorded upstream Heketi HTTP file replayed against heketipy.

One test per file in `tests/data/golden/http/`; each starts heketipy as a subprocess with the
file's configuration, replays all exchanges and fails with a report listing every mismatching
exchange. Files listed in EXPECTED_FAILURES are marked xfail (non-strict) with their reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.golden.replay import HTTP_DIR, format_report, heketipy_server, replay_file_async

# file name -> why heketipy is known to differ (the test is then xfail, non-strict).
EXPECTED_FAILURES: dict[str, str] = {}

GOLDEN_FILES = sorted(HTTP_DIR.glob("*.json"))


def _params() -> list[object]:
    params = []
    for path in GOLDEN_FILES:
        marks = [pytest.mark.golden]
        if path.name in EXPECTED_FAILURES:
            marks.append(pytest.mark.xfail(reason=EXPECTED_FAILURES[path.name], strict=False))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def _server_available() -> bool:
    try:
        return importlib.util.find_spec("heketipy.__main__") is not None
    except ImportError:
        return False


def test_every_recording_is_present() -> None:
    assert len(GOLDEN_FILES) == 24
    assert set(EXPECTED_FAILURES) <= {p.name for p in GOLDEN_FILES}


@pytest.mark.parametrize("golden_path", _params())
async def test_golden_http(golden_path: Path, tmp_path: Path) -> None:
    if not _server_available():
        pytest.skip("heketipy has no server entry point (heketipy/__main__.py) yet")
    result = await replay_file_async(golden_path, heketipy_server(workdir=tmp_path))
    if result.mismatches:
        pytest.fail(format_report(result), pytrace=False)
