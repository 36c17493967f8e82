"""Serving configuration: one ``Settings`` read from the environment (no side effects on import).

Environment variables: ``CART_RELAPSE_API_TOKEN``, ``CART_RELAPSE_MAX_BATCH_SIZE``,
``CART_RELAPSE_MAX_BODY_BYTES``, ``CART_RELAPSE_MODEL_ALIAS`` and ``MLFLOW_TRACKING_URI``. Model URIs
per landmark come from the command line (``--model-uri preinfusion=URI``).

CDS Hooks (docs/cds-hooks.md): ``CART_RELAPSE_PUBLIC_URL`` (the URL the EHR calls: JWT audiences
and card links), ``CART_RELAPSE_CDS_JWKS`` (inline JSON) or ``CART_RELAPSE_CDS_JWKS_FILE`` (a path)
holding the EHR's public keys, and ``CART_RELAPSE_CDS_ISSUERS`` (a JSON list of accepted ``iss``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLflow tracking/registry URI; default sqlite:///<abs>/data/mlflow.db",
    )
    model_alias: str = Field(default="champion", min_length=1)
    model_uris: dict[str, str] = Field(default_factory=dict, description="landmark -> model URI overrides")
    max_batch_size: int = Field(default=1000, ge=1, description="patients per batch request (413 above)")
    max_body_bytes: int = Field(
        default=5_000_000,
        ge=1024,
        description="request body limit in bytes (413 above); a patient with every feature is about 2.5 kB",
    )

    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="the base URL clients reach this server at (https://cds.example.org); CDS JWT audiences "
        "are <public_url>/cds-services/<id> and card links point under it",
    )
    cds_jwks: str | None = Field(
        default=None, description="the EHR's JSON Web Key Set (public keys), inline JSON"
    )
    cds_jwks_file: Path | None = Field(default=None, description="the same, read from this file at start-up")
    cds_issuers: tuple[str, ...] = Field(default=(), description="accepted JWT iss values (JSON list)")
    handoff_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="how long a CDS card's link to the clinician page works"
    )

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

    @field_validator("cds_jwks", "public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _cds_auth_complete(self) -> Settings:
        if self.cds_jwks is not None and self.cds_jwks_file is not None:
            raise ValueError("set CART_RELAPSE_CDS_JWKS or CART_RELAPSE_CDS_JWKS_FILE, not both")
        if self.cds_auth_configured and (not self.cds_issuers or self.public_url is None):
            raise ValueError(
                "CDS Hooks JWT auth needs CART_RELAPSE_CDS_ISSUERS (a JSON list of accepted iss) "
                "and CART_RELAPSE_PUBLIC_URL (the URL the EHR calls, the JWT audience's base)"
            )
        return self

    @property
    def cds_auth_configured(self) -> bool:
        """A JWKS is configured: CDS Hooks calls must carry a JWT signed by one of its keys."""
        return self.cds_jwks is not None or self.cds_jwks_file is not None

    @property
    def token(self) -> str | None:
        """The API token, or None when the server runs without one."""
        return self.api_token.get_secret_value() if self.api_token else None

    def tracking_uri(self) -> str:
        """The configured tracking URI, else ``sqlite:///<absolute path>/data/mlflow.db``."""
        return self.mlflow_tracking_uri or f"sqlite:///{DEFAULT_DB.resolve()}"

    def model_uri(self, landmark: str) -> str:
        """The URI to load for ``landmark``.

        The override, else ``models:/cart-relapse-<landmark>@<alias>``.
        """
        return (
            self.model_uris.get(landmark) or f"models:/{registered_model_name(landmark)}@{self.model_alias}"
        )


def parse_model_uris(pairs: list[str], landmarks: tuple[str, ...]) -> dict[str, str]:
    """``["preinfusion=URI", ...]`` into a dict; raises ``ServingConfigError`` naming the bad pair."""
    uris: dict[str, str] = {}
    for pair in pairs:
        landmark, sep, uri = pair.partition("=")
        landmark, uri = landmark.strip(), uri.strip()
        if not sep or not uri:
            raise ServingConfigError(f"--model-uri {pair!r}: expected LANDMARK=URI")
        if landmark not in landmarks:
            raise ServingConfigError(
                f"--model-uri {pair!r}: unknown landmark {landmark!r}; expected one of {list(landmarks)}"
            )
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
