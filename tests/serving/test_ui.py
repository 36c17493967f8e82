"""The clinician page: accessible form built from the catalogue, the API's numbers, units and ULNs,
errors on their fields, the paste box, arriving from a CDS card, sign-in with the API token."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from models.predictor import RelapsePredictor
from serving.app import create_app
from serving.handoff import Handoff, HandoffStore
from serving.model import ServingModel
from serving.ui.session import safe_next
from synth.frames import random_feature_frame

from .cds_factories import AFTER, URL, at, cds_body, registered
from .conftest import TOKEN, request_features, settings

OBSERVED = {"low": (0.17, 0.14, 0.2), "intermediate": (0.43, 0.39, 0.47), "high": (0.72, 0.67, 0.77)}
"""Kaplan-Meier risk per group as training would store it (made-up numbers for the test models)."""


def with_observed(predictor: RelapsePredictor) -> RelapsePredictor:
    """The same model with ``OBSERVED`` in its metadata."""
    return RelapsePredictor(
        predictor.booster, predictor.metadata.model_copy(update={"observed_risk": OBSERVED})
    )


def form_fields(features: dict[str, Any]) -> dict[str, str]:
    """A features JSON object as the page's form fields."""
    out = {}
    for name, value in features.items():
        item = value if isinstance(value, dict) else {"value": value}
        raw = item["value"]
        out[f"f-{name}"] = (
            ("yes" if raw else "no") if isinstance(raw, bool) else "" if raw is None else str(raw)
        )
        if "unit" in item:
            out[f"u-{name}"] = item["unit"]
        if "reference_high" in item:
            out[f"uln-{name}"] = str(item["reference_high"])
    return out


def output(html: str, element_id: str) -> tuple[str, float]:
    match = re.search(rf'<output id="{element_id}" data-value="([^"]+)">([^<]+)</output>', html)
    assert match, element_id
    return match[2], float(match[1])


def shows_prediction_of(html: str, api: dict[str, Any]) -> None:
    text, value = output(html, "risk-headline")
    assert value == api["relapse_probability"] and text == f"{100 * value:.1f}%"
    for days, risk in api["risk_curve"].items():
        assert output(html, f"risk-{days}") == (f"{100 * risk:.1f}%", risk)
    assert f'id="risk-group" class="group group-{api["risk_group"]}">{api["risk_group"]}</strong>' in html
    assert f"{api['model']['name']} version {api['model']['version']}" in html
    assert f"Missing features ({len(api['missing_features'])})" in html
    assert f"Outside the training data ({len(api['warnings'])})" in html
    top = api["explanation"]["contributions"][0]["feature"]
    assert f"<code>{top}</code></th>" in html  # the largest contribution heads the drivers table
    assert "Trained on SYNTHETIC registry data" in html


@pytest.fixture
def page(make_client):
    return make_client()


def test_the_index_lists_the_models_and_the_notice(page):
    html = page.get("/ui/").text
    assert "cart-relapse-preinfusion version 7" in html and "cart-relapse-day30 version 7" in html
    assert 'href="/ui/day30"' in html and "Trained on SYNTHETIC registry data" in html


