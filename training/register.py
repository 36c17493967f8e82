"""Log a trained landmark to MLflow, package the winner, register it and apply the champion gate.

The parent run has a child run per candidate; the winner is packaged as one pyfunc model.

The current champion is looked up and scored on this run's held-out patients before anything is
logged: an error from the registry fails the job (``TrainingError``) with nothing registered; it is
never mistaken for "no champion".
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.drift_profile import PROFILE_ARTIFACT, build_reference_profile
from models.packaging import log_packaged_model
from models.predictor import MODEL_FORMAT, SYNTHETIC_NOTICE, registered_model_name

from .dataset import TrainingError
from .fit import TrainResult, evaluation_spec
from .gate import Comparison, GateDecision, champion_gate
from .model_card import render_model_card
from .plots import plot_calibration, plot_cumulative_incidence, plot_decision_curve, plot_shap_beeswarm
from .survival_metrics import SurvivalEvaluator

FORMAT_TAG = "model_format"


@dataclass(frozen=True)
class Registration:
    """The registered model version, its run and the champion gate's decision."""

    name: str
    version: str
    run_id: str
    gate: GateDecision


@dataclass(frozen=True)
class Champion:
    """The current champion version and the pyfunc format it was packaged with."""

    version: str
    model_format: int


def log_and_register(
    result: TrainResult, *, tags: dict[str, str], force_promote: bool = False
) -> Registration:
    """Track everything about ``result`` in MLflow and register the winner.

    The champion alias moves only if :func:`~training.gate.champion_gate` says so on the held-out
    patients; ``challenger`` always points at the new version.

    Raises:
        TrainingError: the registry cannot be read, or the current champion cannot be scored.
    """
    import mlflow
    from mlflow import MlflowClient

    name = registered_model_name(result.data.landmark)
    client = MlflowClient()
    champion = find_champion(client, name)
    gate = decide(result, name, champion, force=force_promote)
    with (
        mlflow.start_run(run_name=f"train-{result.data.landmark}") as parent,
        tempfile.TemporaryDirectory() as tmp,
    ):
        out = Path(tmp)
        _log_run(result, tags, out)
        profile = out / "drift_profile.json"
        profile.write_text(json.dumps(reference_profile(result)))
        info = log_packaged_model(
            result.predictor, out / "model", name, extra_artifacts={PROFILE_ARTIFACT: str(profile)}
        )
        version = str(info.registered_model_version)
        mlflow.set_tags({"gate.promote": str(gate.promote), "gate.reasons": gate.summary()[:5000]})
        _log_json(out / "gate.json", {"promote": gate.promote, "reasons": gate.reasons})
        (out / "model_card.md").write_text(
            render_model_card(result, model_name=name, version=version, gate=gate)
        )
        mlflow.log_artifact(str(out / "model_card.md"))
        client.set_registered_model_alias(name, "challenger", version)
        if gate.promote:
            client.set_registered_model_alias(name, "champion", version)
        client.update_model_version(name, version, description=f"{SYNTHETIC_NOTICE}\n\n{gate.summary()}")
        for key, value in {
            "synthetic_data": "true",
            FORMAT_TAG: str(MODEL_FORMAT),
            "landmark": result.data.landmark,
        }.items():
            client.set_model_version_tag(name, version, key, value)
        return Registration(name, version, parent.info.run_id, gate)


def reference_profile(result: TrainResult) -> dict[str, Any]:
    """Drift reference: the development features and the packaged model's held-out scores.

    Scores of patients it was not fitted on, as new patients' will be.
    """
    data = result.data
    scores = result.predictor.predict_frame(data.frame[data.holdout])["relapse_probability"].to_numpy(
        dtype=float
    )
    return build_reference_profile(data.frame[data.development], result.predictor.metadata.features, scores)


def find_champion(client: Any, name: str) -> Champion | None:
    """The version behind ``name@champion`` and its model format, or None if there is none.

    Raises:
        TrainingError: any registry error other than "no such registered model".
    """
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
        if "champion" not in (model.aliases or {}):
            return None
        version = str(model.aliases["champion"])
        tags = client.get_model_version(name, version).tags or {}
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise TrainingError(
            f"cannot read the model registry for {name}: {exc}; nothing was registered"
        ) from exc
    except Exception as exc:  # a broken store raises database or network errors of many types
        raise TrainingError(
            f"cannot read the model registry for {name}: {exc}; nothing was registered"
        ) from exc
    return Champion(version, int(tags.get(FORMAT_TAG, "1")))


def decide(result: TrainResult, name: str, champion: Champion | None, *, force: bool) -> GateDecision:
    """The gate decision for ``result`` against ``champion`` (see :func:`champion_gate`)."""
    if champion is None:
        return champion_gate(None, force=force)
    if champion.model_format < MODEL_FORMAT:
        return GateDecision(
            True,
            [
                f"champion v{champion.version} uses the retired model format {champion.model_format} "
                f"(a 12-month classifier that cannot be compared on the risk curve); replaced"
            ],
        )
    return champion_gate(compare_with_champion(result, name, champion), force=force)


