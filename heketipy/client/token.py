"""The JWT a Heketi client sends with every request (contract section 3 and 12).

Signed with pyjwt: claims `iss` (the user; left out when empty, as Go's `omitempty` does),
`iat`, `exp` and `qsh`, the SHA-256 of `<METHOD>&<path>` binding the token to one request.
Like the Go client, any secret signs, the empty one too: pyjwt's HMAC refuses an empty key and
warns about short ones, so the signer registers HMAC algorithms that take the key as it is
(whether it is good enough is the server's configuration, not each request's concern).
"""

from __future__ import annotations

import hashlib
import json
import time

import jwt
from jwt.algorithms import HMACAlgorithm

TOKEN_LIFETIME_S = 300  # Go client: exp = now + 5 minutes


class _AnyKeyHMAC(HMACAlgorithm):
    """HMAC over the secret's bytes as given, as Go's jwt library signs."""

    def prepare_key(self, key: str | bytes) -> bytes:
        return key.encode() if isinstance(key, str) else key

    def check_key_length(self, key: bytes) -> str | None:
        return None


_HMAC = {
    "HS256": HMACAlgorithm.SHA256,
    "HS384": HMACAlgorithm.SHA384,
    "HS512": HMACAlgorithm.SHA512,
}
_SIGNER = jwt.PyJWS(algorithms=[])
for _name, _digest in _HMAC.items():
    _SIGNER.register_algorithm(_name, _AnyKeyHMAC(_digest))


def query_hash(method: str, path: str) -> str:
    """`qsh`: hex SHA-256 of `METHOD&path`, the path without its query string."""
    return hashlib.sha256(f"{method.upper()}&{path.split('?', 1)[0]}".encode()).hexdigest()


def claims_for(user: str, method: str, path: str, issued: int, ttl_s: int) -> dict[str, object]:
    """The claims in the Go client's order: `iss` (unless empty), `iat`, `exp`, `qsh`."""
    claims: dict[str, object] = {"iss": user} if user else {}
    claims["iat"] = issued
    claims["exp"] = issued + ttl_s
    claims["qsh"] = query_hash(method, path)
    return claims


def make_token(
    user: str,
    secret: str,
    method: str,
    path: str,
    now: float | None = None,
    *,
    ttl_s: int = TOKEN_LIFETIME_S,
    algorithm: str = "HS256",
) -> str:
    """A fresh HMAC-signed token for one request (HS256, as the Go client signs)."""
    if algorithm not in _HMAC:
        raise ValueError(f"unsupported token algorithm {algorithm!r}: use one of {sorted(_HMAC)}")
    issued = int(time.time() if now is None else now)
    payload = json.dumps(claims_for(user, method, path, issued, ttl_s), separators=(",", ":"))
    return _SIGNER.encode(payload.encode(), secret, algorithm=algorithm)


def authorization_header(user: str, secret: str, method: str, path: str) -> str:
    # The Go client writes the scheme in lower case; the server accepts any case.
    return "bearer " + make_token(user, secret, method, path)
