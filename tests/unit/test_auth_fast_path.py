"""The token fast path agrees with the exact Go reading wherever it answers.

`heketipy.api.auth` reads well-formed tokens with the standard library and leaves anything
unusual to the exact, Go-compatible decoder. These tests pin both halves: the fast path is
taken for the tokens clients really send, and whenever it answers, its answer is the exact
path's (claims, algorithm and segments); where it declines, the exact path decides.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heketipy.api import auth
from heketipy.api.auth import AuthError, authenticate
from heketipy.client.token import make_token

ADMIN_KEY = "adminkey"
NOW = 1_700_000_000


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: bytes, claims: bytes, signature: str = "c2ln") -> str:
    return f"{_segment(header)}.{_segment(claims)}.{signature}"


def _outcome(parse: Any, token: str) -> Any:
    try:
        return ("ok", parse(token))
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return ("error", type(exc).__name__, str(exc))


def test_client_tokens_take_the_fast_path() -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/volumes", now=NOW)
    algorithm, claims, segments = auth._parse_plain(token)
    assert (algorithm, claims.iss, claims.iat, claims.exp) == ("HS256", "admin", NOW, NOW + 300)
    assert claims.qsh == auth.qsh("GET", "/volumes")
    assert segments == token.split(".")
    assert auth._parse_exact(token) == (algorithm, claims, segments)


@pytest.mark.parametrize(
    "token",
    [
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","exp":1.5}'),  # float: Go's int64 error
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","ISS":"user"}'),  # case-folded key
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","iss":"user"}'),  # duplicate key
        _token(b'{"alg":"HS256"}', b'{"iss":"admin"} trailing'),  # Go's decoder stops early
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","exp":NaN}'),
        _token(b'{"alg":"HS256"}', b'{"iss":"adm\xffin"}'),  # invalid UTF-8
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","exp":99999999999999999999}'),
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","exp":true}'),
        _token(b'{"alg":"HS256"}', b'{"iss":"admin","\xc5\xbfub":"x"}'),  # folds onto sub
        _token(b'{"alg":"none"}', b"null"),
        _token(b'{"alg":"XX"}', b"{}"),
        _token(b"[]", b"{}"),
        "abc=.e30.c2ln",  # padding, which Go's raw encoding rejects
        "eyJhbGciOiJIUzI1NiJ9\n.e30.c2ln",  # newline, which Go skips
        "a.e30.c2ln",  # a final group of one character
        "only.two",
    ],
)
def test_unusual_tokens_are_left_to_the_exact_path(token: str) -> None:
    with pytest.raises((auth._NotPlain, ValueError)):
        auth._parse_plain(token)
    # ... and the public answer is the exact path's, whatever it is.
    assert _outcome(auth._parse_unverified, token) == _outcome(auth._parse_exact, token)


def test_unusual_signature_encoding_keeps_go_error_text() -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/volumes", now=NOW)
    head, claims, _signature = token.split(".")
    with pytest.raises(AuthError) as caught:
        authenticate(
            f"bearer {head}.{claims}.ab=c",
            "GET",
            "/volumes",
            admin_key=ADMIN_KEY,
            user_key="",
            now=NOW,
        )
    assert caught.value.text == "Invalid JWT token: illegal base64 data at input byte 2"


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
claim_keys = st.sampled_from(
    ["iss", "exp", "iat", "nbf", "qsh", "aud", "jti", "sub", "Iss", "EXP", "other", "s\u017fub", ""]
)


@settings(max_examples=400, deadline=None)
@given(
    algorithm=st.sampled_from(["HS256", "HS512", "RS256", "none", "bogus", 7]),
    claims=st.dictionaries(claim_keys, json_values, max_size=6),
    spaces=st.sampled_from(["", " ", "\n"]),
)
def test_fast_path_answers_match_the_exact_path(
    algorithm: Any, claims: dict[str, Any], spaces: str
) -> None:
    header = json.dumps({"alg": algorithm, "typ": "JWT"}).encode()
    body = (spaces + json.dumps(claims) + spaces).encode()
    token = _token(header, body)
    try:
        plain = auth._parse_plain(token)
    except (auth._NotPlain, ValueError):
        plain = None
    if plain is not None:
        assert plain == auth._parse_exact(token)
    assert _outcome(auth._parse_unverified, token) == _outcome(auth._parse_exact, token)
