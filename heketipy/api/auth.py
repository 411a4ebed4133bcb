"""Heketi JWT authentication and authorization, as pure functions.

Owns: reading the `Authorization` header, validating a Heketi JWT exactly as upstream
Heketi does (checks, their order, and the Go jwt-go error texts), the `qsh` request
binding and the role gate (the `user` issuer may only touch `/volumes`).  Signing tokens is
the client's business (`heketipy.client.token`).  No HTTP framework here: the API layer calls
`authenticate` then `authorize` and turns an `AuthError` into a text/plain reply.

Upstream parses tokens with Go's jwt library, so several error texts are Go library
texts (base64 positions, JSON decoder messages, `time.Duration` formatting):
`heketipy.gocompat` and the duration helpers below reproduce exactly those texts.
That exact decoding is slow in Python, so a well-formed token takes a fast path through
the standard library first; anything unusual falls back to the exact path, which decides.
pyjwt is not used: its decoder is more lenient than Go's (padding, stray characters) and
its messages differ.

Order of checks (upstream parser first, Heketi's own checks after it):
 1. header missing/empty -> 401 `Required authorization token not found`;
    not `bearer <token>` -> 400 `Authorization header format must be Bearer {token}`;
    token over MAX_TOKEN_BYTES -> 401 `Invalid JWT token: token is longer than ...` (heketipy's
    bound, before any decoding; Heketi has none)
 2. three segments; header segment base64 + JSON; claims segment base64 + JSON;
    `alg` present and known                                   -> 401 `Invalid JWT token: ...`
 3. key selection: HMAC algorithm, then `iss` (missing / unknown)
 4. claims: exp (required), iat (with leeway), nbf - when several fail the last wins
 5. signature - a bad signature replaces any claims error
 6. qsh                                                        -> 401 `Invalid qsh claim in token`
 7. (authorize) role gate                                      -> 401 `Administrator access required`
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from heketipy.config import DEFAULT_IAT_LEEWAY_S
from heketipy.gocompat.base64 import base64url_decode
from heketipy.gocompat.errors import GoError
from heketipy.gocompat.json_decode import (
    JSONObject,
    json_kind,
    number_literal,
    stream_decode,
    unmarshal,
)

TOKEN_NOT_FOUND = "Required authorization token not found"
BAD_HEADER_FORMAT = "Authorization header format must be Bearer {token}"
INVALID_TOKEN_PREFIX = "Invalid JWT token: "
SIGNATURE_INVALID = "signature is invalid (client and server secrets may not match)"
UNKNOWN_USER = "Unknown user"
MISSING_ISS = "Token missing iss claim"
USED_BEFORE_ISSUED = "Token used before issued (client and server clocks may differ)"
NOT_VALID_YET = "token is not valid yet"
INVALID_QSH = "Invalid qsh claim in token"
ADMIN_REQUIRED = "Administrator access required"

# Tokens that Heketi's clients sign are about 250 bytes. Decoding an unusual token the exact
# (Go-compatible) way costs about 1 us per byte, so a crafted 8 KB token cost ~100 times an
# ordinary one to refuse; anything longer than this bound is refused before any decoding.
MAX_TOKEN_BYTES = 4096
TOKEN_TOO_LONG = f"token is longer than {MAX_TOKEN_BYTES} bytes"

# Algorithms Go's jwt library knows; only the HMAC ones are accepted by Heketi.  An
# `alg` outside this set fails earlier, while the token is parsed.
_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_KNOWN_ALGORITHMS = frozenset(
    {
        *_HMAC_DIGESTS,
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "none",
    }
)

# Names Go uses in its JSON type errors for the two decode targets.
_HEADER_GO_TYPE = "map[string]interface {}"
_CLAIMS_GO_STRUCT = "HeketiJwtClaims"
_CLAIMS_GO_TYPE = "middleware.HeketiJwtClaims"
_CLAIM_GO_TYPES = {
    "aud": "string",
    "exp": "int64",
    "jti": "string",
    "iat": "int64",
    "iss": "string",
    "nbf": "int64",
    "sub": "string",
    "qsh": "string",
}


class Role(enum.Enum):
    ADMIN = "admin"
    USER = "user"


class AuthError(Exception):
    """A refused request: `status` (401 or 400) and Heketi's exact `text` (no newline)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def __repr__(self) -> str:
        return f"AuthError({self.status}, {self.text!r})"


def _invalid_token(reason: str) -> AuthError:
    return AuthError(401, INVALID_TOKEN_PREFIX + reason)


# ---------------------------------------------------------------------------------------
# Go time.Duration.String
# ---------------------------------------------------------------------------------------

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_NS_PER_S = 1_000_000_000


def _split_fraction(value: int, precision: int) -> tuple[int, str]:
    """Split `value` into its integer part and Go's `.ddd` fraction (trailing zeros cut)."""
    scale = 10**precision
    fraction = f"{value % scale:0{precision}d}".rstrip("0")
    return value // scale, f".{fraction}" if fraction else ""


