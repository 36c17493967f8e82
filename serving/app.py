"""The FastAPI app: health, models and predict routes; models loaded once in the background.

``create_app`` has no side effects until the app starts: the lifespan then starts a thread that
loads every landmark's model (``loader.load_registry_models``), so ``/health/live`` answers at
once and ``/health/ready`` reports ``loading``, then ready or the reason per landmark.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from features.catalogue import load_catalogue
from models.predictor import SYNTHETIC_NOTICE

from .errors import install_error_handlers
from .loader import Loader, LoadFailure, ModelRegistry, ModelSlot, describe_error, load_registry_models, redact
from .middleware import RequestContextMiddleware, TokenAuthMiddleware
from .routes.health import router as health_router
from .routes.models import router as models_router
from .routes.predict import router as predict_router
from .settings import Settings


def create_app(
    settings: Settings | None = None, *, loader: Loader = load_registry_models,
    models: Mapping[str, ModelSlot] | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration (read from the environment when omitted).
        loader: loads every landmark's model at start-up (in a background thread).
        models: already-loaded models per landmark (tests); the loader is then not used.

    Returns:
        The app; run it with uvicorn (see ``serving.server.run_server``).
    """
    settings = settings or Settings()
    registry = ModelRegistry(tuple(load_catalogue().landmarks))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if models is not None:
            registry.set(models)
        else:
            threading.Thread(target=_load_into, args=(registry, loader, settings), name="model-loader", daemon=True).start()
        yield

    app = FastAPI(
        title="cart-relapse", version="0.1.0", lifespan=lifespan, max_body_size=settings.max_body_bytes,
        description=f"Relapse or death within 12 months of CD19 CAR-T infusion, explained with TreeSHAP. {SYNTHETIC_NOTICE}",
    )
    app.state.settings = settings
    app.state.models = registry
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(models_router)
    app.include_router(predict_router)
    if settings.token is not None:
        app.add_middleware(TokenAuthMiddleware, token=settings.token)
    app.add_middleware(RequestContextMiddleware)
    return app


def _load_into(registry: ModelRegistry, loader: Loader, settings: Settings) -> None:
    try:
        registry.set(loader(settings))
    except Exception as exc:  # e.g. MLflow not importable or the tracking URI unusable: report, keep serving
        reason = f"model loading failed: {describe_error(exc)}"
        registry.set({lm: LoadFailure(lm, redact(settings.model_uri(lm)), reason) for lm in registry.landmarks})
