"""Error answers: 422 naming each bad field (never echoing the request body), 401, 403, 404, 413, 503."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .inputs import InputError
from .schemas import ErrorResponse

UNAUTHORIZED: dict[int | str, dict[str, object]] = {
    401: {
        "model": ErrorResponse,
        "description": "missing or invalid bearer token (when the server has a token)",
    },
}
"""The answer of ``middleware.TokenAuthMiddleware``, documented on every /v1 router."""


def install_error_handlers(app: FastAPI) -> None:
    """422 in one shape (``{"detail": [{"loc", "msg", "type"}]}``) for body and feature errors."""
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)


def unknown_landmark(landmark: str, known: tuple[str, ...]) -> HTTPException:
    """404 naming the unknown landmark and the known ones."""
    return HTTPException(404, detail=f"unknown landmark {landmark!r}; expected one of {list(known)}")


def model_unavailable(landmark: str, reason: str) -> HTTPException:
    """503: the landmark has no model to serve, and why."""
    return HTTPException(503, detail=f"no model for the {landmark} landmark: {reason}")


def not_from_loopback() -> HTTPException:
    """403: without an API token, admin calls come from loopback clients only."""
    return HTTPException(
        403, detail="without an API token, admin calls are accepted from loopback clients only"
    )


def batch_too_large(size: int, limit: int) -> HTTPException:
    """413: a batch request with more patients than the limit."""
    return HTTPException(
        413, detail=f"patients: {size} patients exceed the maximum of {limit} per batch request"
    )


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return JSONResponse({"detail": [issue.as_dict() for issue in exc.issues]}, status_code=422)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
