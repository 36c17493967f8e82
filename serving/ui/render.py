"""The page's Jinja2 templates (``serving/ui/templates``), autoescaped, undefined names an error."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from models.predictor import SYNTHETIC_NOTICE


@cache
def environment() -> Environment:
    """The template environment (built on first use)."""
    return Environment(
        loader=PackageLoader("serving", "ui/templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` (and the synthetic-data notice every page shows).

    Args:
        template: a file in ``serving/ui/templates``.
        status_code: the HTTP status.
        context: the template's variables.
    """
    html = environment().get_template(template).render(notice=SYNTHETIC_NOTICE, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "
    "'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Pages carry patient values: no scripts, no framing, nothing cached, no referrer to other sites."""
