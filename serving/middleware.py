"""ASGI middleware: request id + access log + last-resort 500, and bearer-token auth (of /v1).

Access log lines carry the request id, method, route template, status and latency only: never
the raw path, query, headers, body, patient ids or biomarker values. An unexpected error is logged
with its type and stack frames (no message, which could quote input) and answered with a bare 500.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import secrets
import time
import traceback

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("cart_relapse.serving")
access_logger = logging.getLogger("cart_relapse.access")
"""One line per request and nothing else: other server messages (reloads, errors) go to ``logger``."""
REQUEST_ID_HEADER = b"x-request-id"
PUBLIC_PATHS = frozenset(
    {"/health/live", "/health/ready", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
)
PUBLIC_PREFIXES = ("/docs-assets", "/ui/static")
"""Static files of the API documentation and of the clinician page (no data)."""
OWN_AUTH_PREFIXES = ("/cds-services", "/ui")
"""Paths with their own authentication: the EHR's JWT (``serving.cds.auth``) and the clinician page's
session cookie (``serving.ui.session``), both granted only with the API token when one is set."""


class RequestContextMiddleware:
    """Give each request an id (``X-Request-ID``), log one line per request, turn crashes into 500s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request with an id, time it, and write one access line when it ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        started, status = time.perf_counter(), 500
        response_started = outer_failed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, outer_failed
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            try:
                await send(message)
            except BaseException:
                outer_failed = True  # raised by the server or an outer middleware (e.g. the 413 body limit)
                raise

        try:
            await self.app(scope, receive, send_with_id)
        except HTTPException:
            raise  # the framework's own 4xx signals (e.g. the body limit), answered further out
        except Exception as exc:
            if outer_failed:
                raise
            _log_unexpected(exc, scope, request_id)
            if not response_started:
                await internal_error(request_id)(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "request_id=%s method=%s route=%s status=%d latency_ms=%.2f",
                request_id,
                scope["method"],
                route_template(scope),
                status,
                (time.perf_counter() - started) * 1e3,
            )


class TokenAuthMiddleware:
    """Require ``Authorization: Bearer <token>`` before the body is read.

    On every path but health, docs and the paths with their own authentication.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 when a path that needs the token lacks it; pass everything else through."""
        if scope["type"] != "http" or not needs_token(scope["path"]) or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "missing or invalid bearer token (Authorization: Bearer <token>)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.strip(), self._expected
                )
        return False


def needs_token(path: str) -> bool:
    """Whether ``TokenAuthMiddleware`` guards ``path`` (everything but ``PUBLIC_PATHS`` and the prefixes)."""
    if path in PUBLIC_PATHS:
        return False
    return not any(
        path == prefix or path.startswith(prefix + "/") for prefix in (*PUBLIC_PREFIXES, *OWN_AUTH_PREFIXES)
    )


def internal_error(request_id: str) -> JSONResponse:
    """The bare 500 answer: a request id to quote, no details."""
    return JSONResponse({"detail": "internal server error", "request_id": request_id}, status_code=500)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/predict/{landmark}``), never the raw path."""
    route = scope.get("route")
    if route is None and "app" in scope:  # rejected before routing (401): match the path without running it
        for context in iter_route_contexts(scope["app"].router.routes):
            path = context.path
            if path is not None and _path_regex(path).match(scope["path"]):
                return path
    return getattr(route, "path", None) or "<unmatched>"


@functools.lru_cache(maxsize=256)
def _path_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _log_unexpected(exc: Exception, scope: Scope, request_id: str) -> None:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "unhandled %s request_id=%s route=%s\n%s",
        type(exc).__name__,
        request_id,
        route_template(scope),
        frames,
    )
