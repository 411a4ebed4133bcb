"""A fresh heketipy server process for one benchmark run, and what /proc says about it.

Owns: writing the run's heketi.json into a temporary directory (new database, executor and
latency model chosen by the caller, no per-cluster volume limit so the fill can reach 10,000),
starting ``python -m heketipy`` on a free port (optionally under cProfile), waiting for /hello, stopping it, and reading
the process's CPU time (utime + stime from /proc/<pid>/stat) and resident memory.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADMIN_KEY = "bench-admin-secret"
USER_KEY = "bench-user-secret"
DEVICE_SIZE_GB = 1024  # 1 TiB devices, as the topology asks
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path, executor: str, latency_ms: dict[str, float]) -> Path:
    config: dict[str, Any] = {
        "port": str(free_port()),
        "use_auth": True,
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {
            "executor": executor,
            "db": str(directory / "heketi.db"),
            "loglevel": "warning",
            # The default of 1000 per cluster would stop the fill long before 10,000.
            "max_volumes_per_cluster": -1,
        },
        "heketipy": {
            "listen": "127.0.0.1",
            "data_dir": str(directory),
            "simulator": {
                "device_size_gb": DEVICE_SIZE_GB,
                "latency_ms": latency_ms,
                "state_file": str(directory / "simulator.json"),
            },
        },
    }
    path = directory / "heketi.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU process ``pid`` has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" the fields start at field 3 (state); utime and stime are fields 14, 15.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        return process_rss_mb(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_server(directory: Path, executor: str, latency_ms: dict[str, float],
                 ready_s: float = 30, profile_to: Path | None = None) -> ServerProcess:
    """Start the server; with ``profile_to`` it runs under cProfile, written at a clean stop."""
    config_path = write_config(directory, executor, latency_ms)
    port = json.loads(config_path.read_text())["port"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    env["HEKETI_MOCK_DEVICE_SIZE_GB"] = str(DEVICE_SIZE_GB)
    log_path = directory / "server.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable,
             *(["-m", "cProfile", "-o", str(profile_to)] if profile_to else []),
             "-m", "heketipy", "--config", str(config_path)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + ready_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(server.base_url + "/hello", timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server not ready:\n{log_path.read_text()}")
        time.sleep(0.05)
