"""``cart-relapse score``: load the model, stream the cohort through it with a progress bar."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .batch import frame_chunks, parquet_chunks, score_cohort
from .loader import LoadFailure, configure_tracking, load_landmark
from .settings import Settings


class ScoringError(RuntimeError):
    """The model cannot be loaded or the cohort cannot be read (message says which)."""


@dataclass(frozen=True)
class ScoringRun:
    rows: int
    seconds: float
    model: str
    out: Path


def run_scoring(
    *, landmark: str, out: Path, store: Path = Path("data/store.duckdb"), input_path: Path | None = None,
    model_uri: str | None = None,
    chunk_rows: int = 10_000, workers: int = 2, console: Console | None = None,
) -> ScoringRun:
    """Score the landmark cohort from ``input_path`` (a feature-frame Parquet) or else ``store``.

    Raises:
        ScoringError: model not loadable (e.g. no champion) or an unusable input.
    """
    console = console or Console()
    settings = Settings()
    configure_tracking(settings)
    model = load_landmark(landmark, model_uri or settings.model_uri(landmark))
    if isinstance(model, LoadFailure):
        raise ScoringError(model.reason)
    predictor = model.predictor
    if input_path is not None:
        total, chunks = parquet_chunks(input_path, predictor, chunk_rows)
    else:
        from features.frame import build_feature_frame

        with console.status(f"building the {landmark} feature frame from {store}"):
            frame = build_feature_frame(store, landmark=landmark)
        total, chunks = len(frame), frame_chunks(frame, chunk_rows)
    label = f"{model.name} v{model.version}" if model.version else model.uri
    start = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task(f"scoring with {label}", total=total)
        rows = score_cohort(predictor, chunks, out, workers=workers, on_chunk=lambda n: progress.advance(task, n))
    return ScoringRun(rows=rows, seconds=time.perf_counter() - start, model=label, out=out)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)
