"""The documentation site builds offline in strict mode and loads nothing from another host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = (
    "index.html",
    "guides/index.html",
    "guides/train-your-registry.html",
    "guides/score-a-cohort.html",
    "guides/integrate.html",
    "guides/read-a-prediction.html",
    "evidence.html",
    "generated/anchors.html",
    "reference/cli.html",
    "reference/http-api.html",
    "reference/pyfunc.html",
    "reference/catalogue.html",
    "reference/openapi.json",
    "data-format.html",
    "platform.html",
    "security.html",
)
RESOURCE_ATTRIBUTES = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "embed": "src",
    "audio": "src",
    "video": "src",
    "link": "href",
}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
REMOTE_CSS = re.compile(r"(url\(\s*['\"]?\s*(https?:)?//|@import\s+['\"](https?:)?//)", re.IGNORECASE)
NAVIGATION_LINKS = {"canonical", "alternate", "author", "help", "license", "next", "prev", "search"}


class _ResourceFinder(HTMLParser):
    """Collects every URL a page would load by itself (scripts, styles, images, frames, preconnects)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._in_style = tag == "style"
        attribute = RESOURCE_ATTRIBUTES.get(tag)
        rel = set(values.get("rel", "").lower().split())
        if attribute and values.get(attribute) and not (tag == "link" and rel and rel <= NAVIGATION_LINKS):
            self.loaded.append(values[attribute])
        if "style" in values and REMOTE_CSS.search(values["style"]):
            self.loaded.append(values["style"])

    def handle_data(self, data: str) -> None:
        if self._in_style and REMOTE_CSS.search(data):
            self.loaded.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False if tag == "style" else self._in_style


def offsite_resources(html: str) -> list[str]:
    """The URLs in ``html`` that a browser would fetch from another host when showing the page."""
    finder = _ResourceFinder()
    finder.feed(html)
    return [url for url in finder.loaded if REMOTE.match(url) or REMOTE_CSS.search(url)]


def build_site(config_dir: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config_dir/mkdocs.yml`` into ``site_dir`` (no network needed)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(config_dir / "mkdocs.yml"),
        "--site-dir",
        str(site_dir),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_offsite_resources_finds_scripts_styles_fonts_and_css_imports() -> None:
    html = """<html><head>
      <link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
      <link rel="preconnect" href="https://fonts.gstatic.com">
      <link rel="canonical" href="https://example.org/page.html">
      <script src="//cdn.example.net/lib.js"></script><script src="assets/local.js"></script>
      <style>@import "https://cdn.example.net/theme.css";</style>
    </head><body><img src="http://img.example.net/a.png"><a href="https://doi.org/10.1/x">doi</a></body></html>"""
    assert offsite_resources(html) == [
        "https://fonts.googleapis.com/css?family=Roboto",
        "https://fonts.gstatic.com",
        "//cdn.example.net/lib.js",
        '@import "https://cdn.example.net/theme.css";',
        "http://img.example.net/a.png",
    ]


@pytest.mark.slow
def test_site_builds_strictly_and_loads_nothing_from_another_host(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = build_site(REPO, site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr
    assert [page for page in PAGES if not (site / page).is_file()] == []
    offsite = {
        str(p.relative_to(site)): found
        for p in sorted(site.rglob("*.html"))
        if (found := offsite_resources(p.read_text(encoding="utf-8")))
    }
    assert offsite == {}, f"pages load resources from other hosts: {offsite}"
    remote_css = [
        str(p.relative_to(site))
        for p in site.rglob("*.css")
        if REMOTE_CSS.search(p.read_text(encoding="utf-8"))
    ]
    assert remote_css == []


@pytest.mark.slow
def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(REPO / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    index = tmp_path / "docs" / "index.md"
    index.write_text(
        index.read_text(encoding="utf-8")
        + "\n[gone](missing.md) and [no anchor](evidence.md#no-such-section)\n",
        encoding="utf-8",
    )
    result = build_site(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "missing.md" in result.stderr and "no-such-section" in result.stderr
