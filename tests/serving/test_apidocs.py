"""/docs and /redoc load their assets from this server (installed package files), never from a CDN."""

from __future__ import annotations

import re

import pytest

from serving.apidocs import ASSET_FILES, ASSETS_PATH, CONTENT_SECURITY_POLICY, assets_directory

from .conftest import TOKEN


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_reference_only_local_assets(make_client, path):
    client = make_client(api_token=TOKEN)  # public even with a token, like /openapi.json
    page = client.get(path)
    html = page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert urls and all(u.startswith((ASSETS_PATH + "/", "/openapi.json")) for u in urls), urls
    assert "cdn." not in html and "fonts.googleapis" not in html and "https://" not in html
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and len(response.content) > 1000, url
    if path == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_the_policy_allows_this_origin_only():
    sources = [part.split()[1:] for part in CONTENT_SECURITY_POLICY.split("; ")]
    assert all(
        not any(s.startswith(("http", "*")) or s in ("https:", "http:") for s in given) for given in sources
    )


def test_the_assets_come_from_the_installed_package():
    directory = assets_directory()
    assert "site-packages" in str(directory) or "dist-packages" in str(directory)
    for name in ASSET_FILES:
        assert (directory / name).stat().st_size > 1000
    assert b"SwaggerUIBundle" in (directory / "swagger-ui-bundle.js").read_bytes()[:2000]
