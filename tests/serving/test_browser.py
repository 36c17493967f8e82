"""End to end in headless Chromium (Debian's ``chromium`` driven by Playwright), against the real server
(``cart-relapse serve`` on a temporary MLflow registry) with every request to another host blocked:

* the clinician page: fill the form by label and keyboard, submit, read the risk shown and compare it
  with ``POST /v1/predict`` and with the registered pyfunc; save a screenshot (``tests/artifacts``);
* a CDS card's link opens the page with the card's risk;
* ``/docs`` and ``/redoc`` render the operations without internet access.

``.ci/run`` installs the browser (``apt-get install chromium``); without it this test fails, it does
not skip: ``playwright install`` cannot download browsers here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cart_relapse.process import api_server

from .cds_factories import cds_body, observation, quantity, registered
from .conftest import create_mlflow_registry, register_version
from .test_ui import OBSERVED, with_observed

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SCREENSHOT = ARTIFACTS / "clinician_page.png"
PATIENT = {  # label -> value typed, as a clinician would (units chosen where the lab reports another)
    "Age at apheresis": "67",
    "ECOG performance status (preld window, days -14 to -3)": "2",
    "Lactate dehydrogenase (preld window, days -14 to -3)": "410",
    "Centre's upper limit of normal for Lactate dehydrogenase (preld window, days -14 to -3)": "280",
    "C-reactive protein (preld window, days -14 to -3)": "35",
    "Ferritin (preld window, days -14 to -3)": "1450",
    "Platelet count (preld window, days -14 to -3)": "88",
    "FDG-PET total metabolic tumour volume (preld window, days -14 to -3)": "310",
}
FEATURES = {
    "age": 67,
    "product": "axi-cel",
    "bridging_response_preld": "PD",
    "ecog_preld": 2,
    "ldh_preld": {"value": 410, "unit": "U/L", "reference_high": 280},
    "crp_preld": {"value": 35, "unit": "mg/L"},
    "ferritin_preld": 1450,
    "platelets_preld": 88,
    "tmtv_preld": 310,
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def registry(predictors, tmp_path_factory) -> str:
    """A temporary MLflow registry with both test models, carrying the observed risk per group."""
    import mlflow

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    root = tmp_path_factory.mktemp("browser-registry")
    uri = create_mlflow_registry(root)
    for landmark, predictor in predictors.items():
        register_version(uri, root, with_observed(predictor), f"cart-relapse-{landmark}")
    mlflow.set_tracking_uri(previous[0])  # leave the process's MLflow URIs as the other tests set them
    mlflow.set_registry_uri(previous[1])
    return uri


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("browser") / "server.log"
    env = {"MLFLOW_TRACKING_URI": registry, "CART_RELAPSE_API_TOKEN": ""}
    with api_server(env=env, log_path=log) as base:
        yield base


@pytest.fixture
def page(browser, server) -> Iterator[Any]:
    """A page in a fresh context whose requests to any other origin are aborted (and recorded)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.blocked = blocked
    yield page
    context.close()


def pyfunc_risk(uri: str, landmark: str, contributions: list[dict[str, Any]]) -> pd.DataFrame:
    """The registered pyfunc's output for the values the API says the model used."""
    import mlflow

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/cart-relapse-{landmark}@champion")
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    row = {
        c["feature"]: (float(c["value"]) if isinstance(c["value"], bool | int | float) else c["value"])
        for c in contributions
    }
    return model.predict(pd.DataFrame([row]))


