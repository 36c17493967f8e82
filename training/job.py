"""``cart-relapse train``: load, train, evaluate, track and register each requested landmark."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.catalogue import load_catalogue

from .dataset import load_training_data
from .fit import TrainResult, train_landmark
from .labels import HORIZON_DAYS
from .register import Registration, log_and_register
from .tracking import redact_uri, resolve_tracking_uri, setup_tracking


@dataclass(frozen=True)
class LandmarkOutcome:
    result: TrainResult
    registration: Registration
    seconds: float


def run_training(
    store: Path, landmarks: list[str], *, promote: bool = False, seed: int = 7, n_configs: int = 4,
    tracking_uri: str | None = None, console: Console | None = None,
) -> list[LandmarkOutcome]:
    """Train every landmark in ``landmarks``; fail before any work if tracking is unusable.

    Raises:
        training.dataset.TrainingError: unusable tracking store, empty store, too few events.
    """
    console = console or Console()
    setup_tracking(tracking_uri)
    data_by_landmark = {lm: load_training_data(store, lm) for lm in landmarks}  # fail early, register nothing
    outcomes = []
    for landmark, data in data_by_landmark.items():
        start = time.perf_counter()
        with console.status(f"[{landmark}] training") as status:
            result = train_landmark(data, seed=seed, n_configs=n_configs,
                                    progress=lambda msg, lm=landmark: status.update(f"[{lm}] {msg}"))
            status.update(f"[{landmark}] logging to MLflow and registering")
            tags = {"landmark": landmark, "horizon_days": str(HORIZON_DAYS), "git_commit": _git_commit(),
                    "training_fingerprint": data.fingerprint, "store": str(store),
                    "n_eligible": str(data.counts.eligible), "n_events": str(data.counts.positive),
                    "n_excluded_censored": str(data.counts.censored_before_horizon)}
            registration = log_and_register(result, tags=tags, force_promote=promote)
        outcomes.append(LandmarkOutcome(result, registration, time.perf_counter() - start))
        console.print(comparison_table(result))
        console.print(ablation_table(result))
        console.print(f"[{landmark}] registered {registration.name} v{registration.version} "
                      f"({registration.gate.summary()}) in {outcomes[-1].seconds:.0f} s")
    return outcomes


def landmarks_for(choice: str) -> list[str]:
    names = list(load_catalogue().landmarks)
    return names if choice == "all" else [choice]


def ui_command(tracking_uri: str | None = None) -> str:
    return f"mlflow ui --backend-store-uri {redact_uri(resolve_tracking_uri(tracking_uri))} --port 5000"


def comparison_table(result: TrainResult) -> Table:
    """Every candidate and baseline: CV AUROC (95% CI), Brier, calibration slope; held-out AUROC."""
    c = result.data.counts
    table = Table(title=f"{result.data.landmark}: {c.eligible} eligible, {c.positive} events, "
                        f"{c.censored_before_horizon} censored <12 mo (excluded)")
    for col in ("candidate", "CV AUROC (95% CI)", "CV Brier", "CV cal. slope", "Harrell C", "held-out AUROC", "held-out cal. slope"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    ho = result.holdout_metrics.set_index("candidate")
    for row in result.cv_metrics.sort_values("auroc", ascending=False).itertuples():
        mark = " *" if row.candidate == result.winner else ""
        table.add_row(f"{row.candidate}{mark}", f"{row.auroc:.3f} ({row.auroc_lo:.3f}-{row.auroc_hi:.3f})", f"{row.brier:.3f}",
                      f"{row.cal_slope:.2f}", f"{row.harrell_c:.3f}", f"{ho.loc[row.candidate, 'auroc']:.3f}",
                      f"{ho.loc[row.candidate, 'cal_slope']:.2f}")
    return table


def ablation_table(result: TrainResult) -> Table:
    table = Table(title=f"{result.data.landmark}: what each modality adds (XGBoost, CV)")
    for col in ("modalities", "AUROC (95% CI)", "delta AUROC", "Brier"):
        table.add_column(col, justify="left" if col == "modalities" else "right")
    for row in result.ablation.itertuples():
        delta = "" if row.delta_auroc != row.delta_auroc else f"{row.delta_auroc:+.3f}"
        table.add_row(row.modalities, f"{row.auroc:.3f} ({row.auroc_lo:.3f}-{row.auroc_hi:.3f})", delta, f"{row.brier:.3f}")
    return table


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
