"""The committed generated pages match a fresh rendering, and each generator covers what it documents."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pandas as pd
import pytest
import typer

from docs.gen.anchors import COLUMNS, render_anchors
from docs.gen.markdown import code
from docs.gen.openapi_export import export_openapi
from docs.gen.pages import ANCHOR_PAGE, DOCS_DIR, FAST_PAGES, GeneratedPage, stale_pages, write_pages
from features.catalogue import load_catalogue

REPO = DOCS_DIR.parent


@pytest.mark.parametrize("generated", FAST_PAGES, ids=lambda p: p.path)
def test_committed_page_matches_a_fresh_rendering(generated: GeneratedPage) -> None:
    committed = generated.file.read_text(encoding="utf-8")
    assert committed == generated.render(), f"docs/{generated.path} is stale: run `make docs` and commit it"


@pytest.mark.slow
def test_committed_anchor_table_matches_the_generator() -> None:
    committed = ANCHOR_PAGE.file.read_text(encoding="utf-8")
    assert committed == ANCHOR_PAGE.render(), "docs/generated/anchors.md is stale: run `make docs-anchors`"


def test_stale_pages_are_reported_and_rewritten(tmp_path: Path) -> None:
    page = GeneratedPage("sub/page.md", lambda: "# fresh\n", root=tmp_path)
    assert stale_pages([page]) == ["sub/page.md"]  # missing
    assert write_pages([page]) == [tmp_path / "sub/page.md"]
    assert stale_pages([page]) == [] and write_pages([page]) == []
    (tmp_path / "sub/page.md").write_text("# edited by hand\n")
    assert stale_pages([page]) == ["sub/page.md"]


def test_catalogue_page_lists_every_biomarker_and_every_input_of_each_landmark() -> None:
    text = (DOCS_DIR / "reference/catalogue.md").read_text(encoding="utf-8")
    catalogue = load_catalogue()
    for biomarker in catalogue.biomarkers:
        row = _row_of(text, code(biomarker.name))
        assert ", ".join(biomarker.windows) in row and (biomarker.loinc or "") in row
    for landmark in catalogue.landmarks:
        section = text.split(f"### `{landmark}`")[1].split("###")[0]
        listed = re.findall(r"^\| \d+ \| `([^`]+)`", section, flags=re.MULTILINE)
        assert listed == catalogue.feature_names(landmark)


def test_cli_page_documents_every_command_and_parameter() -> None:
    from cart_relapse.cli import app

    text = (DOCS_DIR / "reference/cli.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group) and root.commands
    for name, command in root.commands.items():
        section = text.split(f"## `cart-relapse {name}`")[1].split("\n## ")[0]
        for param in command.params:
            shown = (
                (param.human_readable_name or "").upper()
                if isinstance(param, click.Argument)
                else param.opts[0]
            )
            row = _row_of(section, code(shown))
            if getattr(param, "help", None):
                assert param.help in row


def test_http_page_documents_every_route_and_schema() -> None:
    text = (DOCS_DIR / "reference/http-api.md").read_text(encoding="utf-8")
    spec = export_openapi()
    for path, item in spec["paths"].items():
        for method in item:
            assert f"## `{method.upper()} {path}`" in text
    for name in spec["components"]["schemas"]:
        assert f"### {name} {{#schema-{name.lower()}}}" in text


def test_evidence_documents_every_catalogue_entry() -> None:
    text = (DOCS_DIR / "evidence.md").read_text(encoding="utf-8")
    catalogue = load_catalogue()
    names = [b.name for b in catalogue.biomarkers] + [a.name for a in catalogue.patient_attributes]
    names += [d.name for d in catalogue.derived]
    assert [n for n in names if f"`{n}`" not in text] == []


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "docs",
        "mkdocs.yml",
        "features",
        "models",
        "training",
        "serving",
        "synth",
        "cart_relapse",
        "bench",
        "Makefile",
        "pyproject.toml",
    ],
)
def test_docs_and_their_pointers_stay_inside_the_repository(path: str) -> None:
    files = [REPO / path] if (REPO / path).is_file() else sorted((REPO / path).rglob("*.*"))
    outside = [
        f"{f.relative_to(REPO)}: {line.strip()}"
        for f in files
        if f.suffix in {".md", ".py", ".yml", ".yaml", ".json", ".toml", ".html", ""}
        and "__pycache__" not in f.parts
        for line in f.read_text(encoding="utf-8").splitlines()
        if "shared/domain" in line or "../shared" in line
    ]
    assert outside == []


def test_anchor_page_renders_every_row_and_flags_failures() -> None:
    frame = pd.DataFrame(
        [
            {
                "anchor": "HR a | b",
                "published": "1.9 (1.3-2.6) [V]",
                "target_low": 1.3,
                "target_high": 2.6,
                "generated": 1.918,
                "ci_low": 1.85,
                "ci_high": 1.99,
                "ok": True,
            },
            {
                "anchor": "NRM at 12 mo",
                "published": "4-7%",
                "target_low": 0.04,
                "target_high": 0.07,
                "generated": 0.0912,
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "ok": False,
            },
        ]
    )
    text = render_anchors(frame, patients=1000, seed=3)
    assert "1 of 2 anchors lie in their target range." in text and "1,000 patients (seed 3)" in text
    assert r"| HR a \| b | 1.9 (1.3-2.6) [V] | 1.3 to 2.6 | 1.92 | 1.85 to 1.99 | yes |" in text
    assert "| NRM at 12 mo | 4-7% | 0.04 to 0.07 | 0.0912 |  | **no** |" in text


def test_anchor_page_names_a_missing_column() -> None:
    frame = pd.DataFrame([{c: 1.0 for c in COLUMNS if c != "ci_high"}])
    with pytest.raises(ValueError, match="ci_high"):
        render_anchors(frame, patients=10, seed=1)


def _row_of(text: str, first_cell: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(f"| {first_cell} |")]
    assert len(rows) == 1, f"expected one table row for {first_cell}, found {len(rows)}"
    return rows[0]
