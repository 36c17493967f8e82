"""``cart-relapse train``: load, train, evaluate, track and register each requested landmark."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from features.catalogue import load_catalogue

from .dataset import load_training_data
from .fit import TrainResult, train_landmark
from .register import Registration, log_and_register
from .tracking import redact_uri, resolve_tracking_uri, setup_tracking


@dataclass(frozen=True)
class LandmarkOutcome:
    """One landmark's training result, its registration and how long it took."""

    result: TrainResult
    registration: Registration
    seconds: float


def run_training(
    store: Path,
    landmarks: list[str],
    *,
    promote: bool = False,
    seed: int = 7,
    n_configs: int | None = None,
    tracking_uri: str | None = None,
    console: Console | None = None,
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

            def report(msg: str, lm: str = landmark) -> None:
                status.update(f"[{lm}] {msg}")

            result = train_landmark(data, seed=seed, n_configs=n_configs, progress=report)
            status.update(f"[{landmark}] logging to MLflow and registering")
            c = data.counts
            tags = {
                "landmark": landmark,
                "outcome": "progression/relapse or death (PFS) from the landmark",
                "horizons_days": ",".join(map(str, result.config.horizons_days)),
                "git_commit": _git_commit(),
                "training_fingerprint": data.fingerprint,
                "store": str(store),
                "n_eligible": str(c.eligible),
                "n_events": str(c.events),
                "n_censored": str(c.censored),
                "n_lost_before_landmark": str(c.lost_before_landmark),
            }
            registration = log_and_register(result, tags=tags, force_promote=promote)
        outcomes.append(LandmarkOutcome(result, registration, time.perf_counter() - start))
        for note in result.notes:
            console.print(f"[{'bold red' if note.startswith('WARNING') else 'yellow'}]{landmark}: {note}[/]")
        console.print(comparison_table(result))
        console.print(ablation_table(result))
        console.print(
            f"[{landmark}] registered {registration.name} v{registration.version} "
            f"({registration.gate.summary()}) in {outcomes[-1].seconds:.0f} s"
        )
    return outcomes


def landmarks_for(choice: str) -> list[str]:
    """The landmarks to train: every catalogue landmark for ``all``, else the one named."""
    names = list(load_catalogue().landmarks)
    return names if choice == "all" else [choice]


def ui_command(tracking_uri: str | None = None) -> str:
    """The command that opens the MLflow UI on the tracking store.

    Runnable without activating the venv (credentials in the URI masked).
    """
    store = redact_uri(resolve_tracking_uri(tracking_uri))
    return f"{sys.executable} -m mlflow ui --backend-store-uri {store} --port 5000"


COMPARISON_COLUMNS = {
    "uno_c_365": "Uno C 365",
    "uno_c_730": "Uno C 730",
    "auc_90": "AUC 90",
    "auc_365": "AUC 365",
    "ibs": "IBS",
    "citl_365": "pred-obs 365",
}


def comparison_table(result: TrainResult) -> Table:
    """Every candidate, cross-validated (95% CI), with held-out Uno's C; the winner starred."""
    c = result.data.counts
    table = Table(
        title=f"{result.data.landmark}: {c.eligible:,} eligible, {c.events:,} events (progression or death), "
        f"{c.censored:,} censored (kept), {c.lost_before_landmark:,} lost before the landmark (excluded); "
        "cross-validation [95% bootstrap CI]; * packaged"
    )
    table.add_column("candidate", no_wrap=True)
    for label in (*COMPARISON_COLUMNS.values(), "held-out Uno C 365"):
        table.add_column(label, justify="right")
    holdout = result.holdout.set_index("candidate")
    for row in result.cv.sort_values("uno_c_365", ascending=False).to_dict("records"):
        mark = " *" if row["candidate"] == result.winner else ""
        cells = [_ci(row, metric) for metric in COMPARISON_COLUMNS]
        table.add_row(
            f"{row['candidate']}{mark}", *cells, _ci(holdout.loc[row["candidate"]].to_dict(), "uno_c_365")
        )
    return table


def ablation_table(result: TrainResult) -> Table:
    """What each modality adds to the boosted Cox model (cross-validated Uno's C, paired differences)."""
    table = Table(
        title=f"{result.data.landmark}: what each modality adds "
        "(XGBoost Cox, cross-validation, paired 95% CI)"
    )
    for col in ("modalities", "Uno C 365", "delta Uno C", "IBS", "delta IBS"):
        table.add_column(col, justify="left" if col == "modalities" else "right")
    for row in result.summaries.ablation.to_dict("records"):
        table.add_row(
            row["modalities"],
            _ci(row, "uno_c_365"),
            _ci(row, "delta_uno_c_365", "+.3f"),
            f"{row['ibs']:.3f}",
            _ci(row, "delta_ibs", "+.3f"),
        )
    return table


def _ci(row: Mapping[Hashable, Any], metric: str, fmt: str = ".3f") -> str:
    value = row.get(metric)
    if value is None or value != value:
        return ""
    return f"{value:{fmt}} [{row[metric + '_lo']:{fmt}}, {row[metric + '_hi']:{fmt}}]"


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