def test_the_clinician_page_shows_the_api_risk_and_is_usable_by_keyboard(page, server, registry):
    page.goto(f"{server}/ui/preinfusion")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    for label, value in PATIENT.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Unit of C-reactive protein (preld window, days -14 to -3)", exact=True).select_option(
        "mg/L"
    )
    page.get_by_label("CAR-T product infused", exact=True).select_option("axi-cel")
    response = page.get_by_label(
        "Response to bridging on the pre-infusion scan (preld window, days -14 to -3)", exact=True
    )
    response.focus()
    page.keyboard.press("End")  # the last level, PD, chosen with the keyboard
    age = page.get_by_label("Age at apheresis", exact=True)
    age.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-sex"  # the next control in reading order
    page.get_by_label("Platelet count (preld window, days -14 to -3)", exact=True).fill("many")
    age.focus()
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector(".error-summary")
    assert (
        page.evaluate("document.activeElement.className") == "error-summary"
    )  # the problems are read out first
    page.get_by_role(
        "link", name="Platelet count (preld window, days -14 to -3): the value must be a number"
    ).click()
    assert page.evaluate("document.activeElement.id") == "f-platelets_preld"
    assert (
        page.get_by_label("Platelet count (preld window, days -14 to -3)", exact=True).input_value() == "many"
    )
    page.keyboard.press("Control+A")  # the field kept what was typed: replace it from the keyboard
    page.keyboard.type("88")
    page.keyboard.press("Enter")
    page.wait_for_selector("#risk-headline")
    assert page.evaluate("document.activeElement.id") == "result-heading"
    shown, value = (
        page.locator("#risk-headline").inner_text(),
        float(page.locator("#risk-headline").get_attribute("data-value")),
    )
    api = httpx.post(f"{server}/v1/predict/preinfusion", json={"features": FEATURES}).json()
    assert value == api["relapse_probability"] and shown == f"{100 * value:.1f}%"
    for days, risk in api["risk_curve"].items():
        assert float(page.locator(f"#risk-{days}").get_attribute("data-value")) == risk
    assert page.locator("#risk-group").inner_text() == api["risk_group"]
    assert (
        page.locator("#model-version").inner_text()
        == f"cart-relapse-preinfusion version {api['model']['version']}"
    )
    assert page.get_by_role("note").inner_text().startswith("Synthetic data.")
    risk, low, high = (f"{100 * v:.1f}%" for v in OBSERVED[api["risk_group"]])
    assert (
        f"observed risk by 12 months of {risk} (95% CI {low} to {high}"
        in page.locator(".result").inner_text()
    )
    pyfunc = pyfunc_risk(registry, "preinfusion", api["explanation"]["contributions"]).iloc[0]
    assert pyfunc["relapse_probability"] == value and pyfunc["risk_group"] == api["risk_group"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    bottom = page.locator("table.drivers").bounding_box()
    page.screenshot(
        path=str(SCREENSHOT),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": bottom["y"] + bottom["height"] + 24},
    )
    print(f"\nclinician page screenshot: {SCREENSHOT}")
    assert SCREENSHOT.stat().st_size > 20_000 and page.blocked == []


def test_a_cds_card_link_opens_the_page_with_the_card_risk(page, server):
    resources = [
        *registered("P-BROWSER"),
        observation("o1", patient="P-BROWSER", value={"valueQuantity": quantity(520, "U/L")}),
        observation(
            "o2",
            patient="P-BROWSER",
            code="1988-5",
            value={"valueQuantity": quantity(12, "mg/L")},
            collected=-6,
        ),
    ]
    body = cds_body(resources, patient_id="P-BROWSER")
    (card,) = httpx.post(f"{server}/cds-services/cart-relapse-day30", json=body).json()["cards"]
    page.goto(card["links"][0]["url"])
    numbers = card["extension"]["dev.cart-relapse.prediction"]
    assert float(page.locator("#risk-headline").get_attribute("data-value")) == numbers["relapse_probability"]
    assert (
        page.get_by_label("Lactate dehydrogenase (preld window, days -14 to -3)", exact=True).input_value()
        == "520"
    )
    assert "P-BROWSER" in page.locator(".handoff").inner_text() and page.blocked == []


@pytest.mark.parametrize(
    ("path", "ready", "expected"),
    [
        ("/docs", ".opblock", ["/v1/predict/{landmark}", "/cds-services/{service_id}", "/v1/models"]),
        ("/redoc", "[role=menuitem], .menu-content", ["Predict", "Call Service", "List Models"]),
    ],
)
def test_the_api_documentation_renders_without_internet(page, server, path, ready, expected):
    page.goto(f"{server}{path}")
    page.wait_for_selector(ready, timeout=30_000)
    text = page.locator("body").inner_text()
    for operation in expected:
        assert operation in text, (path, operation)
    if path == "/docs":
        assert page.locator(".opblock").count() >= 9
        page.locator(".opblock-summary").first.click()
        page.get_by_role("button", name="Try it out").wait_for()
    assert page.blocked == [], page.blocked


def test_the_browser_is_the_debian_one():
    assert CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)
