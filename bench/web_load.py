"""Web and API latency and export throughput at scale, on PostgreSQL (a benchmark, not a test).

    .venv/bin/python -m bench.web_load --articles 1000000 --clusters 100000
    .venv/bin/python -m bench.web_load --articles 100000 --clusters 10000 --keep   # smaller
    .venv/bin/python -m bench.web_load --reuse ...                                  # skip loading

Targets (issue 5): the stories page and ``GET /api/clusters`` under 100 ms at the 95th
percentile, a story page under 150 ms, exports at 50k rows/s or more. Requests go one at a
time through the whole stack (uvicorn on 127.0.0.1, httpx client), so a latency includes
routing, queries, rendering and transfer. The database is a dedicated one
(``newsagg_bench_web_<articles>``) on the server of ``NEWSAGG_TEST_PG_URL``; it is dropped at
the end unless ``--keep``. Results go to ``bench/results/web_load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import psycopg

from aggregator.settings import Settings
from aggregator.web.app import create_app
from bench.web_data import add_comparisons, load, now_utc, plain
from storage.db import migrate
from storage.store import Store
from tests.support.webserver import running

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results"
NEXT_RE = re.compile(r'href="([^"]+)" id="next-page"')


def _database(admin: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it already holds data."""
    with psycopg.connect(plain(admin), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reuse:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin.rsplit('/', 1)[0]}/{name}", bool(exists)


def _drop(admin: str, name: str) -> None:
    with psycopg.connect(plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return elapsed


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _walk(client: httpx.Client, first: str, pages: int, *, html: bool) -> list[str]:
    """Paths of pages 1..``pages`` of a list, following the cursors."""
    paths = [first]
    for _ in range(pages - 1):
        response = client.get(paths[-1])
        if html:
            match = NEXT_RE.search(response.text)
            if match is None:
                break
            paths.append(unescape(match.group(1)))
        else:
            cursor = response.json()["next"]
            if cursor is None:
                break
            paths.append(f"{first}{'&' if '?' in first else '?'}cursor={cursor}")
    return paths


def _cases(client: httpx.Client, clusters: int, story_ids: list[int]) -> dict[str, list[str]]:
    rng = random.Random(7)
    rare = [f"tg{rng.randrange(1, clusters + 1)}" for _ in range(50)]
    cases: dict[str, list[str]] = {}
    for prefix, label in (("/", "stories page"), ("/api/clusters", "GET /api/clusters")):
        join = "?"
        cases[f"{label}"] = [prefix]
        cases[f"{label}, largest first"] = [f"{prefix}{join}sort=largest"]
        cases[f"{label}, outlet + min_outlets"] = [
            f"{prefix}{join}outlet=o{n:02d}&min_outlets=3" for n in range(10)
        ]
        cases[f"{label}, label filter"] = [f"{prefix}{join}label=ownership:state"]
        cases[f"{label}, last 7 days"] = [f"{prefix}{join}since={_days_ago(7)}"]
        cases[f"{label}, search a story's word"] = [f"{prefix}{join}q={w}" for w in rare]
        cases[f"{label}, search a ~1% word"] = [f"{prefix}{join}q=season{n}" for n in range(20)]
        cases[f"{label}, pages 1-20 by cursor"] = _walk(client, prefix, 20, html=prefix == "/")
    cases["story page"] = [f"/clusters/{cid}" for cid in story_ids]
    cases["GET /api/clusters/{id}"] = [f"/api/clusters/{cid}" for cid in story_ids]
    cases["GET /api/articles"] = ["/api/articles", "/api/articles?outlet=o05"]
    cases["outlets page"] = ["/outlets"]
    return cases


def _days_ago(days: int) -> str:
    from datetime import timedelta

    return (now_utc() - timedelta(days=days)).date().isoformat()


def _export_rate(base: str, path: str, count: Callable[[Path], int]) -> dict[str, Any]:
    """Stream an export with curl (another process, so the client does not share the server's
    interpreter) and count its rows."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "export"
        started = time.perf_counter()
        subprocess.run(["curl", "-sSf", "-o", str(target), base + path], check=True)
        elapsed = time.perf_counter() - started
        rows = count(target)
        size = target.stat().st_size
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "mb": round(size / 1e6, 1),
    }


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _csv_rows(path: Path) -> int:
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


EXPORTS: list[tuple[str, str, int | None, Callable[[Path], int]]] = [
    ("articles", "jsonl", None, _lines),
    ("articles", "csv", None, _csv_rows),
    ("articles", "parquet", None, _parquet_rows),
    ("articles", "jsonl", 30, _lines),
    ("memberships", "jsonl", None, _lines),
    ("clusters", "csv", None, _csv_rows),
]


def measure(url: str, clusters: int, requests: int, story_ids: list[int]) -> dict[str, Any]:
    results: dict[str, Any] = {"latency": {}, "exports": {}}
    with Store.open(url, pool_size=4) as store:
        app = create_app(Settings(), store)
        with running(app) as base, httpx.Client(base_url=base, timeout=600) as client:
            cases = _cases(client, clusters, story_ids)
            for name, paths in cases.items():
                for path in paths[:3]:
                    _timed(client, path)  # warm caches and compiled templates
                samples = [_timed(client, paths[i % len(paths)]) for i in range(requests)]
                results["latency"][name] = _stats(samples)
                print(f"{name:48s} {results['latency'][name]}", flush=True)
            for table, fmt, since, counter in EXPORTS:
                query = f"?since={_days_ago(since)}" if since else ""
                rate = _export_rate(base, f"/api/exports/{table}.{fmt}{query}", counter)
                label = f"{table}.{fmt}" + (f" (last {since} days)" if since else " (all)")
                results["exports"][label] = rate
                print(f"export {label:36s} {rate}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per case")
    parser.add_argument("--comparisons", type=int, default=100, help="clusters compared")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    args = parser.parse_args(argv)
    admin = os.environ.get("NEWSAGG_TEST_PG_URL", DEFAULT_PG)
    name = f"newsagg_bench_web_{args.articles}"
    url, existing = _database(admin, name, reuse=args.reuse)
    report: dict[str, Any] = {"articles": args.articles, "clusters": args.clusters}
    rng = random.Random(3)
    story_ids = sorted(rng.sample(range(1, args.clusters + 1), args.comparisons))
    try:
        if not existing:
            migrate(url)
            end = now_utc()
            report["load_s"] = load(url, args.articles, args.clusters, end)
            report["load_s"]["comparisons"] = add_comparisons(url, story_ids, end)
            print(f"loaded: {report['load_s']}", flush=True)
        report.update(measure(url, args.clusters, args.requests, story_ids))
    finally:
        if not args.keep:
            _drop(admin, name)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web_load.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
