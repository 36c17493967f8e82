"""``POST /v1/admin/reload``: load the configured models again and swap in those that pass the probe.

Guarded like every /v1 route by the bearer token; without a token (a loopback-only server) it is
also refused to clients that are not on loopback (see ``docs/security.md``).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..deps import ReloaderDep, SettingsDep
from ..errors import UNAUTHORIZED, not_from_loopback
from ..reload import ReloadReport
from ..schemas import ErrorResponse, ReloadResponse
from ..settings import is_loopback

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=UNAUTHORIZED)


def require_admin_client(request: Request, settings: SettingsDep) -> None:
    """With a token configured the middleware has checked it; without one, only loopback clients."""
    if settings.token is None and (request.client is None or not is_loopback(request.client.host)):
        raise not_from_loopback()


@router.post(
    "/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin_client)],
    responses={
        403: {"model": ErrorResponse, "description": "no token configured and the client is not on loopback"},
        409: {"model": ReloadResponse, "description": "a candidate was refused; the old model keeps serving"},
    },
)
async def reload_models(reloader: ReloaderDep) -> JSONResponse:
    """Load every landmark's configured model URI (e.g. ``models:/cart-relapse-day30@champion``) in a
    background thread, probe each new version and swap it in; answers when done (200), or 409 with the
    reasons when a candidate was refused. Requests are served throughout. SIGHUP does the same.
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it
    report = await asyncio.wrap_future(reloader.start("api"))
    body = reload_response(report).model_dump(mode="json")
    return JSONResponse(body, status_code=409 if report.outcome == "refused" else 200)


def reload_response(report: ReloadReport) -> ReloadResponse:
    """The reload report as its response body."""
    return ReloadResponse.model_validate(asdict(report))
