"""The README's examples run as written (issue 10, item 15): every ```python block, and the
curl call, against a live server (the simulator executor, as `make run` uses)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ADMIN_KEY, ServerProcess, running_server

README = Path(__file__).resolve().parents[2] / "README.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(), re.S | re.M)


@pytest.fixture
def simulator(tmp_path: Path):  # noqa: ANN201
    with running_server(tmp_path, glusterfs={"executor": "simulator"},
                        heketipy={"simulator": {"latency_ms": {"lvm": 0, "fs": 0,
                                                               "gluster": 0}}}) as server:
        yield server


def _env(server: ServerProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    return {**env, "HEKETI_CLI_SERVER": server.base_url, "HEKETI_CLI_KEY": ADMIN_KEY}


def test_python_examples_run(simulator: ServerProcess, tmp_path: Path) -> None:
    blocks = code_blocks("python")
    assert len(blocks) >= 2 and any("asyncio.run(main())" in b for b in blocks)
    outputs = []
    for index, block in enumerate(blocks):
        script = tmp_path / f"example{index}.py"
        script.write_text(block)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env=_env(simulator), timeout=120, check=False)
        assert done.returncode == 0, (block, done.stderr)
        outputs.append(done.stdout)
    volume_line, error_line = outputs[0].splitlines()
    assert re.fullmatch(r"[0-9a-f]{32} 10\.0\.0\.\d:data", volume_line)
    assert error_line == "404 Id not found"
    assert re.fullmatch(r"[0-9a-f]{32} 3 nodes 1 volumes\n", outputs[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_example_runs(simulator: ServerProcess) -> None:
    [block] = [b for b in code_blocks("sh") if "curl " in b]
    # The key comes from HEKETI_CLI_KEY, never from argv, where `ps` would show it.
    assert "--secret" not in block
    # The export line is what the reader fills in; the environment provides it here.
    script = "\n".join(line for line in block.splitlines() if not line.startswith("export "))
    installed = Path(sys.executable).parent / "heketipy"
    command = str(installed) if installed.exists() else f"{sys.executable} -m heketipy"
    script = script.replace(".venv/bin/heketipy", command)
    done = subprocess.run(["bash", "-c", "set -e; " + script], capture_output=True, text=True,
                          env=_env(simulator), timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, '{"clusters":[]}\n'), done.stderr
