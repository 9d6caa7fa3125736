"""A poll pass over 1,000 feeds that have not changed (the server answers 304).

    .venv/bin/python -m bench.poll_unchanged [--feeds 1000] [--db sqlite|postgres] [--json PATH]

A local server serves ``--feeds`` feeds with ETags, each listing two articles whose pages are
real benchmark pages. The first ``poll --once --all`` stores the articles and the feeds'
validators; the second one, timed, is the figure: every feed answers 304, so a pass should
cost one request per feed and nothing else. Target: under 20 seconds for 1,000 feeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.pipeline_e2e import drop_postgres, postgres_url
from tests.support.cli import local_env
from tests.support.httpserver import serve
from tests.support.newsite import Page, benchmark_pages, conditional, outlets_toml, rss
from tests.support.paths import shared_data_dir


def env_for(url: str, outlets: Path) -> dict[str, str]:
    return local_env(
        url,
        outlets,
        FETCH_PER_HOST_CONCURRENCY="16",
        POLL_FEED_WORKERS="16",
        POLL_FEEDS_PER_TICK="200",
        LOG_LEVEL="WARNING",
    )


def poll(env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "poll", "--once", "--all", "--no-progress"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    print(done.stdout.strip())
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is needed (the benchmark pages)")
    pages = benchmark_pages(shared)
    tmp = Path(tempfile.mkdtemp())
    url = os.environ.get("BENCH_DB_URL") or (
        postgres_url() if args.db == "postgres" else f"sqlite:///{tmp / 'bench.db'}"
    )
    try:
        result = measure(url, pages, args.feeds, tmp)
    finally:
        if args.db == "postgres" and not os.environ.get("BENCH_DB_URL"):
            drop_postgres(url)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def measure(url: str, pages: list[Page], feeds: int, tmp: Path) -> dict[str, object]:
    """Two passes of ``poll --once --all`` over ``feeds`` local feeds into ``url``."""
    with serve() as server:
        entries = []
        for page in pages:
            server.route(
                f"/articles/{page.id}.html", page.html, headers={"Content-Type": "text/html"}
            )
        for n in range(feeds):
            items = [(pages[(2 * n + k) % len(pages)].id, f"Story {n}-{k}") for k in range(2)]
            body = rss(server, f"feed {n}", items, datetime(2026, 11, 27, tzinfo=UTC))
            path = f"/feeds/{n}.xml"
            server.route(path, handler=conditional(body, "application/rss+xml"))  # type: ignore[arg-type]
            entries.append({"id": f"outlet{n}", "name": f"Outlet {n}", "feeds": [server.url(path)]})
        outlets = tmp / "outlets.toml"
        outlets.write_text(outlets_toml(entries), encoding="utf-8")
        env = env_for(url, outlets)
        subprocess.run(
            [sys.executable, "-m", "aggregator", "migrate"], env=env, cwd=tmp, check=True
        )
        first = poll(env, tmp)
        hits = sum(server.hits.values())
        second = poll(env, tmp)
        requests = sum(server.hits.values()) - hits
    return {
        "feeds": feeds,
        "database": url.split(":", 1)[0].split("+", maxsplit=1)[0],
        "first_pass_s": round(first, 2),
        "unchanged_pass_s": round(second, 2),
        "requests_in_unchanged_pass": requests,
        "target_s": 20,
    }


if __name__ == "__main__":
    main()
