"""Start-up errors are one line on stderr and exit 1, never a traceback: a port in use, an
address this host does not have, a TLS certificate or key that is missing or unreadable, a
database path that is a directory. Listening is prepared before the database is opened, so
none of them touches it. A TLS key every user can read starts with a warning."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.server import (
    free_port,
    server_env,
    start_fails,
    update_config,
    write_config,
)


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, port=port)
        message = start_fails(config)
    assert message == f"ERROR: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "heketi.db").exists()


def test_address_not_available(tmp_path: Path) -> None:
    # TEST-NET-1 is never assigned to this host: binding fails, no packet is ever sent.
    config = write_config(tmp_path)
    port = free_port()
    message = start_fails(config, "--listen", "192.0.2.1", "--port", str(port))
    assert message == f"ERROR: cannot listen on 192.0.2.1:{port}: Cannot assign requested address"
    assert not (tmp_path / "heketi.db").exists()


def test_database_path_is_a_directory(tmp_path: Path) -> None:
    db = tmp_path / "heketi.db"
    db.mkdir()
    config = write_config(tmp_path)
    assert start_fails(config) == f"ERROR: database {db} is a directory, not a file"
    assert start_fails(config, "--init-db") == f"ERROR: database {db} is a directory, not a file"
    assert list(db.iterdir()) == []


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    key.chmod(0o600)
    return cert, key


def tls_config(directory: Path, cert: Path, key: Path) -> Path:
    return update_config(
        write_config(directory), enable_tls=True, cert_file=str(cert), key_file=str(key)
    )


@pytest.mark.parametrize("damage", ["cert-missing", "key-missing", "key-directory", "key-garbage",
                                    "key-of-another-cert"])
def test_tls_certificate_or_key_unusable(
    tmp_path: Path, tls_pair: tuple[Path, Path], damage: str,
) -> None:
    cert, key = tls_pair
    if damage == "cert-missing":
        cert.unlink()
    elif damage == "key-missing":
        key.unlink()
    elif damage == "key-directory":
        key.unlink()
        key.mkdir()
    elif damage == "key-garbage":
        key.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    else:
        other = tmp_path / "other"
        other.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
             str(other / "cert.pem"), "-days", "2", "-subj", "/CN=other"],
            check=True, capture_output=True, timeout=60,
        )
    message = start_fails(tls_config(tmp_path, cert, key))
    expected = {
        "cert-missing": f"ERROR: TLS certificate file {cert} cannot be read: No such file or directory",
        "key-missing": f"ERROR: TLS key file {key} cannot be read: No such file or directory",
        "key-directory": f"ERROR: TLS key file {key} cannot be read: Is a directory",
    }
    if damage in expected:
        assert message == expected[damage]
    else:
        assert message.startswith(f"ERROR: cannot load TLS certificate {cert} with key {key}: ")
    assert not (tmp_path / "heketi.db").exists()


def test_world_readable_tls_key_warns_and_serves(
    tmp_path: Path, tls_pair: tuple[Path, Path],
) -> None:
    cert, key = tls_pair
    key.chmod(0o644)
    config = tls_config(tmp_path, cert, key)
    port = int(json.loads(config.read_text())["port"])
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "heketipy", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, env=server_env(), cwd=tmp_path,
        )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/hello", context=context, timeout=10
                ) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
    warnings = [line for line in log_path.read_text().splitlines() if "WARNING" in line]
    assert len(warnings) == 1, log_path.read_text()
    assert f"TLS key file {key} is readable by every user (mode 0644)" in warnings[0]
