"""Helpers of the web tests: settings, the app served by a real uvicorn on 127.0.0.1 with an HTTP
client (``Site``), logging in, and the JSON error shape. The fixtures are in ``webfixtures``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aggregator.metrics import Metrics
from aggregator.settings import Settings, WebSettings
from aggregator.web.app import create_app
from storage.store import Store
from tests.support.paths import require_shared_data
from tests.support.webdata import NOW, Filled
from tests.support.webserver import running

EDITOR_TOKEN = "editor-secret-7f3a9c21"
READ_TOKEN = "reader-secret-19b0e4d6"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def basil_path() -> Path:
    return require_shared_data() / "clustering" / "basil-dev.jsonl"


def settings(
    *, editor_token: str | None = EDITOR_TOKEN, read_token: str | None = None, page_size: int = 50
) -> Settings:
    return Settings(
        web=WebSettings(editor_token=editor_token, read_token=read_token, page_size=page_size)
    )


@dataclass
class Site:
    base: str
    client: httpx.Client
    store: Store
    data: Filled
    metrics: Metrics

    def csrf(self, path: str) -> str:
        """The CSRF token in the forms of a page (log in first)."""
        match = CSRF_RE.search(self.client.get(path).text)
        assert match is not None, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, token: str = EDITOR_TOKEN, name: str = "ann") -> httpx.Response:
        form = self.client.get("/login").text
        match = CSRF_RE.search(form)
        assert match is not None
        return self.client.post(
            "/login", data={"csrf": match.group(1), "token": token, "name": name, "next": "/"}
        )


@contextmanager
def serve(url: str, data: Filled, config: Settings | None = None) -> Iterator[Site]:
    """The app on ``url``'s database under uvicorn, with an HTTP client (no redirects
    followed, so tests see them)."""
    metrics = Metrics()
    with Store.open(url) as store:
        app = create_app(config or settings(), store, metrics=metrics, clock=lambda: NOW)
        with running(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            yield Site(base, client, store, data, metrics)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON error shape, checked."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return dict(body["error"])
