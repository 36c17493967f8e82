"""Day-30 signal check: how much each day-30 marker alone says about 12-month failure.

Generates a registry, ingests it into a temporary store with ``features.ingest`` and builds the
day-30 feature frame with ``features.frame`` (exactly what training sees), then prints, for every
day-30 marker (features of the ``early`` and ``day30`` windows and the day-30 derived features)
and for a few reference markers, its univariable 12-month AUROC among patients with a defined label
and its Harrell C-index over the whole day-30 cohort (censored patients included, time from day 30
truncated at day 365; patients whose last contact was before day 30 are left out). Markers where
lower is worse are negated first; the orientation is fixed in advance from the evidence
(``ORIENTATION``), never chosen from the data.

Run ``python -m synth.signal --patients 5000 --seed 7``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from features.catalogue import Catalogue, load_catalogue

from .estimates import km_survival_at
from .landmark_labels import HORIZON_DAYS, landmark_labels

DAY30_WINDOWS = ("early", "day30")
REFERENCE_MARKERS = ("ldh_preld", "ldh_uln_ratio", "tmtv_preld")
# +1: higher is worse; -1: lower is worse (negated before scoring).
ORIENTATION: dict[str, int] = {
    "ldh_day30": 1,
    "platelets_day30": -1,
    "anc_day30": -1,
    "il6_early": 1,  # cytopenia, CRS (evidence 1a, 3.3)
    "tmtv_day30": 1,
    "suvmax_day30": 1,
    "deauville_day30": 1,
    "tmtv_change_day30": 1,  # residual uptake (1c)
    "ctdna_early": 1,
    "ctdna_day30": 1,
    "ctdna_detected_day30": 1,  # detectable ctDNA is worse (1d)
    "car_peak_early": -1,
    "car_day28_day30": -1,
    "car_peak_per_tmtv": -1,  # expansion is better (1e)
    "car_treg_pct_early": 1,
    "pd1_pct_early": 1,  # CAR-Treg, exhaustion are worse (1e)
    "ldh_preld": 1,
    "ldh_uln_ratio": 1,
    "tmtv_preld": 1,
}


def day30_markers(catalogue: Catalogue) -> list[str]:
    """Features first known after infusion: early/day-30 window features and day-30-only derived ones.

    Args:
        catalogue: the biomarker catalogue.

    Returns:
        Feature names in frame order.
    """
    return [
        s.name
        for s in catalogue.feature_specs("day30")
        if s.window in DAY30_WINDOWS or (s.source == "derived" and s.name not in _preinfusion(catalogue))
    ]


def day30_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The day-30 feature frame of a registry, through the real ingest and point-in-time code.

    Args:
        tables: registry tables (``generate_registry`` output).

    Returns:
        The frame of ``features.frame.build_feature_frame(store, landmark="day30")``.
    """
    from features.frame import build_feature_frame
    from features.ingest import ingest_directory

    from .write import write_registry

    with tempfile.TemporaryDirectory(prefix="synth-signal-") as tmp:
        raw, store = Path(tmp) / "raw", Path(tmp) / "store.duckdb"
        write_registry(tables, raw, fmt="parquet")
        ingest_directory(raw, store=store)
        return build_feature_frame(store, landmark="day30")


def marker_signal(frame: pd.DataFrame, labels: pd.DataFrame, markers: list[str]) -> pd.DataFrame:
    """Univariable 12-month AUROC and Harrell C-index of each marker in the day-30 cohort.

    Args:
        frame: day-30 feature frame (one row per patient of the day-30 cohort).
        labels: ``landmark_labels(..., landmark_day=30)``.
        markers: feature names, each with an entry in ``ORIENTATION``.

    Returns:
        One row per marker: ``marker``, ``orientation``, ``n_auroc``, ``auroc``, ``n_c``,
        ``c_index`` (NaN where a score cannot be computed).
    """
    missing = [m for m in markers if m not in ORIENTATION]
    if missing:
        raise KeyError(f"no orientation declared for markers {missing}; add them to ORIENTATION")
    data = frame.set_index("patient_id").join(labels[["label", "time", "event"]], how="inner")
    rows = [_score(data, m) for m in markers]
    return pd.DataFrame(rows).sort_values("auroc", ascending=False, na_position="last").reset_index(drop=True)


