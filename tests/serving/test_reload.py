"""Model reload without downtime: a new champion is swapped in while requests keep succeeding; a
broken candidate is refused (the old model keeps serving) and the answer says why; the same end to
end against a real server and MLflow registry, by ``POST /v1/admin/reload`` and by SIGHUP."""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import numpy as np
import pytest

from cart_relapse.process import api_server_process
from models.predictor import RelapsePredictor
from serving.app import create_app
from serving.loader import LoadFailure, ModelRegistry, ModelSlot
from serving.model import ServingModel
from serving.predict import predict_patients
from serving.probe import ProbeFailure, probe_model, probe_rows
from serving.reload import Reloader

from .conftest import TOKEN, TestClient, create_mlflow_registry, make_predictor, register_version, settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATIENT = {
    "patient_id": "PID-RELOAD-5521",
    "features": {"age": 64, "ldh_preld": 412.5, "ecog_preld": 1, "product": "axi-cel"},
}


@pytest.fixture(scope="module")
def day30_v8() -> ServingModel:
    """A different day30 model (other seed, so other numbers), registered as version 8."""
    return ServingModel.build(
        make_predictor("day30", seed=2), name="cart-relapse-day30", version="8", alias="champion"
    )


def with_day30(models: Mapping[str, ModelSlot], day30: ModelSlot) -> dict[str, ModelSlot]:
    return {**models, "day30": day30}


class Hammer:
    """Sends requests from a thread until stopped; records (status, model version) in completion order."""

    def __init__(self, send: Callable[[], httpx.Response], *, limit: int = 5_000) -> None:
        self.results: list[tuple[int, str | None]] = []
        self.errors: list[str] = []
        self._send, self._limit, self._stop = send, limit, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def wait_for(self, more: int, timeout: float = 60.0) -> None:
        target, deadline = len(self.results) + more, time.monotonic() + timeout
        while len(self.results) < target and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        assert len(self.results) >= target, f"only {len(self.results)} requests answered"

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.results) + len(self.errors) < self._limit:
            try:
                response = self._send()
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
                continue
            body = response.json() if response.status_code == 200 else {}
            first = body["predictions"][0] if "predictions" in body else body
            self.results.append((response.status_code, first.get("model", {}).get("version")))

    def versions(self) -> list[str | None]:
        return [version for _, version in self.results]


def switch_point(versions: list[str | None], old: str, new: str) -> int:
    """Where ``versions`` goes from all ``old`` to all ``new`` (asserts it does, exactly once)."""
    k = versions.index(new) if new in versions else len(versions)
    assert versions[:k] == [old] * k and versions[k:] == [new] * (len(versions) - k), versions
    return k


def test_new_version_swaps_in_while_requests_keep_succeeding(make_client, serving_models, day30_v8):
    loading = threading.Event()

    def loader(_settings):
        loading.set()
        time.sleep(0.4)  # a registry download: requests must keep being answered meanwhile
        return with_day30(serving_models, day30_v8)

    client = make_client(loader=loader, api_token=TOKEN)
    batch = {"patients": [PATIENT, PATIENT]}
    with (
        Hammer(lambda: client.post("/v1/predict/day30", json=PATIENT, headers=AUTH)) as single,
        Hammer(lambda: client.post("/v1/predict/day30/batch", json=batch, headers=AUTH)) as batched,
    ):
        single.wait_for(20)
        before = len(single.results)
        response = client.post("/v1/admin/reload", headers=AUTH)
        during = len(single.results) - before
        single.wait_for(20)
        batched.wait_for(5)
    assert loading.is_set() and during >= 3, f"{during} requests answered during the reload"
    for hammer in (single, batched):
        assert not hammer.errors and {status for status, _ in hammer.results} == {200}
        k = switch_point(hammer.versions(), "7", "8")
        assert 0 < k < len(hammer.results)
    print(
        f"\nswap under load: single {len(single.results)} requests (all 200; version 7 "
        f"x{switch_point(single.versions(), '7', '8')}, "
        f"then 8), batch {len(batched.results)} (all 200), {during} answered while the new model loaded"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["trigger"], body["outcome"], body["number"]) == ("api", "swapped", 1)
    outcomes = {item["landmark"]: item for item in body["landmarks"]}
    assert outcomes["day30"] == {
        "landmark": "day30",
        "outcome": "swapped",
        "uri": "",
        "candidate_version": "8",
        "serving_version": "8",
        "reason": None,
    }
    assert (
        outcomes["preinfusion"]["outcome"] == "unchanged"
        and outcomes["preinfusion"]["serving_version"] == "7"
    )
    listing = client.get("/v1/models", headers=AUTH).json()
    assert {m["landmark"]: m["version"] for m in listing["models"]} == {"preinfusion": "7", "day30": "8"}
    assert listing["last_reload"] == body and listing["reload_in_progress"] is False
    new = client.post("/v1/predict/day30", json=PATIENT, headers=AUTH).json()
    old_model = serving_models["day30"]
    assert new["relapse_probability"] == _probability(day30_v8) != _probability(old_model)


