"""Property-based fuzzing of the running app from its own OpenAPI document (schemathesis).

Every operation in ``/openapi.json`` gets up to 200 generated requests, once without a token and once
with one, and every response must be documented: no 5xx, a documented status code and content type,
and a body that matches the documented schema. The app is the real one (``create_app``) serving the
test models; reloads use a loader returning the same models, so no MLflow is involved.

Cases per operation come from a mix of strategies: schemathesis' own (positive and negative) from the
schema alone, the same with each real landmark in the path (a random landmark is a 404), and bodies
that use the catalogue's feature names, units and levels (so that many requests reach the model).
The CDS Hooks operations get the real service ids and patient-view requests whose prefetch mixes valid
FHIR resources with junk; they are fuzzed on the token-less server only (their JWT is not the API
token; test_cds_auth.py covers it).
Operations without parameters or body (``GET /health/live`` ...) have exactly one possible request:
Hypothesis generates it once and stops, which the test checks instead of the 200.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from features.catalogue import FeatureSpec, load_catalogue
from features.fhir_terms import APHERESIS
from serving.app import create_app

from .cds_factories import AFTER, observation, procedure, project, quantity, registered
from .conftest import LANDMARKS, TOKEN
from .conftest import settings as app_settings

CASES = 200
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CDS_OPERATIONS = [
    "GET /cds-services",
    "POST /cds-services/{service_id}",
    "POST /cds-services/{service_id}/feedback",
]
OPERATIONS = [
    "GET /health/live",
    "GET /health/ready",
    "GET /v1/models",
    "POST /v1/predict/{landmark}",
    "POST /v1/predict/{landmark}/batch",
    "POST /v1/admin/reload",
    *CDS_OPERATIONS,
]
SERVICES = ("cart-relapse-preinfusion", "cart-relapse-day30")


def loopback_client(app: Callable) -> Callable:
    """The app as a loopback client reaches it (schemathesis' ASGI client calls itself ``testclient``):
    without a token, only loopback clients may reload, and a token-less server listens on loopback only."""

    async def as_loopback(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await app(scope, receive, send)

    return as_loopback


@pytest.fixture(scope="module")
def schemas(serving_models) -> dict[str, Any]:
    open_app = create_app(app_settings(), models=serving_models, loader=lambda _settings: serving_models)
    open_app.state.clock = lambda: AFTER
    secured = create_app(
        app_settings(api_token=TOKEN), models=serving_models, loader=lambda _settings: serving_models
    )
    return {
        "no token": schemathesis.openapi.from_asgi("/openapi.json", loopback_client(open_app)),
        "token": schemathesis.openapi.from_asgi("/openapi.json", secured),
    }


def test_the_schema_lists_every_operation(schemas):
    labels = [op.ok().label for op in schemas["token"].get_all_operations()]
    assert sorted(labels) == sorted(OPERATIONS)


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        (mode, label)
        for mode in ("no token", "token")
        for label in OPERATIONS
        if not (mode == "token" and label in CDS_OPERATIONS)
    ],
)
def test_generated_requests_get_documented_answers(schemas, mode, label):
    schema = schemas[mode]
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)
    headers = {"Authorization": f"Bearer {TOKEN}"} if mode == "token" else None
    statuses: Counter = Counter()

    @settings(
        max_examples=CASES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(case=case_strategy(operation))
    def fuzz(case) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()
    cases, server_errors = sum(statuses.values()), sum(n for s, n in statuses.items() if s >= 500)
    print(
        f"\n[{mode}] {label}: {cases} cases, {server_errors} 5xx, statuses {dict(sorted(statuses.items()))}"
    )
    assert server_errors == 0
    if has_inputs(schema, operation):
        assert cases >= CASES
    else:
        assert cases == 1  # one possible request: generated, then Hypothesis knows the space is exhausted
    assert (
        401 not in statuses and 403 not in statuses
    )  # the token (or a loopback client) lets every request in
    if "{landmark}" in label:
        assert {200, 404, 422} <= set(statuses), (
            statuses
        )  # the model, unknown landmarks and bad input all reached
    if label == "POST /cds-services/{service_id}":
        assert {200, 404, 412, 422} <= set(statuses), (
            statuses
        )  # cards, unknown services, missing prefetch, bad bodies


@pytest.mark.parametrize("breakage", ["undocumented field", "server error"])
def test_the_checks_catch_an_undocumented_answer(serving_models, monkeypatch, breakage):
    import serving.routes.predict as route

    real = route.prediction_response

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if breakage == "server error":
            raise RuntimeError("boom")
        return {**real(*args, **kwargs), "undocumented": 1}

    monkeypatch.setattr(route, "prediction_response", broken)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(app_settings(), models=serving_models)
    )
    operation = next(
        op.ok() for op in schema.get_all_operations() if op.ok().label == "POST /v1/predict/{landmark}"
    )
    case = operation.Case(path_parameters={"landmark": "day30"}, body={"features": {"age": 60}})
    response = case.call()
    assert response.status_code == (500 if breakage == "server error" else 200)
    with pytest.raises(
        FailureGroup, match="Server error" if breakage == "server error" else "Response violates schema"
    ):
        case.validate_response(response, checks=CHECKS)


def has_inputs(schema: Any, operation: Any) -> bool:
    """Whether the OpenAPI operation declares any parameter or request body."""
    spec = schema.raw_schema["paths"][operation.path][operation.method.lower()]
    return bool(spec.get("parameters") or spec.get("requestBody"))


def case_strategy(operation: Any) -> st.SearchStrategy:
    """Schemathesis' positive and negative cases, plus (with a landmark in the path) the real landmarks
    and catalogue-aware bodies."""
    options = [operation.as_strategy()]
    if "{landmark}" in operation.path:
        options.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        batch = operation.path.endswith("/batch")
        for landmark in LANDMARKS:
            fixed = operation.as_strategy(path_parameters={"landmark": landmark})
            options += [
                fixed,
                st.tuples(fixed, batch_body(landmark) if batch else patient_body(landmark)).map(_with_body),
            ]
    if "{service_id}" in operation.path:
        options.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        for service in SERVICES:
            fixed = operation.as_strategy(path_parameters={"service_id": service})
            body = feedback_body() if operation.path.endswith("/feedback") else cds_request()
            options += [fixed, st.tuples(fixed, body).map(_with_body), st.tuples(fixed, body).map(_with_body)]
    return st.one_of(options)


def _with_body(pair: tuple[Any, dict[str, Any]]) -> Any:
    case, body = pair
    case.body = body
    return case


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)


def feature_value(spec: FeatureSpec) -> st.SearchStrategy:
    """A valid value of the feature (canonical or another accepted unit), null, or junk."""
    if spec.type == "category":
        valid = st.sampled_from(list(spec.levels or ("?",)))
    elif spec.type == "bool":
        valid = st.booleans()
    else:
        low, high = spec.range or (-1e6, 1e6)
        valid = (
            st.integers(math.ceil(low), math.floor(high))
            if spec.type == "int"
            else st.floats(low, high, allow_nan=False)
        )
    units = list(load_catalogue().biomarker(spec.biomarker).accepted_units) if spec.biomarker else [spec.unit]
    with_unit = st.fixed_dictionaries(
        {"value": valid | _json_scalars, "unit": st.sampled_from([*units, "", "furlong"])},
        optional={"reference_high": _json_scalars, "other": _json_scalars},
    )
    return st.one_of(valid, valid, st.none(), with_unit, _json_scalars)


def patient_body(landmark: str) -> st.SearchStrategy[dict[str, Any]]:
    values = {spec.name: feature_value(spec) for spec in load_catalogue().feature_specs(landmark)}
    features = st.lists(st.sampled_from(sorted(values)), max_size=10, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: values[name] for name in names})
    )
    stray = st.dictionaries(st.text(max_size=10), _json_scalars, max_size=2)
    return st.fixed_dictionaries(
        {
            "features": st.one_of(
                features, features, st.tuples(features, stray).map(lambda pair: {**pair[1], **pair[0]})
            )
        },
        optional={"patient_id": st.none() | st.text(max_size=140)},
    )


def batch_body(landmark: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"patients": st.lists(patient_body(landmark), max_size=4)})


_json = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
_PATIENT = registered()[0]
_PROCEDURES = [*registered()[1:], procedure(kind=APHERESIS, performed="2024-01-25", rid="late")]
_OBSERVATIONS = [
    observation("o1"),
    observation("o2", code="1988-5", value={"valueQuantity": quantity(12, "mg/L")}),
    observation("o3", code="1988-5", value={"valueQuantity": quantity(3, "mmol/L")}),
    observation("o4", status="preliminary"),
    observation("o5", code="89247-1", value={"valueInteger": 7}),
    observation("o6", collected=28, issued=29),
    observation(
        "o7", code=project("ctdna"), value={"valueQuantity": quantity(0.3, "{hGE}/mL", "<")}, collected=28
    ),
    observation("o8", patient="P2"),
    observation("o9", issued="2024-02-20T09:00:00+01:00"),
]


def _resource(kind: str, pool: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """A resource from ``pool``, the same with a field replaced by junk, or junk claiming to be one."""
    damaged = st.tuples(
        st.sampled_from(pool),
        st.sampled_from(
            ["status", "code", "subject", "effectiveDateTime", "valueQuantity", "issued", "performedDateTime"]
        ),
        _json,
    ).map(lambda t: {**t[0], t[1]: t[2]})
    junk = st.dictionaries(st.text(max_size=6), _json, max_size=3).map(lambda d: {**d, "resourceType": kind})
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), damaged, junk, _json)


def _bundle(kind: str, pool: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    entries = st.lists(_resource(kind, pool), max_size=6).map(
        lambda rs: {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in rs]}
    )
    return st.one_of(entries, entries, entries, st.none(), _json)


def cds_request() -> st.SearchStrategy[dict[str, Any]]:
    """patient-view requests for patient P1 whose prefetch mixes valid resources, damaged ones and junk."""
    patient = st.one_of(st.just(_PATIENT), st.just(_PATIENT), _resource("Patient", [_PATIENT]), st.none())
    prefetch = st.fixed_dictionaries(
        {
            "patient": patient,
            "infusion": _bundle("Procedure", _PROCEDURES),
            "observations": _bundle("Observation", _OBSERVATIONS),
        }
    )
    return st.fixed_dictionaries(
        {
            "hook": st.just("patient-view"),
            "hookInstance": st.text(min_size=1, max_size=8),
            "context": st.just({"patientId": "P1"}),
            "prefetch": st.one_of(prefetch, prefetch, prefetch, _json),
        }
    )


def feedback_body() -> st.SearchStrategy[dict[str, Any]]:
    item = st.fixed_dictionaries(
        {
            "card": st.text(min_size=1, max_size=10),
            "outcome": st.sampled_from(["accepted", "overridden"]),
            "outcomeTimestamp": st.just("2025-06-01T12:00:00Z"),
        },
        optional={"overrideReason": _json, "acceptedSuggestions": st.lists(st.just({"id": "s"}))},
    )
    return st.fixed_dictionaries({"feedback": st.lists(item, max_size=3)})
