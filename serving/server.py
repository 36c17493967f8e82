"""``cart-relapse serve``: check the configuration, then run the API under uvicorn.

SIGHUP reloads the models.
"""

from __future__ import annotations

from .app import create_app
from .logs import setup_logging
from .settings import Settings, check_bind_address


def run_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> None:
    """Serve until interrupted; SIGHUP reloads the models as ``POST /v1/admin/reload`` does.

    Raises:
        serving.settings.ServingConfigError: a non-loopback ``host`` without an API token.
    """
    import uvicorn

    check_bind_address(host, settings)
    setup_logging(log_level.upper())
    uvicorn.run(
        create_app(settings, handle_sighup=True),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        log_level=log_level,
        server_header=False,
    )
