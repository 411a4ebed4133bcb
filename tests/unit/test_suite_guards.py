"""The suite's own guards (tests/support/guards.py, installed by tests/conftest.py): a test that
reads a file outside the repository, or a unit test that starts a process, is caught.

The policy is driven here through ``AccessGuard.audit`` with the events CPython raises; the last
tests check that the real hook is installed and tracking this very run."""

from __future__ import annotations

import ast
import ctypes
import os
import re
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


def test_a_native_library_lookup_is_not_a_process_the_test_starts() -> None:
    """ctypes.util.find_library runs ldconfig/gcc: asyncssh does it when first imported."""
    guard = fresh_guard(forbid_processes=True)
    hook = guard.audit
    ctypes_util_code = compile(
        "hook('subprocess.Popen', ('/sbin/ldconfig', ['/sbin/ldconfig', '-p'], None, None))",
        os.path.join(os.path.dirname(ctypes.__file__), "util.py"), "exec")
    exec(ctypes_util_code, {"hook": hook})  # noqa: S102 - a frame that looks like ctypes.util's
    assert guard.take_violations() == []
    hook("subprocess.Popen", ("/sbin/ldconfig", ["/sbin/ldconfig", "-p"], None, None))
    assert len(guard.take_violations()) == 1


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


# -- the sources -------------------------------------------------------------------------------
# A skip condition only stats a file (no read the hook sees), so the sources are checked too: no
# path of this machine's shared folders or home directories, no skip that depends on a file.

MACHINE_PATH = re.compile(r"^(~/|(/work|/root|/home)(/|$))|(^|/)\.\./shared(/|$)")
FILE_PROBES = frozenset({"exists", "is_file", "is_dir", "isfile", "isdir", "glob", "iterdir"})
SOURCE_DIRS = ("tests", "benchmarks")


def python_sources() -> list[Path]:
    """Every Python file of tests/ and benchmarks/ but this one (it holds samples)."""
    this = Path(__file__).resolve()
    return sorted(p for d in SOURCE_DIRS for p in (REPO_ROOT / d).rglob("*.py") if p != this)


def string_literals(tree: ast.AST) -> list[tuple[int, str]]:
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def probes_a_file(condition: ast.AST) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in FILE_PROBES for node in ast.walk(condition))


def is_skip(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr == name


def file_dependent_skips(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if is_skip(node, "skipif") and node.args and probes_a_file(node.args[0]):  # type: ignore[attr-defined]
            found.append(node.lineno)  # type: ignore[attr-defined]
        if isinstance(node, ast.If) and probes_a_file(node.test) and any(
                is_skip(inner, "skip") for stmt in node.body for inner in ast.walk(stmt)):
            found.append(node.lineno)
    return found


def test_sources_are_scanned() -> None:
    names = {p.relative_to(REPO_ROOT).as_posix() for p in python_sources()}
    assert {"tests/unit/test_openapi_spec.py", "tests/golden/replay.py", "benchmarks/run.py"} <= names


def test_no_test_source_names_a_path_of_this_machine() -> None:
    found = [f"{path.relative_to(REPO_ROOT)}:{line}: {text!r}"
             for path in python_sources()
             for line, text in string_literals(ast.parse(path.read_text(), str(path)))
             if MACHINE_PATH.search(text)]
    assert found == []


def test_no_skip_depends_on_a_file_existing() -> None:
    found = [f"{path.relative_to(REPO_ROOT)}:{line}"
             for path in python_sources()
             for line in file_dependent_skips(ast.parse(path.read_text(), str(path)))]
    assert found == []


def test_the_source_checks_catch_what_they_look_for() -> None:
    sample = ast.parse(
        'SHARED = Path("/work/shared")\n'
        'HOME = "~/fixtures"\n'
        '@pytest.mark.skipif(not (SHARED / "x").is_file(), reason="no fixture")\n'
        "def test_a(): ...\n"
        "def test_b():\n"
        "    if not os.path.exists(FIXTURE):\n"
        '        pytest.skip("no fixture")\n'
        '@pytest.mark.skipif(shutil.which("curl") is None, reason="a tool, not a fixture")\n'
        "def test_c(): ...\n"
    )
    assert sorted(text for _, text in string_literals(sample) if MACHINE_PATH.search(text)) == [
        "/work/shared", "~/fixtures"]
    assert sorted(file_dependent_skips(sample)) == [3, 6]
