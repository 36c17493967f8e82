"""Synthetic CAR-T registry generator (latent causal model calibrated to published evidence).

Public API: ``generate_registry`` and ``write_registry``.
"""

from .registry import generate_registry
from .write import write_registry

__all__ = ["generate_registry", "write_registry"]
