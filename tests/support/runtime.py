"""An in-process runtime (store, fetcher, pools, pipeline) pointed at a test database and the
local test server, built the way the CLI builds it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aggregator.outlets import parse_outlets
from aggregator.settings import Settings, load_settings
from aggregator.wiring import Runtime, build_runtime, open_store, utc_now
from storage.db import migrate
from tests.support.paths import REPO


def settings_for(db_url: str, **overrides: str) -> Settings:
    env = {
        "NEWSAGG_DATABASE_URL": db_url,
        "NEWSAGG_FETCH_ALLOW_HOSTS": "127.0.0.1",
        "NEWSAGG_FETCH_PER_HOST_DELAY_S": "0",
        "NEWSAGG_FETCH_PER_HOST_CONCURRENCY": "8",
        "NEWSAGG_FETCH_TIMEOUT_S": "2",
        "NEWSAGG_FETCH_DEADLINE_S": "4",
        "NEWSAGG_EXTRACT_WORKERS": "2",
        **overrides,
    }
    return load_settings(REPO / "config" / "settings.toml", env=env)


@contextmanager
def runtime(
    db_url: str, outlets: list[Mapping[str, object]], **overrides: str
) -> Iterator[Runtime]:
    settings = settings_for(db_url, **overrides)
    migrate(db_url)
    store = open_store(settings)
    store.feeds.sync_outlets(
        parse_outlets({"outlet": list(outlets)}), default_interval=15, now=utc_now()
    )
    rt = build_runtime(settings, store, kind="test")
    try:
        yield rt
    finally:
        rt.close()


def outlet(oid: str, *feeds: str) -> dict[str, object]:
    return {"id": oid, "name": oid.title(), "feeds": list(feeds), "language": "en"}
