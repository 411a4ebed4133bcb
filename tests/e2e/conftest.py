"""Fixtures of the e2e tier: the multi-node testbed (session-wide, always torn down) and a
heketipy server using the SSH executor against it, running in the testbed's client namespace.

Results (per-step wall times, per-command SSH timings) go to ``<basetemp>/e2e-<transport>.json``
and to the terminal summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.testbed import Testbed, missing_requirement, remote_executor_missing
from tests.support.server import ADMIN_KEY, USER_KEY, ServerProcess, wait_ready

REPO = Path(__file__).resolve().parents[2]
RESULTS: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    base = Path(os.environ.get("TESTBED_DIR", "/tmp/heketipy-testbed"))
    log_path = tmp_path_factory.getbasetemp() / "testbed.log"
    started = time.monotonic()
    with Testbed.running(base, log_path) as bed:
        RESULTS.append({"testbed_up_s": round(time.monotonic() - started, 2)})
        yield bed


def start_heketi(config_path: Path, bed: Testbed, env: dict[str, str]) -> ServerProcess:
    client = bed.description["client"]
    log_path = config_path.with_suffix(".log")
    log_file = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        ["nsenter", f"--net={client['netns_path']}", "--", sys.executable, "-m",
         "tests.e2e.serve", "--config", str(config_path)],
        stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO,
    )  # fmt: skip
    server = ServerProcess(
        base_url=bed.description["heketi_url"], process=process, config_path=config_path,
        db_path=config_path.parent / "heketi.db", log_path=log_path, env=env,
    )  # fmt: skip
    return wait_ready(server, 30)


def ssh_config(testbed: Testbed, directory: Path, **heketipy: Any) -> Path:
    """Write the config of a heketipy server over SSH to the testbed's nodes (database and data
    directory in ``directory``); ``heketipy`` adds keys to its "heketipy" object."""
    ssh = testbed.description["ssh"]
    listen = testbed.description["heketi_listen"]
    config = {
        "port": str(listen["port"]),
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {
            "executor": "ssh",
            "db": str(directory / "heketi.db"),
            "loglevel": "debug",
            "sshexec": {
                "keyfile": ssh["keyfile"],
                "user": ssh["user"],
                "port": str(ssh["port"]),
                "known_hosts": ssh["known_hosts"],
                "host_key_checking": True,
            },
            # One retry (two attempts) keeps the failing-create step short; 0 would mean 4.
            "operation_retry_limits": {"volume_create": 1},
            "disable_monitor_gluster_nodes": True,
            "disable_background_cleaner": True,
        },
        "heketipy": {"listen": listen["host"], "data_dir": str(directory), **heketipy},
    }
    config_path = directory / "heketi.json"
    config_path.write_text(json.dumps(config, indent=1))
    return config_path


def ssh_env(testbed: Testbed) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    # Until config.py carries sshexec.known_hosts, the upstream variable says where it is.
    env["SSH_KNOWN_HOSTS"] = testbed.description["ssh"]["known_hosts"]
    return env


@pytest.fixture(scope="session")
def heketi_over_ssh(
    testbed: Testbed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    reason = remote_executor_missing()
    if reason:
        pytest.skip(reason)
    config_path = ssh_config(testbed, tmp_path_factory.mktemp("heketi-ssh"))
    server = start_heketi(config_path, testbed, ssh_env(testbed))
    try:
        yield server
    finally:
        server.stop()


def record_result(result: dict[str, Any], directory: Path) -> None:
    RESULTS.append(result)
    path = directory / f"e2e-{result.get('transport', 'run')}.json"
    path.write_text(json.dumps(result, indent=1))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.section("e2e timings")
    for result in RESULTS:
        terminalreporter.write_line(json.dumps(result))
