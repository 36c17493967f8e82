"""``/docs`` (Swagger UI) and ``/redoc`` served from installed files.

The API documentation works on a network without internet access.

FastAPI's default pages load Swagger UI and ReDoc from a CDN (and ReDoc Google Fonts, and the favicon
from fastapi.tiangolo.com); behind a hospital firewall they stay blank. The same assets ship in the
``fastapi-offline`` package (Swagger UI 5, ReDoc 2; Apache-2.0 and MIT); they are mounted at
``ASSETS_PATH`` and the pages point there. Swagger UI's validator badge (which calls
validator.swagger.io) is switched off, and both pages carry a Content-Security-Policy allowing this
origin only: ReDoc's "API docs by Redocly" logo, an image on cdn.redoc.ly, is blocked by the browser
(it shows as a missing image) rather than fetched.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri "
    "'none'"
)
"""Swagger UI starts from an inline script and ReDoc styles inline; nothing may come from another origin."""
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def assets_directory() -> Path:
    """The installed folder holding ``ASSET_FILES`` (``fastapi_offline/static``)."""
    return Path(str(files("fastapi_offline") / "static"))


def install_api_docs(app: FastAPI, *, title: str) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` with local assets.

    Args:
        app: an app created with ``docs_url=None, redoc_url=None``.
        title: the page titles' prefix.

    Raises:
        RuntimeError: an asset is missing from the installed package.
    """
    directory = assets_directory()
    missing = [name for name in ASSET_FILES if not (directory / name).is_file()]
    if missing:
        raise RuntimeError(f"API documentation assets missing from {directory}: {missing}")
    app.mount(ASSETS_PATH, StaticFiles(directory=directory), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=f"{title} - Swagger UI",
                oauth2_redirect_url=OAUTH2_REDIRECT,
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url="/openapi.json",
                title=f"{title} - ReDoc",
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )


def _local_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
