"""Security: the token on every route but health, docs and the routes with their own authentication
(routes enumerated from the app, so a new one cannot be missed; the CDS routes' JWT and the clinician
page's session are tested in test_cds_auth.py and test_ui.py), the loopback rule for admin calls
without a token, logs free of patient ids, values and tokens, and no unsafe deserialisation anywhere
in ``serving/``."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from serving.app import create_app
from serving.middleware import PUBLIC_PATHS, needs_token

from .conftest import TOKEN, settings

SERVING = Path(__file__).resolve().parents[2] / "serving"
WRONG_TOKENS = [None, "Bearer wrong-token-0123456789abcdef", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN]
KNOWN_GUARDED = {
    ("GET", "/v1/models"),
    ("POST", "/v1/predict/{landmark}"),
    ("POST", "/v1/predict/{landmark}/batch"),
    ("POST", "/v1/admin/reload"),
}
# the EHR's JWT (serving.cds.auth) or the page's session (serving.ui.session); static files are public
OWN_AUTH = {
    ("GET", "/cds-services"),
    ("POST", "/cds-services/{service_id}"),
    ("POST", "/cds-services/{service_id}/feedback"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/"),
    ("GET", "/ui/{landmark}"),
    ("POST", "/ui/{landmark}"),
    ("GET", "/ui/{landmark}/from-card/{handoff_id}"),
    ("GET", "/docs-assets"),
    ("GET", "/ui/static"),
}


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, from ``app.routes`` (docs and schema included)."""
    app = create_app(settings())
    return [
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in sorted((context.methods or {"GET"}) - {"HEAD"})
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "day30", path)


def test_every_route_is_public_on_purpose_or_guarded():
    routes = app_routes()
    guarded = {(m, p) for m, p in routes if needs_token(p)}
    assert guarded >= KNOWN_GUARDED, guarded  # the enumeration sees the real routes
    assert {p for _, p in routes if p in PUBLIC_PATHS} == {
        "/health/live",
        "/health/ready",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/docs/oauth2-redirect",
    }
    assert all(path.startswith("/v1/") for _, path in guarded)
    assert {(m, p) for m, p in routes if not needs_token(p) and p not in PUBLIC_PATHS} == OWN_AUTH
    assert needs_token("/v1/anything") and needs_token("/uix") and needs_token("/cds-servicesx")


