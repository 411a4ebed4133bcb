"""Heketi JWT authentication and authorization, as pure functions.

Owns: reading the `Authorization` header, validating a Heketi JWT exactly as upstream
Heketi does (checks, their order, and the Go jwt-go error texts), the `qsh` request
binding, the role gate (the `user` issuer may only touch `/volumes`), and building the
token a Heketi Go client sends.  No HTTP framework here: the API layer calls
`authenticate` then `authorize` and turns an `AuthError` into a text/plain reply.

Upstream parses tokens with Go's jwt library, so several error texts are Go library
texts (base64 positions, JSON decoder messages, `time.Duration` formatting).  The small
Go-compatible helpers below reproduce exactly those texts.  pyjwt is not used: its
decoder is more lenient than Go's (padding, stray characters), its messages differ, and
its encoder warns about every short secret.

Order of checks (upstream parser first, Heketi's own checks after it):
 1. header missing/empty -> 401 `Required authorization token not found`;
    not `bearer <token>` -> 400 `Authorization header format must be Bearer {token}`
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
import time
from dataclasses import dataclass
from typing import Any

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

DEFAULT_IAT_LEEWAY_S = 120

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


def go_duration(seconds: float) -> str:
    """Format a duration given in seconds like Go's `time.Duration.String` (1m0s, 1.5s)."""
    return go_duration_ns(round(seconds * _NS_PER_S))


# ---------------------------------------------------------------------------------------
# Go base64.RawURLEncoding (what Go's jwt library decodes segments with)
# ---------------------------------------------------------------------------------------

_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUES = {byte: index for index, byte in enumerate(_B64URL_ALPHABET)}


class _GoError(Exception):
    """A Go library error; `str()` is the exact Go text."""


def _go_base64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url like Go (non-strict); errors name Go's byte offset.

    Go skips CR/LF, rejects `=` (no padding in the raw encoding) and any other byte at
    its offset, and rejects a final group of a single character.
    """
    data = segment.encode("utf-8", "surrogateescape")
    out = bytearray()
    group: list[int] = []
    position = 0
    while position < len(data):
        byte = data[position]
        position += 1
        if byte in (0x0A, 0x0D):
            continue
        value = _B64URL_VALUES.get(byte)
        if value is None:
            raise _GoError(f"illegal base64 data at input byte {position - 1}")
        group.append(value)
        if len(group) == 4:
            bits = group[0] << 18 | group[1] << 12 | group[2] << 6 | group[3]
            out += bits.to_bytes(3, "big")
            group = []
    if len(group) == 1:
        # Go names the input length minus one here (the lone character, unless newlines
        # follow it).
        raise _GoError(f"illegal base64 data at input byte {len(data) - 1}")
    if group:
        bits = 0
        for value in group:
            bits = bits << 6 | value
        bits <<= 6 * (4 - len(group))
        out += bits.to_bytes(3, "big")[: len(group) - 1]
    return bytes(out)


# ---------------------------------------------------------------------------------------
# Go encoding/json: syntax errors and the type errors the claims struct can produce
# ---------------------------------------------------------------------------------------

_JSON_SPACE = frozenset(b" \t\r\n")
_JSON_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_JSON_ESCAPES = frozenset(b'"\\/bfnrt')
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


def _go_quote_byte(byte: int) -> str:
    """Go's `quoteChar`: a byte as it appears in `invalid character ...` messages."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    char = chr(byte)
    named = {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
    }
    if char in named:
        return f"'{named[char]}'"
    if char.isprintable():
        return f"'{char}'"
    if byte < 0x80:
        return f"'\\x{byte:02x}'"
    return f"'\\u{byte:04x}'"


class _GoJsonSyntaxError(_GoError):
    pass


class _GoJsonEnd(Exception):
    """Input ended inside a value."""


_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = b"{}[]"
_CLOSER = {_LBRACE: _RBRACE, _LBRACKET: _RBRACKET}


