"""The FastAPI application: editor pages, JSON API, exports, health and metrics.

``create_app(settings, store, service=None, metrics=None, clock=None)`` wires it: one context
object on ``app.state.web`` (settings, store, scheduler service, metrics, auth, templates,
clock), the security headers on every response, the JSON error shape, the routers and the
stylesheet. No CDN: ``/docs`` is a server-rendered reference built from ``/openapi.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aggregator.metrics import Metrics
from aggregator.settings import Settings
from aggregator.web import api, downloads, editor, health, pages
from aggregator.web.context import WebContext, html_error, make_templates
from aggregator.web.errors import install_error_handlers
from aggregator.web.security import Auth, SecurityHeaders
from storage.opsqueries import queue_depths

STATIC = Path(__file__).parent / "static"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    store: Any,
    *,
    service: Any | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], datetime] | None = None,
    on_correction: Callable[[], None] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="newsagg",
        version="0.1.0",
        description="Story clusters, articles, outlets and exports of a newsagg instance.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    metrics = metrics or Metrics()
    now = clock or utc_now
    metrics.watch_queues(lambda: queue_depths(store.engine, now()))
    app.state.web = WebContext(
        settings=settings,
        store=store,
        service=service,
        metrics=metrics,
        auth=Auth(settings.web.editor_token, settings.web.read_token),
        templates=make_templates(),
        clock=now,
        on_correction=on_correction,
    )
    install_error_handlers(app, html_error)
    for router in (health.router, api.router, downloads.router, editor.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestTimer, metrics=metrics)
    app.add_middleware(SecurityHeaders)
    return app


class RequestTimer:
    """ASGI middleware: response times by route template (never the raw path, so label values
    stay bounded)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.request(route, scope["method"], status[0], elapsed)
