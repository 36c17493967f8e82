"""The clinician page's routes.

``/ui/`` (the models), ``/ui/{landmark}`` (the form; POST predicts), ``/ui/{landmark}/from-card/{handoff_id}``
(a CDS card's values), ``/ui/login`` and ``/ui/logout``.

Server-rendered (``serving.ui``); predictions go through ``model.schema.parse`` and
``predict_patients``, as ``POST /v1/predict/{landmark}`` does. Not in the OpenAPI document (HTML).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.catalogue import load_catalogue

from ..deps import RegistryDep
from ..inputs import InputError
from ..loader import LoadFailure
from ..model import ServingModel
from ..predict import predict_patients
from ..ui.form import FormState, attach_issues, empty_form, fill_form, read_form
from ..ui.render import page
from ..ui.session import COOKIE, SESSION_HOURS, check_origin, require_session, safe_next, token_matches
from ..ui.view import result_view

sign_in = APIRouter(prefix="/ui", include_in_schema=False)
router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(require_session)])


@sign_in.get("/login")
def login_form(request: Request, next_url: Annotated[str, Query(alias="next")] = "/ui/") -> Response:
    """The sign-in form (straight to ``next`` when the server has no token)."""
    if request.app.state.settings.token is None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return page("login.html", next=safe_next(next_url), error="", hours=SESSION_HOURS, **_chrome(request))


@sign_in.post("/login", dependencies=[Depends(check_origin)])
async def login(request: Request) -> Response:
    """Check the token; open a session (HttpOnly cookie) and go to ``next``, or show the form again (401)."""
    data = await _form_data(request)
    token = request.app.state.settings.token
    target = safe_next(data.get("next"))
    if token is None:
        return RedirectResponse(target, status_code=303)
    if not token_matches(data.get("token", ""), token):
        return page(
            "login.html",
            status_code=401,
            next=target,
            error="That is not the API token.",
            hours=SESSION_HOURS,
            **_chrome(request),
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        request.app.state.ui_sessions.open(),
        max_age=SESSION_HOURS * 3600,
        path="/ui",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@sign_in.post("/logout", dependencies=[Depends(check_origin)])
def logout(request: Request) -> Response:
    """End the session and forget the cookie."""
    request.app.state.ui_sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/")
def index(request: Request, registry: RegistryDep) -> HTMLResponse:
    """The models served, their versions and status."""
    rows = []
    for name, title in _landmarks():
        slot = registry.get(name)
        if isinstance(slot, ServingModel):
            rows.append({"landmark": name, "title": title, "model": _model_label(slot), "status": "ready"})
        else:
            status = f"unavailable: {slot.reason}" if isinstance(slot, LoadFailure) else "loading"
            rows.append({"landmark": name, "title": title, "model": "-", "status": status})
    return page("index.html", models=rows, **_chrome(request))


@router.get("/{landmark}")
def form_page(landmark: str, request: Request, registry: RegistryDep) -> HTMLResponse:
    """The landmark's empty form."""
    model = _model(landmark, registry, request)
    if isinstance(model, HTMLResponse):
        return model
    state = empty_form(model.schema, load_catalogue())
    return _landmark_page(request, model, state, result=None)


@router.post("/{landmark}", dependencies=[Depends(check_origin)])
async def predict_page(landmark: str, request: Request, registry: RegistryDep) -> HTMLResponse:
    """Read the form (or the pasted JSON), validate as the API does, show the prediction or the problems."""
    model = _model(landmark, registry, request)
    if isinstance(model, HTMLResponse):
        return model
    data = await _form_data(request)
    state = empty_form(model.schema, load_catalogue())
    features = read_form(state, data)
    return await run_in_threadpool(_predict, request, model, state, features, None)


@router.get("/{landmark}/from-card/{handoff_id}")
async def from_card(landmark: str, handoff_id: str, request: Request, registry: RegistryDep) -> HTMLResponse:
    """A CDS card's values (kept in memory under the link's id) in the form, with their prediction."""
    handoff = request.app.state.handoff.get(handoff_id)
    if handoff is None or handoff.landmark != landmark:
        minutes = request.app.state.settings.handoff_minutes
        return page(
            "message.html",
            status_code=404,
            heading="This link has expired",
            message=f"Links from CDS cards work for {minutes} minutes and only on the server that made the "
            "card. Open the patient in the EHR again for a new card.",
            **_chrome(request),
        )
    model = _model(landmark, registry, request)
    if isinstance(model, HTMLResponse):
        return model
    state = empty_form(model.schema, load_catalogue())
    fill_form(state, handoff.features)
    return await run_in_threadpool(_predict, request, model, state, handoff.features, handoff)


def _predict(
    request: Request, model: ServingModel, state: FormState, features: dict[str, Any], handoff: Any
) -> HTMLResponse:
    """Validate as the API does, show every problem on its field; predict when there is none."""
    try:
        values = model.schema.parse(features, loc=("form",))
    except InputError as exc:
        attach_issues(state, list(exc.issues))
        values = None
    if values is None or state.invalid or state.errors or state.paste_error:
        return _landmark_page(request, model, state, result=None, handoff=handoff, status_code=422)
    prediction = predict_patients(model, [values])[0]
    return _landmark_page(
        request, model, state, result=result_view(model, prediction, load_catalogue()), handoff=handoff
    )


def _landmark_page(
    request: Request,
    model: ServingModel,
    state: FormState,
    *,
    result: Any,
    handoff: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    catalogue = load_catalogue()
    spec = catalogue.landmarks[model.landmark]
    return page(
        "landmark.html",
        status_code=status_code,
        title=dict(_landmarks())[model.landmark],
        description=spec.description + ".",
        landmark=model.landmark,
        model_label=_model_label(model),
        model_version=model.version,
        state=state,
        result=result,
        handoff=handoff,
        **_chrome(request, current=model.landmark),
    )


def _model(landmark: str, registry: RegistryDep, request: Request) -> ServingModel | HTMLResponse:
    """The landmark's model, or the page saying why there is none (404 unknown landmark, 503 not loaded)."""
    names = [name for name, _ in _landmarks()]
    if landmark not in names:
        return page(
            "message.html",
            status_code=404,
            heading="Unknown landmark",
            message=f"{landmark[:40]!r} is not a landmark; expected one of {names}.",
            **_chrome(request),
        )
    slot = registry.get(landmark)
    if isinstance(slot, ServingModel):
        return slot
    reason = slot.reason if isinstance(slot, LoadFailure) else "still loading"
    return page(
        "message.html",
        status_code=503,
        heading="Model not available",
        message=f"The {landmark} model is not loaded: {reason}.",
        **_chrome(request, current=landmark),
    )


def _landmarks() -> list[tuple[str, str]]:
    catalogue = load_catalogue()
    return [
        (name, "Infusion day" if lm.day == 0 else f"Day {lm.day}") for name, lm in catalogue.landmarks.items()
    ]


def _model_label(model: ServingModel) -> str:
    return f"{model.name} version {model.version or '(unversioned)'}"


def _chrome(request: Request, current: str = "") -> dict[str, Any]:
    """What the page frame needs: the landmarks, the current one, whether to offer signing out."""
    signed_in = request.app.state.ui_sessions.valid(request.cookies.get(COOKIE))
    return {"landmarks": _landmarks(), "current": current, "signed_in": signed_in}


async def _form_data(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as name -> first value (UTF-8)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}