class _GoJsonCursor:
    """Byte-level readers for JSON tokens, failing with Go's scanner messages."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def fail(self, context: str) -> _GoJsonSyntaxError:
        byte = self.data[self.position]
        return _GoJsonSyntaxError(f"invalid character {_go_quote_byte(byte)} {context}")

    def peek(self) -> int:
        if self.position >= len(self.data):
            raise _GoJsonEnd
        return self.data[self.position]

    def skip_space(self) -> int:
        while self.peek() in _JSON_SPACE:
            self.position += 1
        return self.peek()

    def at(self, allowed: bytes) -> bool:
        """Whether the next byte is one of `allowed` (False at the end of the input)."""
        return self.position < len(self.data) and self.data[self.position] in allowed

    def string(self) -> None:
        """Read the rest of a string whose opening quote was consumed."""
        while True:
            byte = self.peek()
            if byte == ord('"'):
                self.position += 1
                return
            if byte < 0x20:
                raise self.fail("in string literal")
            self.position += 1
            if byte != ord("\\"):
                continue
            escape = self.peek()
            if escape == ord("u"):
                self.position += 1
                for _ in range(4):
                    if self.peek() not in _HEX_DIGITS:
                        raise self.fail("in \\u hexadecimal character escape")
                    self.position += 1
            elif escape in _JSON_ESCAPES:
                self.position += 1
            else:
                raise self.fail("in string escape code")

    def digits(self, context: str) -> None:
        if self.peek() not in _DIGITS:
            raise self.fail(context)
        while self.at(b"0123456789"):
            self.position += 1

    def number(self) -> None:
        if self.peek() == ord("-"):
            self.position += 1
        if self.peek() == ord("0"):
            self.position += 1
        else:
            self.digits("in numeric literal")
        if self.at(b"."):
            self.position += 1
            self.digits("after decimal point in numeric literal")
        if self.at(b"eE"):
            self.position += 1
            if self.peek() in b"+-":
                self.position += 1
            self.digits("in exponent of numeric literal")

    def literal(self, word: bytes) -> None:
        self.position += 1
        for expected in word[1:]:
            if self.peek() != expected:
                raise self.fail(
                    f"in literal {word.decode()} (expecting {_go_quote_byte(expected)})"
                )
            self.position += 1

    def object_key(self) -> bytes:
        """Read `"key" :` and return the raw key token."""
        if self.skip_space() != ord('"'):
            raise self.fail("looking for beginning of object key string")
        start = self.position
        self.position += 1
        self.string()
        key = self.data[start : self.position]
        if self.skip_space() != ord(":"):
            raise self.fail("after object key")
        self.position += 1
        return key

    def scalar(self) -> None:
        byte = self.peek()
        if byte == ord('"'):
            self.position += 1
            self.string()
        elif byte == ord("-") or byte in _DIGITS:
            self.number()
        elif byte in _JSON_LITERALS:
            self.literal(_JSON_LITERALS[byte])
        else:
            raise self.fail("looking for beginning of value")


def _scan_json_value(cursor: _GoJsonCursor) -> list[tuple[bytes, bytes]]:
    """Scan one JSON value from the cursor (iteratively: nesting depth is no problem).

    Returns the raw (key, value) tokens of the members when the value is an object;
    only the top level matters to the callers.
    """
    data = cursor.data
    stack: list[int] = []
    members: list[tuple[bytes, bytes]] = []
    key = b""
    value_start = 0
    while True:
        byte = cursor.skip_space()
        if stack == [_LBRACE]:
            value_start = cursor.position
        if byte in _CLOSER:
            cursor.position += 1
            if cursor.skip_space() != _CLOSER[byte]:
                stack.append(byte)
                if byte == _LBRACE:
                    key = cursor.object_key()
                continue
            cursor.position += 1
        else:
            cursor.scalar()
        # A value is complete: record it, then consume delimiters and closers.
        while stack:
            if stack == [_LBRACE]:
                members.append((key, data[value_start : cursor.position]))
            container = stack[-1]
            byte = cursor.skip_space()
            if byte == ord(","):
                cursor.position += 1
                if container == _LBRACE:
                    key = cursor.object_key()
                break
            if byte != _CLOSER[container]:
                raise cursor.fail(
                    "after object key:value pair" if container == _LBRACE else "after array element"
                )
            cursor.position += 1
            stack.pop()
        if not stack:
            return members


class _JsonObject(list):
    """An object's top-level members in document order (Go assigns in order; last wins)."""


class _JsonNumber(str):
    """A JSON number kept as its literal, because Go's int64 check is on the literal."""


def _parse_json_value(data: bytes, members: list[tuple[bytes, bytes]]) -> Any:
    """The scanned value: scalars decoded; an object as its members with decoded scalars;
    deeper containers only as empty placeholders (their kind is all Go's errors need)."""
    first = data.lstrip(bytes(_JSON_SPACE))[:1]
    if first == b"{":
        return _JsonObject((_parse_json_value(k, []), _parse_json_value(v, [])) for k, v in members)
    if first == b"[":
        return []
    if first == b'"':
        return json.loads(data.decode("utf-8", "replace"))
    literals = {b"t": True, b"f": False, b"n": None}
    if first in literals:
        return literals[first]
    return _JsonNumber(data.strip(bytes(_JSON_SPACE)).decode())


def go_json_unmarshal_error(data: bytes) -> str | None:
    """The syntax error Go's `json.Unmarshal` reports for `data`, or None if it is valid.

    Useful beyond tokens: Heketi answers some unparseable bodies with this text.
    """
    try:
        _go_json_unmarshal(data)
    except _GoJsonSyntaxError as error:
        return str(error)
    return None


def _go_json_unmarshal(data: bytes) -> Any:
    """Parse `data` like Go's `json.Unmarshal` (the whole input must be one value)."""
    cursor = _GoJsonCursor(data)
    try:
        members = _scan_json_value(cursor)
    except _GoJsonEnd:
        raise _GoJsonSyntaxError("unexpected end of JSON input") from None
    end = cursor.position
    while cursor.position < len(data):
        if data[cursor.position] not in _JSON_SPACE:
            raise cursor.fail("after top-level value")
        cursor.position += 1
    return _parse_json_value(data[:end], members)


