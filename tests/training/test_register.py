"""training/register.py: the champion lookup, the gate decision and the drift reference, without a server.

Logging, registering and promoting through MLflow end to end are in test_registry.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

from models.predictor import MODEL_FORMAT
from training.dataset import TrainingError
from training.register import FORMAT_TAG, Champion, decide, find_champion, reference_profile


class FakeRegistry:
    """The two ``MlflowClient`` calls ``find_champion`` makes, answering from a dict (or raising)."""

    def __init__(self, aliases=None, tags=None, error: Exception | None = None):
        self.aliases, self.tags, self.error = aliases or {}, tags or {}, error

    def get_registered_model(self, name):
        if self.error:
            raise self.error
        return SimpleNamespace(name=name, aliases=self.aliases)

    def get_model_version(self, name, version):
        return SimpleNamespace(version=version, tags=self.tags)


def test_the_champion_alias_gives_its_version_and_format():
    client = FakeRegistry(aliases={"champion": "4"}, tags={FORMAT_TAG: "2"})
    assert find_champion(client, "cart-relapse-preinfusion") == Champion("4", 2)
    untagged = FakeRegistry(aliases={"champion": "1"})
    assert find_champion(untagged, "m") == Champion("1", 1)  # versions before the tag: the first format


def test_no_model_or_no_champion_alias_is_no_champion():
    assert find_champion(FakeRegistry(aliases={"challenger": "2"}), "m") is None
    missing = MlflowException("no such model", error_code=RESOURCE_DOES_NOT_EXIST)
    assert find_champion(FakeRegistry(error=missing), "m") is None


@pytest.mark.parametrize(
    "error",
    [MlflowException("database is locked", error_code=INTERNAL_ERROR), OSError("connection refused")],
)
def test_any_other_registry_error_stops_the_job_naming_the_model(error):
    with pytest.raises(
        TrainingError, match=r"cannot read the model registry for m: .*nothing was registered"
    ):
        find_champion(FakeRegistry(error=error), "m")


def test_without_a_champion_or_with_a_retired_format_the_new_version_is_promoted():
    first = decide(None, "m", None, force=False)
    assert first.promote and first.reasons == ["no current champion"]
    retired = decide(None, "m", Champion("3", MODEL_FORMAT - 1), force=False)
    assert retired.promote and "champion v3 uses the retired model format" in retired.reasons[0]


@pytest.mark.slow
def test_the_drift_reference_is_the_development_features_and_held_out_scores(tiny_result):
    profile = reference_profile(tiny_result)
    data = tiny_result.data
    assert profile["n_rows"] == int(data.development.sum())
    ldh = profile["features"]["ldh_preld"]
    assert sum(ldh["counts"]) + ldh["n_missing"] == profile["n_rows"]
    assert set(profile["features"]) == {s.name for s in tiny_result.predictor.metadata.features}
    score = profile["score"]
    assert sum(score["counts"]) + score["n_missing"] == int(data.holdout.sum()) and score["n_missing"] == 0
