"""Logging for the server process, set up explicitly by the entry point (never on import)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(level: int | str = logging.INFO) -> None:
    """One stderr handler for ``cart_relapse`` and uvicorn's error logger.

    uvicorn's access log is off (it would log raw paths); ``serving.middleware`` writes the access lines
    instead.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    for name in ("cart_relapse", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