class _WrappedBooster:
    """The model's booster with ``predict`` replaced (everything else delegated)."""

    def __init__(self, booster, predict: Callable[..., np.ndarray]) -> None:
        self._booster, self.predict = booster, predict

    def __getattr__(self, name: str) -> Any:
        return getattr(self._booster, name)


def _nan_booster(model: ServingModel) -> ServingModel:
    booster = model.small_booster
    nan = _WrappedBooster(booster, lambda matrix, **kw: np.full_like(booster.predict(matrix, **kw), np.nan))
    return dataclasses.replace(model, version="9", small_booster=nan)


def _raising_booster(model: ServingModel) -> ServingModel:
    def predict(matrix, **kwargs):
        raise RuntimeError("std::bad_alloc\nbacktrace ...")

    return dataclasses.replace(
        model, version="9", small_booster=_WrappedBooster(model.small_booster, predict)
    )


def _other_contributions(model: ServingModel) -> ServingModel:
    """Contributions from another model's booster: they do not add up to this model's prediction."""
    other = make_predictor("day30", seed=5, trees=10).booster
    return dataclasses.replace(model, version="9", small_booster=other)


def _booster_for_other_features(model: ServingModel, predictors: dict[str, RelapsePredictor]) -> ServingModel:
    mismatched = RelapsePredictor(predictors["preinfusion"].booster, predictors["day30"].metadata)
    return ServingModel.build(mismatched, name="cart-relapse-day30", version="9", alias="champion")


def _other_landmark(models: Mapping[str, ModelSlot]) -> ServingModel:
    return dataclasses.replace(models["preinfusion"], name="cart-relapse-day30", version="9")


