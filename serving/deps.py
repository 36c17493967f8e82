"""Request dependencies: the app's settings, its model registry and reloader, and one landmark's model."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .errors import model_unavailable, unknown_landmark
from .loader import LoadFailure, ModelRegistry
from .model import ServingModel
from .reload import Reloader
from .settings import Settings


def get_settings(request: Request) -> Settings:
    """The server's settings (``app.state.settings``)."""
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> ModelRegistry:
    """The registry holding each landmark's model (``app.state.models``)."""
    registry: ModelRegistry = request.app.state.models
    return registry


def get_reloader(request: Request) -> Reloader:
    """The background model reloader (``app.state.reloader``)."""
    reloader: Reloader = request.app.state.reloader
    return reloader


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]


def get_model(landmark: str, registry: RegistryDep) -> ServingModel:
    """The landmark's loaded model; 404 for an unknown landmark, 503 while missing or loading."""
    if landmark not in registry.landmarks:
        raise unknown_landmark(landmark, registry.landmarks)
    slot = registry.get(landmark)
    if isinstance(slot, ServingModel):
        return slot
    raise model_unavailable(landmark, slot.reason if isinstance(slot, LoadFailure) else "still loading")


ModelDep = Annotated[ServingModel, Depends(get_model)]
