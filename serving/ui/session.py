"""The clinician page's sign-in.

With an API token configured, the page asks for it once and keeps a session in an HttpOnly cookie.

The cookie holds a random session id (the token never leaves the sign-in form); sessions live in this
process's memory for ``SESSION_HOURS``. ``SameSite=Lax`` rather than ``Strict``: a CDS card's link is a
navigation from the EHR's site, and a Strict cookie would not be sent on it, so every card click would
ask for the token again. Lax still withholds the cookie from cross-site POSTs, the page's GETs change
nothing, and every POST must also come from the page's own origin (``check_origin``). ``Secure`` is set
when the page is served over HTTPS. Without a token the page is open (the server then listens on
loopback only, ``serving.settings.check_bind_address``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request

COOKIE = "cart_relapse_ui"
SESSION_HOURS = 8


class UiSessions:
    """Session id -> expiry (monotonic seconds)."""

    def __init__(self, hours: float = SESSION_HOURS) -> None:
        self._ttl = hours * 3600
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        """A new session id."""
        key = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
            self._expiry[key] = now + self._ttl
        return key

    def valid(self, key: str | None) -> bool:
        """Whether ``key`` names an open session that has not expired."""
        with self._lock:
            return key is not None and self._expiry.get(key, 0.0) > time.monotonic()

    def close(self, key: str | None) -> None:
        """End the session ``key`` (nothing happens for an unknown one)."""
        with self._lock:
            self._expiry.pop(key or "", None)


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of the submitted token with the configured one."""
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def require_session(request: Request) -> None:
    """A dependency of every page but sign-in.

    With a token configured: a valid session, or a redirect (303) to the sign-in page, which comes back here
    afterwards.
    """
    if request.app.state.settings.token is None:
        return
    if request.app.state.ui_sessions.valid(request.cookies.get(COOKIE)):
        return
    raise HTTPException(
        303, detail="sign in first", headers={"Location": f"/ui/login?next={quote(request.url.path)}"}
    )


def check_origin(request: Request) -> None:
    """A dependency of every POST: refuse (403) a form posted from another origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, detail="form posted from another origin")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path under /ui/ only (no open redirect)."""
    if target and target.startswith("/ui/") and "//" not in target and "\\" not in target:
        return target
    return "/ui/"
