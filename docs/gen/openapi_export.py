"""Export the HTTP API's OpenAPI document from the FastAPI app, without loading any model."""

from __future__ import annotations

import json
from typing import Any


def export_openapi() -> dict[str, Any]:
    """The OpenAPI document of ``serving.app.create_app``.

    The app is built with explicit settings (no token, an unused tracking URI) and a loader that
    loads nothing; it is never started, so no model, MLflow store or environment variable is read.

    Returns:
        The OpenAPI document as FastAPI generates it.
    """
    from serving.app import create_app
    from serving.settings import Settings

    settings = Settings(api_token=None, mlflow_tracking_uri="sqlite:///unused-by-docs.db")
    app = create_app(settings, loader=_no_models, models={})
    return app.openapi()


def openapi_json(spec: dict[str, Any] | None = None) -> str:
    """``spec`` (the app's, by default) as the JSON file shipped with the docs (2-space indent, UTF-8)."""
    return json.dumps(export_openapi() if spec is None else spec, indent=2, ensure_ascii=False) + "\n"


def _no_models(_settings: object) -> dict[str, Any]:
    return {}
