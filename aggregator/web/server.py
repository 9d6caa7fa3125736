"""Runs the web app under uvicorn in the calling thread until a signal (or ``stop_when``)."""

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

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, which would kill the
    process before the scheduler stops; here a signal only asks for the shutdown, and the
    caller finishes its own clean-up and exits 0. ``on_started`` is called once, when the
    socket listens; ``stop_when`` is asked ten times a second whether to shut down."""

    def __init__(
        self,
        config: uvicorn.Config,
        signals: tuple[signal.Signals, ...],
        on_started: Callable[[], None] | None,
        stop_when: Callable[[], bool] | None,
    ) -> None:
        super().__init__(config)
        self._signals = signals
        self._on_started = on_started
        self._stop_when = stop_when

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in self._signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.handle_exit(signum, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._on_started is not None:  # main_loop ticks only once startup has finished
            started, self._on_started = self._on_started, None
            started()
        if self._stop_when is not None and self._stop_when():
            self.should_exit = True
        return await super().on_tick(counter)


def serve_web(
    settings: Settings,
    store: Any,
    *,
    service: Any | None,
    host: str | None = None,
    port: int | None = None,
    metrics: Metrics | None = None,
    on_correction: Callable[[], None] | None = None,
    signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
    on_started: Callable[[], None] | None = None,
    stop_when: Callable[[], bool] | None = None,
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
    _Server(config, signals, on_started, stop_when).run()
