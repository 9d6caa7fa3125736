"""Runs the web app under uvicorn in the calling thread until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from aggregator.metrics import Metrics
from aggregator.settings import Settings
from aggregator.web.app import create_app


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, which would kill the
    process before the scheduler stops; here a signal only asks for the shutdown, and the
    caller finishes its own clean-up and exits 0."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.handle_exit(signum, frame)


def serve_web(
    settings: Settings,
    store: Any,
    *,
    service: Any | None,
    host: str | None = None,
    port: int | None = None,
    metrics: Metrics | None = None,
    on_correction: Callable[[], None] | None = None,
) -> None:
    app = create_app(settings, store, service=service, metrics=metrics, on_correction=on_correction)
    config = uvicorn.Config(
        app,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    _Server(config).run()
