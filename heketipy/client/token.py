"""The JWT a Heketi client sends with every request (contract section 3 and 12).

A small HS256 signer of its own, so the client library needs nothing from the server package:
claims `iss` (the user; left out when empty, as Go's `omitempty` does), `iat`, `exp` and `qsh`,
the SHA-256 of `<METHOD>&<path>` binding the token to one request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

TOKEN_LIFETIME_S = 300  # Go client: exp = now + 5 minutes
_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(document: dict[str, object]) -> str:
    return _b64url(json.dumps(document, separators=(",", ":")).encode())


def query_hash(method: str, path: str) -> str:
    """`qsh`: hex SHA-256 of `METHOD&path`, the path without its query string."""
    return hashlib.sha256(f"{method.upper()}&{path.split('?', 1)[0]}".encode()).hexdigest()


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
    digest = _HMAC_DIGESTS.get(algorithm)
    if digest is None:
        raise ValueError(
            f"unsupported token algorithm {algorithm!r}: use one of {sorted(_HMAC_DIGESTS)}"
        )
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {}
    if user:
        claims["iss"] = user
    claims["iat"] = issued
    claims["exp"] = issued + ttl_s
    claims["qsh"] = query_hash(method, path)
    signing_input = f"{_b64url_json({'alg': algorithm, 'typ': 'JWT'})}.{_b64url_json(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{_b64url(signature)}"


def authorization_header(user: str, secret: str, method: str, path: str) -> str:
    # The Go client writes the scheme in lower case; the server accepts any case.
    return "bearer " + make_token(user, secret, method, path)
