"""Log a trained landmark to MLflow (parent run + a child run per candidate), package the winner
as one pyfunc model (models-from-code), register it and apply the champion gate."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import pandas as pd

from models.drift_profile import PROFILE_ARTIFACT, build_reference_profile
from models.predictor import SYNTHETIC_NOTICE, RelapsePredictor, registered_model_name

from .fit import TrainResult
from .gate import GateDecision, champion_gate
from .metrics import auroc, calibration
from .model_card import render_model_card
from .plots import plot_calibration, plot_decision_curve, plot_roc, plot_shap_beeswarm

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "models" / "pyfunc_entry.py"
RUNTIME_PACKAGES = ("mlflow", "numpy", "pandas", "pydantic", "pyyaml", "xgboost-cpu")


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    run_id: str
    gate: GateDecision


def log_and_register(result: TrainResult, *, tags: dict[str, str], force_promote: bool = False) -> Registration:
    """Track everything about ``result`` in MLflow and register the winner.

    The champion alias moves only if :func:`champion_gate` says so on the held-out patients;
    ``challenger`` always points at the new version.
    """
    import mlflow
    from mlflow import MlflowClient

    name = registered_model_name(result.data.landmark)
    client = MlflowClient()
    with mlflow.start_run(run_name=f"train-{result.data.landmark}") as parent, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        mlflow.set_tags({**tags, "synthetic_data": "true", "winner": result.winner})
        mlflow.log_params({f"xgb.{k}": v for k, v in result.final_params.items()})
        mlflow.log_metrics({k: float(v) for k, v in result.predictor.metadata.metrics.items()})
        mlflow.log_metrics({f"time.{k}": v for k, v in result.timings.items()})
        _log_children(result)
        _log_tables_and_plots(result, out)
        info = log_packaged_model(result.predictor, out / "model", name, profile=reference_profile(result))
        version = str(info.registered_model_version)
        champion = _champion_metrics(client, name, result)
        challenger = _holdout_auroc_slope(result.holdout_predictions[result.winner], result)
        gate = champion_gate(challenger, champion, force=force_promote)
        mlflow.set_tags({"gate.promote": str(gate.promote), "gate.reasons": gate.summary()[:5000]})
        (out / "gate.json").write_text(json.dumps({"promote": gate.promote, "reasons": gate.reasons,
                                                   "challenger": challenger, "champion": champion}, indent=2))
        mlflow.log_artifact(str(out / "gate.json"))
        card = render_model_card(result, model_name=name, version=version, gate=gate)
        (out / "model_card.md").write_text(card)
        mlflow.log_artifact(str(out / "model_card.md"))
        client.set_registered_model_alias(name, "challenger", version)
        if gate.promote:
            client.set_registered_model_alias(name, "champion", version)
        client.update_model_version(name, version, description=f"{SYNTHETIC_NOTICE}\n\n{gate.summary()}")
        client.set_model_version_tag(name, version, "synthetic_data", "true")
        return Registration(name, version, parent.info.run_id, gate)


def _log_children(result: TrainResult) -> None:
    import mlflow

    cv = result.cv_metrics.set_index("candidate")
    ho = result.holdout_metrics.set_index("candidate")
    loco = result.loco_metrics[result.loco_metrics["center"] == "pooled"].set_index("candidate")
    for candidate in result.candidates:
        with mlflow.start_run(run_name=candidate.name, nested=True):
            mlflow.set_tags({"candidate": candidate.name, "kind": candidate.kind, "landmark": result.data.landmark})
            mlflow.log_params({"kind": candidate.kind, "n_features": len(candidate.specs), "description": candidate.description})
            mlflow.log_metrics({f"cv_{k}": float(v) for k, v in cv.loc[candidate.name].items() if pd.notna(v)})
            mlflow.log_metrics({f"holdout_{k}": float(v) for k, v in ho.loc[candidate.name].items() if pd.notna(v)})
            if candidate.name in loco.index and pd.notna(loco.loc[candidate.name, "auroc"]):
                mlflow.log_metric("loco_auroc_pooled", float(loco.loc[candidate.name, "auroc"]))


def _log_tables_and_plots(result: TrainResult, out: Path) -> None:
    import mlflow

    data = result.data
    dev_labels = data.labels["label"][data.development]
    labelled = dev_labels.notna()
    y = dev_labels[labelled].to_numpy(int)
    shown = [result.winner, "logistic", *[c.name for c in result.candidates if c.kind == "score"]]
    oof = result.oof.probabilities.loc[labelled, shown]
    title = f"{data.landmark}: out-of-fold"
    files = [
        plot_roc(y, oof, out / "roc.png", title),
        plot_calibration(y, oof[result.winner].to_numpy(), out / "calibration.png", f"{title} ({result.winner})"),
        plot_decision_curve(y, oof, out / "decision_curve.png", title),
        plot_shap_beeswarm(result.predictor, data.frame[data.development], out / "shap_beeswarm.png", f"{data.landmark}: TreeSHAP"),
    ]
    tables = {"comparison_cv": result.cv_metrics, "comparison_holdout": result.holdout_metrics, "ablation": result.ablation,
              "loco": result.loco_metrics, "subgroups": result.subgroups, "shap_directions": result.shap_checks}
    for stem, table in tables.items():
        table.to_csv(out / f"{stem}.csv", index=False)
        files.append(out / f"{stem}.csv")
    for path in files:
        mlflow.log_artifact(str(path))


def log_packaged_model(predictor: RelapsePredictor, directory: Path, name: str, *, profile: dict[str, Any] | None = None) -> Any:
    """Log ``predictor`` as one pyfunc model (models-from-code) in the active run and register it as ``name``.

    Args:
        profile: the drift reference profile, stored as the model's ``drift_profile`` artifact.

    Returns:
        MLflow's ``ModelInfo`` (``registered_model_version``, ``model_uri``).
    """
    import mlflow

    booster_path, metadata_path = predictor.save(directory)
    example = _input_example(predictor)
    artifacts = {"booster": str(booster_path), "metadata": str(metadata_path)}
    if profile is not None:  # drift reference profile: travels with every registered version
        (directory / "drift_profile.json").write_text(json.dumps(profile))
        artifacts[PROFILE_ARTIFACT] = str(directory / "drift_profile.json")
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(ENTRY),
        artifacts=artifacts,
        code_paths=[str(REPO / "models"), str(REPO / "features")],
        signature=model_signature(predictor),
        input_example=example,
        pip_requirements=[f"{p}=={pkg_version(p)}" for p in RUNTIME_PACKAGES],
        registered_model_name=name,
        metadata={"landmark": predictor.metadata.landmark, "synthetic_data": True, "notice": SYNTHETIC_NOTICE},
    )


def reference_profile(result: TrainResult) -> dict[str, Any]:
    """Drift reference: the development features and the packaged model's scores on the held-out patients
    (scores of patients it was not fitted on, as new patients' will be)."""
    data = result.data
    scores = result.predictor.predict_frame(data.frame[data.holdout])["relapse_probability"].to_numpy(dtype=float)
    return build_reference_profile(data.frame[data.development], result.predictor.metadata.features, scores)


def model_signature(predictor: RelapsePredictor) -> Any:
    """Input: every feature optional (missing allowed); categories as strings, the rest as double."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string" if s.type == "category" else "double", s.name, required=False)
                     for s in predictor.metadata.features])
    outputs = Schema([ColSpec("double", "relapse_probability"), ColSpec("string", "risk_group"), ColSpec("double", "base_value")]
                     + [ColSpec("double", c) for c in predictor.output_columns[3:]])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _input_example(predictor: RelapsePredictor) -> pd.DataFrame:
    row: dict[str, Any] = {}
    for spec in predictor.metadata.features:
        if spec.type == "category":
            row[spec.name] = (spec.levels or ("",))[0]
        else:
            low, high = predictor.metadata.training_ranges.get(spec.name, (0.0, 1.0))
            row[spec.name] = float((low + high) / 2) if spec.type == "float" else float(round(low))
    return pd.DataFrame([row])


def _champion_metrics(client: Any, name: str, result: TrainResult) -> dict[str, float] | None:
    """The current champion scored on this run's held-out patients (None if there is no champion)."""
    import mlflow

    try:
        client.get_model_version_by_alias(name, "champion")
    except Exception:
        return None
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    predictor: RelapsePredictor = loaded.unwrap_python_model().predictor
    holdout = result.data.frame[result.data.holdout]
    probability = pd.Series(predictor.predict_frame(holdout)["relapse_probability"].to_numpy(), index=holdout.index)
    return _holdout_auroc_slope(probability, result)


def _holdout_auroc_slope(probability: pd.Series, result: TrainResult) -> dict[str, float]:
    label = result.data.labels["label"].reindex(probability.index)
    known = label.notna()
    y, p = label[known].to_numpy(int), probability[known].to_numpy()
    return {"auroc": auroc(y, p), "cal_slope": calibration(y, p)[1]}