def _go_stream_decode(data: bytes) -> Any:
    """Decode the first JSON value of `data` like Go's `json.Decoder.Decode`.

    The decoder ignores whatever follows the first value, answers `EOF` for an input of
    only whitespace and `unexpected EOF` for a value cut short.
    """
    if all(byte in _JSON_SPACE for byte in data):
        raise _GoError("EOF")
    cursor = _GoJsonCursor(data)
    try:
        members = _scan_json_value(cursor)
    except _GoJsonEnd:
        raise _GoError("unexpected EOF") from None
    return _parse_json_value(data[: cursor.position], members)


def _go_json_kind(value: Any) -> str:
    if isinstance(value, _JsonObject):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _JsonNumber):
        return "number"
    return "string"


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
    if not isinstance(document, _JsonObject):
        raise _GoError(
            f"json: cannot unmarshal {_go_json_kind(document)} into Go value of type {_CLAIMS_GO_TYPE}"
        )
    first_error: str | None = None
    for key, value in document:
        field = _claim_field(key)
        if field is None or value is None:
            continue
        go_type = _CLAIM_GO_TYPES[field]
        problem: str | None = None
        if go_type == "string":
            if isinstance(value, str) and not isinstance(value, _JsonNumber):
                setattr(claims, field, value)
            else:
                problem = _go_json_kind(value)
        elif isinstance(value, _JsonNumber):
            try:
                number = int(value, 10)
            except ValueError:
                number = None
            if number is None or not _INT64_MIN <= number <= _INT64_MAX:
                problem = f"number {value}"
            else:
                setattr(claims, field, number)
        else:
            problem = _go_json_kind(value)
        if problem is not None and first_error is None:
            # Go keeps decoding after a type error and reports the first one at the end.
            first_error = (
                f"json: cannot unmarshal {problem} into Go struct field "
                f"{_CLAIMS_GO_STRUCT}.{field} of type {go_type}"
            )
    if first_error is not None:
        raise _GoError(first_error)
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


def _parse_unverified(token: str) -> tuple[str, _Claims, list[str]]:
    """Split and decode the token; return its algorithm, claims and raw segments."""
    segments = token.split(".")
    if len(segments) != 3:
        raise _GoError("token contains an invalid number of segments")
    header = _go_json_unmarshal(_go_base64url_decode(segments[0]))
    if header is not None and not isinstance(header, _JsonObject):
        raise _GoError(
            f"json: cannot unmarshal {_go_json_kind(header)} into Go value of type {_HEADER_GO_TYPE}"
        )
    claims = _decode_claims(_go_stream_decode(_go_base64url_decode(segments[1])))
    algorithm: Any = None
    for key, value in header or ():
        if key == "alg":
            algorithm = value
    if not isinstance(algorithm, str) or isinstance(algorithm, _JsonNumber):
        raise _GoError("signing method (alg) is unspecified.")
    if algorithm not in _KNOWN_ALGORITHMS:
        raise _GoError("signing method (alg) is unavailable.")
    return algorithm, claims, segments


def _select_key(algorithm: str, claims: _Claims, admin_key: str, user_key: str) -> tuple[Role, str]:
    if algorithm not in _HMAC_DIGESTS:
        raise _GoError(f"Unexpected signing method: {algorithm}")
    if not claims.iss:
        raise _GoError(MISSING_ISS)
    if claims.iss == Role.ADMIN.value:
        return Role.ADMIN, admin_key
    if claims.iss == Role.USER.value:
        return Role.USER, user_key
    raise _GoError(UNKNOWN_USER)


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


def _signature_error(algorithm: str, segments: list[str], key: str) -> str | None:
    try:
        signature = _go_base64url_decode(segments[2])
    except _GoError as error:
        return str(error)
    signed = f"{segments[0]}.{segments[1]}".encode("utf-8", "surrogateescape")
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
    try:
        algorithm, claims, segments = _parse_unverified(token)
        role, key = _select_key(algorithm, claims, admin_key, user_key)
    except _GoError as error:
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


def make_token(
    issuer: str,
    secret: str,
    method: str,
    path: str,
    *,
    now: float | None = None,
    ttl_s: int = 300,
    algorithm: str = "HS256",
) -> str:
    """The token a Heketi Go client sends for `method path` (path without the query).

    Signed here rather than with pyjwt, which warns about every short HMAC secret
    (Heketi secrets usually are short).  Keys are sorted, as Go marshals a claims map.
    """
    digest = _HMAC_DIGESTS.get(algorithm)
    if digest is None:
        raise ValueError(
            f"unsupported token algorithm {algorithm!r}: use one of {sorted(_HMAC_DIGESTS)}"
        )
    issued_at = int(time.time() if now is None else now // 1)
    claims = {"iss": issuer, "iat": issued_at, "exp": issued_at + ttl_s, "qsh": qsh(method, path)}
    signing_input = f"{_b64url_json({'alg': algorithm, 'typ': 'JWT'})}.{_b64url_json(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(document: dict[str, Any]) -> str:
    return _b64url(json.dumps(document, separators=(",", ":"), sort_keys=True).encode())
