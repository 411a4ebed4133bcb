"""The simulator's state file survives a SIGKILL of the process writing it: what a call wrote
before the kill is complete when the next process loads it (a real child process is killed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from heketipy.simulator.runner import SimulatedNodes


def test_state_written_before_a_sigkill_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from heketipy.executors.commands_common import CommandOptions
        from heketipy.executors.remote import RemoteExecutor
        from heketipy.simulator.runner import SimulatedNodes

        async def main():
            nodes = SimulatedNodes(state_path={str(path)!r})
            sim = RemoteExecutor(nodes, CommandOptions(), name="simulator")
            await sim.device_setup("h1", "/dev/sdb", "d" * 32, False)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == -9
    assert "vg_" + "d" * 32 in SimulatedNodes(state_path=str(path)).node("h1").vgs
