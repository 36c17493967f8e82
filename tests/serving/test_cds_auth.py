"""CDS Hooks client authentication: the EHR's JWT (RS384/ES384 from a configured JWKS, aud, iss, exp,
replayed jti), HMAC and ``none`` refused, the loopback rule without a JWKS, and the JWKS checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.routing import iter_route_contexts
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from serving.app import create_app
from serving.settings import ServingConfigError

from .cds_factories import AFTER, URL, at, cds_body, registered
from .conftest import TOKEN, settings

BASE = "https://cds.example.org"
ISSUER = "https://ehr.example.org/"


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    return json.loads(algorithm.to_jwk(private.public_key())) | {"kid": kid, "use": "sig"} | extra


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"rsa": rsa_key(), "ec": ec.generate_private_key(ec.SECP384R1()), "other": rsa_key()}


@pytest.fixture(scope="module")
def jwks(keys) -> str:
    return json.dumps(
        {"keys": [public_jwk(keys["rsa"], "ehr-rsa"), public_jwk(keys["ec"], "ehr-ec", alg="ES384")]}
    )


@pytest.fixture
def secured(make_client, jwks):
    """A server with the API token and the EHR's JWKS, called from a remote address."""
    return at(
        make_client(
            api_token=TOKEN, cds_jwks=jwks, cds_issuers=[ISSUER], public_url=BASE, client_host="203.0.113.7"
        ),
        AFTER,
    )


def token(
    key: Any,
    *,
    kid: str = "ehr-rsa",
    alg: str = "RS384",
    aud: Any = f"{BASE}/cds-services/cart-relapse-day30",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())} | claims
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None},
        key,
        algorithm=alg,
        headers={"kid": kid, "typ": "JWT"},
    )


def call(client, jwt_text: str | None, path: str = URL.format("day30"), body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {jwt_text}"} if jwt_text else {}
    return client.post(path, json=cds_body(registered()) if body is None else body, headers=headers)


def test_a_jwt_signed_with_either_ehr_key_is_accepted(secured, keys):
    for key, kid, alg in ((keys["rsa"], "ehr-rsa", "RS384"), (keys["ec"], "ehr-ec", "ES384")):
        response = call(secured, token(key, kid=kid, alg=alg))
        assert response.status_code == 200 and len(response.json()["cards"]) == 1, response.text
    discovery = secured.get(
        "/cds-services",
        headers={
            "Authorization": "Bearer "
            + token(keys["ec"], kid="ehr-ec", alg="ES384", aud=f"{BASE}/cds-services")
        },
    )
    assert discovery.status_code == 200
    feedback = {
        "feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2025-06-01T12:00:00Z"}]
    }
    for aud in (
        f"{BASE}/cds-services/cart-relapse-day30/feedback",
        f"{BASE}/cds-services/cart-relapse-day30",
    ):
        response = call(secured, token(keys["rsa"], aud=aud), URL.format("day30") + "/feedback", feedback)
        assert response.status_code == 200, (aud, response.text)
    listed = call(
        secured, token(keys["rsa"], aud=[f"{BASE}/other", f"{BASE}/cds-services/cart-relapse-day30"])
    )
    assert listed.status_code == 200  # aud may be a list holding the URL


def hmac_token(secret: bytes) -> str:
    """HS384 signed with ``secret`` (the key-confusion attack signs with the public key; PyJWT refuses to
    make such a token, so it is assembled here)."""

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    now = int(time.time())
    signing = (
        part({"alg": "HS384", "typ": "JWT", "kid": "ehr-rsa"})
        + b"."
        + part({"iss": ISSUER, "aud": f"{BASE}/cds-services/cart-relapse-day30", "exp": now + 300})
    )
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing, hashlib.sha384).digest()).rstrip(b"=")
    return (signing + b"." + signature).decode()


def unsigned_token() -> str:
    now = int(time.time())
    return jwt.encode(
        {"iss": ISSUER, "aud": f"{BASE}/cds-services/cart-relapse-day30", "exp": now + 300},
        None,
        algorithm="none",
        headers={"kid": "ehr-rsa"},
    )


@pytest.mark.parametrize(
    ("case", "make", "says"),
    [
        ("no header", lambda k: None, "missing bearer JWT"),
        ("not a JWT", lambda k: "not.a.jwt", "not a JWT"),
        ("the API token", lambda k: TOKEN, "not a JWT"),
        (
            "HMAC with the public key as secret",
            lambda k: hmac_token(
                k["rsa"]
                .public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            ),
            "'HS384' is not accepted",
        ),
        ("alg none", lambda k: unsigned_token(), "'none' is not accepted"),
        ("RS256", lambda k: token(k["rsa"], alg="RS256"), "'RS256' is not accepted"),
        ("unknown kid", lambda k: token(k["rsa"], kid="someone-else"), "kid names no key"),
        (
            "the RSA kid with ES384",
            lambda k: token(k["ec"], kid="ehr-rsa", alg="ES384"),
            "is for RS384, not ES384",
        ),
        ("signed by another key", lambda k: token(k["other"]), "Signature verification failed"),
        (
            "wrong audience",
            lambda k: token(k["rsa"], aud=f"{BASE}/cds-services/cart-relapse-preinfusion"),
            "Audience",
        ),
        ("the discovery audience", lambda k: token(k["rsa"], aud=f"{BASE}/cds-services"), "Audience"),
        (
            "an issuer not allowed",
            lambda k: token(k["rsa"], iss="https://evil.example.org/"),
            "Invalid issuer",
        ),
        ("expired", lambda k: token(k["rsa"], exp=int(time.time()) - 120), "expired"),
        ("no exp", lambda k: token(k["rsa"], exp=None), '"exp"'),
        ("no iss", lambda k: token(k["rsa"], iss=None), '"iss"'),
    ],
)
def test_unacceptable_tokens_are_401_with_the_reason(secured, keys, case, make, says):
    response = call(secured, make(keys))
    assert response.status_code == 401, (case, response.text)
    assert says in response.json()["detail"], (case, response.json())
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_replayed_jti_is_refused(secured, keys):
    once = token(keys["rsa"])
    assert call(secured, once).status_code == 200
    replay = call(secured, once)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]


