"""Tests for heketipy.api.auth: JWT checks, texts and order, role gate, Go formatting.

The golden part replays every exchange of golden/http/auth.json through authenticate and
authorize, building each token from the recorded recipe (golden/README.md section 2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import warnings
from pathlib import Path
from typing import Any

import jwt
import pytest

from heketipy.api import auth
from heketipy.api.auth import (
    AuthError,
    Role,
    authenticate,
    authorize,
    go_duration_ns,
    qsh,
)
from heketipy.client.token import make_token
from heketipy.gocompat.json_decode import go_syntax_error

GOLDEN_AUTH = Path(__file__).resolve().parents[1] / "data" / "golden" / "http" / "auth.json"
ADMIN_KEY = "adminkey"
USER_KEY = "userkey"
NOW = 1_700_000_000.25
NOW_S = 1_700_000_000
SOME_ID = "0123456789abcdef0123456789abcdef"

# Paths served outside the JWT middleware (the lead's router), not by authenticate().
UNAUTHENTICATED_PATHS = {"/hello", "/metrics"}
EXPIRED_PATTERN = re.compile(r"^(Invalid JWT token: Token is expired by ).+$")


# --------------------------------------------------------------------------------------
# Token recipe builder (golden README section 2, "Request")
# --------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(document: Any) -> str:
    return _b64(json.dumps(document, separators=(",", ":")).encode())


def _secret(key: str) -> str:
    return {"admin": ADMIN_KEY, "user": USER_KEY}.get(key, key)


def _sign(signing_input: str, secret: str, alg: str) -> str:
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if alg == "none":
        return ""
    if alg not in digests:
        return _b64(b"garbage signature bytes")
    return _b64(hmac.new(secret.encode(), signing_input.encode(), digests[alg]).digest())


def token_from_recipe(recipe: dict[str, Any], method: str, path: str, now: float = NOW) -> str:
    """A JWT per the recorded recipe; `path` is the request path (query is cut for qsh)."""
    iss = recipe.get("iss", "admin")
    alg = recipe.get("alg", "HS256")
    qsh_recipe = recipe.get("qsh", "valid")
    if qsh_recipe == "valid":
        qsh_value = qsh(method, path.split("?", 1)[0])
    elif qsh_recipe == "wrong":
        qsh_value = qsh("GET", "/something-else")
    else:
        qsh_value = qsh(qsh_recipe["method"], qsh_recipe["path"])
    now_s = int(now)
    claims: dict[str, Any] = {
        "iss": iss,
        "iat": now_s + recipe.get("iat", 0),
        "exp": now_s + recipe.get("exp", 300),
        "qsh": qsh_value,
    }
    if "nbf" in recipe:
        claims["nbf"] = now_s + recipe["nbf"]
    for name in recipe.get("omit", []):
        claims.pop(name, None)
    signing_input = f"{_b64_json({'alg': alg, 'typ': 'JWT'})}.{_b64_json(claims)}"
    signature = _sign(signing_input, _secret(recipe.get("key", iss)), alg)
    return f"{signing_input}.{signature}"


def header_for(auth: Any, method: str, path: str) -> str | None:
    """The Authorization value for a recorded `auth` field."""
    if auth == "none":
        return None
    if isinstance(auth, dict) and "raw" in auth:
        return auth["raw"]
    if auth is None:
        recipe: dict[str, Any] = {"iss": "admin"}
    elif auth == "user":
        recipe = {"iss": "user"}
    else:
        recipe = auth
    scheme = recipe.get("scheme", "Bearer")
    return f"{scheme} {token_from_recipe(recipe, method, path)}"


def check(header: str | None, method: str, path: str, **options: Any) -> Role:
    """authenticate + authorize as the middleware runs them."""
    role = authenticate(
        header,
        method,
        path.split("?", 1)[0],
        admin_key=ADMIN_KEY,
        user_key=USER_KEY,
        now=options.pop("now", NOW),
        **options,
    )
    authorize(role, method, path.split("?", 1)[0])
    return role


def refusal(header: str | None, method: str = "GET", path: str = "/clusters", **options: Any):
    with pytest.raises(AuthError) as caught:
        check(header, method, path, **options)
    return caught.value.status, caught.value.text


def bearer(
    claims: dict[str, Any],
    *,
    alg: str = "HS256",
    key: str = ADMIN_KEY,
    header: dict[str, Any] | None = None,
) -> str:
    """A token with exactly these claims (no defaults)."""
    signing_input = f"{_b64_json(header or {'alg': alg, 'typ': 'JWT'})}.{_b64_json(claims)}"
    return f"Bearer {signing_input}.{_sign(signing_input, key, alg)}"


def admin_claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": "admin", "iat": NOW_S, "exp": NOW_S + 300, "qsh": qsh("GET", "/clusters")}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


# --------------------------------------------------------------------------------------
# Golden replay
# --------------------------------------------------------------------------------------

AUTH_TEXTS_401 = re.compile(
    r"^(Required authorization token not found|Invalid JWT token: .+|"
    r"Invalid qsh claim in token|Administrator access required)$"
)
AUTH_TEXT_400 = "Authorization header format must be Bearer {token}"


def _golden_exchanges() -> list[Any]:
    exchanges = json.loads(GOLDEN_AUTH.read_text())["exchanges"]
    return [
        pytest.param(exchange, id=f"seq{exchange['seq']}")
        for exchange in exchanges
        if "request" in exchange
    ]


def _is_auth_refusal(response: dict[str, Any]) -> bool:
    if response["body_format"] != "text":
        return False
    text = response["body"].removesuffix("\n")
    if response["status"] == 400:
        return text == AUTH_TEXT_400
    return response["status"] == 401 and bool(AUTH_TEXTS_401.match(text))


@pytest.mark.parametrize("exchange", _golden_exchanges())
def test_golden_auth_exchange(exchange: dict[str, Any]) -> None:
    request, response = exchange["request"], exchange["response"]
    method = request["method"]
    path = re.sub(r"<ID:\d+>", SOME_ID, request["path"])
    if path in UNAUTHENTICATED_PATHS:
        pytest.skip("served outside the JWT middleware")
    header = header_for(request.get("auth"), method, path)
    if not _is_auth_refusal(response):
        # 200/201/202/303/404 and handler errors such as 400 'No clusters configured'.
        check(header, method, path)
        return
    status, text = refusal(header, method, path)
    expected = response["body"].removesuffix("\n")
    assert status == response["status"]
    assert EXPIRED_PATTERN.sub(r"\1<DURATION>", text) == expected


def test_golden_file_has_the_expected_refusals() -> None:
    exchanges = [e for e in json.loads(GOLDEN_AUTH.read_text())["exchanges"] if "request" in e]
    refusals = [e for e in exchanges if _is_auth_refusal(e["response"])]
    assert len(exchanges) == 63
    status_400_401 = [e for e in exchanges if e["response"]["status"] in (400, 401)]
    assert len(refusals) == 30
    # The only other 400/401 is the handler's 'No clusters configured' (auth passed).
    assert [e["seq"] for e in status_400_401 if e not in refusals] == [32]


def test_expired_durations_are_exact() -> None:
    assert refusal(header_for({"iss": "admin", "exp": -100}, "GET", "/clusters")) == (
        401,
        "Invalid JWT token: Token is expired by 1m40s",
    )
    missing_exp = header_for({"iss": "admin", "omit": ["exp"]}, "GET", "/clusters")
    assert refusal(missing_exp)[1] == "Invalid JWT token: Token is expired by 472222h13m20s"


# --------------------------------------------------------------------------------------
# Go time.Duration formatting
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1.5, "1.5s"),
        (123.25, "2m3.25s"),
        (3600, "1h0m0s"),
        (3661, "1h1m1s"),
        (0.35, "350ms"),
        (0.001, "1ms"),
        (1.000001, "1.000001s"),
        (60, "1m0s"),
        (100, "1m40s"),
        (59.999999999, "59.999999999s"),
        (-1.5, "-1.5s"),
        (-90, "-1m30s"),
        (86400, "24h0m0s"),
        (1e-9, "1ns"),
        (1.5e-6, "1.5µs"),
    ],
)
def test_go_duration_of_seconds(seconds: float, text: str) -> None:
    assert go_duration_ns(round(seconds * 1_000_000_000)) == text


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (1, "1ns"),
        (999, "999ns"),
        (1_000, "1µs"),
        (1_001, "1.001µs"),
        (999_999, "999.999µs"),
        (1_000_000, "1ms"),
        (1_234_567, "1.234567ms"),
        (999_999_999, "999.999999ms"),
        (1_000_000_000, "1s"),
        (2**63 - 1, "2562047h47m16.854775807s"),
        (-(2**63), "-2562047h47m16.854775808s"),
        (10**30, "2562047h47m16.854775807s"),  # Go saturates time differences
    ],
)
def test_go_duration_ns(nanoseconds: int, text: str) -> None:
    assert go_duration_ns(nanoseconds) == text


# --------------------------------------------------------------------------------------
# Authorization header
# --------------------------------------------------------------------------------------

NOT_FOUND = (401, "Required authorization token not found")
BAD_FORMAT = (400, "Authorization header format must be Bearer {token}")


@pytest.mark.parametrize("header", [None, "", "   ", "\t"])
def test_missing_header(header: str | None) -> None:
    assert refusal(header) == NOT_FOUND


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "bearer",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer a b",
        "Bearer\tabc",
        "Bearer  abc",
        "Token abc",
        "Bearerabc",
    ],
)
def test_malformed_header(header: str) -> None:
    assert refusal(header) == BAD_FORMAT


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/clusters", now=NOW)
    assert check(f"{scheme} {token}", "GET", "/clusters") is Role.ADMIN


def test_surrounding_whitespace_is_ignored_like_go_http() -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/clusters", now=NOW)
    assert check(f"  Bearer {token} \t", "GET", "/clusters") is Role.ADMIN


# --------------------------------------------------------------------------------------
# Token parsing (Go library texts)
# --------------------------------------------------------------------------------------


def invalid(reason: str) -> tuple[int, str]:
    return 401, f"Invalid JWT token: {reason}"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("garbage", "token contains an invalid number of segments"),
        ("a.b", "token contains an invalid number of segments"),
        ("a.b.c.d", "token contains an invalid number of segments"),
        ("a.b.c", "illegal base64 data at input byte 0"),
        ("abcde.e30.", "illegal base64 data at input byte 4"),
        ("e30=.e30.", "illegal base64 data at input byte 3"),  # no padding allowed
        ("e+0.e30.", "illegal base64 data at input byte 1"),  # not the URL alphabet
        ("..", "unexpected end of JSON input"),
        (
            f"{_b64(b'{not json')}.e30.",
            "invalid character 'n' looking for beginning of object key string",
        ),
        (
            f"{_b64(b'[1]')}.e30.",
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (f"{_b64(b'{}')}.e30.", "signing method (alg) is unspecified."),
        (f"{_b64_json({'alg': 256})}.e30.", "signing method (alg) is unspecified."),
        (f"{_b64_json({'alg': 'FOO'})}.e30.", "signing method (alg) is unavailable."),
        (f"{_b64_json({'alg': 'hs256'})}.e30.", "signing method (alg) is unavailable."),
        (f"{_b64_json({'alg': 'HS256'})}..", "EOF"),
        (_b64_json({"alg": "HS256"}) + "." + _b64(b'{"iss"') + ".", "unexpected EOF"),
        (
            f"{_b64_json({'alg': 'HS256'})}.{_b64(b'[1]')}.",
            "json: cannot unmarshal array into Go value of type middleware.HeketiJwtClaims",
        ),
    ],
)
def test_malformed_tokens(token: str, reason: str) -> None:
    assert refusal(f"Bearer {token}") == invalid(reason)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"exp": "soon"},
            "json: cannot unmarshal string into Go struct field HeketiJwtClaims.exp of type int64",
        ),
        (
            {"exp": 1.5},
            "json: cannot unmarshal number 1.5 into Go struct field HeketiJwtClaims.exp of type int64",
        ),
        (
            {"iat": 10**20},
            "json: cannot unmarshal number 100000000000000000000 into Go struct field HeketiJwtClaims.iat of type int64",
        ),
        (
            {"iss": 7},
            "json: cannot unmarshal number into Go struct field HeketiJwtClaims.iss of type string",
        ),
        (
            {"qsh": ["x"]},
            "json: cannot unmarshal array into Go struct field HeketiJwtClaims.qsh of type string",
        ),
        (
            {"nbf": True},
            "json: cannot unmarshal bool into Go struct field HeketiJwtClaims.nbf of type int64",
        ),
        (
            {"sub": {}},
            "json: cannot unmarshal object into Go struct field HeketiJwtClaims.sub of type string",
        ),
    ],
)
def test_claim_type_errors(changes: dict[str, Any], reason: str) -> None:
    assert refusal(bearer(admin_claims(**changes))) == invalid(reason)


def test_claims_keys_match_case_insensitively_and_null_is_absent() -> None:
    claims = {"ISS": "admin", "Exp": NOW_S + 10, "QSH": qsh("GET", "/clusters"), "nbf": None}
    assert check(bearer(claims), "GET", "/clusters") is Role.ADMIN


def test_trailing_data_after_claims_is_ignored_like_go_decoder() -> None:
    header = _b64_json({"alg": "HS256", "typ": "JWT"})
    claims = _b64(json.dumps(admin_claims()).encode() + b" trailing garbage")
    signing_input = f"{header}.{claims}"
    token = f"{signing_input}.{_sign(signing_input, ADMIN_KEY, 'HS256')}"
    assert check(f"Bearer {token}", "GET", "/clusters") is Role.ADMIN


def test_deeply_nested_claims_do_not_crash() -> None:
    deep = b"[" * 1500 + b"]" * 1500  # as deep as the token size bound lets it be
    header = _b64_json({"alg": "HS256"})
    assert refusal(f"Bearer {header}.{_b64(deep)}.") == invalid(
        "json: cannot unmarshal array into Go value of type middleware.HeketiJwtClaims"
    )


# --------------------------------------------------------------------------------------
# Token size bound: decoding cost is bounded before any decoding starts
# --------------------------------------------------------------------------------------

TOO_LONG = invalid(f"token is longer than {auth.MAX_TOKEN_BYTES} bytes")


def _padded_admin_token(length: int) -> str:
    """A correctly signed admin token of exactly ``length`` characters."""
    padding = 0
    while True:
        token = bearer(admin_claims(pad="x" * padding)).removeprefix("Bearer ")
        if len(token) >= length:
            break
        padding += 1
    assert len(token) == length, "padding grows the token by one character at a time"
    return token


def test_a_token_at_the_size_bound_is_decoded_and_accepted() -> None:
    token = _padded_admin_token(auth.MAX_TOKEN_BYTES)
    assert check(f"Bearer {token}", "GET", "/clusters") is Role.ADMIN


@pytest.mark.parametrize(
    "token",
    [
        "x" * 4097,  # one byte over
        "[" * 8000,  # the 8 KB a crafted token brings to the exact decoder
        "e." + "\u00e9" * 2047 + ".s",  # few characters, but over the bound in UTF-8 bytes
    ],
)
def test_an_over_long_token_is_refused_without_decoding(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decoding(*_args: Any) -> Any:
        raise AssertionError("an over-long token reached a decoder")

    for decoder in ("_parse_unverified", "_parse_plain", "_parse_exact"):
        monkeypatch.setattr(auth, decoder, decoding)
    assert len(token.encode()) > auth.MAX_TOKEN_BYTES
    assert refusal(f"Bearer {token}") == TOO_LONG


def test_the_size_bound_is_far_above_real_tokens() -> None:
    longest_path = "/volumes/" + "f" * 32 + "/expand"
    real = make_token("admin", ADMIN_KEY, "POST", longest_path, now=NOW)
    assert len(real) * 8 < auth.MAX_TOKEN_BYTES


# --------------------------------------------------------------------------------------
# Key selection, claims, signature, qsh: texts and their order
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS512", "EdDSA", "none"])
def test_non_hmac_algorithms(alg: str) -> None:
    assert refusal(bearer(admin_claims(), alg=alg)) == invalid(f"Unexpected signing method: {alg}")


def test_signing_method_is_checked_before_issuer() -> None:
    assert refusal(bearer(admin_claims(iss="bob"), alg="none")) == invalid(
        "Unexpected signing method: none"
    )


@pytest.mark.parametrize(
    ("iss", "reason"),
    [
        (None, "Token missing iss claim"),
        ("", "Token missing iss claim"),
        ("bob", "Unknown user"),
        ("Admin", "Unknown user"),
    ],
)
def test_issuer(iss: str | None, reason: str) -> None:
    # Key selection comes before the claims and the signature are looked at.
    claims = admin_claims(iss=iss, exp=NOW_S - 5)
    assert refusal(bearer(claims, key="nonsense")) == invalid(reason)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_algorithms_accepted(alg: str) -> None:
    assert check(bearer(admin_claims(), alg=alg), "GET", "/clusters") is Role.ADMIN


def test_signature_failure_wins_over_claims_failures() -> None:
    claims = admin_claims(exp=NOW_S - 5, nbf=NOW_S + 600, iat=NOW_S + 600)
    assert refusal(bearer(claims, key="wrong")) == invalid(
        "signature is invalid (client and server secrets may not match)"
    )


def test_undecodable_signature() -> None:
    token = bearer(admin_claims())
    assert refusal(token + "!") == invalid(
        f"illegal base64 data at input byte {len(token.split('.')[2])}"
    )


def test_user_issuer_uses_user_secret() -> None:
    claims = admin_claims(iss="user", qsh=qsh("GET", "/volumes"))
    assert check(bearer(claims, key=USER_KEY), "GET", "/volumes") is Role.USER
    assert refusal(bearer(claims, key=ADMIN_KEY), path="/volumes") == invalid(
        "signature is invalid (client and server secrets may not match)"
    )


def test_expiry_boundary() -> None:
    assert check(bearer(admin_claims(exp=NOW_S)), "GET", "/clusters") is Role.ADMIN
    assert refusal(bearer(admin_claims(exp=NOW_S - 1))) == invalid("Token is expired by 1s")
    assert refusal(bearer(admin_claims(exp=NOW_S - 3600))) == invalid("Token is expired by 1h0m0s")


def test_iat_leeway() -> None:
    assert check(bearer(admin_claims(iat=NOW_S + 120)), "GET", "/clusters") is Role.ADMIN
    too_early = invalid("Token used before issued (client and server clocks may differ)")
    assert refusal(bearer(admin_claims(iat=NOW_S + 121))) == too_early
    assert refusal(bearer(admin_claims(iat=NOW_S + 1)), iat_leeway_s=0) == too_early
    assert check(bearer(admin_claims(iat=None)), "GET", "/clusters") is Role.ADMIN


def test_nbf() -> None:
    assert check(bearer(admin_claims(nbf=NOW_S)), "GET", "/clusters") is Role.ADMIN
    assert refusal(bearer(admin_claims(nbf=NOW_S + 1))) == invalid("token is not valid yet")


def test_later_claim_check_wins() -> None:
    # exp, then iat, then nbf: like Go's claims validation the last failure is reported.
    expired_and_early = admin_claims(exp=NOW_S - 5, iat=NOW_S + 600)
    assert refusal(bearer(expired_and_early)) == invalid(
        "Token used before issued (client and server clocks may differ)"
    )
    all_three = admin_claims(exp=NOW_S - 5, iat=NOW_S + 600, nbf=NOW_S + 600)
    assert refusal(bearer(all_three)) == invalid("token is not valid yet")


def test_qsh_is_checked_after_the_token() -> None:
    assert refusal(bearer(admin_claims(qsh="nope", exp=NOW_S - 1)))[1].startswith(
        "Invalid JWT token: Token is expired"
    )
    assert refusal(bearer(admin_claims(qsh=qsh("GET", "/clusters").upper()))) == (
        401,
        "Invalid qsh claim in token",
    )


def test_qsh_value() -> None:
    assert qsh("GET", "/clusters") == hashlib.sha256(b"GET&/clusters").hexdigest()
    claims = admin_claims(qsh=qsh("DELETE", f"/volumes/{SOME_ID}"))
    assert check(bearer(claims), "DELETE", f"/volumes/{SOME_ID}") is Role.ADMIN
    assert refusal(bearer(claims), "GET", f"/volumes/{SOME_ID}") == (
        401,
        "Invalid qsh claim in token",
    )


def test_now_defaults_to_the_clock() -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/clusters")
    assert (
        authenticate(f"bearer {token}", "GET", "/clusters", admin_key=ADMIN_KEY, user_key=USER_KEY)
        is Role.ADMIN
    )


# --------------------------------------------------------------------------------------
# Role gate
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("GET", "/volumes"), ("POST", "/volumes")])
def test_user_may_list_and_create_volumes(method: str, path: str) -> None:
    authorize(Role.USER, method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/clusters"),
        ("GET", f"/volumes/{SOME_ID}"),
        ("GET", f"/queue/{SOME_ID}"),
        ("GET", "/volumes/"),
        ("DELETE", "/volumes"),
        ("PUT", "/volumes"),
        ("HEAD", "/volumes"),
        ("GET", "/VOLUMES"),
        ("POST", f"/volumes/{SOME_ID}/expand"),
    ],
)
def test_user_is_refused_elsewhere(method: str, path: str) -> None:
    with pytest.raises(AuthError) as caught:
        authorize(Role.USER, method, path)
    assert (caught.value.status, caught.value.text) == (401, "Administrator access required")


@pytest.mark.parametrize("path", ["/clusters", f"/queue/{SOME_ID}", "/nope", "/volumes/"])
def test_admin_may_do_anything(path: str) -> None:
    authorize(Role.ADMIN, "DELETE", path)


# --------------------------------------------------------------------------------------
# make_token
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_make_token_is_a_standard_jwt(algorithm: str) -> None:
    token = make_token("user", USER_KEY, "POST", "/volumes", now=NOW, algorithm=algorithm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjwt warns about short secrets
        claims = jwt.decode(token, USER_KEY, algorithms=[algorithm], options={"verify_exp": False})
    assert claims == {
        "iss": "user",
        "iat": NOW_S,
        "exp": NOW_S + 300,
        "qsh": qsh("POST", "/volumes"),
    }
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT"}
    assert check(f"bearer {token}", "POST", "/volumes") is Role.USER


def test_make_token_ttl() -> None:
    token = make_token("admin", ADMIN_KEY, "GET", "/clusters", now=NOW, ttl_s=10)
    assert refusal(f"bearer {token}", now=NOW + 11) == invalid("Token is expired by 1s")


def test_make_token_rejects_non_hmac() -> None:
    with pytest.raises(ValueError, match="RS256"):
        make_token("admin", ADMIN_KEY, "GET", "/clusters", algorithm="RS256")


# --------------------------------------------------------------------------------------
# Go JSON syntax errors (also used for request bodies)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"{not json", "invalid character 'n' looking for beginning of object key string"),
        (b"", "unexpected end of JSON input"),
        (b'{"state":', "unexpected end of JSON input"),
        (b"{}x", "invalid character 'x' after top-level value"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        # Go's scanner feeds one space at the end of input and reports the error that causes.
        (b"nul", "invalid character ' ' in literal null (expecting 'l')"),
        (b"-", "invalid character ' ' in numeric literal"),
        (b'"ab', "unexpected end of JSON input"),
        (b"nulx", "invalid character 'x' in literal null (expecting 'l')"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b"1ex", "invalid character 'x' in exponent of numeric literal"),
        (b"01", "invalid character '1' after top-level value"),
        (b'"\\q"', "invalid character 'q' in string escape code"),
        (b'"\\u12x4"', "invalid character 'x' in \\u hexadecimal character escape"),
        (b'"a\nb"', "invalid character '\\n' in string literal"),
        (b"'a'", "invalid character '\\'' looking for beginning of value"),
        (b"\x00", "invalid character '\\x00' looking for beginning of value"),
        (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
    ],
)
def test_go_json_syntax_errors(data: bytes, text: str) -> None:
    assert go_syntax_error(data) == text


@pytest.mark.parametrize(
    "data", [b"null", b" {} ", b'{"a":[1,{"b":[]}],"c":-0.5e+3}', b'"\\u00e9"']
)
def test_go_json_valid(data: bytes) -> None:
    assert go_syntax_error(data) is None


@pytest.mark.parametrize(
    ("claims", "text"),
    [
        # The decoder reads only the first value: a value cut short is "unexpected EOF".
        (b"nul", "unexpected EOF"),
        (b'{"exp":1', "unexpected EOF"),
        (b"  ", "EOF"),
        # A nested object's keys are not top-level members.
        (b'{"exp":{"iss":"admin"}}', "json: cannot unmarshal object into Go struct field "
         "HeketiJwtClaims.exp of type int64"),
    ],
)
def test_claims_stream_decoding_like_go_decoder(claims: bytes, text: str) -> None:
    header = _b64_json({"alg": "HS256"})
    assert refusal(f"Bearer {header}.{_b64(claims)}.") == invalid(text)
