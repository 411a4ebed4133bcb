"""The image's entry point (deploy/image/entrypoint.sh) run for real with sh, the programs
it may start replaced by fakes that print their command line: it runs the server unless told
to run another heketipy program."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.manifests import ROOT


@pytest.mark.parametrize(("argv", "runs"), [
    ([], "heketipy"),
    (["--config", "/etc/heketipy/heketi.json"], "heketipy --config /etc/heketipy/heketi.json"),
    (["heketipy-csi", "--version"], "heketipy-csi --version"),
    (["heketipy-cli", "volume", "list"], "heketipy-cli volume list"),
    (["heketipy", "--port", "1"], "heketipy --port 1"),
    (["heketipy-csix"], "heketipy heketipy-csix"),
])
def test_image_entrypoint_runs_the_server_unless_told_another_program(
        tmp_path: Path, argv: list[str], runs: str) -> None:
    for program in ("heketipy", "heketipy-csi", "heketipy-cli"):
        fake = tmp_path / program
        fake.write_text(f'#!/bin/sh\necho {program} "$@"\n')
        fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "image" / "entrypoint.sh"), *argv],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == runs
