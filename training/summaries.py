"""The tables the model card and MLflow show beside the metric tables.

Modality ablation and other paired comparisons, calibration by decile, net benefit, risk groups with observed
risk and competing-risk incidence, subgroups, leave-one-centre-out per centre, and the cohort description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import MODALITIES, load_catalogue

from .candidates import ABLATION_STEPS, IPCW, Candidate, ablation_name
from .config import TrainingConfig
from .dataset import TrainingData
from .evaluate import CrossPrediction
from .observed import calibration_table, cumulative_incidence, km_risk, median_follow_up, risk_group_table
from .performance import delta_table, net_benefit_table, paired_delta
from .rules import deauville_ctdna_rule
from .survival_metrics import SurvivalEvaluator, summarise

SUBGROUP_MIN_EVENTS = 10
DELTA_METRICS = ("uno_c_365", "uno_c_730", "ibs")


@dataclass
class Summaries:
    """The tables of :mod:`training.summaries` for one trained landmark."""

    ablation: pd.DataFrame
    comparisons: pd.DataFrame
    calibration: pd.DataFrame
    calibration_holdout: pd.DataFrame
    net_benefit: pd.DataFrame
    risk_groups: pd.DataFrame
    subgroups: pd.DataFrame
    loco_centres: pd.DataFrame
    characteristics: pd.DataFrame
    incidence: pd.DataFrame
    follow_up: dict[str, float]


def summarise_landmark(
    *,
    data: TrainingData,
    config: TrainingConfig,
    candidates: list[Candidate],
    winner: str,
    oof: CrossPrediction,
    times: np.ndarray,
    holdout_risks: dict[str, np.ndarray],
    cv_evals: dict[str, Any],
    holdout_evals: dict[str, Any],
    cv_evaluator: SurvivalEvaluator,
    holdout_evaluator: SurvivalEvaluator,
    loco_rows: np.ndarray,
    loco_oof: CrossPrediction | None,
    seed: int,
) -> Summaries:
    """Every summary table of a trained landmark (see the module docstring)."""
    headline = config.risk_groups.horizon_days
    column = int(np.searchsorted(times, headline))
    dev, dev_targets = data.frame[data.development], data.targets[data.development]
    winner_risk = oof.risks[winner][:, column]
    groups = risk_group_labels(winner_risk, config)
    return Summaries(
        ablation=ablation_table(cv_evals),
        comparisons=comparison_table(candidates, winner, cv_evals, holdout_evals),
        calibration=calibration_table(
            dev_targets["time"].to_numpy(),
            dev_targets["event"].to_numpy(),
            winner_risk,
            horizon=headline,
            groups=config.evaluation.calibration_groups,
        ),
        calibration_holdout=calibration_table(
            data.targets["time"][data.holdout].to_numpy(),
            data.targets["event"][data.holdout].to_numpy(),
            holdout_risks[winner][:, column],
            horizon=headline,
            groups=config.evaluation.calibration_groups,
        ),
        net_benefit=_net_benefit(data, dev, cv_evals, cv_evaluator, winner, candidates),
        risk_groups=risk_group_table(
            dev_targets["time"].to_numpy(),
            dev_targets["event"].to_numpy(),
            dev_targets["cause"].to_numpy(),
            groups,
            levels=("low", "intermediate", "high"),
            horizons=config.horizons_days,
            headline=headline,
        ),
        subgroups=subgroup_table(dev, dev_targets, oof.risks[winner], cv_evaluator.spec, seed=seed),
        loco_centres=_loco_centres(
            dev, dev_targets, loco_oof, loco_rows, winner, cv_evaluator.spec, seed=seed
        ),
        characteristics=characteristics_table(data),
        incidence=cumulative_incidence(
            dev_targets["time"].to_numpy(), dev_targets["cause"].to_numpy(), config.horizons_days
        ),
        follow_up={
            name: median_follow_up(t["time"].to_numpy(), t["event"].to_numpy())
            for name, t in (("development", dev_targets), ("held_out", data.targets[data.holdout]))
        },
    )


def risk_group_labels(risk: np.ndarray, config: TrainingConfig) -> np.ndarray:
    """``low``/``intermediate``/``high`` by the configured absolute thresholds, as the packaged model does."""
    groups = config.risk_groups
    return np.asarray(["low", "intermediate", "high"], dtype=object)[
        np.digitize(risk, [groups.low, groups.high])
    ]


def ablation_table(cv_evals: dict[str, Any]) -> pd.DataFrame:
    """The modality ablation table.

    Each modality step's cross-validated Uno's C and integrated Brier score, and what the step adds over the
    previous one with a paired bootstrap 95% CI.
    """
    rows, previous = [], None
    for step in ABLATION_STEPS:
        name = ablation_name(step)
        if name not in cv_evals:
            continue
        c, c_lo, c_hi = summarise(cv_evals[name]["uno_c_365"])
        row = {
            "modalities": " + ".join(step),
            "candidate": name,
            "uno_c_365": c,
            "uno_c_365_lo": c_lo,
            "uno_c_365_hi": c_hi,
            "ibs": summarise(cv_evals[name]["ibs"])[0],
        }
        for metric in ("uno_c_365", "ibs"):
            delta = paired_delta(cv_evals, name, previous, metric) if previous else (np.nan, np.nan, np.nan)
            row.update(
                {f"delta_{metric}": delta[0], f"delta_{metric}_lo": delta[1], f"delta_{metric}_hi": delta[2]}
            )
        rows.append(row)
        previous = name
    return pd.DataFrame(rows)


def comparison_table(
    candidates: list[Candidate], winner: str, cv_evals: dict[str, Any], holdout_evals: dict[str, Any]
) -> pd.DataFrame:
    """The winner minus every non-tree candidate.

    Scores, Deauville alone, linear Cox and the IPCW reference; paired bootstrap on the cross-validated and on
    the held-out predictions.
    """
    others = [c.name for c in candidates if c.kind != "xgboost" and c.name != winner]
    frames = []
    for where, evals in (("cross-validation", cv_evals), ("held-out", holdout_evals)):
        table = delta_table(evals, [(winner, other) for other in others], DELTA_METRICS)
        frames.append(table.assign(evaluation=where))
    out = pd.concat(frames, ignore_index=True)
    return out[~(out["comparison"].str.endswith(IPCW) & (out["metric"] != "uno_c_365"))].reset_index(
        drop=True
    )


def subgroup_table(
    dev: pd.DataFrame,
    targets: pd.DataFrame,
    risk: np.ndarray,
    spec: Any,
    *,
    seed: int,
    n_boot: int = 200,
) -> pd.DataFrame:
    """The winner's out-of-fold Uno's C and calibration-in-the-large by product, sex, age and centre."""
    age = dev["age"]
    variables = {
        "product": dev["product"],
        "sex": dev["sex"],
        "center": dev["center"],
        "age": _age_band(age),
    }
    rows = []
    for variable, values in variables.items():
        for level in sorted(values.dropna().unique()):
            mask = (values == level).to_numpy()
            rows.append(
                {
                    "subgroup": variable,
                    "level": str(level),
                    **_group_metrics(targets[mask], risk[mask], spec, seed, n_boot),
                }
            )
    return pd.DataFrame(rows)


def characteristics_table(data: TrainingData) -> pd.DataFrame:
    """Development vs held-out: size, events, follow-up, demographics, key predictors and missingness."""
    rows: list[dict[str, Any]] = []
    parts = {"development": data.development, "held-out": data.holdout}
    frames = {name: data.frame[mask] for name, mask in parts.items()}
    targets = {name: data.targets[mask] for name, mask in parts.items()}
    rows.append({"characteristic": "patients", **{k: f"{len(v):,}" for k, v in frames.items()}})
    rows.append(
        {
            "characteristic": "events (progression or death)",
            **{k: f"{int(t['event'].sum()):,}" for k, t in targets.items()},
        }
    )
    rows.append(
        {
            "characteristic": "median follow-up, days (reverse Kaplan-Meier)",
            **{
                k: f"{median_follow_up(t['time'].to_numpy(), t['event'].to_numpy()):.0f}"
                for k, t in targets.items()
            },
        }
    )
    specs = {s.name: s for s in load_catalogue().feature_specs(data.landmark)}
    rows.extend(
        {
            "characteristic": f"{name} ({specs[name].unit or specs[name].type})",
            **{k: _describe(f[name], specs[name].type) for k, f in frames.items()},
        }
        for name in _key_features(data.landmark, specs)
    )
    for modality in MODALITIES:
        names = [
            s.name
            for s in specs.values()
            if s.modality == modality and s.source == "biomarker" and s.name in data.frame
        ]
        rows.append(
            {
                "characteristic": f"no {modality} value at all (% of patients)",
                **{k: f"{f[names].isna().all(axis=1).mean():.0%}" for k, f in frames.items()},
            }
        )
    return pd.DataFrame(rows)


def _group_metrics(
    targets: pd.DataFrame, risk: np.ndarray, spec: Any, seed: int, n_boot: int
) -> dict[str, Any]:
    events = int(targets["event"].sum())
    out: dict[str, Any] = {"n": len(targets), "events": events}
    if events < SUBGROUP_MIN_EVENTS or len(targets) - events < SUBGROUP_MIN_EVENTS:
        return out
    evaluator = SurvivalEvaluator(
        targets["time"].to_numpy(), targets["event"].to_numpy(), spec, n_boot=n_boot, seed=seed
    )
    values = evaluator.evaluate(risk)
    for metric in ("uno_c_365", "mean_risk_365", "citl_365"):
        point, low, high = summarise(values[metric])
        out.update({metric: point, f"{metric}_lo": low, f"{metric}_hi": high})
    observed = km_risk(targets["time"].to_numpy(), targets["event"].to_numpy(), spec.headline)
    out.update({"km_risk_365": observed[0], "km_risk_365_lo": observed[1], "km_risk_365_hi": observed[2]})
    return out


def _loco_centres(
    dev: pd.DataFrame,
    targets: pd.DataFrame,
    loco: CrossPrediction | None,
    rows: np.ndarray,
    winner: str,
    spec: Any,
    *,
    seed: int,
) -> pd.DataFrame:
    """Per held-out centre (leave-one-centre-out): Uno's C and calibration-in-the-large of the main model."""
    if loco is None or not len(rows):
        return pd.DataFrame()
    name = winner if winner in loco.risks else next(iter(loco.risks))
    centre = dev["center"].to_numpy()
    out = []
    for level in sorted(set(centre[rows])):
        mask = np.zeros(len(dev), dtype=bool)
        mask[rows] = True
        mask &= centre == level
        out.append(
            {
                "center": level,
                "candidate": name,
                **_group_metrics(targets[mask], loco.risks[name][mask], spec, seed, 200),
            }
        )
    return pd.DataFrame(out)


