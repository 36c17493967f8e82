"""Batch scoring: the pyfunc's numbers, top drivers, chunked Parquet, atomic overwrite."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.frame import write_frame
from serving.batch import (
    ScoringInputError,
    frame_chunks,
    output_schema,
    parquet_chunks,
    score_cohort,
    score_table,
)
from synth.frames import random_feature_frame


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return random_feature_frame(2_500, "day30", seed=21)[0]


def test_scores_match_predict_frame_with_top_drivers(predictors, cohort, tmp_path):
    predictor = predictors["day30"]
    out = tmp_path / "scores.parquet"
    progress: list[int] = []
    rows = score_cohort(predictor, frame_chunks(cohort, 700), out, on_chunk=progress.append)
    assert rows == len(cohort) and progress == [700, 700, 700, 400]
    scored = pd.read_parquet(out)
    expected = predictor.predict_frame(cohort)
    assert list(scored["patient_id"]) == list(cohort["patient_id"])
    np.testing.assert_array_equal(scored["relapse_probability"], expected["relapse_probability"])
    assert list(scored["risk_group"]) == list(expected["risk_group"])
    contributions = scored[[f"contrib__{n}" for n in predictor.feature_names]].to_numpy()
    np.testing.assert_array_equal(contributions, expected.filter(like="contrib__").to_numpy())
    np.testing.assert_allclose(scored["base_value"] + contributions.sum(axis=1), scored["margin"], atol=1e-5)
    for column in ("risk_90d", "risk_180d", "risk_365d", "risk_730d", "margin"):
        np.testing.assert_array_equal(scored[column], expected[column])
    largest = -np.sort(-np.abs(contributions), axis=1)[:, :3]
    index = {name: j for j, name in enumerate(predictor.feature_names)}
    for k in range(3):
        top = scored[f"top{k + 1}_contribution"].to_numpy()
        np.testing.assert_array_equal(
            np.abs(top), largest[:, k]
        )  # the k-th largest absolute contribution ...
        named = contributions[np.arange(len(scored)), [index[f] for f in scored[f"top{k + 1}_feature"]]]
        np.testing.assert_array_equal(named, top)  # ... and the feature it belongs to
    assert (scored[["top1_feature", "top2_feature", "top3_feature"]].nunique(axis=1) == 3).all()


def test_parquet_input_streams_only_needed_columns(predictors, cohort, tmp_path):
    predictor = predictors["day30"]
    source = tmp_path / "features.parquet"
    write_frame(cohort.assign(unused=1.0), source)
    total, chunks = parquet_chunks(source, predictor, chunk_rows=1000)
    sizes = []

    def tracked() -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            assert "unused" not in chunk.columns and "center" not in chunk.columns
            sizes.append(len(chunk))
            yield chunk

    score_cohort(predictor, tracked(), tmp_path / "out.parquet")
    assert total == len(cohort) and sizes == [1000, 1000, 500]
    from_file = pd.read_parquet(tmp_path / "out.parquet")
    np.testing.assert_array_equal(
        from_file["relapse_probability"], score_table(predictor, cohort)["relapse_probability"].to_numpy()
    )
    assert pq.read_schema(tmp_path / "out.parquet").equals(output_schema(predictor))


def test_a_failure_mid_write_leaves_the_previous_file_intact(predictors, cohort, tmp_path):
    predictor = predictors["day30"]
    out = tmp_path / "scores.parquet"
    score_cohort(predictor, frame_chunks(cohort.iloc[:300], 100), out)
    before = out.read_bytes()

    def failing() -> Iterator[pd.DataFrame]:
        yield cohort.iloc[:1000]
        yield cohort.iloc[1000:2000]
        raise OSError("registry export interrupted")

    with pytest.raises(OSError, match="interrupted"):
        score_cohort(predictor, failing(), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # no temporary left behind


def test_a_bad_chunk_fails_cleanly_and_rerun_overwrites(predictors, cohort, tmp_path):
    predictor = predictors["day30"]
    out = tmp_path / "scores.parquet"
    score_cohort(predictor, frame_chunks(cohort.iloc[:100], 50), out)
    bad = cohort.iloc[:500].copy()
    bad.loc[bad.index[-1], "product"] = "obe-cel"
    with pytest.raises(ValueError, match="product: unknown level 'obe-cel'"):
        score_cohort(predictor, frame_chunks(pd.concat([cohort.iloc[:2000], bad]), 500), out)
    assert len(pd.read_parquet(out)) == 100
    score_cohort(predictor, frame_chunks(cohort, 1000), out)
    assert len(pd.read_parquet(out)) == len(cohort)


def test_missing_columns_are_named(predictors, cohort, tmp_path):
    predictor = predictors["day30"]
    source = tmp_path / "preinfusion.parquet"
    write_frame(random_feature_frame(10, "preinfusion", seed=1)[0], source)
    with pytest.raises(ScoringInputError, match="deauville_day30"):
        parquet_chunks(source, predictor)
    with pytest.raises(ScoringInputError, match="patient_id"):
        score_table(predictor, cohort.drop(columns=["patient_id"]))


def test_an_empty_cohort_writes_an_empty_file_with_the_schema(predictors, tmp_path):
    predictor = predictors["preinfusion"]
    out = tmp_path / "empty.parquet"
    assert score_cohort(predictor, iter([]), out) == 0
    schema = pq.read_schema(out)
    assert schema.names[:9] == [
        "patient_id",
        "risk_90d",
        "risk_180d",
        "risk_365d",
        "risk_730d",
        "relapse_probability",
        "risk_group",
        "margin",
        "base_value",
    ]
    assert f"contrib__{predictor.feature_names[0]}" in schema.names and pq.read_metadata(out).num_rows == 0
