"""Load each landmark's model from the MLflow registry once, at start-up, never per request.

A landmark whose model is missing or broken gets a :class:`LoadFailure` with a readable reason:
the server keeps running and reports it on ``/health/ready`` instead of crash-looping.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from features.catalogue import load_catalogue
from models.predictor import registered_model_name

from .model import ServingModel
from .settings import Settings

logger = logging.getLogger("cart_relapse.serving")

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_USERINFO = re.compile(r"//[^/@\s]+@")


@dataclass(frozen=True)
class LoadFailure:
    """Why a landmark has no model (shown on ``/health/ready`` and ``/v1/models``)."""

    landmark: str
    uri: str
    reason: str


ModelSlot = ServingModel | LoadFailure
Loader = Callable[[Settings], Mapping[str, ModelSlot]]


class ModelRegistry:
    """The models the app serves, per landmark; filled by the loader, swapped by reloads.

    Readers take a slot without locking: each write replaces the whole mapping, so a request sees
    either the old or the new model, and keeps the one it took for its whole duration.
    """

    def __init__(self, landmarks: tuple[str, ...]) -> None:
        self.landmarks = landmarks
        self._slots: dict[str, ModelSlot] = {}
        self._lock = threading.Lock()

    def set(self, slots: Mapping[str, ModelSlot]) -> None:
        """Serve these slots (a model or a load failure per landmark), keeping the other landmarks'."""
        with self._lock:
            self._slots = {**self._slots, **slots}

    def swap(self, landmark: str, slot: ModelSlot) -> None:
        """Serve ``slot`` for ``landmark`` from now on.

        Requests already holding the old one finish with it.
        """
        with self._lock:
            self._slots = {**self._slots, landmark: slot}

    def get(self, landmark: str) -> ModelSlot | None:
        """The loaded model or its failure; ``None`` while still loading."""
        return self._slots.get(landmark)

    @property
    def ready(self) -> bool:
        """Whether every landmark has a model loaded."""
        return all(isinstance(self._slots.get(lm), ServingModel) for lm in self.landmarks)


def load_registry_models(settings: Settings) -> dict[str, ModelSlot]:
    """Load every catalogue landmark's model (``settings.model_uri``) from MLflow.

    Args:
        settings: tracking URI, alias and per-landmark URI overrides.

    Returns:
        Per landmark, the serving model or the reason it could not be loaded.
    """
    configure_tracking(settings)
    return {
        landmark: load_landmark(landmark, settings.model_uri(landmark))
        for landmark in load_catalogue().landmarks
    }


def configure_tracking(settings: Settings) -> str:
    """Point MLflow's tracking and registry at the configured URI (never MLflow's ./mlruns default)."""
    import mlflow

    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def load_landmark(landmark: str, uri: str) -> ModelSlot:
    """One landmark's model from ``uri``, or the reason it failed (never raises)."""
    try:
        model = _load(landmark, uri)
    except Exception as exc:  # MLflow raises many types for a missing alias, version or artifact
        reason = f"cannot load {redact(uri)}: {describe_error(exc)}"
        logger.warning("model for %s not loaded: %s", landmark, reason)
        return LoadFailure(landmark, redact(uri), reason)
    logger.info("loaded %s version %s for %s", model.name, model.version, landmark)
    return model


def redact(uri: str) -> str:
    """``uri`` without credentials (``https://user:pass@host`` -> ``https://***@host``)."""
    return _USERINFO.sub("//***@", uri)


def _load(landmark: str, uri: str) -> ServingModel:
    import mlflow
    from mlflow import MlflowClient

    name, alias, version = registered_model_name(landmark), None, None
    match = _MODELS_URI.match(uri)
    pinned = uri
    if match:
        name, alias, version = match["name"], match["alias"], match["version"]
        if alias is not None:  # pin the version the alias points at now, so the two cannot diverge
            version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
            pinned = f"models:/{name}/{version}"
    predictor = mlflow.pyfunc.load_model(pinned).unwrap_python_model().predictor
    if predictor.metadata.landmark != landmark:
        raise ValueError(f"model is for the {predictor.metadata.landmark!r} landmark, not {landmark!r}")
    return ServingModel.build(predictor, name=name, version=version, alias=alias, uri=redact(uri))


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message`` (credentials redacted, at most 300 characters)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {redact(text[0][:300]) if text else 'no message'}"
