"""The ``cart-relapse`` command line.

Each command imports its implementation lazily so that ``cart-relapse --help`` and the light
commands start fast (``import mlflow`` alone costs seconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from features.catalogue import load_catalogue

if TYPE_CHECKING:
    from serving.drift_job import DriftRun

DEFAULT_STORE = Path("data/store.duckdb")
LANDMARKS = tuple(load_catalogue().landmarks)  # names come from features/catalogue.yaml, never from here

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Predict the risk of progression/relapse or death at 3, 6, 12 and 24 months after CD19 CAR-T "
    "infusion (or after day 30). Models are trained on SYNTHETIC data: research use only, "
    "not for clinical decisions.",
)

StoreOpt = Annotated[Path, typer.Option("--store", help="DuckDB feature store")]
LandmarkOpt = Annotated[str, typer.Option("--landmark", help=" or ".join(LANDMARKS))]


@app.command()
def synth(
    patients: Annotated[int, typer.Option("--patients", min=1, help="number of apheresed patients")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 7,
    out: Annotated[Path, typer.Option("--out", help="output folder of raw registry files")] = Path(
        "data/raw"
    ),
    dirty: Annotated[bool, typer.Option("--dirty", help="add realistic bad rows")] = False,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
) -> None:
    """Write a synthetic CAR-T registry calibrated to published effect sizes."""
    from synth import generate_registry, write_registry

    from .console import console

    with console.status(f"generating {patients:,} synthetic patients"):
        tables = generate_registry(n_patients=patients, seed=seed, dirty=dirty)
        paths = write_registry(tables, out, fmt=fmt)
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def ingest(
    directory: Annotated[Path, typer.Argument(help="folder of raw registry files")],
    store: StoreOpt = DEFAULT_STORE,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 if any row was quarantined")] = False,
) -> None:
    """Validate raw registry files and load them into the feature store."""
    from features.errors import RegistryError
    from features.ingest import ingest_directory

    from .console import console, fail

    try:
        report = ingest_directory(directory, store=store)
    except RegistryError as exc:
        fail(str(exc))
    console.print(report.render())
    if strict and report.quarantined:
        fail(f"--strict: {report.quarantined:,} rows were quarantined")


@app.command()
def features(
    store: StoreOpt = DEFAULT_STORE,
    landmark: LandmarkOpt = LANDMARKS[0],
    out: Annotated[Path, typer.Option("--out", help="output Parquet file")] = Path("data/features.parquet"),
) -> None:
    """Write the point-in-time feature frame of one landmark."""
    from features.errors import RegistryError
    from features.frame import build_feature_frame, write_frame

    from .console import console, fail

    try:
        frame = build_feature_frame(store, landmark=landmark)
    except (RegistryError, KeyError) as exc:
        fail(str(exc))
    write_frame(frame, out)
    console.print(f"wrote {out}: {len(frame):,} patients x {frame.shape[1]} columns ({landmark})")


@app.command()
def train(
    store: StoreOpt = DEFAULT_STORE,
    landmark: Annotated[str, typer.Option("--landmark", help=", ".join(LANDMARKS) + " or all")] = "all",
    promote: Annotated[
        bool, typer.Option("--promote", help="make the new version champion regardless of the gate")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="seed for folds, tuning and XGBoost")] = 7,
    n_configs: Annotated[
        int | None,
        typer.Option(
            "--n-configs",
            min=1,
            help="hyperparameter configurations per search (default: training/config.yaml)",
        ),
    ] = None,
) -> None:
    """Train survival models, compare them with clinical scores, track in MLflow and register the winner."""
    from training.dataset import TrainingError
    from training.job import landmarks_for, run_training, ui_command

    from .console import console, fail

    if landmark not in (*LANDMARKS, "all"):
        fail(f"--landmark must be {', '.join(LANDMARKS)} or all, not {landmark!r}")
    try:
        run_training(
            store, landmarks_for(landmark), promote=promote, seed=seed, n_configs=n_configs, console=console
        )
    except TrainingError as exc:
        fail(str(exc))
    console.print(f"MLflow UI: make ui, or {ui_command()}")


@app.command()
def demo(
    patients: Annotated[int, typer.Option("--patients", min=100, help="synthetic patients")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 7,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="where the demo writes everything")] = Path(
        "data"
    ),
) -> None:
    """End to end on embedded defaults: synth (dirty) -> ingest -> features -> train -> serve -> score."""
    from .demo import run_demo

    run_demo(patients=patients, seed=seed, data_dir=data_dir)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="address to bind; non-loopback needs CART_RELAPSE_API_TOKEN")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port")] = 8000,
    model_uri: Annotated[
        list[str] | None, typer.Option("--model-uri", help="LANDMARK=URI, repeatable (default: champions)")
    ] = None,
) -> None:
    """Serve predictions with TreeSHAP explanations over HTTP (models loaded once from MLflow)."""
    from pydantic import ValidationError

    from features.catalogue import load_catalogue
    from serving.server import run_server
    from serving.settings import ServingConfigError, Settings, parse_model_uris

    from .console import fail

    try:
        settings = Settings(model_uris=parse_model_uris(model_uri or [], tuple(load_catalogue().landmarks)))
        run_server(settings, host=host, port=port)
    except (ServingConfigError, ValidationError) as exc:
        fail(str(exc))


@app.command()
def score(
    store: StoreOpt = DEFAULT_STORE,
    landmark: LandmarkOpt = LANDMARKS[0],
    input_path: Annotated[
        Path | None, typer.Option("--input", help="feature-frame Parquet instead of --store")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="output Parquet (replaced atomically)")] = Path(
        "data/scores.parquet"
    ),
    model_uri: Annotated[
        str | None, typer.Option("--model-uri", help="model URI (default: the landmark's champion)")
    ] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=100, help="patients per chunk")] = 10_000,
    engine: Annotated[
        str, typer.Option("--engine", help="local, or spark (mlflow spark_udf; needs the spark extra)")
    ] = "local",
    table: Annotated[
        str | None, typer.Option("--table", help="Spark table of features instead of --input (spark engine)")
    ] = None,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[2])")
    ] = None,
    drift_report: Annotated[
        Path | None, typer.Option("--drift-report", help="also write DIR/drift.json and DIR/drift.html")
    ] = None,
) -> None:
    """Score a cohort in chunks: risk curve, risk group, margin, top-3 drivers and every contribution."""
    from features.errors import RegistryError
    from serving.score_job import ScoringError, run_scoring

    from .console import console, fail

    try:
        run = run_scoring(
            landmark=landmark,
            out=out,
            store=store,
            input_path=input_path,
            model_uri=model_uri,
            chunk_rows=chunk_rows,
            console=console,
            engine=engine,
            table=table,
            drift_report=drift_report,
            spark_master=spark_master,
        )
    except (
        ScoringError,
        RegistryError,
        KeyError,
        OSError,
        ValueError,
    ) as exc:  # ValueError: bad columns or values
        fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
    console.print(f"wrote {run.out}: {run.rows:,} patients scored with {run.model} in {run.seconds:.1f} s")
    if run.drift is not None:
        _print_drift(run.drift)


@app.command()
def drift(
    landmark: LandmarkOpt = LANDMARKS[0],
    input_path: Annotated[Path, typer.Option("--input", help="feature-frame Parquet of the batch")] = Path(
        "data/features.parquet"
    ),
    out: Annotated[Path, typer.Option("--out", help="report folder (drift.json, drift.html)")] = Path(
        "data/drift"
    ),
    model_uri: Annotated[
        str | None, typer.Option("--model-uri", help="model URI (default: the landmark's champion)")
    ] = None,
    log_to_mlflow: Annotated[
        bool, typer.Option("--log-to-mlflow", help="log the report as a run beside the model")
    ] = False,
) -> None:
    """Compare a batch's features and scores with the model's training reference (PSI, KS/chi-square, units)."""  # noqa: E501 -- the command's help text, rendered into docs/reference/cli.md
    from serving.drift_job import DriftError, run_drift

    from .console import fail

    try:
        report = run_drift(
            landmark=landmark,
            out_dir=out,
            input_path=input_path,
            model_uri=model_uri,
            log_to_mlflow=log_to_mlflow,
        )
    except DriftError as exc:
        fail(str(exc))
    _print_drift(report)


def _print_drift(report: DriftRun) -> None:
    from .console import console

    flagged = ", ".join(report.flagged) if report.flagged else "none"
    console.print(
        f"drift of {report.rows:,} patients vs {report.model}: flagged features: {flagged}; "
        f"score {'shifted' if report.score_flagged else 'stable'}"
    )
    console.print(
        f"wrote {report.json_path} and {report.html_path}"
        + (f" (MLflow run {report.mlflow_run_id})" if report.mlflow_run_id else "")
    )


def main() -> None:
    """Run the ``cart-relapse`` command line (the console script's entry point)."""
    app()


if __name__ == "__main__":
    main()