@pytest.mark.parametrize(("method", "path"), [r for r in app_routes() if needs_token(r[1])])
def test_missing_wrong_and_correct_tokens(make_client, method, path):
    client = make_client(api_token=TOKEN, client_host="203.0.113.9")  # the token alone admits a remote client
    body = {} if method == "POST" else None
    for header in WRONG_TOKENS:
        headers = {"Authorization": header} if header else {}
        response = client.request(method, concrete(path), json=body, headers=headers)
        assert response.status_code == 401, (header, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    ok = client.request(method, concrete(path), json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert 200 <= ok.status_code < 500 and ok.status_code not in (401, 403), ok.text


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("testclient", False),
        ("10.0.0.5", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
    ],
)
def test_without_a_token_only_loopback_clients_may_reload(make_client, host, allowed):
    client = make_client(client_host=host)
    response = client.post("/v1/admin/reload")
    assert response.status_code == (200 if allowed else 403), response.text
    if not allowed:
        assert (
            response.json()["detail"]
            == "without an API token, admin calls are accepted from loopback clients only"
        )
        assert client.get("/v1/models").json()["last_reload"] is None  # refused before anything was loaded
    assert client.get("/v1/models").status_code == 200  # reading stays open on a token-less (loopback) server


PATIENT_ID = "PID-SEC-90817263"
VALUES = {
    "age": 71.3958,
    "ldh_preld": 3917.4821,
    "ferritin_preld": 1873.6529,
    "tmtv_preld": 731.2846,
    "crp_preld": {"value": 23.8471, "unit": "mg/L"},
    "suvmax_preld": 41.7293,
}
BAD_VALUES = {"ldh_preld": 98765.4321, "product": "zeta-cel-9911", "age": "4242.1717", "biomarker_zz_77": 5.5}
SECRETS = [
    PATIENT_ID,
    "71.3958",
    "3917.4821",
    "1873.6529",
    "731.2846",
    "23.8471",
    "41.7293",
    "98765.4321",
    "zeta-cel-9911",
    "4242.1717",
    "biomarker_zz_77",
    TOKEN,
    "wrong-token-0123456789abcdef",
]


def _traffic(client: Any, headers: dict[str, str]) -> int:
    """Valid, invalid and odd requests carrying the distinctive id and values; returns how many were sent."""
    sent = 0

    def post(path: str, **kwargs: Any) -> None:
        nonlocal sent
        client.post(path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
        sent += 1

    for i in range(10):
        post(
            f"/v1/predict/{('day30', 'preinfusion')[i % 2]}",
            json={"patient_id": PATIENT_ID, "features": VALUES},
        )
        post(
            "/v1/predict/day30/batch",
            json={"patients": [{"patient_id": f"{PATIENT_ID}", "features": VALUES}] * 3},
        )
    for name, value in BAD_VALUES.items():  # 422s, whose answers quote the value (the logs must not)
        post("/v1/predict/day30", json={"patient_id": PATIENT_ID, "features": {**VALUES, name: value}})
        post(
            "/v1/predict/day30/batch",
            json={"patients": [{"patient_id": PATIENT_ID, "features": {name: value}}]},
        )
    post("/v1/predict/day30", json={"patient_id": PATIENT_ID * 20, "features": VALUES})  # too long an id
    post(
        "/v1/predict/day30",
        content=f'{{"patient_id": "{PATIENT_ID}", "features": {{"age": 71.3958,'.encode(),
        headers={"content-type": "application/json"},
    )  # malformed JSON
    post(f"/v1/predict/{PATIENT_ID}", json={"patient_id": PATIENT_ID, "features": VALUES})  # unknown landmark
    post(f"/v1/predict/day30?patient={PATIENT_ID}&ldh=3917.4821", json={"features": VALUES})
    post("/v1/predict/day30", json={"patient_id": PATIENT_ID, "features": VALUES, "pad": "x" * 5000})  # 413
    post("/v1/admin/reload")
    return sent


def test_logs_carry_no_patient_id_value_or_token(make_client, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    auth = {"Authorization": f"Bearer {TOKEN}"}
    sent = _traffic(make_client(max_body_bytes=4096, client_host="127.0.0.1"), {})
    sent += _traffic(make_client(api_token=TOKEN, max_body_bytes=4096), auth)
    sent += _traffic(
        make_client(api_token=TOKEN), {"Authorization": "Bearer wrong-token-0123456789abcdef"}
    )  # 401s
    records = [
        r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]  # the test client's own lines
    access = [r for r in records if r.getMessage().startswith("request_id=")]
    assert len(access) == sent  # the capture works: one access line per request
    assert {r.getMessage().split(" status=")[1][:3] for r in access} >= {"200", "401", "404", "413", "422"}
    assert any("model reload #1 (api)" in r.getMessage() for r in records)
    refused = {
        r.getMessage().split(" route=")[1].split()[0] for r in access if " status=401 " in r.getMessage()
    }
    assert refused == {
        "/v1/predict/{landmark}",
        "/v1/predict/{landmark}/batch",
        "/v1/admin/reload",
    }  # templates, not paths
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        text = formatter.format(record) + repr(vars(record))
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, (leaked, text)


UNSAFE = {
    "pickle.loads": "import pickle\npickle.loads(body)",
    "pickle.load": "import pickle\npickle.load(stream)",
    "from pickle import loads": "from pickle import loads\nloads(body)",
    "cloudpickle": "import cloudpickle\ncloudpickle.loads(body)",
    "marshal": "import marshal\nmarshal.loads(body)",
    "joblib.load": "import joblib\njoblib.load(path)",
    "eval": "eval(text)",
    "exec": "exec(text)",
    "builtins.eval": "import builtins\nbuiltins.eval(text)",
    "yaml.load": "import yaml\nyaml.load(text)",
    "yaml.load with Loader": "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "yaml.unsafe_load": "import yaml\nyaml.unsafe_load(text)",
    "np.load pickle": "import numpy as np\nnp.load(path, allow_pickle=True)",
    "numpy.load pickle": "import numpy\nnumpy.load(path, allow_pickle=True)",
    "pd.read_pickle": "import pandas as pd\npd.read_pickle(path)",
}
SAFE = {
    "yaml.safe_load": "import yaml\nyaml.safe_load(text)",
    "yaml.load SafeLoader": "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "np.load": "import numpy as np\nnp.load(path)",
    "np.load no pickle": "import numpy as np\nnp.load(path, allow_pickle=False)",
    "literal_eval": "import ast\nast.literal_eval(text)",
    "model.eval method": "model.evaluate(x)",
    "json": "import json\njson.loads(text)",
    "words in text": '"""never eval( or pickle.loads( request data"""',
}


def unsafe_calls(source: str) -> list[str]:
    """Unsafe deserialisation or code execution in ``source``: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{node.lineno}: import {m}" for m in modules if m.split(".")[0] in _UNSAFE_MODULES]
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name in _UNSAFE_CALLS:
                found.append(f"{node.lineno}: {name}(")
            elif name == "yaml.load" and _dotted(keywords.get("Loader")) not in (
                "yaml.SafeLoader",
                "yaml.CSafeLoader",
            ):
                found.append(f"{node.lineno}: yaml.load( without SafeLoader")
            elif name in ("np.load", "numpy.load") and _is_true(keywords.get("allow_pickle")):
                found.append(f"{node.lineno}: {name}(..., allow_pickle=True)")
    return found


_UNSAFE_MODULES = frozenset(
    {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "marshal", "shelve", "joblib"}
)
_UNSAFE_CALLS = frozenset(
    {
        "eval",
        "exec",
        "builtins.eval",
        "builtins.exec",
        "yaml.unsafe_load",
        "yaml.full_load",
        "pd.read_pickle",
        "pandas.read_pickle",
    }
)


def _dotted(node: ast.AST | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_true(node: ast.AST | None) -> bool:
    return node is not None and not (isinstance(node, ast.Constant) and node.value in (False, None))


@pytest.mark.parametrize("snippet", UNSAFE, ids=list(UNSAFE))
def test_the_scan_finds_unsafe_calls(snippet):
    assert unsafe_calls(UNSAFE[snippet]), snippet


@pytest.mark.parametrize("snippet", SAFE, ids=list(SAFE))
def test_the_scan_passes_safe_calls(snippet):
    assert unsafe_calls(SAFE[snippet]) == []


def test_serving_never_deserialises_unsafely():
    files = sorted(SERVING.rglob("*.py"))
    assert len(files) > 15 and SERVING / "routes" / "predict.py" in files
    found = {str(f.relative_to(SERVING)): calls for f in files if (calls := unsafe_calls(f.read_text()))}
    assert found == {}