def _net_benefit(
    data: TrainingData,
    dev: pd.DataFrame,
    cv_evals: dict[str, Any],
    evaluator: SurvivalEvaluator,
    winner: str,
    candidates: list[Candidate],
) -> pd.DataFrame:
    """Net benefit at the headline horizon.

    The winner and its comparators, treat all/none, and at day 30 the Deauville/ctDNA rule.
    """
    shown = [winner, *(c.name for c in candidates if c.kind in ("linear_cox", "score", "ipcw_classifier"))]
    references = {"treat all": evaluator.treat_all()}
    if "deauville_day30" in dev:  # landmarks that see the day-30 PET
        references["Deauville/ctDNA rule"] = evaluator.net_benefit_of_rule(deauville_ctdna_rule(dev))
    return net_benefit_table({name: cv_evals[name] for name in shown if name in cv_evals}, references)


def _key_features(landmark: str, specs: dict[str, Any]) -> list[str]:
    wanted = [
        "age",
        "sex",
        "product",
        "ecog_preld",
        "ldh_uln_ratio",
        "stage_apheresis",
        "extranodal_sites_apheresis",
        "bridging_response_preld",
        "tmtv_preld",
        "ipi",
        "car_hematotox",
        "deauville_day30",
        "ctdna_detected_day30",
    ]
    return [w for w in wanted if w in specs]


def _describe(values: pd.Series, value_type: str) -> str:
    known = values.dropna()
    missing = f"; missing {values.isna().mean():.0%}" if values.isna().any() else ""
    if known.empty:
        return "all missing"
    if value_type in ("category", "bool"):
        shares = known.astype(str).value_counts(normalize=True).head(4)
        return ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) + missing
    q1, median, q3 = np.quantile(known.astype(float), [0.25, 0.5, 0.75])
    return f"{median:.3g} ({q1:.3g}-{q3:.3g}){missing}"


def _age_band(age: pd.Series) -> pd.Series:
    """``<65`` / ``>=65``, None where the age is missing."""
    bands = pd.Series(np.where(age < 65, "<65", ">=65"), index=age.index, dtype=object)
    bands[age.isna()] = None
    return bands
