"""CDS Hooks client authentication: the EHR's signed JWT (CDS Hooks 2.0, "Trusting CDS Clients").

Every call under ``/cds-services`` must carry ``Authorization: Bearer <JWT>``:

* signed with RS384 or ES384 (HMAC algorithms and ``none`` are refused, so is any other algorithm)
  by a key of the configured JWK Set, found by the header's ``kid``; the JWKS is read once, from
  ``CART_RELAPSE_CDS_JWKS`` or ``CART_RELAPSE_CDS_JWKS_FILE``, never fetched (``jku`` is ignored);
* ``aud`` equal to the URL called (``CART_RELAPSE_PUBLIC_URL`` + the path; for feedback the
  service's URL is also accepted), ``iss`` in
  ``CART_RELAPSE_CDS_ISSUERS``, ``exp`` in the future (30 s leeway for clock skew);
* a ``jti`` seen before (until its ``exp``) is a replay and refused.

Without a JWKS the CDS routes serve loopback clients of a server without an API token only (the same
rule as ``POST /v1/admin/reload``); anyone else gets 401. The check runs before routing and before
the body is read (``CdsAuthMiddleware``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import ServingConfigError, Settings, is_loopback

ALGORITHMS = {"RS384": "RSA", "ES384": "EC"}
"""Accepted JWS algorithms and the key type each needs."""
LEEWAY_SECONDS = 30
MIN_RSA_BITS = 2048
CDS_PREFIX = "/cds-services"


class JwtRejected(Exception):  # noqa: N818 -- public name, kept: callers and the 401 handler catch it by name
    """The token is missing or not acceptable; the message says why (no token content is quoted)."""


class JwtVerifier:
    """Verifies CDS client JWTs against a fixed set of public keys and issuers."""

    def __init__(self, keys: Mapping[str, jwt.PyJWK], issuers: tuple[str, ...]) -> None:
        self._keys, self._issuers = dict(keys), issuers
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, token: str, *, audience: str | list[str]) -> dict[str, Any]:
        """The token's claims when its ``aud`` is ``audience`` (or one of them).

        Raises:
            JwtRejected: bad header, unknown key, wrong algorithm, bad signature, audience, issuer or
                expiry, or a replayed ``jti``.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JwtRejected("the bearer token is not a JWT") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise JwtRejected(f"JWT algorithm {str(algorithm)[:20]!r} is not accepted; use RS384 or ES384")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise JwtRejected("the JWT's kid names no key of the configured JWKS")
        if key.algorithm_name != algorithm:
            raise JwtRejected(f"key {kid!r} is for {key.algorithm_name}, not {algorithm}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self._issuers,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise JwtRejected(f"JWT rejected: {exc}") from None
        self._check_replay(claims)
        return claims

    def _check_replay(self, claims: Mapping[str, Any]) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str):
            return
        now = time.time()
        with self._lock:
            self._seen = {k: exp for k, exp in self._seen.items() if exp + LEEWAY_SECONDS > now}
            key = (str(claims["iss"]), jti)
            if key in self._seen:
                raise JwtRejected("JWT replayed: its jti was already used")
            self._seen[key] = float(claims["exp"])


def load_verifier(settings: Settings) -> JwtVerifier | None:
    """The verifier of the configured JWKS, or None when CDS JWT auth is not configured.

    Raises:
        ServingConfigError: the JWKS cannot be read, is not a JWK Set, or holds a key that is not an
            RS384/ES384 public key with a unique ``kid``.
    """
    jwks, jwks_file = settings.cds_jwks, settings.cds_jwks_file
    source = "CART_RELAPSE_CDS_JWKS"
    try:
        if jwks is not None:
            text = jwks
        elif jwks_file is not None:
            source = f"CART_RELAPSE_CDS_JWKS_FILE {jwks_file}"
            text = Path(jwks_file).read_text()
        else:
            return None
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ServingConfigError(f"{source}: cannot read a JSON Web Key Set ({type(exc).__name__})") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ServingConfigError(f'{source}: expected a JWK Set, {{"keys": [...]}} with at least one key')
    return JwtVerifier(_public_keys(keys, source), settings.cds_issuers)


def _public_keys(keys: list[Any], source: str) -> dict[str, jwt.PyJWK]:
    out: dict[str, jwt.PyJWK] = {}
    for index, jwk in enumerate(keys):
        where = f"{source}: keys[{index}]"
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk["kid"] in out:
            raise ServingConfigError(f"{where}: every key needs a unique string kid")
        if "d" in jwk or jwk.get("kty") == "oct":
            raise ServingConfigError(
                f"{where}: only public RSA or EC keys belong here (no private or symmetric keys)"
            )
        kty = jwk.get("kty")
        algorithm = {"RSA": "RS384", "EC": "ES384"}.get(kty) if isinstance(kty, str) else None
        if algorithm is None or jwk.get("alg", algorithm) != algorithm:
            raise ServingConfigError(f"{where}: expected an RS384 (kty RSA) or ES384 (kty EC, crv P-384) key")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWTError as exc:
            raise ServingConfigError(f"{where}: not a usable {algorithm} key ({exc})") from None
        if (algorithm == "ES384" and jwk.get("crv") != "P-384") or (
            algorithm == "RS384" and key.key.key_size < MIN_RSA_BITS
        ):
            raise ServingConfigError(
                f"{where}: ES384 needs curve P-384, RS384 at least {MIN_RSA_BITS}-bit keys"
            )
        out[jwk["kid"]] = key
    return out


class CdsAuthMiddleware:
    """Authenticate every request under ``/cds-services`` before routing (and before the body is read)."""

    def __init__(
        self, app: ASGIApp, *, verifier: JwtVerifier | None, public_url: str | None, open_on_loopback: bool
    ) -> None:
        self.app, self._verifier, self._open_on_loopback = app, verifier, open_on_loopback
        self._base = (public_url or "").rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 before the app when a CDS call lacks a valid JWT; pass everything else through."""
        if scope["type"] != "http" or not is_cds_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": problem}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
        await response(scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        """Why the request is refused, or None."""
        if self._verifier is None:
            client = scope.get("client")
            if self._open_on_loopback and client and is_loopback(str(client[0])):
                return None
            return (
                "CDS Hooks authentication is not configured (CART_RELAPSE_CDS_JWKS): only loopback clients "
                "of a "
                "server without an API token are served"
            )
        token = _bearer(scope)
        if token is None:
            return "missing bearer JWT (Authorization: Bearer <JWT signed by the EHR>)"
        try:
            self._verifier.verify(token, audience=self._audiences(scope["path"]))
        except JwtRejected as exc:
            return str(exc)
        return None

    def _audiences(self, path: str) -> list[str]:
        """The URL called; for feedback also the service's URL (clients differ on which they sign)."""
        url = self._base + path.rstrip("/")
        return [url, url.removesuffix("/feedback")] if url.endswith("/feedback") else [url]


def is_cds_path(path: str) -> bool:
    """``/cds-services`` and everything under it."""
    return path == CDS_PREFIX or path.startswith(CDS_PREFIX + "/")


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() or None if scheme.lower() == "bearer" else None
    return None