def compare_with_champion(result: TrainResult, name: str, champion: Champion) -> Comparison:
    """Paired bootstrap of held-out Uno's C (365 days): this run's winner vs the champion.

    Raises:
        TrainingError: the champion cannot be loaded or scored.
    """
    config = result.config
    data = result.data
    try:
        risk = _champion_risk(f"models:/{name}/{champion.version}", data.frame[data.holdout])
    except Exception as exc:  # loading runs the champion's own code: any failure is a registry problem here
        raise TrainingError(
            f"cannot score the current champion {name} v{champion.version} on the held-out "
            f"patients: {exc}; nothing was registered"
        ) from exc
    times = result.times
    champion_matrix = np.full((len(risk), len(times)), np.nan)
    champion_matrix[:, int(np.searchsorted(times, config.risk_groups.horizon_days))] = risk
    targets = data.targets[data.holdout]
    n_boot = config.evaluation.holdout_bootstrap_resamples
    evaluator = SurvivalEvaluator(
        targets["time"].to_numpy(),
        targets["event"].to_numpy(),
        evaluation_spec(config, times),
        n_boot=n_boot,
        seed=0,
    )
    new = evaluator.evaluate(result.holdout_risks[result.winner])["uno_c_365"]
    old = evaluator.evaluate(champion_matrix)["uno_c_365"]
    delta = new - old
    low, high = np.quantile(delta[1:], [0.025, 0.975])
    return Comparison(
        float(new[0]), float(old[0]), float(delta[0]), float(low), float(high), champion.version, n_boot
    )


def _champion_risk(uri: str, frame: pd.DataFrame) -> np.ndarray:
    import mlflow

    model = mlflow.pyfunc.load_model(uri)
    columns = model.metadata.get_input_schema().input_names()
    risk: np.ndarray = model.predict(frame[columns])["relapse_probability"].to_numpy(dtype=float)
    return risk


def _log_run(result: TrainResult, tags: dict[str, str], out: Path) -> None:
    import mlflow

    mlflow.set_tags(
        {
            **tags,
            "synthetic_data": "true",
            "winner": result.winner,
            "sample_size_adequate": str(result.sample_size.adequate),
        }
    )
    mlflow.log_params({f"xgb.{k}": v for k, v in result.final_params["xgboost"].items()})
    mlflow.log_params({f"linear_cox.{k}": v for k, v in result.final_params["linear_cox"].items()})
    mlflow.log_metrics({k: float(v) for k, v in result.predictor.metadata.metrics.items()})
    mlflow.log_metric("margin_slope", result.predictor.metadata.margin_slope)
    mlflow.log_metrics({f"time.{k}": v for k, v in result.timings.items()})
    _log_children(result)
    _log_tables_and_plots(result, out)
    _log_json(
        out / "sample_size.json",
        {**asdict(result.sample_size), "required": result.sample_size.required, "notes": result.notes},
    )


def _log_children(result: TrainResult) -> None:
    import mlflow

    tables = {"cv": result.cv, "holdout": result.holdout, "loco": result.loco}
    indexed = {where: t.set_index("candidate") for where, t in tables.items() if "candidate" in t and len(t)}
    for candidate in result.candidates:
        with mlflow.start_run(run_name=candidate.name, nested=True):
            mlflow.set_tags(
                {"candidate": candidate.name, "kind": candidate.kind, "landmark": result.data.landmark}
            )
            mlflow.log_params(
                {
                    "kind": candidate.kind,
                    "n_features": len(candidate.specs),
                    "description": candidate.description,
                }
            )
            for where, table in indexed.items():
                if candidate.name in table.index:
                    row = table.loc[candidate.name]
                    mlflow.log_metrics({f"{where}_{k}": float(v) for k, v in row.items() if pd.notna(v)})


def _log_tables_and_plots(result: TrainResult, out: Path) -> None:
    import mlflow

    s = result.summaries
    landmark = result.data.landmark
    files = [
        plot_calibration(
            s.calibration, out / "calibration.png", f"{landmark}: calibration at 365 days (out-of-fold)"
        ),
        plot_decision_curve(
            s.net_benefit, out / "decision_curve.png", f"{landmark}: net benefit at 365 days (out-of-fold)"
        ),
        plot_cumulative_incidence(result, out / "cumulative_incidence.png"),
        plot_shap_beeswarm(
            result.predictor,
            result.data.frame[result.data.development],
            out / "shap_beeswarm.png",
            f"{landmark}: TreeSHAP on the log relative hazard",
        ),
    ]
    tables = {
        "comparison_cv": result.cv,
        "comparison_holdout": result.holdout,
        "loco": result.loco,
        "loco_centres": s.loco_centres,
        "ablation": s.ablation,
        "paired_comparisons": s.comparisons,
        "calibration": s.calibration,
        "calibration_holdout": s.calibration_holdout,
        "net_benefit": s.net_benefit,
        "risk_groups": s.risk_groups,
        "subgroups": s.subgroups,
        "characteristics": s.characteristics,
        "cumulative_incidence": s.incidence,
        "shap_directions": result.shap_checks,
    }
    for stem, table in tables.items():
        table.to_csv(out / f"{stem}.csv", index=False)
        files.append(out / f"{stem}.csv")
    for path in files:
        mlflow.log_artifact(str(path))


def _log_json(path: Path, payload: dict[str, Any]) -> None:
    import mlflow

    path.write_text(json.dumps(payload, indent=2, default=str))
    mlflow.log_artifact(str(path))
