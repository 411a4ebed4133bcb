"""The suite's own guards (tests/support/guards.py, installed by tests/conftest.py): a test that
reads a file outside the repository, or a unit test that starts a process, is caught.

The policy is driven here through ``AccessGuard.audit`` with the events CPython raises; the last
tests check that the real hook is installed and tracking this very run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import GUARD
from tests.support.guards import REPO_ROOT, AccessGuard

OUTSIDE = "/srv/shared-fixtures/golden/http/auth.json"  # a fixture someone else's machine lacks


def fresh_guard(*, forbid_processes: bool = False) -> AccessGuard:
    guard = AccessGuard.for_this_interpreter()
    guard.forbid_processes = forbid_processes
    return guard


def test_reading_inside_the_repository_is_allowed() -> None:
    guard = fresh_guard()
    guard.audit("open", (str(REPO_ROOT / "tests" / "data" / "golden" / "README.md"), "r", 0))
    guard.audit("open", (REPO_ROOT / "pyproject.toml", "rb", 0))
    assert guard.take_violations() == []


def test_reading_a_file_outside_the_repository_is_a_violation() -> None:
    guard = fresh_guard()
    guard.audit("open", (OUTSIDE, "r", 0))
    guard.audit("open", (os.fsencode(OUTSIDE), "rb", 0))
    guard.audit("open", (OUTSIDE, None, os.O_RDONLY))  # os.open
    assert guard.take_violations() == [f"read {OUTSIDE} (outside the repository)"] * 3


def test_a_relative_path_is_judged_from_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = fresh_guard()
    monkeypatch.chdir("/")
    guard.audit("open", (OUTSIDE.lstrip("/"), "r", 0))
    assert guard.take_violations() == [f"read {OUTSIDE} (outside the repository)"]


def test_files_and_directories_this_run_created_may_be_read_back() -> None:
    guard = fresh_guard()
    guard.audit("os.mkdir", ("/srv/made-by-this-run", 0o777, -1))  # does not exist yet: ours
    guard.audit("open", ("/srv/made-by-this-run/heketi.db", "r", 0))
    guard.audit("tempfile.mkdtemp", ("/tmp/tmpabc123",))
    guard.audit("open", ("/tmp/tmpabc123/sub/config.json", "rb", 0))
    guard.audit("open", ("/var/tmp/written.json", "w", 0))
    guard.audit("open", ("/var/tmp/written.json", "r", 0))
    guard.audit("open", ("/var/tmp/made.bin", None, os.O_WRONLY | os.O_CREAT))
    guard.audit("open", ("/var/tmp/made.bin", "rb", 0))
    assert guard.take_violations() == []


def test_a_directory_that_already_existed_is_not_the_runs_own(tmp_path: Path) -> None:
    existing = tmp_path / "shared"
    existing.mkdir()
    guard = fresh_guard()  # sees only the mkdir below, not the one above
    guard.audit("os.mkdir", (str(existing), 0o777, -1))  # mkdir(exist_ok=True) on it
    guard.audit("open", (str(existing / "fixture.json"), "r", 0))
    assert guard.take_violations() == [f"read {existing / 'fixture.json'} (outside the repository)"]


def test_the_interpreter_and_the_system_may_be_read() -> None:
    guard = fresh_guard()
    guard.audit("open", (os.path.join(sys.base_prefix, "lib", "os.py"), "r", 0))
    guard.audit("open", ("/etc/hosts", "r", 0))
    guard.audit("open", ("/proc/self/mounts", "r", 0))
    guard.audit("open", ("/", None, os.O_RDONLY))  # a directory, as rmtree opens them
    guard.audit("open", (3, "r", 0))  # a file descriptor
    assert guard.take_violations() == []


def test_sqlite_databases_outside_the_repository_are_reads(tmp_path: Path) -> None:
    database = tmp_path / "theirs.db"
    database.write_bytes(b"")
    guard = fresh_guard()
    guard.audit("sqlite3.connect", (":memory:",))
    guard.audit("sqlite3.connect", (str(tmp_path / "new.db"),))  # sqlite creates it: ours
    guard.audit("open", (str(tmp_path / "new.db"), "rb", 0))
    guard.audit("sqlite3.connect", (str(database),))
    assert guard.take_violations() == [f"read {database} (outside the repository)"]


def test_reads_are_not_judged_where_the_tier_is_exempt() -> None:
    guard = fresh_guard()
    guard.check_reads = False
    guard.audit("open", (OUTSIDE, "r", 0))
    assert guard.take_violations() == []


def test_a_process_start_is_a_violation_only_where_processes_are_forbidden() -> None:
    allowed, forbidding = fresh_guard(), fresh_guard(forbid_processes=True)
    for guard in (allowed, forbidding):
        guard.audit("subprocess.Popen", (sys.executable, [sys.executable, "-V"], None, None))
        guard.audit("os.fork", ())
        guard.audit("os.posix_spawn", ("/bin/true", ["true"], {}))
        guard.audit("os.system", (b"true",))
    assert allowed.take_violations() == []
    found = forbidding.take_violations()
    assert len(found) == 4 and all(v.startswith("started a process") for v in found)
    assert sys.executable in found[0]


def test_a_broken_event_never_breaks_the_code_it_watches() -> None:
    guard = fresh_guard()
    guard.audit("open", ())  # malformed arguments: ignored, not raised
    guard.audit("os.mkdir", (object(),))
    assert guard.take_violations() == []


# -- the installed hook ------------------------------------------------------------------------


def test_the_hook_is_installed_and_tracks_this_run(tmp_path: Path) -> None:
    assert str(tmp_path) in GUARD.created or any(
        str(tmp_path).startswith(made + "/") for made in GUARD.created
    )
    written = tmp_path / "note.txt"
    written.write_text("x")
    assert str(written) in GUARD.created


def test_unit_tests_run_with_processes_forbidden_and_reads_checked() -> None:
    assert GUARD.forbid_processes and GUARD.check_reads
