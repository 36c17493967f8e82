"""Which registered model version a URI means now, and what its signature says it reads and returns.

Spark scoring and the drift report work from the pyfunc's contract (its MLflow signature), never
from a hard-coded column list: when the model's outputs change, so do theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .loader import describe_error, redact

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class ModelRefError(RuntimeError):
    """The model URI cannot be resolved or its signature is unusable (message says which)."""


@dataclass(frozen=True)
class ModelRef:
    """A model URI pinned to one version (``pinned``) so every later read sees the same model."""

    uri: str
    pinned: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None

    @property
    def label(self) -> str:
        """``NAME vVERSION`` for a registered model, else the URI with credentials masked."""
        return f"{self.name} v{self.version}" if self.version else redact(self.uri)


@dataclass(frozen=True)
class Column:
    """One column of a model signature: its name and MLflow data type."""

    name: str
    type: str  # MLflow data type name: double, string, long, ...


def resolve_model_ref(uri: str) -> ModelRef:
    """Pin ``models:/NAME@ALIAS`` to the version the alias points at now; other URIs stay as they are.

    Raises:
        ModelRefError: unknown model name, alias or version.
    """
    match = _MODELS_URI.match(uri)
    if not match:
        return ModelRef(uri=uri, pinned=uri)
    name, alias, version = match["name"], match["alias"], match["version"]
    from mlflow import MlflowClient

    try:
        client = MlflowClient()
        if alias is not None:
            version = str(client.get_model_version_by_alias(name, alias).version)
        else:
            client.get_model_version(name, version)
    except Exception as exc:  # MLflow raises several types for a missing name, alias or version
        raise ModelRefError(f"cannot resolve {redact(uri)}: {describe_error(exc)}") from exc
    return ModelRef(uri=uri, pinned=f"models:/{name}/{version}", name=name, version=version, alias=alias)


def model_columns(ref: ModelRef) -> tuple[list[Column], list[Column], dict[str, Any]]:
    """(inputs, outputs, metadata) of the model's signature, in signature order.

    Raises:
        ModelRefError: the model cannot be read or has no input or output signature.
    """
    import mlflow

    try:
        info = mlflow.models.get_model_info(ref.pinned)
    except Exception as exc:
        raise ModelRefError(f"cannot read {ref.label}: {describe_error(exc)}") from exc
    signature = info.signature
    if signature is None or signature.inputs is None or signature.outputs is None:
        raise ModelRefError(
            f"{ref.label} has no input/output signature; re-register it with cart-relapse train"
        )
    inputs = [Column(c.name, c.type.name) for c in signature.inputs.inputs]
    outputs = [Column(c.name, c.type.name) for c in signature.outputs.inputs]
    return inputs, outputs, dict(info.metadata or {})


def conform_inputs(frame: pd.DataFrame, inputs: list[Column], *, source: str) -> pd.DataFrame:
    """The signature's input columns of ``frame``, each cast to its type (MLflow refuses int64 for double).

    Raises:
        ModelRefError: ``frame`` lacks some input columns (named, with ``source``).
    """
    absent = [c.name for c in inputs if c.name not in frame.columns]
    if absent:
        raise ModelRefError(
            f"{source} lacks model input column(s) {absent[:10]}{' ...' if len(absent) > 10 else ''}"
        )
    out = {}
    for column in inputs:
        values = frame[column.name]
        if column.type == "string":
            present = values.notna()
            out[column.name] = pd.Series(
                [str(v) if known else None for v, known in zip(values.astype(object), present, strict=True)],
                index=values.index,
                dtype=object,
            )
        elif column.type == "double":
            out[column.name] = pd.to_numeric(values, errors="coerce").astype(np.float64)
        else:
            raise ModelRefError(
                f"model input {column.name!r} has type {column.type}; only double and string are supported"
            )
    return pd.DataFrame(out, index=frame.index)
