"""Runs the web app under uvicorn in the calling thread until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Any

import uvicorn

from aggregator.metrics import Metrics
from aggregator.settings import Settings
from aggregator.web.app import create_app


def serve_web(
    settings: Settings,
    store: Any,
    *,
    service: Any | None,
    host: str | None = None,
    port: int | None = None,
    metrics: Metrics | None = None,
) -> None:
    """``metrics``: the object the pipeline counts into (same process); None makes a fresh
    one, which still reports the queue depths."""
    app = create_app(settings, store, service=service, metrics=metrics)
    config = uvicorn.Config(
        app,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    uvicorn.Server(config).run()
