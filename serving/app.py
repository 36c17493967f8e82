"""The FastAPI app: health, models, predict and admin routes; models loaded in the background.

``create_app`` has no side effects until the app starts: the lifespan then starts the first load
of every landmark's model (``serving.reload.Reloader`` with ``loader.load_registry_models``), so
``/health/live`` answers at once and ``/health/ready`` reports ``loading``, then ready or the
reason per landmark. ``POST /v1/admin/reload`` (and SIGHUP, when ``handle_sighup``) load the
configured models again and swap in each one that passes the probe, while requests keep being served.

Beside the API: the CDS Hooks services (``/cds-services``, ``routes.cds``, the EHR's JWT), the
clinician page (``/ui/``, ``routes.ui``, a session from the API token) and ``/docs``/``/redoc``
served from installed assets (``apidocs``). ``app.state.clock`` is the request time the CDS services
use (timezone-aware; tests replace it).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from features.catalogue import load_catalogue
from models.predictor import SYNTHETIC_NOTICE

from .apidocs import install_api_docs
from .cds.auth import CdsAuthMiddleware, load_verifier
from .cds.services import cds_services
from .errors import install_error_handlers
from .handoff import HandoffStore
from .loader import Loader, ModelRegistry, ModelSlot, load_registry_models
from .middleware import RequestContextMiddleware, TokenAuthMiddleware
from .reload import Reloader
from .routes.admin import router as admin_router
from .routes.cds import router as cds_router
from .routes.health import router as health_router
from .routes.models import router as models_router
from .routes.predict import router as predict_router
from .routes.ui import router as ui_router
from .routes.ui import sign_in as ui_sign_in_router
from .settings import Settings
from .ui.session import UiSessions

logger = logging.getLogger("cart_relapse.serving")


def create_app(
    settings: Settings | None = None,
    *,
    loader: Loader = load_registry_models,
    models: Mapping[str, ModelSlot] | None = None,
    handle_sighup: bool = False,
) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration (read from the environment when omitted).
        loader: loads every landmark's model, at start-up and on each reload (in a background thread).
        models: already-loaded models per landmark (tests): served from the start without loading or
            probing; reloads still use ``loader``.
        handle_sighup: reload on SIGHUP (the server process; needs the main thread's event loop).

    Returns:
        The app; run it with uvicorn (see ``serving.server.run_server``).

    Raises:
        serving.settings.ServingConfigError: the configured JWKS cannot be used.
    """
    settings = settings or Settings()
    registry = ModelRegistry(tuple(load_catalogue().landmarks))
    reloader = Reloader(registry, loader, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if models is not None:
            registry.set(models)
        else:
            reloader.start("startup")
        if handle_sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _reload_on_signal, reloader)
        try:
            yield
        finally:
            if handle_sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    verifier = load_verifier(settings)
    app = FastAPI(
        title="cart-relapse",
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        description="Relapse or death within 12 months of CD19 CAR-T infusion, explained with TreeSHAP. "
        f"{SYNTHETIC_NOTICE}",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.models = registry
    app.state.reloader = reloader
    app.state.cds_services = cds_services(load_catalogue())
    app.state.handoff = HandoffStore(settings.handoff_minutes * 60)
    app.state.ui_sessions = UiSessions()
    app.state.clock = lambda: datetime.now(UTC)
    install_error_handlers(app)
    install_api_docs(app, title="cart-relapse")
    app.mount(
        "/ui/static", StaticFiles(directory=Path(__file__).with_name("ui") / "static"), name="ui-static"
    )
    for router in (
        health_router,
        models_router,
        predict_router,
        admin_router,
        cds_router,
        ui_sign_in_router,
        ui_router,
    ):
        app.include_router(router)
    if settings.token is not None:
        app.add_middleware(TokenAuthMiddleware, token=settings.token)
    app.add_middleware(
        CdsAuthMiddleware,
        verifier=verifier,
        public_url=settings.public_url,
        open_on_loopback=settings.token is None,
    )
    app.add_middleware(RequestContextMiddleware)
    return app


def _reload_on_signal(reloader: Reloader) -> None:
    """SIGHUP: the same reload as ``POST /v1/admin/reload``.

    Its outcome is logged and shown on ``/v1/models``.
    """
    logger.info("SIGHUP received: reloading the models")
    reloader.start("signal")