def cohort_summary(tables: dict[str, pd.DataFrame], frame: pd.DataFrame) -> dict[str, float]:
    """Follow-up of the registry as training sees it (Kaplan-Meier event rates, censoring, loss).

    A patient is censored before month 12 when the 12-month label is undefined; the reason is the
    data cut-off when the patient was infused less than a year before it, loss to follow-up
    otherwise.

    Args:
        tables: registry tables.
        frame: the day-30 feature frame.

    Returns:
        Named numbers (counts, rates and shares).
    """
    pre = landmark_labels(tables, landmark_day=0)
    d30 = landmark_labels(tables, landmark_day=30).loc[frame["patient_id"]]
    followed = d30[d30["time"] > 0]
    window = _days_to_cutoff(tables).reindex(pre.index)
    lost = pre["event"].eq(0) & pre["label"].isna() & (window >= HORIZON_DAYS)
    censored30 = d30["label"].isna()
    return {
        "infused patients": float(len(pre)),
        "12-mo event rate from infusion (KM)": 1 - km_survival_at(pre["time"], pre["event"], HORIZON_DAYS),
        "censored before 12 mo (infused)": float(pre["label"].isna().mean()),
        "  of which by the data cut-off": float((pre["label"].isna() & ~lost).mean()),
        "  of which lost to follow-up": float(lost.mean()),
        "day-30 cohort (frame rows)": float(len(d30)),
        "12-mo event rate from day 30 (KM)": 1
        - km_survival_at(followed["time"], followed["event"], HORIZON_DAYS - 30),
        "censored before 12 mo (day-30 cohort)": float(censored30.mean()),
        "lost to follow-up before day 30 (infused)": float((lost & (pre["last_seen"] < 30)).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    """Generate a registry, build its day-30 frame and print the signal table."""
    from .registry import generate_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    tables = generate_registry(args.patients, args.seed)
    frame = day30_frame(tables)
    labels = landmark_labels(tables, landmark_day=30)
    catalogue = load_catalogue()
    markers = [*day30_markers(catalogue), *REFERENCE_MARKERS]
    print(f"Day-30 signal check: {args.patients:,} patients, seed {args.seed}")
    for name, value in cohort_summary(tables, frame).items():
        print(f"  {name}: {value:.3f}" if value < 1 else f"  {name}: {value:,.0f}")
    print()
    print(format_signal(marker_signal(frame, labels, markers), reference=REFERENCE_MARKERS))


def format_signal(result: pd.DataFrame, *, reference: tuple[str, ...] = ()) -> str:
    """The signal table as Markdown.

    Args:
        result: output of ``marker_signal``.
        reference: markers to flag as pre-infusion references.

    Returns:
        Markdown text.
    """
    lines = [
        "| marker | orientation | n (label) | AUROC 12 mo | n (cohort) | Harrell C |",
        "|---|---|---|---|---|---|",
    ]
    for r in result.to_dict("records"):
        name = f"{r['marker']} (reference)" if r["marker"] in reference else r["marker"]
        way = "higher worse" if r["orientation"] > 0 else "lower worse (negated)"
        lines.append(
            f"| {name} | {way} | {r['n_auroc']} | {r['auroc']:.3f} | {r['n_c']} | {r['c_index']:.3f} |"
        )
    return "\n".join(lines)


def _score(data: pd.DataFrame, marker: str) -> dict[str, object]:
    from lifelines.utils import concordance_index
    from sklearn.metrics import roc_auc_score

    risk = ORIENTATION[marker] * data[marker].astype(float)
    seen = data[risk.notna() & (data["time"] > 0)]  # under observation after the landmark
    labelled = seen[seen["label"].notna()]
    auroc = (
        roc_auc_score(labelled["label"], risk[labelled.index])
        if labelled["label"].nunique() == 2
        else float("nan")
    )
    c_index = (
        concordance_index(seen["time"], -risk[seen.index], seen["event"])
        if seen["event"].sum() > 0
        else float("nan")
    )
    return {
        "marker": marker,
        "orientation": ORIENTATION[marker],
        "n_auroc": len(labelled),
        "auroc": float(auroc),
        "n_c": len(seen),
        "c_index": float(c_index),
    }


def _days_to_cutoff(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Days from infusion to the registry's data cut-off, per infused patient."""
    from .cohort import DATA_CUTOFF

    patients = tables["patients"].set_index("patient_id")
    infusion = pd.to_datetime(patients["infusion_date"], errors="coerce").dropna()
    return (pd.Timestamp(DATA_CUTOFF) - infusion).dt.days.astype(float)


def _preinfusion(catalogue: Catalogue) -> set[str]:
    return {s.name for s in catalogue.feature_specs("preinfusion")}


if __name__ == "__main__":
    main()