def go_duration_ns(nanoseconds: int) -> str:
    """Format an int64 nanosecond count exactly like Go's `time.Duration.String`."""
    nanoseconds = max(_INT64_MIN, min(_INT64_MAX, nanoseconds))
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < _NS_PER_S:
        if magnitude < 1_000:
            return f"{sign}{magnitude}ns"
        if magnitude < 1_000_000:
            whole, fraction = _split_fraction(magnitude, 3)
            return f"{sign}{whole}{fraction}\u00b5s"
        whole, fraction = _split_fraction(magnitude, 6)
        return f"{sign}{whole}{fraction}ms"
    seconds, fraction = _split_fraction(magnitude, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


@dataclass
class _Claims:
    """Heketi's claims as Go decodes them: absent or null claims keep their zero value."""

    iss: str = ""
    exp: int = 0
    iat: int = 0
    nbf: int = 0
    qsh: str = ""
    aud: str = ""
    jti: str = ""
    sub: str = ""


def _claim_field(key: str) -> str | None:
    """Go matches object keys to struct fields exactly first, then case-insensitively."""
    if key in _CLAIM_GO_TYPES:
        return key
    folded = key.casefold()
    for name in _CLAIM_GO_TYPES:
        if name == folded:
            return name
    return None


def _decode_claims(document: Any) -> _Claims:
    claims = _Claims()
    if document is None:
        return claims
    if not isinstance(document, JSONObject):
        raise GoError(
            f"json: cannot unmarshal {json_kind(document)} into Go value of type {_CLAIMS_GO_TYPE}"
        )
    first_error: str | None = None
    for key, value in document:
        field = _claim_field(key)
        if field is None or value is None:
            continue
        go_type = _CLAIM_GO_TYPES[field]
        problem: str | None = None
        if go_type == "string":
            if isinstance(value, str):
                setattr(claims, field, value)
            else:
                problem = json_kind(value)
        elif (literal := number_literal(value)) is not None:
            try:
                number = int(literal, 10)
            except ValueError:
                number = None
            if number is None or not _INT64_MIN <= number <= _INT64_MAX:
                problem = f"number {literal}"
            else:
                setattr(claims, field, number)
        else:
            problem = json_kind(value)
        if problem is not None and first_error is None:
            # Go keeps decoding after a type error and reports the first one at the end.
            first_error = (
                f"json: cannot unmarshal {problem} into Go struct field "
                f"{_CLAIMS_GO_STRUCT}.{field} of type {go_type}"
            )
    if first_error is not None:
        raise GoError(first_error)
    return claims


# ---------------------------------------------------------------------------------------
# Token validation
# ---------------------------------------------------------------------------------------


def qsh(method: str, path: str) -> str:
    """Heketi's request hash: lowercase hex SHA-256 of `<METHOD>&<path>` (no query)."""
    return hashlib.sha256(f"{method}&{path}".encode()).hexdigest()


def _extract_token(header: str | None) -> str:
    # Go's HTTP server trims surrounding whitespace from header values before Heketi
    # sees them, which is why `Bearer ` counts as the scheme alone.
    value = (header or "").strip(" \t\r\n")
    if not value:
        raise AuthError(401, TOKEN_NOT_FOUND)
    fields = value.split(" ")
    if len(fields) != 2 or fields[0].lower() != "bearer" or not fields[1]:
        raise AuthError(400, BAD_HEADER_FORMAT)
    return fields[1]


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class _NotPlain(Exception):
    """The fast path met something whose Go reading it does not reproduce."""


def _reject_float(_literal: str) -> Any:
    # Go decodes numbers into float64 or int64 with its own range errors: leave them to it.
    raise _NotPlain


def _plain_segment(segment: str) -> bytes:
    """Base64url-decode a segment that Go and the standard library read identically."""
    if len(segment) % 4 == 1 or not _PLAIN_SEGMENT.fullmatch(segment):
        raise _NotPlain
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _plain_object(data: bytes) -> dict[str, Any]:
    """A JSON object as the standard library reads it, when Go would read it the same."""
    document = json.loads(
        data.decode("utf-8"),  # invalid UTF-8 (Go replaces it) raises: not plain
        parse_float=_reject_float,
        parse_constant=_reject_float,  # NaN and Infinity: Go rejects them
        object_pairs_hook=_unique_keys,
    )
    if not isinstance(document, dict):
        raise _NotPlain
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Go applies duplicate members one after another (type errors included): exact path.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _NotPlain
    return document


def _plain_claims(document: dict[str, Any]) -> _Claims:
    claims = _Claims()
    for key, value in document.items():
        go_type = _CLAIM_GO_TYPES.get(key)
        if go_type is None:
            # Go also matches keys case-insensitively (with Unicode folding): leave any key
            # that is not plain ASCII, or that folds onto a claim, to the exact path.
            if not key.isascii() or key.lower() in _CLAIM_GO_TYPES:
                raise _NotPlain
            continue
        if value is None:
            continue
        if go_type == "string":
            if not isinstance(value, str):
                raise _NotPlain
        elif type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
            raise _NotPlain
        setattr(claims, key, value)
    return claims


def _parse_plain(token: str) -> tuple[str, _Claims, list[str]]:
    """The fast path: the same result as the exact path, or ``_NotPlain``."""
    segments = token.split(".")
    if len(segments) != 3:
        raise _NotPlain
    header = _plain_object(_plain_segment(segments[0]))
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in _KNOWN_ALGORITHMS:
        raise _NotPlain
    claims = _plain_claims(_plain_object(_plain_segment(segments[1])))
    return algorithm, claims, segments


def _parse_unverified(token: str) -> tuple[str, _Claims, list[str]]:
    """Split and decode the token; return its algorithm, claims and raw segments."""
    try:
        return _parse_plain(token)
    except (_NotPlain, ValueError, RecursionError):
        pass  # binascii.Error and json.JSONDecodeError are ValueErrors
    return _parse_exact(token)


def _parse_exact(token: str) -> tuple[str, _Claims, list[str]]:
    """Go's reading of the token, down to the error texts."""
    segments = token.split(".")
    if len(segments) != 3:
        raise GoError("token contains an invalid number of segments")
    header = unmarshal(base64url_decode(segments[0]))
    if header is not None and not isinstance(header, JSONObject):
        raise GoError(
            f"json: cannot unmarshal {json_kind(header)} into Go value of type {_HEADER_GO_TYPE}"
        )
    claims = _decode_claims(stream_decode(base64url_decode(segments[1])))
    algorithm: Any = None
    for key, value in header or ():
        if key == "alg":
            algorithm = value
    if not isinstance(algorithm, str):
        raise GoError("signing method (alg) is unspecified.")
    if algorithm not in _KNOWN_ALGORITHMS:
        raise GoError("signing method (alg) is unavailable.")
    return algorithm, claims, segments


def _select_key(algorithm: str, claims: _Claims, admin_key: str, user_key: str) -> tuple[Role, str]:
    if algorithm not in _HMAC_DIGESTS:
        raise GoError(f"Unexpected signing method: {algorithm}")
    if not claims.iss:
        raise GoError(MISSING_ISS)
    if claims.iss == Role.ADMIN.value:
        return Role.ADMIN, admin_key
    if claims.iss == Role.USER.value:
        return Role.USER, user_key
    raise GoError(UNKNOWN_USER)


def _claims_error(claims: _Claims, now_s: int, iat_leeway_s: int) -> str | None:
    """Heketi's claim checks; like Go's claims validation, a later failure overrides."""
    error: str | None = None
    if now_s > claims.exp:  # exp is required: absent means 0, i.e. expired since 1970
        expired_ns = (now_s - claims.exp) * _NS_PER_S
        error = f"Token is expired by {go_duration_ns(expired_ns)}"
    if claims.iat != 0 and now_s + iat_leeway_s < claims.iat:
        error = USED_BEFORE_ISSUED
    if claims.nbf != 0 and now_s < claims.nbf:
        error = NOT_VALID_YET
    return error


def _utf8(text: str) -> bytes:
    """The header's bytes as received (aiohttp keeps undecodable bytes as surrogates)."""
    return text.encode("utf-8", "surrogateescape")


def _signature_error(algorithm: str, segments: list[str], key: str) -> str | None:
    try:
        signature = _plain_segment(segments[2])
    except (_NotPlain, ValueError):
        try:
            signature = base64url_decode(segments[2])
        except GoError as error:
            return str(error)
    signed = _utf8(f"{segments[0]}.{segments[1]}")
    expected = hmac.new(key.encode(), signed, _HMAC_DIGESTS[algorithm]).digest()
    return None if hmac.compare_digest(signature, expected) else SIGNATURE_INVALID


def authenticate(
    header: str | None,
    method: str,
    path: str,
    *,
    admin_key: str,
    user_key: str,
    now: float | None = None,
    iat_leeway_s: int = DEFAULT_IAT_LEEWAY_S,
) -> Role:
    """Validate the raw `Authorization` value for `method path` and return the caller's role.

    `path` is the decoded URL path without the query string.  Raises `AuthError`.
    """
    token = _extract_token(header)
    if len(token) > MAX_TOKEN_BYTES or len(_utf8(token)) > MAX_TOKEN_BYTES:
        raise _invalid_token(TOKEN_TOO_LONG)
    try:
        algorithm, claims, segments = _parse_unverified(token)
        role, key = _select_key(algorithm, claims, admin_key, user_key)
    except GoError as error:
        raise _invalid_token(str(error)) from None
    now_s = int(time.time() if now is None else now // 1)
    # The signature is checked after the claims, and its failure is what gets reported.
    failure = _signature_error(algorithm, segments, key) or _claims_error(
        claims, now_s, iat_leeway_s
    )
    if failure is not None:
        raise _invalid_token(failure)
    if not hmac.compare_digest(claims.qsh.encode(), qsh(method, path).encode()):
        raise AuthError(401, INVALID_QSH)
    return role


def authorize(role: Role, method: str, path: str) -> None:
    """The role gate: `user` may only list (GET) or create (POST) at exactly `/volumes`."""
    if role is Role.ADMIN:
        return
    if path == "/volumes" and method in ("GET", "POST"):
        return
    raise AuthError(401, ADMIN_REQUIRED)
