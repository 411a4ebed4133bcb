"""Run-time guards of the test suite: tests read only files inside the repository, and unit
tests start no processes.

Both are checked with a Python audit hook (PEP 578), installed once by tests/conftest.py. The
hook sees every ``open`` of this interpreter (``open``, ``Path.read_text``, ``os.open``,
``io.open_code``), every ``sqlite3.connect`` and every process start (``subprocess.Popen``, and
so ``asyncio.create_subprocess_*``, ``os.fork``, ``os.posix_spawn``, ``os.exec*``,
``os.system``), whoever calls it: the test, a fixture or the library under test. A scan of the
sources for path literals would miss a path built at run time and flag strings that are never
opened (hostile device names, config values); the hook judges what is actually read.

What a test may read:

* files inside the repository (fixtures live in tests/data);
* what the interpreter itself loads (its prefixes: the standard library and site-packages);
* the operating system's own files (/etc, /usr, /proc, ...: certificates, time zones, mounts);
* files and directories this test run created itself (``tmp_path``, ``tempfile``, a server's
  database in a test's directory), tracked from the ``open``-for-writing, ``os.mkdir`` and
  ``tempfile`` events. A file under /tmp that the run did not create is someone else's
  fixture and is refused.

The e2e and image tiers are exempt from the read rule (they inspect the real testbed they boot:
gluster mounts, the VM testbed description); the process rule applies to tests/unit only.
A violation is recorded, not raised inside the hook (a library could swallow the exception),
and fails the test at teardown with the offending paths.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# The operating system's own files: libraries and tools read them (CA bundles, /etc/hosts,
# zoneinfo, /proc/self/mounts); none of them is a test fixture.
SYSTEM_DIRS = ("/etc", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/proc", "/sys", "/dev", "/run")

PROCESS_EVENTS = frozenset({
    "subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn",
    "os.system", "os.startfile",
})
WRITE_MODE_LETTERS = frozenset("wax")


def _absolute(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    return os.path.normpath(os.path.abspath(os.fsdecode(path)))


def _roots(paths: Iterable[str]) -> tuple[str, ...]:
    """Each path as given and with symlinks resolved (either spelling may reach the hook)."""
    found: set[str] = set()
    for path in paths:
        if path:
            found.add(_absolute(path))
            found.add(os.path.realpath(path))
    return tuple(sorted(found))


def _finding_a_library() -> bool:
    """Whether ``ctypes.util.find_library`` is running (it spawns ldconfig/gcc/ld): a library's
    import-time probe for an optional native library (asyncssh looks for liboqs), which happens
    in whichever test first imports it; not a process the test starts."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("ctypes", "util.py")):
            return True
        frame = frame.f_back
    return False


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


@dataclass
class AccessGuard:
    """The policy and the bookkeeping behind the audit hook (pure: testable without the hook)."""

    allowed_roots: tuple[str, ...]
    created: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    check_reads: bool = True
    forbid_processes: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_this_interpreter(cls) -> AccessGuard:
        interpreter = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        return cls(_roots((str(REPO_ROOT), *interpreter, *SYSTEM_DIRS)))

    # -- the audit hook ---------------------------------------------------------------------

    def audit(self, event: str, args: tuple[object, ...]) -> None:
        try:
            if event == "open":
                self.opened(args[0], args[1], args[2])
            elif event == "sqlite3.connect":
                self.sqlite_connect(args[0])
            elif event == "os.mkdir":
                self.made_directory(args[0])
            elif event in ("tempfile.mkdtemp", "tempfile.mkstemp"):
                self.made(args[0])
            elif event in PROCESS_EVENTS:
                self.process_started(event, args)
        except Exception:  # noqa: BLE001 - the hook must never break the code it watches
            pass

    # -- the rules ----------------------------------------------------------------------------

    def opened(self, path: object, mode: object, flags: object) -> None:
        if not isinstance(path, str | bytes | os.PathLike):
            return  # a file descriptor
        if mode is None:  # os.open: flags only; a relative path may be relative to a dir_fd
            if not os.path.isabs(os.fsdecode(path)):
                return
            writes = isinstance(flags, int) and bool(
                flags & os.O_CREAT or flags & os.O_ACCMODE == os.O_WRONLY)
        else:
            writes = bool(WRITE_MODE_LETTERS & set(str(mode)))
        if writes:
            self.made(path)
        else:
            self.read(path)

    def sqlite_connect(self, database: object) -> None:
        if not isinstance(database, str | bytes | os.PathLike):
            return
        name = os.fsdecode(database)
        if name == ":memory:" or name == "" or name.startswith("file:"):
            return
        if not os.path.exists(name):
            self.made(name)  # sqlite creates it
        else:
            self.read(name)

    def made(self, path: object) -> None:
        if isinstance(path, str | bytes | os.PathLike):
            with self._lock:
                self.created.add(_absolute(path))

    def made_directory(self, path: object) -> None:
        """os.mkdir is audited before it runs: a directory that already exists is not ours."""
        if isinstance(path, str | bytes | os.PathLike) and not os.path.exists(os.fsdecode(path)):
            self.made(path)

    def read(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None:
        if not self.check_reads:
            return
        absolute = _absolute(path)
        if _under(absolute, self.allowed_roots) or os.path.isdir(absolute):
            return
        with self._lock:
            if _under(absolute, self.created):
                return
            self.violations.append(f"read {absolute} (outside the repository)")

    def process_started(self, event: str, args: tuple[object, ...]) -> None:
        if self.forbid_processes and not _finding_a_library():
            with self._lock:
                self.violations.append(f"started a process ({event}: {args[:2]!r})")

    # -- per test -----------------------------------------------------------------------------

    def take_violations(self) -> list[str]:
        with self._lock:
            found, self.violations = self.violations, []
        return found