def test_the_jwt_is_checked_before_the_body_is_read(secured):
    for content in (b'{"hook": ', b"x" * 5000):
        response = secured.post(
            URL.format("day30"), content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 401


def cds_routes() -> list[tuple[str, str]]:
    app = create_app(settings())
    return [
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path.startswith("/cds-services")
        for method in sorted((context.methods or {"GET"}) - {"HEAD"})
    ]


@pytest.mark.parametrize(("method", "path"), cds_routes())
def test_every_cds_route_needs_the_jwt_and_not_the_api_token(secured, method, path):
    concrete = path.replace("{service_id}", "cart-relapse-day30")
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = secured.request(method, concrete, json={}, headers=headers)
        assert response.status_code == 401, (path, headers, response.text)
    assert len(cds_routes()) == 3


@pytest.mark.parametrize(
    ("token_set", "host", "status"),
    [
        (False, "127.0.0.1", 200),
        (False, "::1", 200),
        (False, "10.0.0.5", 401),
        (True, "127.0.0.1", 401),
    ],
)
def test_without_a_jwks_only_loopback_clients_of_a_token_less_server(make_client, token_set, host, status):
    client = at(make_client(client_host=host, **({"api_token": TOKEN} if token_set else {})), AFTER)
    headers = {"Authorization": f"Bearer {TOKEN}"} if token_set else {}
    assert client.get("/cds-services", headers=headers).status_code == status
    response = client.post(URL.format("day30"), json=cds_body(registered()), headers=headers)
    assert response.status_code == status
    if status == 401:
        assert "CART_RELAPSE_CDS_JWKS" in response.json()["detail"]


@pytest.mark.parametrize(
    ("jwk", "says"),
    [
        ({"kty": "oct", "k": "c2VjcmV0", "kid": "k"}, "no private or symmetric keys"),
        ("private", "no private or symmetric keys"),
        ("p256", "P-384"),
        ("small rsa", "2048"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "unique string kid"),
        ({"kty": "RSA", "kid": "k", "alg": "RS256", "n": "AQAB", "e": "AQAB"}, "expected an RS384"),
        ({"kty": "OKP", "kid": "k", "crv": "Ed25519", "x": "AQAB"}, "expected an RS384"),
    ],
)
def test_a_jwks_with_unusable_keys_stops_the_start(jwk, says):
    if jwk == "private":
        jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key())) | {"kid": "k"}
    elif jwk == "p256":
        jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()), "k")
    elif jwk == "small rsa":
        jwk = public_jwk(rsa_key(1024), "k")
    with pytest.raises(ServingConfigError, match=says):
        create_app(settings(cds_jwks=json.dumps({"keys": [jwk]}), cds_issuers=[ISSUER], public_url=BASE))


def test_jwks_sources_and_required_settings(tmp_path, keys):
    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps({"keys": [public_jwk(keys["rsa"], "ehr-rsa"), public_jwk(keys["rsa"], "ehr-rsa")]})
    )
    with pytest.raises(ServingConfigError, match=r"keys\[1\]: every key needs a unique string kid"):
        create_app(settings(cds_jwks_file=path, cds_issuers=[ISSUER], public_url=BASE))
    with pytest.raises(ServingConfigError, match="cannot read a JSON Web Key Set"):
        create_app(settings(cds_jwks_file=tmp_path / "missing.json", cds_issuers=[ISSUER], public_url=BASE))
    with pytest.raises(ServingConfigError, match="expected a JWK Set"):
        create_app(settings(cds_jwks='{"keys": []}', cds_issuers=[ISSUER], public_url=BASE))
    for incomplete in ({"cds_issuers": [ISSUER]}, {"public_url": BASE}):
        with pytest.raises(ValidationError, match="CART_RELAPSE_CDS_ISSUERS"):
            settings(cds_jwks='{"keys": []}', **incomplete)
    with pytest.raises(ValidationError, match="not both"):
        settings(cds_jwks="{}", cds_jwks_file=path, cds_issuers=[ISSUER], public_url=BASE)
    with pytest.raises(ValidationError, match="public_url"):
        settings(public_url="cds.example.org")
