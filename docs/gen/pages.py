"""Which generated file comes from which renderer, and how to write or check them all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class GeneratedPage:
    """A committed file under ``docs/`` and the function that renders its content."""

    path: str  # relative to ``root``
    render: Callable[[], str]
    root: Path = DOCS_DIR

    @property
    def file(self) -> Path:
        return self.root / self.path


def _catalogue() -> str:
    from .catalogue import render_catalogue

    return render_catalogue()


def _cli() -> str:
    from .cli import render_cli

    return render_cli()


def _openapi_json() -> str:
    from .openapi_export import openapi_json

    return openapi_json()


def _http_api() -> str:
    from .openapi_export import export_openapi
    from .openapi_render import render_openapi

    return render_openapi(export_openapi(), intro=HTTP_INTRO)


def _pyfunc() -> str:
    from .pyfunc import render_pyfunc

    return render_pyfunc()


def _anchors() -> str:
    from .anchors import generate_anchor_page

    return generate_anchor_page()


HTTP_INTRO = """\
Start the server with `cart-relapse serve` ([command line](cli.md#cart-relapse-serve)). When
`CART_RELAPSE_API_TOKEN` is set, every `/v1` route needs `Authorization: Bearer <token>`; without
a token the server listens on loopback only (see [Security](../security.md)). The CDS Hooks routes
(`/cds-services`) take the EHR's JWT instead ([CDS Hooks](../cds-hooks.md)). Feature names, units
and ranges are those of the [catalogue](catalogue.md); the response's probability is defined in
the [evidence document](../evidence.md#5-prediction-target-and-landmarks). The machine-readable
description is [openapi.json](openapi.json), shipped with these pages."""

FAST_PAGES: tuple[GeneratedPage, ...] = (
    GeneratedPage("reference/catalogue.md", _catalogue),
    GeneratedPage("reference/cli.md", _cli),
    GeneratedPage("reference/openapi.json", _openapi_json),
    GeneratedPage("reference/http-api.md", _http_api),
    GeneratedPage("reference/pyfunc.md", _pyfunc),
)
ANCHOR_PAGE = GeneratedPage("generated/anchors.md", _anchors)


def write_pages(pages: Iterable[GeneratedPage]) -> list[Path]:
    """Render each page and write it where its content changed.

    Args:
        pages: the pages to regenerate.

    Returns:
        The files that were written (changed or new).
    """
    written = []
    for item in pages:
        content = item.render()
        if not item.file.exists() or item.file.read_text(encoding="utf-8") != content:
            item.file.parent.mkdir(parents=True, exist_ok=True)
            item.file.write_text(content, encoding="utf-8")
            written.append(item.file)
    return written


def stale_pages(pages: Iterable[GeneratedPage]) -> list[str]:
    """The pages whose committed file is missing or differs from a fresh rendering (nothing is written).

    Args:
        pages: the pages to check.

    Returns:
        Their paths relative to ``docs/``.
    """
    return [
        item.path
        for item in pages
        if not item.file.exists() or item.file.read_text(encoding="utf-8") != item.render()
    ]
