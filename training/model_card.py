"""The model card, laid out along the TRIPOD+AI items that apply to this model."""

from __future__ import annotations

import pandas as pd

from features.catalogue import MODALITIES, load_catalogue
from models.predictor import SYNTHETIC_NOTICE

from .fit import TrainResult
from .gate import GateDecision


def render_model_card(result: TrainResult, *, model_name: str, version: str | None, gate: GateDecision | None) -> str:
    """Markdown model card of a trained landmark model."""
    data, meta = result.data, result.predictor.metadata
    catalogue = load_catalogue()
    lm = catalogue.landmarks[data.landmark]
    c = data.counts
    ho = result.winner_holdout
    windows = ", ".join(f"{w} (days {catalogue.windows[w].start} to {catalogue.windows[w].end})" for w in lm.windows)
    by_modality = pd.Series([s.modality for s in meta.features]).value_counts().reindex(list(MODALITIES), fill_value=0)
    sections = [
        f"# Model card: {model_name}" + (f" v{version}" if version else ""),
        f"> **{SYNTHETIC_NOTICE}**",
        "## 1. Intended use (TRIPOD+AI 3, 5)",
        f"Estimate the probability of progression/relapse or death from any cause within {data.horizon_days} days of "
        f"CD19 CAR-T infusion for relapsed/refractory large B-cell lymphoma, {lm.description.lower()} "
        f"(landmark `{data.landmark}`, day {lm.day}). Intended users: researchers and engineers building decision "
        "support; not a medical device and not validated for clinical decisions.",
        "## 2. Source of data and eligibility (TRIPOD+AI 6, 7)",
        f"Synthetic multi-centre registry produced by `cart-relapse synth` (latent causal model calibrated to published "
        f"effect sizes; see `shared/domain/evidence.md`). Eligible: infused patients{' alive and progression-free at day 30' if lm.day else ''}. "
        f"Training frame fingerprint `{data.fingerprint}`.",
        "## 3. Outcome and horizon (TRIPOD+AI 8)",
        f"Event: progression/relapse or death, whichever first, within {data.horizon_days} days of infusion"
        + (f" and after day {lm.day}" if lm.day else "") + ". Built from the outcomes table only. Patients censored "
        "before the horizon without an event are excluded from classification (not counted as negatives) and kept "
        "for Harrell's C.",
        "## 4. Predictors and their timing (TRIPOD+AI 9)",
        f"{len(meta.features)} features from windows {windows}; only values reported at or before the landmark are used. "
        "Features per modality: " + ", ".join(f"{m} {n}" for m, n in by_modality.items()) + ".",
        "## 5. Sample size and events (TRIPOD+AI 10)",
        _table(pd.DataFrame([{"eligible": c.eligible, "events": c.positive, "non-events": c.negative,
                              "censored before horizon (excluded)": c.censored_before_horizon,
                              "development": int(data.development.sum()), "held out": int(data.holdout.sum())}])),
        "## 6. Missing data (TRIPOD+AI 11)",
        "XGBoost routes missing values natively; the logistic comparator uses median imputation with missing "
        "indicators; clinical scores are missing when any component is missing and then take the training median.",
        "## 7. Model specification (TRIPOD+AI 12)",
        f"Winner `{result.winner}` (best cross-validated AUROC among XGBoost candidates). Hyperparameters (tuned on the "
        f"development set by inner cross-validation): `{result.final_params}`. Risk groups: low < {meta.thresholds.low:.3f} "
        f"<= intermediate < {meta.thresholds.high:.3f} <= high (tertiles of out-of-fold risk). Explanations: exact TreeSHAP in log-odds.",
        "## 8. Performance (TRIPOD+AI 13, 16)",
        "5-fold cross-validation on the development set (tuning inside each training fold):",
        _table(_comparison(result.cv_metrics)),
        f"Held-out set ({int(data.holdout.sum())} patients, never used for fitting or tuning): AUROC {ho['auroc']:.3f} "
        f"({ho['auroc_lo']:.3f}-{ho['auroc_hi']:.3f}), Brier {ho['brier']:.3f}, calibration intercept {ho['cal_intercept']:.3f}, "
        f"slope {ho['cal_slope']:.3f}.",
        "Leave-one-centre-out AUROC:",
        _table(result.loco_metrics.pivot(index="center", columns="candidate", values="auroc").round(3).reset_index()),
        "## 9. Modality ablation",
        _table(result.ablation.round(3)),
        "## 10. Subgroups (TRIPOD+AI 14)",
        _table(result.subgroups.round(3)),
        "## 11. Explanations agree with the literature",
        _table(result.shap_checks.round(3)),
        "## 12. Limits",
        "- Trained and evaluated on synthetic data only: performance on real patients is unknown.\n"
        "- The generator encodes published univariable effect sizes; interactions and unmeasured confounding in real "
        "registries are not represented.\n- ctDNA and research cellular assays are missing for most patients.\n"
        "- Not a survival model: the 12-month probability ignores when within the year the event occurs.",
    ]
    if gate is not None:
        sections += ["## 13. Registry decision", gate.summary()]
    return "\n\n".join(sections) + "\n"


def _comparison(metrics: pd.DataFrame) -> pd.DataFrame:
    out = metrics[["candidate", "n", "events", "auroc", "auroc_lo", "auroc_hi", "auprc", "brier", "cal_intercept", "cal_slope", "harrell_c"]]
    return out.round(3)


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
