"""`heketipy token`: a JWT for one request, for curl and other hand-made calls (issue 10,
item 15)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import urllib.request

from heketipy.admin_cli import token_main
from heketipy.client.token import query_hash
from tests.support.server import ADMIN_KEY, ServerProcess


def _token(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = token_main(list(argv), {}, out, err)
    return code, out.getvalue(), err.getvalue()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_claims_bind_the_request() -> None:
    code, out, err = _token("--user", "admin", "--secret", "k", "get", "/volumes/ab?x=1")
    assert (code, err) == (0, "") and out.endswith("\n") and out.count("\n") == 1
    claims = _claims(out.strip())
    assert claims["iss"] == "admin"
    assert claims["qsh"] == query_hash("GET", "/volumes/ab")
    assert claims["exp"] - claims["iat"] == 300
    code, out, _ = _token("--secret", "k", "--ttl", "60", "POST", "http://h:8080/clusters")
    claims = _claims(out.strip())
    assert claims["qsh"] == query_hash("POST", "/clusters") and claims["iss"] == "admin"
    assert claims["exp"] - claims["iat"] == 60


def test_token_needs_a_secret_method_and_path() -> None:
    code, out, err = _token("GET", "/clusters")
    assert (code, out) == (2, "") and "--secret" in err
    out_buffer = io.StringIO()
    assert token_main(["GET", "/clusters"], {"HEKETI_CLI_KEY": "k"}, out_buffer, io.StringIO()) == 0
    assert _claims(out_buffer.getvalue().strip())["iss"] == "admin"
    code, out, err = _token("--secret", "k", "GET", "clusters")
    assert (code, out) == (2, "") and "path must start with /" in err


def test_curl_with_a_token_is_accepted(server: ServerProcess) -> None:
    """What the README shows: curl -H "Authorization: Bearer $(heketipy token ...)"."""
    done = subprocess.run(
        [sys.executable, "-m", "heketipy", "token", "--user", "admin", "--secret", ADMIN_KEY,
         "POST", "/clusters"], capture_output=True, text=True, timeout=60, check=True)
    request = urllib.request.Request(
        server.base_url + "/clusters", data=b'{"file": true}', method="POST",
        headers={"Authorization": "Bearer " + done.stdout.strip()})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 201
        assert json.loads(reply.read())["file"] is True
