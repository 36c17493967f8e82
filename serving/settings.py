"""Serving configuration: one ``Settings`` read from the environment (no side effects on import).

Environment variables: ``CART_RELAPSE_API_TOKEN``, ``CART_RELAPSE_MAX_BATCH_SIZE``,
``CART_RELAPSE_MAX_BODY_BYTES``, ``CART_RELAPSE_MODEL_ALIAS`` and ``MLFLOW_TRACKING_URI``. Model URIs
per landmark come from the command line (``--model-uri preinfusion=URI``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.predictor import registered_model_name

DEFAULT_DB = Path("data/mlflow.db")
MIN_TOKEN_LENGTH = 16


class ServingConfigError(ValueError):
    """A setting the server cannot start with (the message names the setting)."""


class Settings(BaseSettings):
    """Everything the API reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CART_RELAPSE_", extra="ignore", frozen=True)

    api_token: SecretStr | None = Field(default=None, description="bearer token every /v1 call must carry")
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLflow tracking/registry URI; default sqlite:///<abs>/data/mlflow.db",
    )
    model_alias: str = Field(default="champion", min_length=1)
    model_uris: dict[str, str] = Field(default_factory=dict, description="landmark -> model URI overrides")
    max_batch_size: int = Field(default=1000, ge=1, description="patients per batch request (413 above)")
    max_body_bytes: int = Field(default=5_000_000, ge=1024, description="request body limit in bytes (413 above); "
                                "a patient with every feature is about 2.5 kB")

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("api_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"CART_RELAPSE_API_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
        return value

    @property
    def token(self) -> str | None:
        return self.api_token.get_secret_value() if self.api_token else None

    def tracking_uri(self) -> str:
        """The configured tracking URI, else ``sqlite:///<absolute path>/data/mlflow.db``."""
        return self.mlflow_tracking_uri or f"sqlite:///{DEFAULT_DB.resolve()}"

    def model_uri(self, landmark: str) -> str:
        """The URI to load for ``landmark``: the override, else ``models:/cart-relapse-<landmark>@<alias>``."""
        return self.model_uris.get(landmark) or f"models:/{registered_model_name(landmark)}@{self.model_alias}"


def parse_model_uris(pairs: list[str], landmarks: tuple[str, ...]) -> dict[str, str]:
    """``["preinfusion=URI", ...]`` into a dict; raises ``ServingConfigError`` naming the bad pair."""
    uris: dict[str, str] = {}
    for pair in pairs:
        landmark, sep, uri = pair.partition("=")
        landmark, uri = landmark.strip(), uri.strip()
        if not sep or not uri:
            raise ServingConfigError(f"--model-uri {pair!r}: expected LANDMARK=URI")
        if landmark not in landmarks:
            raise ServingConfigError(f"--model-uri {pair!r}: unknown landmark {landmark!r}; expected one of {list(landmarks)}")
        uris[landmark] = uri
    return uris


def check_bind_address(host: str, settings: Settings) -> None:
    """Refuse a non-loopback address unless an API token is configured.

    Raises:
        ServingConfigError: ``host`` is reachable from other machines and no token is set.
    """
    if settings.token is None and not is_loopback(host):
        raise ServingConfigError(
            f"refusing to listen on {host!r} without an API token: set CART_RELAPSE_API_TOKEN "
            f"(at least {MIN_TOKEN_LENGTH} characters) or bind 127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
