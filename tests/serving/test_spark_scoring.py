"""Spark batch scoring: the same numbers as local scoring and as the pyfunc, from a Parquet file (CLI) and a
Spark table (Python API); Java chosen explicitly; a clear error without pyspark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.model_ref import Column
from serving.spark_scoring import result_type
from serving.spark_session import SparkSetupError, java_home, java_major, local_spark_session
from tests.conftest import run_cli

TABLE_SCRIPT = """
import sys
import mlflow
from serving.model_ref import resolve_model_ref
from serving.spark_scoring import score_with_spark
from serving.spark_session import local_spark_session

mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])
spark = local_spark_session()
spark.read.parquet(sys.argv[2]).createOrReplaceTempView("features_preinfusion")
ref = resolve_model_ref("models:/cart-relapse-preinfusion@champion")
run = score_with_spark(ref, out=sys.argv[3], table="features_preinfusion", spark=spark)
print("rows", run.rows)
spark.table("features_preinfusion").drop("crp_preld").createOrReplaceTempView("incomplete")
try:
    score_with_spark(ref, out=sys.argv[3] + ".bad", table="incomplete", spark=spark)
except Exception as exc:
    print("error", type(exc).__name__, exc)
spark.stop()
"""


def fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    home.mkdir(parents=True)
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return home


def test_java_home_is_chosen_explicitly(tmp_path, monkeypatch):
    import serving.spark_session as spark_session

    newest, seventeen = fake_jdk(tmp_path, "jdk-25", "25.0.1"), fake_jdk(tmp_path, "jdk-17", "17.0.15")
    monkeypatch.setattr(spark_session, "JVM_ROOT", tmp_path)
    monkeypatch.delenv("CART_RELAPSE_JAVA_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(newest))  # unsupported by Spark 4: skipped
    assert java_major(newest) == 25 and java_home() == seventeen
    monkeypatch.setenv("CART_RELAPSE_JAVA_HOME", str(newest))
    with pytest.raises(SparkSetupError, match="not a Java 17 or 21"):
        java_home()
    monkeypatch.delenv("CART_RELAPSE_JAVA_HOME")
    monkeypatch.setattr(spark_session, "JVM_ROOT", tmp_path / "none")
    with pytest.raises(SparkSetupError, match="CART_RELAPSE_JAVA_HOME"):
        java_home()


def test_missing_pyspark_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SparkSetupError, match=r"cart-relapse\[spark\]"):
        local_spark_session()


def test_engine_arguments_are_checked_before_any_work(tmp_path, monkeypatch):
    from serving.score_job import ScoringError, run_scoring

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    cases = [
        ({"engine": "spark"}, "exactly one of --input"),
        ({"table": "t"}, "--table needs --engine spark"),
        ({"engine": "spark", "input_path": tmp_path / "none.parquet"}, "no such file"),
        ({"engine": "dask"}, "--engine must be one of"),
    ]
    for arguments, message in cases:
        with pytest.raises(ScoringError, match=message):
            run_scoring(landmark="preinfusion", out=tmp_path / "out.parquet", **arguments)
    assert not (tmp_path / "out.parquet").exists()


def test_result_type_follows_the_signature():
    outputs = [
        Column("risk_365d", "double"),
        Column("risk_group", "string"),
        Column("contrib__age", "double"),
    ]
    assert result_type(outputs) == "`risk_365d` double, `risk_group` string, `contrib__age` double"


@pytest.mark.integration
@pytest.mark.slow
def test_spark_scores_equal_local_scores_and_the_pyfunc(cli_registry, tmp_path):
    env = cli_registry.env()
    local, spark, report = tmp_path / "local.parquet", tmp_path / "spark.parquet", tmp_path / "drift"
    run_cli("score", "--input", str(cli_registry.features), "--out", str(local), env=env)
    run_cli(
        "score",
        "--engine",
        "spark",
        "--input",
        str(cli_registry.features),
        "--out",
        str(spark),
        "--drift-report",
        str(report),
        env=env,
    )
    expected, scored = pd.read_parquet(local), pd.read_parquet(spark)
    assert spark.is_dir() and list(scored.columns) == list(expected.columns)
    scored = scored.set_index("patient_id").loc[expected["patient_id"]]
    expected = expected.set_index("patient_id")
    _assert_same_scores(scored, expected)
    _assert_matches_pyfunc(scored, cli_registry)
    assert (report / "drift.json").exists() and (report / "drift.html").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_a_spark_table_is_scored_like_the_parquet(cli_registry, tmp_path):
    out = tmp_path / "from_table.parquet"
    result = subprocess.run(
        [sys.executable, "-c", TABLE_SCRIPT, cli_registry.tracking_uri, str(cli_registry.features), str(out)],
        capture_output=True,
        text=True,
        env=cli_registry.env(),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    features = pd.read_parquet(cli_registry.features)
    assert f"rows {len(features)}" in result.stdout
    assert "error ModelRefError incomplete lacks column(s) ['crp_preld']" in result.stdout
    local = tmp_path / "local.parquet"
    run_cli("score", "--input", str(cli_registry.features), "--out", str(local), env=cli_registry.env())
    expected = pd.read_parquet(local).set_index("patient_id")
    _assert_same_scores(pd.read_parquet(out).set_index("patient_id").loc[expected.index], expected)


def _assert_same_scores(scored: pd.DataFrame, expected: pd.DataFrame) -> None:
    numeric = [c for c in expected.columns if pd.api.types.is_float_dtype(expected[c])]
    assert "relapse_probability" in numeric and any(c.startswith("contrib__") for c in numeric)
    difference = np.abs(scored[numeric].to_numpy() - expected[numeric].to_numpy()).max()
    assert difference <= 1e-9, difference
    assert (scored["risk_group"] == expected["risk_group"]).all()
    contributions = expected.filter(like="contrib__").to_numpy()
    untied = np.array([len(np.unique(np.abs(row))) == len(row) for row in contributions])
    for k in (1, 2, 3):
        assert (scored[f"top{k}_feature"] == expected[f"top{k}_feature"])[untied].all()


def _assert_matches_pyfunc(scored: pd.DataFrame, cli_registry) -> None:
    """Every output of the model's signature is a column, equal to the pyfunc's own predict."""
    import mlflow

    from serving.model_ref import conform_inputs, model_columns, resolve_model_ref

    mlflow.set_tracking_uri(cli_registry.tracking_uri)
    mlflow.set_registry_uri(cli_registry.tracking_uri)
    ref = resolve_model_ref("models:/cart-relapse-preinfusion@champion")
    inputs, outputs, _ = model_columns(ref)
    features = pd.read_parquet(cli_registry.features).set_index("patient_id").loc[scored.index]
    direct = mlflow.pyfunc.load_model(ref.pinned).predict(conform_inputs(features, inputs, source="features"))
    for column in outputs:
        if column.type == "double":
            np.testing.assert_allclose(
                scored[column.name].to_numpy(), direct[column.name].to_numpy(), rtol=0, atol=1e-9
            )
        else:
            assert list(scored[column.name]) == list(direct[column.name])


WITHOUT_PYSPARK = """
import sys
sys.modules["pyspark"] = None  # as if the spark extra were not installed
import cart_relapse.demo  # noqa: F401  (the demo's imports)
from cart_relapse.cli import main
sys.argv = [
    "cart-relapse", "score", "--input", sys.argv[1], "--out", sys.argv[2], "--drift-report", sys.argv[3]
]
main()
"""


@pytest.mark.integration
@pytest.mark.slow
def test_local_scoring_and_drift_do_not_need_pyspark(cli_registry, tmp_path):
    out, report = tmp_path / "scores.parquet", tmp_path / "drift"
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYSPARK, str(cli_registry.features), str(out), str(report)],
        capture_output=True,
        text=True,
        env=cli_registry.env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        len(pd.read_parquet(out)) == len(pd.read_parquet(cli_registry.features))
        and (report / "drift.json").exists()
    )