class Controls(HTMLParser):
    """Form controls, labels, described-by references, ids and fieldset legends of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labels: list[str] = []
        self.ids: set[str] = set()
        self.fieldsets = self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        self.labels += [a["for"]] if tag == "label" and "for" in a else []
        self.fieldsets += tag == "fieldset"
        self.legends += tag == "legend"


def test_unknown_landmarks_and_unloaded_models_get_a_page_saying_so(make_client, serving_models):
    assert "is not a landmark" in make_client().get("/ui/day90").text
    assert make_client().get("/ui/day90").status_code == 404
    loading = make_client(models={"preinfusion": serving_models["preinfusion"]}, loader=lambda _settings: {})
    response = loading.post("/ui/day30", data={"f-age": "60"})
    assert response.status_code == 503 and "The day30 model is not loaded: still loading." in response.text
    assert '<a href="/ui/day30">Day 30</a></th><td>-</td><td>loading</td>' in loading.get("/ui/").text


def test_the_risk_group_shows_the_rate_observed_in_training(make_client, predictors):
    model = ServingModel.build(with_observed(predictors["day30"]), name="cart-relapse-day30", version="8")
    client = make_client(models={"day30": model})
    api = client.post("/v1/predict/day30", json={"features": {"age": 70, "ldh_preld": 900}}).json()
    html = client.post("/ui/day30", data={"f-age": "70", "f-ldh_preld": "900"}).text
    risk, low, high = (f"{100 * v:.1f}%" for v in OBSERVED[api["risk_group"]])
    assert (
        f"patients the model put in this group had an observed risk by 12 months of {risk} (95% CI {low} to "
        f"{high}, "
        "Kaplan-Meier)"
    ) in html


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_every_control_has_one_label_and_its_hints_exist(page, serving_models, landmark):
    response = page.get(f"/ui/{landmark}")
    assert response.status_code == 200
    parsed = Controls()
    parsed.feed(response.text)
    ids = [c["id"] for c in parsed.controls]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(
        parsed.labels
    )  # one label per control, none stray
    fields = serving_models[landmark].schema.fields
    assert {i.removeprefix("f-") for i in ids if i.startswith("f-")} == set(fields)
    for control in parsed.controls:
        assert set(control.get("aria-describedby", "").split()) <= parsed.ids
    assert parsed.fieldsets == parsed.legends >= 4
    assert "Trained on SYNTHETIC registry data" in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert not re.search(r'(src|href|action)="(https?:)?//', response.text)  # nothing from another host
    assert page.get("/ui/static/ui.css").status_code == 200


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_the_form_shows_what_the_api_answers_for_the_same_values(page, landmark):
    frame, _ = random_feature_frame(3, landmark, seed=21, missing=0.3)
    for _, row in frame.iterrows():
        features = {k: v for k, v in request_features(row, landmark, derived=False).items() if v is not None}
        api = page.post(f"/v1/predict/{landmark}", json={"features": features}).json()
        response = page.post(f"/ui/{landmark}", data=form_fields(features))
        assert response.status_code == 200, response.text[:2000]
        shows_prediction_of(response.text, api)


def test_units_and_the_centres_uln_are_read_as_the_api_reads_them(page):
    features = {
        "age": 64,
        "product": "axi-cel",
        "crp_preld": {"value": 35, "unit": "mg/L"},
        "ldh_preld": {"value": 7, "unit": "ukat/L", "reference_high": 4.5},
        "primary_refractory_apheresis": True,
    }
    api = page.post("/v1/predict/preinfusion", json={"features": features}).json()
    html = page.post("/ui/preinfusion", data=form_fields(features)).text
    shows_prediction_of(html, api)
    assert "Pre-LD LDH / the centre&#39;s ULN <code>ldh_uln_ratio</code></th><td>1.556</td>" in html


def test_bad_values_are_shown_on_their_fields(page):
    response = page.post(
        "/ui/preinfusion",
        data={"f-age": "sixty", "f-ldh_preld": "35000", "f-crp_preld": "2", "u-crp_preld": "mg/L"},
    )
    assert response.status_code == 422
    html = response.text
    assert 'class="error-summary" role="alert"' in html and "risk-headline" not in html
    assert (
        '<a href="#f-age">Age at apheresis: the value must be a number with a decimal point, e.g. 3.5</a>'
        in html
    )
    assert "35000 U/L is outside the valid range [30, 30000] U/L" in html
    for name in ("age", "ldh_preld"):
        assert re.search(
            rf'id="f-{name}"[^>]*aria-describedby="f-{name}-hint f-{name}-error" aria-invalid="true"', html
        )
    assert 'id="f-age" name="f-age" value="sixty"' in html  # what was typed stays
    assert (
        'id="f-crp_preld" name="f-crp_preld" value="2"' in html and '<option value="mg/L" selected>' in html
    )


def test_the_paste_box_takes_the_api_features_json(page):
    features = {"age": 71, "sex": "M", "product": "tisa-cel", "ecog_preld": 2, "ldh_preld": 612.5}
    api = page.post("/v1/predict/preinfusion", json={"features": features}).json()
    for pasted in (features, {"patient_id": "x", "features": features}):
        html = page.post("/ui/preinfusion", data={"features_json": __import__("json").dumps(pasted)}).text
        shows_prediction_of(html, api)
        assert 'name="f-ldh_preld" value="612.5"' in html and '<option value="M" selected>' in html
    bad = page.post("/ui/preinfusion", data={"features_json": '{"age": '})
    assert bad.status_code == 422 and "Features JSON: not valid JSON (line 1" in bad.text
    unknown = page.post("/ui/preinfusion", data={"features_json": '{"age": 60, "ldh_preld2": 3}'})
    assert unknown.status_code == 422 and "unknown feature &#39;ldh_preld2&#39;" in unknown.text


def test_a_cds_card_link_opens_the_page_with_the_card_values(make_client):
    client = at(make_client(client_host="127.0.0.1"), AFTER)
    (card,) = client.post(URL.format("day30"), json=cds_body(registered())).json()["cards"]
    numbers = card["extension"]["dev.cart-relapse.prediction"]
    path = card["links"][0]["url"].removeprefix("http://testserver")
    response = client.get(path)
    assert response.status_code == 200 and "EHR patient <strong>P1</strong>" in response.text
    text, value = output(response.text, "risk-headline")
    assert value == numbers["relapse_probability"] and text == f"{100 * value:.1f}%"
    assert 'name="f-age" value="60"' in response.text  # the form holds the card's values
    assert client.get(path.replace("/day30/", "/preinfusion/")).status_code == 404
    expired = client.get("/ui/day30/from-card/unknown-id")
    assert expired.status_code == 404 and "This link has expired" in expired.text


def test_hand_offs_expire_and_are_bounded():
    now = [0.0]
    store = HandoffStore(30 * 60, max_entries=3, clock=lambda: now[0])
    item = Handoff("day30", {"age": 60}, "P1", "7", "2024-03-31")
    first = store.put(item)
    assert store.get(first) == item and len(first) >= 32
    now[0] = 30 * 60 - 1
    assert store.get(first) == item
    now[0] = 30 * 60
    assert store.get(first) is None
    keys = [store.put(item) for _ in range(5)]
    assert len(store) == 3 and store.get(keys[0]) is None and store.get(keys[-1]) == item


def ui_routes() -> list[tuple[str, str]]:
    app = create_app(settings())
    return [
        (m, c.path)
        for c in iter_route_contexts(app.routes)
        if c.path.startswith("/ui/") and c.path not in ("/ui/login", "/ui/static")
        for m in sorted((c.methods or {"GET"}) - {"HEAD"})
    ]


@pytest.mark.parametrize(("method", "path"), ui_routes())
def test_with_a_token_every_page_needs_a_session(make_client, method, path):
    client = make_client(api_token=TOKEN, client_host="203.0.113.7")
    concrete = path.replace("{landmark}", "day30").replace("{handoff_id}", "x")
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Cookie": "cart_relapse_ui=forged"}):
        response = client.request(method, concrete, headers=headers, follow_redirects=False)
        if path == "/ui/logout":
            assert response.status_code == 303  # signing out needs nothing
            continue
        assert response.status_code == 303 and response.headers["location"].startswith("/ui/login?next="), (
            headers
        )
    assert len(ui_routes()) == 5


def test_signing_in_with_the_token_opens_a_session(make_client):
    client = make_client(api_token=TOKEN, client_host="203.0.113.7")
    assert client.get("/ui/day30", follow_redirects=False).headers["location"] == "/ui/login?next=/ui/day30"
    wrong = client.post(
        "/ui/login", data={"token": "not-the-token-at-all", "next": "/ui/day30"}, follow_redirects=False
    )
    assert (
        wrong.status_code == 401
        and "That is not the API token." in wrong.text
        and "set-cookie" not in wrong.headers
    )
    right = client.post("/ui/login", data={"token": TOKEN, "next": "/ui/day30"}, follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/ui/day30"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie and TOKEN not in cookie
    assert "Secure" not in cookie  # plain HTTP here; set over HTTPS
    assert client.get("/ui/day30").status_code == 200
    assert client.post("/ui/day30", data={"f-age": "60"}).status_code == 200
    assert (
        client.post("/ui/day30", data={"f-age": "60"}, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    assert client.post("/ui/logout", follow_redirects=False).status_code == 303
    assert client.get("/ui/day30", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/day30", "/ui/day30"),
        ("/ui/day30/from-card/abc", "/ui/day30/from-card/abc"),
        ("https://evil.example/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui//evil.example", "/ui/"),
        ("/v1/models", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_only_page_paths_are_followed_after_signing_in(target, expected):
    assert safe_next(target) == expected


def test_the_page_logs_no_values(page, caplog):
    caplog.set_level(logging.DEBUG)
    page.post("/ui/preinfusion", data={"f-age": "67.1234", "f-ldh_preld": "4123.9876"})
    page.post("/ui/preinfusion", data={"f-age": "sixty-seven-1234"})
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("cart_relapse"))
    assert "route=/ui/{landmark} status=200" in text and "route=/ui/{landmark} status=422" in text
    assert "67.1234" not in text and "4123.9876" not in text and "sixty-seven" not in text
