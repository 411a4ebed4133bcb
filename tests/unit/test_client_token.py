"""The client's token (pyjwt-signed, byte for byte the Go client's), its `httpx.Auth`, Go's
status texts in error messages, and the typed sync/async surface of the two clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import textwrap
import warnings
from pathlib import Path

import httpx
import pytest

from heketipy.api import auth
from heketipy.client import AsyncHeketiClient, HeketiClient, HeketiError
from heketipy.client.flows import HttpResponse, error_of, status_text
from heketipy.client.token import make_token, query_hash
from heketipy.client.transport import JwtAuth

NOW = 1_700_000_000
ADMIN_KEY = "My Secret"
USER_KEY = "user secret"
REPO = Path(__file__).resolve().parents[2]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def go_client_token(user: str, secret: str, method: str, path: str, now: int) -> str:
    """What Heketi's Go client sends, spelled out: compact JSON, claims in this order."""
    header = b'{"alg":"HS256","typ":"JWT"}'
    issuer = f'"iss":"{user}",' if user else ""
    claims = f'{{{issuer}"iat":{now},"exp":{now + 300},"qsh":"{query_hash(method, path)}"}}'
    signing_input = f"{b64(header)}.{b64(claims.encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("user", ["admin", "user", ""])
@pytest.mark.parametrize("secret", [ADMIN_KEY, "", "k", '{"kty":"oct"}'])
def test_token_is_the_go_clients_token(user: str, secret: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no short-key warning per request
        token = make_token(user, secret, "POST", "/volumes?x=1", now=NOW)
    assert token == go_client_token(user, secret, "POST", "/volumes", NOW)


@pytest.mark.parametrize(("user", "key"), [("admin", ADMIN_KEY), ("user", USER_KEY)])
def test_the_servers_verifier_accepts_the_signed_token(user: str, key: str) -> None:
    token = make_token(user, key, "POST", "/volumes", now=NOW)
    header, claims, _ = token.split(".")
    assert json.loads(unb64(header)) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(unb64(claims)) == {
        "iss": user, "iat": NOW, "exp": NOW + 300, "qsh": query_hash("POST", "/volumes"),
    }
    role = auth.authenticate(
        f"bearer {token}", "POST", "/volumes", admin_key=ADMIN_KEY, user_key=USER_KEY,
        now=NOW + 1,
    )
    assert role.value == user


def test_jwt_auth_signs_each_request_for_its_own_method_and_path() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(auth=JwtAuth("admin", ADMIN_KEY),
                      transport=httpx.MockTransport(answer)) as client:
        client.get("http://heketi.test/clusters?x=1")
        client.delete("http://heketi.test/volumes/" + "a" * 32)
    for request in seen:
        role = auth.authenticate(
            request.headers["Authorization"], request.method, request.url.path,
            admin_key=ADMIN_KEY, user_key=USER_KEY,
        )
        assert role is auth.Role.ADMIN
    scheme = {request.headers["Authorization"].split(" ")[0] for request in seen}
    assert scheme == {"bearer"}


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (405, "Method Not Allowed"),
        (408, "Request Timeout"),
        (413, "Request Entity Too Large"),
        (414, "Request URI Too Long"),
        (418, "I'm a teapot"),
        (422, "Unprocessable Entity"),
        (503, "Service Unavailable"),
        (599, ""),
    ],
)
def test_an_empty_error_names_gos_status_text(status: int, text: str) -> None:
    assert status_text(status) == text
    error = error_of(HttpResponse(status, {}, b""))
    assert (error.status, error.message) == (
        status, f"server did not provide a message (status {status}: {text})"
    )


def test_both_clients_raise_the_status_text_of_an_empty_answer() -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(408))
    with HeketiClient("http://heketi.test", "admin", ADMIN_KEY,
                      transport=transport) as client, pytest.raises(HeketiError) as caught:
        client.cluster_list()
    assert caught.value.message == "server did not provide a message (status 408: Request Timeout)"


async def test_the_async_client_methods_are_coroutine_functions_of_the_model() -> None:
    answer = {"clusters": ["c" * 32]}
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json=answer))
    async with AsyncHeketiClient("http://heketi.test", "admin", ADMIN_KEY,
                                 transport=transport) as client:
        pending = client.cluster_list()
        listing = await pending
    assert listing.clusters == ["c" * 32]


TYPED_USE = textwrap.dedent(
    """
    from typing import assert_type
    from heketipy.client import AsyncHeketiClient, HeketiClient
    from heketipy.client.models import Volume, VolumeList

    async def use(aclient: AsyncHeketiClient, client: HeketiClient) -> None:
        assert_type(await aclient.volume_create({"size": 1}), Volume)
        assert_type(client.volume_create({"size": 1}), Volume)
        assert_type(await aclient.volume_list(), VolumeList)
        assert_type(client.hello(), str)
        assert_type(await aclient.volume_delete("x"), None)
    """
)


def test_the_type_checker_sees_awaited_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is the project's type checker (make lint)")
    module = tmp_path / "typed_use.py"
    module.write_text(TYPED_USE)
    monkeypatch.setenv("MYPYPATH", str(REPO))  # this checkout's heketipy, not an installed one
    out, err, status = api.run(
        ["--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(module)]
    )
    assert (status, out, err) == (0, "", "")
