"""Write a drift result as ``drift.json`` and a self-contained ``drift.html`` (inline PNG plots, no CDN).

The HTML shows the score's shift, then every feature ranked by drift (PSI, test p-value,
missingness, unit check, verdict and why), then a plot of reference vs batch shares per bin for
the score and for each flagged feature.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from models.drift import FLAG_RULE

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;font-size:.85rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:right}
td:nth-child(2),th:nth-child(2),td:last-child,th:last-child{text-align:left}tr.flagged{background:#fdecea}
.note{color:#555;font-size:.85rem}figure{display:inline-block;margin:.5rem}figcaption{font-size:.8rem}
"""


def write_drift_report(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/drift.json`` and ``out_dir/drift.html`` (each replaced atomically).

    Args:
        result: from :func:`models.drift.compare_to_profile`, plus ``model``/``input`` context.
        out_dir: created if missing.

    Returns:
        (json path, html path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "drift.json", out_dir / "drift.html"
    _write_atomic(json_path, json.dumps(result, indent=2, allow_nan=False))
    _write_atomic(html_path, render_html(result))
    return json_path, html_path


def render_html(result: dict[str, Any]) -> str:
    """The report as one HTML page with its plots embedded as base64 PNG."""
    model = result.get("model", {})
    summary = result["summary"]
    head = (
        f"<h1>Drift report: {_e(model.get('label', ''))}</h1>"
        f"<p>{result['n_rows']:,} patients from {_e(result.get('input', ''))} against the model's reference "
        "profile "
        f"({result.get('reference_rows') or '?'} training patients). <b>{summary['n_flagged']}</b> of "
        f"{summary['n_features']} features "
        f"flagged{'; the score distribution shifted' if summary['score_flagged'] else ''}.</p>"
        f"<p class=note>{_e(_rule_text())}</p>"
    )
    parts = [
        head,
        _score_section(result.get("score")),
        "<h2>Features, most drifted first</h2>",
        _feature_table(result["features"]),
    ]
    flagged = [f for f in result["features"] if f["flagged"]]
    if flagged:
        parts.append("<h2>Flagged features</h2>" + "".join(_figure(f) for f in flagged))
    title = f"cart-relapse drift: {_e(model.get('label', ''))}"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _score_section(score: dict[str, Any] | None) -> str:
    if score is None:
        return ""
    verdict = "shifted" if score["flagged"] else "stable"
    return (
        f"<h2>Score ({_e(score['name'])}): {verdict}</h2><p>PSI {score['psi']:.3f}, KS p = "
        f"{_p(score['p_value'])}; "
        f"median {_num(score['reference_median'])} -> {_num(score['batch_median'])}, "
        f"mean {_num(score['reference_mean'])} -> {_num(score['batch_mean'])}.</p>" + _figure(score)
    )


def _feature_table(features: list[dict[str, Any]]) -> str:
    header = (
        "<tr><th>#</th><th>feature</th><th>test</th><th>PSI</th><th>p-value</th><th>missing (ref -> "
        "batch)</th>"
        "<th>median (ref -> batch)</th><th>flagged</th><th>why</th></tr>"
    )
    rows = []
    for f in features:
        median = (
            f"{_num(f.get('reference_median'))} -> {_num(f.get('batch_median'))}"
            if f["kind"] == "numeric"
            else ""
        )
        rows.append(
            f"<tr class='{'flagged' if f['flagged'] else ''}'><td>{f['rank']}</td><td>{_e(f['name'])}</td>"
            f"<td>{f['test']}</td><td>{f['psi']:.3f}</td><td>{_p(f['p_value'])}</td>"
            f"<td>{f['reference_missing']:.2f} -> {f['batch_missing']:.2f}</td><td>{median}</td>"
            f"<td>{'yes' if f['flagged'] else ''}</td><td>{_e('; '.join(f['reasons']))}</td></tr>"
        )
    return f"<table>{header}{''.join(rows)}</table>"


def _figure(entry: dict[str, Any]) -> str:
    """Reference vs batch share per bin (the PSI's bins, missing last) as an inline PNG."""
    from matplotlib.figure import Figure

    bins = entry["bins"]
    x = range(len(bins["labels"]))
    figure = Figure(figsize=(6.4, 2.8), dpi=90, layout="constrained")
    axes = figure.subplots()
    axes.bar([i - 0.2 for i in x], bins["reference"], width=0.4, label="reference", color="#9aa7b8")
    axes.bar([i + 0.2 for i in x], bins["batch"], width=0.4, label="batch", color="#d9534f")
    axes.set_xticks(list(x), bins["labels"], rotation=40, ha="right", fontsize=7)
    axes.set_ylabel("share")
    axes.set_title(f"{entry['name']}: PSI {entry['psi']:.2f}", fontsize=9)
    axes.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    name = _e(entry["name"])
    return (
        f"<figure><img alt='{name} bins' src='data:image/png;base64,{encoded}'>"
        f"<figcaption>{name}</figcaption></figure>"
    )


def _rule_text() -> str:
    r = FLAG_RULE
    return (
        "Flagged when the median moved by a unit factor (10x, 100x, 1000x or inverse; pooled or at one "
        "centre), "
        f"or the missing share changed by >= {r['missing_change']}, or PSI >= {r['psi_large']} with p < "
        f"{r['p_large']}, "
        f"or PSI >= {r['psi_moderate']} with p < {r['p_moderate']} (p: the smaller of the distribution test, "
        "KS for "
        "numbers or chi-square for categories, and the missingness test). PSI uses the reference deciles "
        "plus a missing bin."
    )


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2g}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
