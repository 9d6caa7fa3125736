"""Throughput with 1, 2 and 4 `newsagg worker` processes on one PostgreSQL.

    .venv/bin/python -m bench.workers_scale [--workers 1,2,4] [--outlets 6] [--json PATH]

A local server publishes the 181 real pages of the article-extraction benchmark as articles
of ``--outlets`` outlets (each page once per outlet, so 181 x outlets articles, every one a
reprint of the same page at other outlets: real copy groups for the clusterer). For each
worker count, a fresh database: the workers start, and the clock runs from the first feed
fetch until every article is extracted and clustered. Reported: articles per second, the
ratio to one worker, the load average, and each worker's extraction pool size. Every worker
uses its default extraction pool (one process per core), so on this 2-core machine more
workers mostly add processes competing for the same two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from storage.db import migrate
from storage.store import Store
from tests.support.cli import local_env
from tests.support.httpserver import serve
from tests.support.newsite import benchmark_pages, conditional, outlets_toml, rss
from tests.support.paths import shared_data_dir

ADMIN = os.environ.get("NEWSAGG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fresh_database() -> str:
    name = f"newsagg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(url: str, outlets: Path) -> dict[str, str]:
    return local_env(
        url,
        outlets,
        FETCH_PER_HOST_CONCURRENCY="16",
        POLL_TICK_SECONDS="1",
        LOG_LEVEL="WARNING",
    )


def run_once(workers: int, outlets_count: int, shared: Path, tmp: Path) -> dict[str, Any]:
    pages = benchmark_pages(shared)
    url = fresh_database()
    try:
        migrate(url)
        with serve() as server:
            for page in pages:
                server.route(
                    f"/articles/{page.id}.html", page.html, headers={"Content-Type": "text/html"}
                )
            entries = []
            for n in range(outlets_count):
                items = [(p.id, f"Story {p.id[:10]}") for p in pages]
                body = rss(server, f"outlet {n}", items, _start())
                path = f"/outlet{n}.xml"
                server.route(path, handler=conditional(body, "application/rss+xml"))  # type: ignore[arg-type]
                entries.append(
                    {"id": f"outlet{n}", "name": f"Outlet {n}", "feeds": [server.url(path)]}
                )
            outlets = tmp / f"outlets-{workers}.toml"
            outlets.write_text(outlets_toml(entries), encoding="utf-8")
            expected = len(pages) * outlets_count
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "aggregator", "worker"],
                    env=env_for(url, outlets),
                    cwd=tmp,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            try:
                started = _wait(lambda: sum(server.hits.values()) > 0, 120)
                with Store.open(url) as store:
                    _wait(lambda: store.articles.count(state="clustered") >= expected, 1800)
                    finished = time.monotonic()
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(timeout=120)
        elapsed = finished - started
        return {
            "workers": workers,
            "articles": expected,
            "seconds": round(elapsed, 2),
            "articles_per_s": round(expected / elapsed, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        drop_database(url)


def _start():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 27, 12, tzinfo=UTC)


def _wait(condition, timeout: float) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(f"not done after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--outlets", type=int, default=6)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is needed (the benchmark pages)")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"newsagg-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    rows = [run_once(int(n), args.outlets, shared, tmp) for n in args.workers.split(",")]
    base = rows[0]["articles_per_s"]
    print(f"{'workers':>7} {'articles':>8} {'seconds':>8} {'art/s':>7} {'x one':>6} {'load':>5}")
    for row in rows:
        row["ratio_to_one"] = round(row["articles_per_s"] / base, 2)
        print(
            f"{row['workers']:>7} {row['articles']:>8} {row['seconds']:>8} "
            f"{row['articles_per_s']:>7} {row['ratio_to_one']:>6} {row['load_avg_1m']:>5}"
        )
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
