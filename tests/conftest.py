"""Suite-wide guards (tests/support/guards.py): every test reads only files inside the
repository, and tests/unit starts no processes. A violation fails the test that caused it;
one during collection (a module reading a fixture at import) stops the run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.guards import AccessGuard

UNIT_DIR = Path(__file__).resolve().parent / "unit"
# Tiers that inspect the real machine they boot (gluster mounts, VM testbed description).
MACHINE_TIERS = ("e2e", "image")

GUARD = AccessGuard.for_this_interpreter()


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(GUARD.audit)  # cannot be removed: the guard's flags switch it per test


def pytest_collection_finish(session: pytest.Session) -> None:
    violations = GUARD.take_violations()
    if violations:
        raise pytest.UsageError("collection " + "; ".join(violations))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    GUARD.check_reads = not any(item.get_closest_marker(name) for name in MACHINE_TIERS)
    GUARD.forbid_processes = item.path.is_relative_to(UNIT_DIR)
    GUARD.take_violations()  # anything between tests (another test's leftovers) is not this one's
    try:
        return (yield)
    finally:
        GUARD.check_reads, GUARD.forbid_processes = True, False


@pytest.fixture(autouse=True)
def _file_and_process_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    violations = GUARD.take_violations()
    if violations:
        pytest.fail(f"{request.node.nodeid}: " + "; ".join(violations), pytrace=False)
