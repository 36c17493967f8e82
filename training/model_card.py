"""The model card, laid out along TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) with its item numbers.

Every number comes from the training result; the evidence behind effect sizes, scores and the
generator is in docs/evidence.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalogue import MODALITIES, load_catalogue
from models.predictor import OUTCOME, SYNTHETIC_NOTICE

from .fit import TrainResult
from .gate import GateDecision

EXISTING_MODELS = (
    ("IPI (Shipp 1993)", "compared: one-covariate Cox model (`score:ipi`)"),
    ("age-adjusted IPI (Hamlin 2003)", "compared (`score:aaipi`)"),
    (
        "CAR-HEMATOTOX (Rejeski 2021)",
        "compared (`score:car_hematotox`); designed for haematotoxicity, not relapse",
    ),
    ("m-EASIX (Pennisi 2021)", "compared (`score:m_easix`, log2); designed for CRS"),
    (
        "EASIX",
        "computed as a feature, not compared: a toxicity score whose efficacy cut-offs are unpublished",
    ),
    (
        "Day-30 Deauville score (Kuhnl 2022; Galtier 2023)",
        "compared at day 30 alone (`score:deauville`) and in net benefit",
    ),
    (
        "Deauville/ctDNA rule (Frank 2021; Al Zaki 2022)",
        "compared at day 30 in net benefit (a rule, not a risk model)",
    ),
    ("Faramand CRP/ferritin model", "not compared: thresholds not published in an accessible source"),
    (
        "Severe4 / CIRS-3+ (Shouse 2023; Kittai 2021)",
        "not compared: needs per-organ CIRS scores the registry lacks",
    ),
    ("CT-CI (CIBMTR)", "not compared: weights not retrieved"),
    ("Vercellino factors; Buecklein balancer", "not compared: no complete point score published"),
    ("InflaMix (Raj 2025)", "not compared: published parameters may not be redistributed"),
    (
        "UC Health decision tree",
        "not compared: uses labs taken after infusion, unavailable at either landmark's time",
    ),
    ("PC-PI (Iacoboni 2024)", "not compared: predicts outcome after relapse, a different question"),
)


def render_model_card(
    result: TrainResult, *, model_name: str, version: str | None, gate: GateDecision | None
) -> str:
    """Markdown model card of a trained landmark model."""
    sections = [
        f"# Model card: {model_name}" + (f" v{version}" if version else "") + " (TRIPOD+AI 1)",
        f"> **{SYNTHETIC_NOTICE}** Every number below describes synthetic patients.",
        *_summary(result),
        *_introduction(result),
        *_methods(result),
        *_results(result),
        *_discussion(result),
    ]
    if gate is not None:
        sections += ["## Registry decision (champion gate)", gate.summary()]
    return "\n\n".join(sections) + "\n"


def _summary(r: TrainResult) -> list[str]:
    ho = r.winner_holdout
    return [
        "## Summary (TRIPOD+AI 2)",
        f"Predicts the risk of {OUTCOME} at 90, 180, 365 and 730 days after the `{r.data.landmark}` "
        "landmark, "
        f"for {r.data.counts.eligible:,} eligible patients of a synthetic multi-centre CAR-T registry. "
        "Winner "
        f"`{r.winner}` (gradient-boosted Cox model). Held-out Uno's C at 365 days {_ci(ho, 'uno_c_365')}, "
        f"integrated Brier score {_ci(ho, 'ibs')}, mean predicted minus observed 12-month risk "
        f"{_ci(ho, 'citl_365', '+.3f')}. "
        f"{r.sample_size.summary()}.",
    ]


def _introduction(r: TrainResult) -> list[str]:
    lm = load_catalogue().landmarks[r.data.landmark]
    return [
        "## Background and objectives (TRIPOD+AI 3a, 3b, 3c, 4)",
        "**Context (3a).** CD19 CAR-T cells cure about 40% of patients with relapsed/refractory large B-cell "
        "lymphoma; "
        "most others progress within a year. Existing prognostic tools and how this card treats them:",
        _table(pd.DataFrame(EXISTING_MODELS, columns=["existing model", "here"])),
        f"**Target population and users (3b).** {lm.description} (landmark `{r.data.landmark}`, day "
        f"{lm.day}). Intended "
        "users: researchers, data scientists and engineers building decision support. Not a medical device.",
        "**Inequalities (3c).** Real registries differ by region, product access and age; the synthetic "
        "registry "
        "models region (EU/US centres), product mix and age by product only. Subgroup performance is "
        "reported below.",
        "**Objective (4).** Development and internal validation (cross-validation, a held-out set, "
        "leave-one-centre-out).",
    ]


def _methods(r: TrainResult) -> list[str]:
    c, cat = r.data.counts, load_catalogue()
    lm = cat.landmarks[r.data.landmark]
    windows = ", ".join(f"{w} (days {cat.windows[w].start} to {cat.windows[w].end})" for w in lm.windows)
    used = r.predictor.metadata.features
    by_modality = pd.Series([s.modality for s in used]).value_counts().reindex(list(MODALITIES), fill_value=0)
    offered = len(cat.feature_specs(r.data.landmark))
    infusion = pd.to_datetime(r.data.frame["infusion_date"])
    return [
        "## Methods",
        "**Data (5a, 5b).** Synthetic registry written by `cart-relapse synth` from a latent causal model "
        "calibrated to "
        "published anchors (docs/evidence.md), ingested through the same validation as real data. Infusions "
        "from "
        f"{infusion.min():%Y-%m-%d} to {infusion.max():%Y-%m-%d}; median follow-up (reverse Kaplan-Meier) "
        f"{r.summaries.follow_up['development']:.0f} days in development. Training frame fingerprint "
        f"`{r.data.fingerprint}`.",
        f"**Participants (6a, 6b, 6c).** {r.data.frame['center'].nunique()} centres. Eligible: infused "
        "patients"
        + (f" alive, progression-free and still followed at day {lm.day}" if lm.day else "")
        + f". Of {c.infused:,} infused: "
        f"{c.event_before_landmark:,} had progression or death by the landmark and "
        f"{c.lost_before_landmark:,} were lost to "
        f"follow-up before it (both excluded), {c.eligible:,} eligible. Treatments: the CAR-T product is a "
        "predictor; "
        "bridging therapy and its response are predictors measured before infusion.",
        "**Data preparation (7).** Values are validated against the biomarker catalogue at ingest, converted "
        "to "
        "canonical units and quarantined with a reason when invalid; a value counts only if reported by the "
        "landmark "
        "and collected inside its window (point-in-time frames).",
        f"**Outcome (8a, 8b, 8c).** {OUTCOME}, whichever first, counted from the landmark (day {lm.day}); "
        "horizons 90, "
        "180, 365 and 730 days. Every patient contributes their follow-up; censored patients are censored, "
        "never counted "
        "as event-free. Progression dates come from the registry's outcome table (assessment-driven in the "
        "generator); "
        "no blinding applies to synthetic outcomes.",
        f"**Predictors (9a, 9b, 9c).** Every candidate is offered all {offered} catalogue features of the "
        "landmark (no "
        f"pre-selection), from windows {windows}; the winner `{r.winner}` uses {len(used)}. Its features per "
        "modality: "
        + ", ".join(f"{m} {n}" for m, n in by_modality.items())
        + ". Definitions, units and evidence: docs/evidence.md and "
        "the catalogue reference.",
        f"**Sample size (10).** {r.sample_size.summary()}. Criteria (Riley et al. 2020, anticipated R2cs = "
        "15% of its "
        f"maximum {r.sample_size.max_r2_cs:.3f}): shrinkage >= 0.9 needs "
        f"{r.sample_size.required_shrinkage:,} patients, "
        f"optimism <= 0.05 needs {r.sample_size.required_optimism:,}, overall 12-month risk within +/-0.05 "
        "needs "
        f"{r.sample_size.required_precision:,}.",
        "**Missing data (11).** No patient is dropped for missing predictors. XGBoost routes missing values "
        "natively; "
        "the linear Cox model uses median imputation with missing indicators; a clinical score missing any "
        "component is "
        "missing and takes the training median. Missingness per modality is in the characteristics table.",
        *_analysis_methods(r),
    ]


def _analysis_methods(r: TrainResult) -> list[str]:
    e = r.config.evaluation
    notes = "".join(f"\n- {n}" for n in r.notes) if r.notes else ""
    return [
        f"**Analytical methods (12a-12g).** A stable {e.holdout_fraction:.0%} of patients (hash of the "
        "patient id) is held "
        f"out and used only for final metrics and the champion gate. On the rest: {e.cv_folds}-fold "
        "cross-validation "
        f"stratified on the event, hyperparameters chosen inside each training fold ({e.inner_folds}-fold "
        "inner search: "
        "XGBoost by Cox partial likelihood, the elastic-net penalty by Harrell's C); leave-one-centre-out "
        "with fixed "
        "default hyperparameters (12d). Candidates: "
        + "; ".join(f"`{c.name}` ({c.description})" for c in r.candidates)
        + f". Boosted Cox models get a cross-fitted calibration slope and Breslow baseline (winner's slope "
        f"{r.predictor.metadata.margin_slope:.3f}). Measures (12e): Uno's C truncated at 365 and 730 days, "
        "cumulative/"
        "dynamic AUC at each horizon, IPCW Brier score at each horizon and integrated over days 10-730, "
        "calibration at "
        "365 days by decile against Kaplan-Meier (95% log-log CI) and in the large, IPCW net benefit at 365 "
        "days; every "
        f"figure with a percentile bootstrap 95% CI ({e.bootstrap_resamples} resamples; "
        f"{e.holdout_bootstrap_resamples} on "
        "the held-out set), comparisons paired on the same resamples (scikit-survival estimators). No model "
        "updating "
        "(12f). Predictions (12g): the registered MLflow pyfunc; the API and batch scoring use the same "
        "object." + notes,
        "**Class imbalance (13).** No resampling or reweighting (the IPCW classifier's weights correct "
        "censoring, not imbalance).",
        "**Fairness (14).** No fairness intervention; performance by sex and age group is reported.",
        "**Model output (15).** Absolute risk at each horizon, `margin` (log relative hazard) with its "
        "TreeSHAP "
        "decomposition, and a risk group on the 365-day risk with fixed thresholds from "
        "`training/config.yaml`: low < "
        f"{r.config.risk_groups.low:.2f} <= intermediate < {r.config.risk_groups.high:.2f} <= high. "
        "Rationale: "
        f"{r.config.risk_groups.rationale} Net benefit at both thresholds and the observed risk per group "
        "are in the results.",
        "**Training versus evaluation (16).** The held-out set comes from the same registry and period; "
        "leave-one-centre-out tests transport to an unseen centre.",
        "**Ethics, open science, patient involvement (17, 18a-18f, 19).** Synthetic data: no ethics approval "
        "or consent "
        "applies. No funding, no conflicts, no protocol or registration. Code and the generator are in this "
        "repository; "
        "the data are regenerated by `cart-relapse synth`. No patient or public involvement.",
    ]


def _results(r: TrainResult) -> list[str]:
    s, metrics = (
        r.summaries,
        ["uno_c_365", "uno_c_730", "auc_90", "auc_180", "auc_365", "auc_730", "ibs", "citl_365"],
    )
    return [
        "## Results",
        "**Participants (20a, 20b, 20c).** Development vs held-out:",
        _table(s.characteristics),
        "Cumulative incidence in development (Aalen-Johansen, 95% CI):",
        _table(s.incidence.round(3)),
        f"**Model development (21).** Development {int(r.data.development.sum()):,} patients "
        f"({int(r.data.targets['event'][r.data.development].sum()):,} events), each cross-validation fold "
        "trained on about "
        f"{(1 - 1 / r.config.evaluation.cv_folds):.0%} of them; held-out {int(r.data.holdout.sum()):,} "
        "patients "
        f"({int(r.data.targets['event'][r.data.holdout].sum()):,} events).",
        *_specification(r),
        "**Performance (23a).** Cross-validation (out-of-fold predictions pooled):",
        _table(_with_ci(r.cv, metrics)),
        "Held-out set (final models fitted on the whole development set):",
        _table(_with_ci(r.holdout, metrics)),
        "Time-dependent Brier score per horizon, held-out:",
        _table(_with_ci(r.holdout, ["brier_90", "brier_180", "brier_365", "brier_730"])),
        "Paired differences (winner minus comparator; bootstrap 95% CI):",
        _table(s.comparisons.round(4)),
        "Modality ablation (cross-validation; each row adds a modality; delta with paired 95% CI):",
        _table(s.ablation.round(4)),
        "Calibration at 365 days, out-of-fold (deciles of predicted risk; observed = Kaplan-Meier):",
        _table(s.calibration.round(3)),
        "Calibration at 365 days, held-out:",
        _table(s.calibration_holdout.round(3)),
        "Risk groups (out-of-fold): observed 365-day risk (Kaplan-Meier, 95% CI) and cumulative incidence of "
        "progression "
        "and of death without progression at each horizon:",
        _table(s.risk_groups.round(3)),
        "Net benefit at 365 days at the risk-group thresholds and around them (out-of-fold, IPCW; 95% CI):",
        _table(
            _net_benefit_at(
                s.net_benefit, (0.2, r.config.risk_groups.low, 0.45, r.config.risk_groups.high, 0.75)
            )
        ),
        "Subgroups (out-of-fold):",
        _table(s.subgroups.round(3)),
        "**Heterogeneity across centres (23b).** Leave-one-centre-out, pooled:",
        _table(_with_ci(r.loco, ["uno_c_365", "uno_c_730", "ibs", "citl_365"]))
        if len(r.loco)
        else "not enough centres",
        "Per held-out centre (calibration-in-the-large = mean predicted minus observed 365-day risk):",
        _table(s.loco_centres.round(3)) if len(s.loco_centres) else "not enough centres",
        "**Explanations agree with the literature** (Spearman correlation of each biomarker with its "
        "TreeSHAP contributions):",
        _table(r.shap_checks.round(3)),
        "**Model updating (24).** Not applicable.",
    ]


def _specification(r: TrainResult) -> list[str]:
    meta = r.predictor.metadata
    baseline = ", ".join(
        f"H0({h} d) = {v:.4f}"
        for h, v in zip(meta.horizons_days, meta.baseline_cumulative_hazard, strict=True)
    )
    return [
        f"**Model specification (22).** `{r.winner}`: XGBoost `survival:cox`, hyperparameters "
        f"`{r.final_params['xgboost']}`; "
        f"margin = {meta.margin_slope:.4f} x booster margin; {baseline}; risk(h) = 1 - exp(-H0(h) "
        "exp(margin)). Obtain "
        f'predictions with `mlflow.pyfunc.load_model("models:/cart-relapse-{r.data.landmark}@champion")`, '
        f"`POST /v1/predict/{r.data.landmark}` or `cart-relapse score --landmark {r.data.landmark}`.",
    ]


def _discussion(r: TrainResult) -> list[str]:
    return [
        "## Discussion",
        "**Interpretation (25).** Compare the winner with the clinical scores and the linear Cox model "
        "through the paired "
        "differences above; a difference whose interval includes zero is not evidence of a difference.",
        "**Limitations (26).**\n- Trained and evaluated on synthetic data only: performance on real patients "
        "is unknown.\n"
        "- The generator encodes published, mostly univariable effect sizes; interactions and unmeasured "
        "confounding in "
        "real registries are not represented.\n- ctDNA and research cellular assays are missing for most "
        "patients.\n"
        "- Risks beyond the data's follow-up are extrapolations of the baseline hazard; the censoring "
        "distribution is held "
        "fixed across bootstrap resamples.",
        "**Use with poor or missing inputs (27a).** Absent features are missing values (routed by the "
        "trees); the API "
        "rejects values outside the catalogue's valid range with an error naming the field, warns when a "
        "value lies "
        "outside the central 99% of the training data, and lists missing features with every prediction.",
        "**User interaction (27b).** Values are sent in catalogue units or an accepted alternative unit; no "
        "expertise "
        "beyond reading a risk curve and its drivers is needed, and no clinical decision may rest on this "
        "model.",
        "**Next steps (27c).** External validation on real registries; recalibration per centre or era if "
        "needed.",
    ]


def _ci(row: dict[str, float], metric: str, fmt: str = ".3f") -> str:
    return f"{row[metric]:{fmt}} [{row[metric + '_lo']:{fmt}}, {row[metric + '_hi']:{fmt}}]"


def _with_ci(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    out = pd.DataFrame({"candidate": table["candidate"]})
    for metric in metrics:
        out[metric] = [
            ""
            if pd.isna(row[metric])
            else f"{row[metric]:.3f} [{row[metric + '_lo']:.3f}, {row[metric + '_hi']:.3f}]"
            for _, row in table.iterrows()
        ]
    return out


def _net_benefit_at(table: pd.DataFrame, thresholds: Sequence[float]) -> pd.DataFrame:
    wanted = table[
        np.isclose(table["threshold"].to_numpy()[:, None], np.asarray(thresholds)[None, :]).any(axis=1)
    ]
    cells = wanted.assign(
        value=[
            f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
            for v, lo, hi in zip(wanted["net_benefit"], wanted["low"], wanted["high"], strict=True)
        ]
    )
    # one text cell per (strategy, threshold): pivot (which refuses duplicates), not pivot_table's aggregation
    return cells.pivot(index="strategy", columns="threshold", values="value").reset_index()  # noqa: PD010


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
