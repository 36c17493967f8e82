"""Bearer-token auth on every /v1 route, constant-time check, and the refusal to bind without a token."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.settings import ServingConfigError, check_bind_address, is_loopback

from .conftest import TOKEN, settings

V1_CALLS = [
    ("GET", "/v1/models", None),
    ("POST", "/v1/predict/preinfusion", {"features": {"age": 60}}),
    ("POST", "/v1/predict/day30", {"features": {"age": 60}}),
    ("POST", "/v1/predict/preinfusion/batch", {"patients": [{"features": {"age": 60}}]}),
    ("POST", "/v1/predict/day30/batch", {"patients": [{"features": {"age": 60}}]}),
    ("POST", "/v1/predict/unknown", {"features": {}}),
]
BAD_HEADERS = [
    {},
    {"Authorization": "Bearer wrong-token-0123456789abcdef"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
    {"Authorization": "Bearer "},
]


@pytest.fixture
def secured(make_client):
    return make_client(api_token=TOKEN)


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS)
def test_every_v1_route_needs_the_token(secured, method, path, body):
    for headers in BAD_HEADERS:
        response = secured.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    ok = secured.request(method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == (404 if path.endswith("unknown") else 200)
    assert (
        secured.request(method, path, json=body, headers={"authorization": f"bearer {TOKEN}"}).status_code
        == ok.status_code
    )


def test_health_stays_public(secured):
    assert secured.get("/health/live").status_code == 200
    assert secured.get("/health/ready").status_code == 200


def test_token_is_checked_before_the_body_is_read(make_client, caplog):
    client = make_client(api_token=TOKEN, max_body_bytes=2048)
    json_headers = {"content-type": "application/json"}
    malformed = client.post("/v1/predict/preinfusion", content=b'{"features": ', headers=json_headers)
    assert malformed.status_code == 401
    streamed = client.post(
        "/v1/predict/preinfusion", content=iter([b"x" * 5000, b"x" * 5000]), headers=json_headers
    )
    assert streamed.status_code == 401
    declared = client.post("/v1/predict/preinfusion", content=b"x" * 10_000, headers=json_headers)
    assert declared.status_code == 413  # refused on its Content-Length alone, before any reading
    assert "unhandled" not in caplog.text


def test_no_token_configured_means_open_on_loopback(client):
    assert client.get("/v1/models").status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_refuses_a_public_address_without_a_token(host):
    with pytest.raises(ServingConfigError, match="CART_RELAPSE_API_TOKEN"):
        check_bind_address(host, settings())
    check_bind_address(host, settings(api_token=TOKEN))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host):
    assert is_loopback(host)
    check_bind_address(host, settings())


def test_short_tokens_are_rejected_and_empty_means_unset():
    with pytest.raises(ValidationError, match="at least 16 characters"):
        settings(api_token="short")
    assert settings(api_token="").token is None


def test_token_from_the_environment(monkeypatch):
    from serving.settings import Settings

    monkeypatch.setenv("CART_RELAPSE_API_TOKEN", TOKEN)
    monkeypatch.setenv("CART_RELAPSE_MAX_BATCH_SIZE", "17")
    loaded = Settings()
    assert loaded.token == TOKEN and loaded.max_batch_size == 17
    assert TOKEN not in repr(loaded)