BROKEN = {
    "loader raises": (
        lambda models, predictors: ConnectionError("tracking server https://user:pw@mlflow.example down"),
        "model loading failed: ConnectionError: tracking server https://***@mlflow.example down",
    ),
    "version not loadable": (
        lambda models, predictors: LoadFailure(
            "day30",
            "models:/cart-relapse-day30@champion",
            "cannot load models:/cart-relapse-day30@champion: RestException: artifact missing",
        ),
        "RestException: artifact missing",
    ),
    "NaN predictions": (
        lambda models, predictors: _nan_booster(models["day30"]),
        "version 9 refused: typical probe row: risk curve [nan, nan, nan, nan] is not strictly between 0 and "
        "1",
    ),
    "contributions do not add up": (
        lambda models, predictors: _other_contributions(models["day30"]),
        "typical probe row: base_value + contributions = ",
    ),
    "prediction raises": (
        lambda models, predictors: _raising_booster(models["day30"]),
        "version 9 refused: prediction failed: RuntimeError: std::bad_alloc",
    ),
    "booster for other features": (
        lambda models, predictors: _booster_for_other_features(models["day30"], predictors),
        "version 9 refused: the booster takes 51 features but the model's metadata lists 67",
    ),
    "model for the other landmark": (
        lambda models, predictors: _other_landmark(models),
        "version 9 refused: it is a model for the 'preinfusion' landmark, not 'day30'",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_candidate_is_refused_and_the_old_model_keeps_serving(
    make_client, serving_models, predictors, day30_v8, case
):
    make_broken, reason = BROKEN[case]
    broken = make_broken(serving_models, predictors)
    loads = iter([broken, with_day30(serving_models, day30_v8)])

    def loader(_settings):
        candidate = next(loads)
        if isinstance(candidate, Exception):
            raise candidate
        return candidate if isinstance(candidate, dict) else with_day30(serving_models, candidate)

    client = make_client(loader=loader, client_host="127.0.0.1")  # no token: admin calls from loopback only
    before = client.post("/v1/predict/day30", json=PATIENT).json()
    with Hammer(lambda: client.post("/v1/predict/day30", json=PATIENT)) as hammer:
        hammer.wait_for(5)
        response = client.post("/v1/admin/reload")
        hammer.wait_for(5)
    assert not hammer.errors and set(hammer.results) == {(200, "7")}

    assert response.status_code == 409, response.text
    body = response.json()
    day30 = {item["landmark"]: item for item in body["landmarks"]}["day30"]
    assert (body["outcome"], day30["outcome"], day30["serving_version"]) == ("refused", "refused", "7")
    assert reason in day30["reason"], day30["reason"]
    assert "pw@" not in response.text
    after = client.post("/v1/predict/day30", json=PATIENT).json()
    assert after["model"]["version"] == "7" and after["relapse_probability"] == before["relapse_probability"]
    assert client.get("/health/ready").status_code == 200
    listing = client.get("/v1/models").json()
    assert {m["landmark"]: m["version"] for m in listing["models"]}["day30"] == "7"
    assert listing["last_reload"] == body
    print(f"\n{case}: 409, day30 still serving version 7: {day30['reason']}")

    fixed = client.post("/v1/admin/reload")  # the next good version is taken: a refusal leaves nothing behind
    assert fixed.status_code == 200 and fixed.json()["number"] == 2
    assert client.post("/v1/predict/day30", json=PATIENT).json()["model"]["version"] == "8"


def test_the_probe_passes_good_models_and_builds_rows_from_metadata(serving_models):
    for model in serving_models.values():
        probe_model(model)
        typical, empty = probe_rows(model)
        assert empty == {} and typical and not set(typical) & set(model.schema.derived)
        for name, value in typical.items():
            spec = model.schema.fields[name].spec
            assert (
                (value in spec.levels)
                if spec.type == "category"
                else spec.range is None or spec.range[0] <= value <= spec.range[1]
            )
    with pytest.raises(
        ProbeFailure, match=r"risk curve \[nan, nan, nan, nan\] is not strictly between 0 and 1"
    ):
        probe_model(_nan_booster(serving_models["day30"]))


def test_a_broken_model_at_start_up_is_not_ready_with_the_reason(serving_models):
    loads = iter([with_day30(serving_models, _nan_booster(serving_models["day30"])), serving_models])
    with TestClient(
        create_app(settings(), loader=lambda _settings: next(loads)), client=("127.0.0.1", 1)
    ) as client:
        ready = _wait_for_reload(client, 1)
        assert ready["last_reload"]["trigger"] == "startup" and ready["last_reload"]["outcome"] == "refused"
        health = client.get("/health/ready")
        assert health.status_code == 503
        assert (
            "version 9 refused: typical probe row: risk curve [nan, nan, nan, nan]"
            in health.json()["models"]["day30"]["reason"]
        )
        assert client.post("/v1/predict/day30", json=PATIENT).status_code == 503
        assert client.post("/v1/predict/preinfusion", json=PATIENT).status_code == 200
        reloaded = client.post("/v1/admin/reload")  # nothing served for day30: the good version is swapped in
        assert reloaded.status_code == 200 and reloaded.json()["outcome"] == "swapped"
        assert client.get("/health/ready").status_code == 200


def test_reloads_run_one_at_a_time_and_each_loads_afresh(serving_models, day30_v8):
    active, overlaps, calls = [0], [], []
    lock = threading.Lock()

    def loader(_settings):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
            calls.append(len(calls))
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return with_day30(serving_models, day30_v8) if len(calls) > 2 else serving_models

    registry = ModelRegistry(("preinfusion", "day30"))
    registry.set(serving_models)
    reloader = Reloader(registry, loader, settings())
    futures = [reloader.start("api") for _ in range(4)]
    assert reloader.in_progress
    reports = [f.result(timeout=30) for f in futures]
    assert max(overlaps) == 1 and len(calls) == 4
    assert sorted(r.number for r in reports) == [1, 2, 3, 4] and not reloader.in_progress
    assert reloader.last is not None and reloader.last.number == 4
    assert [r.outcome for r in sorted(reports, key=lambda r: r.number)] == [
        "unchanged",
        "unchanged",
        "swapped",
        "unchanged",
    ]
    assert registry.get("day30") is day30_v8


def _wait_for_reload(
    client: TestClient, number: int, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    for _ in range(600):
        body = client.get("/v1/models", headers=headers).json()
        if body["last_reload"] and body["last_reload"]["number"] >= number:
            return body
        time.sleep(0.05)
    raise AssertionError(f"reload {number} never finished")


def _probability(model: ServingModel) -> float:
    return predict_patients(model, [model.schema.parse(PATIENT["features"])])[0].relapse_probability


@pytest.mark.integration
@pytest.mark.slow
def test_reload_against_a_real_server_and_registry(tmp_path, predictors):
    """v1 champion -> v2 by POST /v1/admin/reload -> v3 (a model for the other landmark) refused on
    SIGHUP -> v4 by SIGHUP, while a thread keeps predicting: zero failed requests."""
    import mlflow

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = create_mlflow_registry(tmp_path)
    try:
        for landmark, predictor in predictors.items():
            assert register_version(uri, tmp_path, predictor, f"cart-relapse-{landmark}") == "1"
        _reload_end_to_end(uri, tmp_path, predictors)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def _reload_end_to_end(uri: str, root, predictors: dict[str, RelapsePredictor]) -> None:
    log_path = root / "server.log"
    env = {"MLFLOW_TRACKING_URI": uri, "CART_RELAPSE_API_TOKEN": ""}
    with (
        api_server_process(env=env, log_path=log_path) as (base, process),
        httpx.Client(base_url=base, timeout=30) as http,
        Hammer(lambda: http.post("/v1/predict/day30", json=PATIENT), limit=20_000) as hammer,
    ):
        hammer.wait_for(10)
        assert register_version(uri, root, make_predictor("day30", seed=2), "cart-relapse-day30") == "2"
        response = http.post("/v1/admin/reload")
        assert response.status_code == 200, response.text
        outcomes = {item["landmark"]: item for item in response.json()["landmarks"]}
        assert (outcomes["day30"]["outcome"], outcomes["day30"]["serving_version"]) == ("swapped", "2")
        assert (outcomes["preinfusion"]["outcome"], outcomes["preinfusion"]["serving_version"]) == (
            "unchanged",
            "1",
        )
        hammer.wait_for(10)

        assert register_version(uri, root, predictors["preinfusion"], "cart-relapse-day30") == "3"
        process.send_signal(signal.SIGHUP)
        refused = _poll_reload(http, 3)["last_reload"]
        day30 = {item["landmark"]: item for item in refused["landmarks"]}["day30"]
        assert (refused["trigger"], day30["outcome"], day30["serving_version"]) == (
            "signal",
            "refused",
            "2",
        )
        assert "'preinfusion' landmark, not 'day30'" in day30["reason"]
        hammer.wait_for(10)

        assert register_version(uri, root, make_predictor("day30", seed=3), "cart-relapse-day30") == "4"
        process.send_signal(signal.SIGHUP)
        swapped = _poll_reload(http, 4)
        assert swapped["last_reload"]["outcome"] == "swapped"
        assert {m["landmark"]: m["version"] for m in swapped["models"]} == {
            "preinfusion": "1",
            "day30": "4",
        }
        hammer.wait_for(10)
    versions = hammer.versions()
    print(
        f"\nreal server: {len(hammer.results)} requests, {len(hammer.errors)} transport errors, "
        f"statuses {sorted({s for s, _ in hammer.results})}, versions in order: "
        f"{[(v, sum(1 for _ in g)) for v, g in __import__('itertools').groupby(versions)]}"
    )
    assert not hammer.errors and {status for status, _ in hammer.results} == {200}
    assert "3" not in versions and versions[-1] == "4"
    assert versions == sorted(versions, key=int) and {"1", "2", "4"} <= set(versions)
    log = log_path.read_text()
    assert (
        "model reload #3 (signal): day30 refused" in log and "model reload #4 (signal): day30 swapped" in log
    )
    assert PATIENT["patient_id"] not in log and "412.5" not in log


def _poll_reload(http: httpx.Client, number: int) -> dict[str, Any]:
    for _ in range(1200):
        body = http.get("/v1/models").json()
        if body["last_reload"]["number"] >= number and not body["reload_in_progress"]:
            return body
        time.sleep(0.05)
    raise AssertionError(f"reload {number} never finished")
