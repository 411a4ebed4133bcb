"""Unit: heketipy-csi reaps the zombies of daemonized glusterfs clients when it is PID 1, and
never the exit status of its own commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from heketipy.csi.reaper import needs_reaper, orphan_zombies, parse_stat

ROOT = Path(__file__).resolve().parents[2]

# A parent of its own (so no other test's children are touched): one child daemonizes as the
# glusterfs client does (setsid) and exits, one is an ordinary command of this session; both
# are zombies when reap_orphans runs.
SCENARIO = r"""
import json, os, subprocess, sys, time
from heketipy.csi.reaper import reap_orphans

def state(pid):
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rpartition(")")[2].split()[0]

client = subprocess.Popen([sys.executable, "-c", "import os; os.setsid()"])
command = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
deadline = time.monotonic() + 60
while {state(client.pid), state(command.pid)} != {"Z"}:
    assert time.monotonic() < deadline, "children did not exit"
    time.sleep(0.05)
reaped = reap_orphans()
client_gone = not os.path.exists(f"/proc/{client.pid}")
print(json.dumps({"reaped": reaped, "client": client.pid, "client_gone": client_gone,
                  "command_status": command.wait()}))
"""


def test_only_the_daemonized_childs_zombie_is_reaped() -> None:
    done = subprocess.run([sys.executable, "-c", SCENARIO], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reaped"] == [result["client"]] and result["client_gone"]
    assert result["command_status"] == 3  # the command's own status is still its waiter's


def test_orphans_are_zombie_children_of_another_session(tmp_path: Path) -> None:
    def process(pid: int, line: str) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
    process(10, "10 (glusterfs) Z 1 10 10 0 -1 4228160")
    process(11, "11 (mount) Z 1 1 1 0 -1 4228160")  # the driver's own command: its session
    process(12, "12 (glusterfs) S 1 12 12 0 -1 4228160")  # alive
    process(13, "13 (a) b (c)) Z 7 13 13 0 -1 4228160")  # another parent's
    process(14, "14 (x) Z 1 14")  # truncated
    (tmp_path / "self").mkdir()
    assert orphan_zombies(str(tmp_path), parent=1, session=1) == [10]
    assert parse_stat("13 (a) b (c)) Z 7 13 99 0").session == 99


def test_only_pid_1_of_a_node_plugin_reaps() -> None:
    assert needs_reaper("node", 1) and needs_reaper("all", 1)
    assert not needs_reaper("controller", 1)
    assert not needs_reaper("node", 4242)
