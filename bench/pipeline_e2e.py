"""End-to-end throughput next to its limit (trafilatura alone on both cores), in one run.

    .venv/bin/python -m bench.pipeline_e2e [--outlets 10] [--db sqlite,postgres] [--json PATH]

A local server, in a process of its own, publishes the 181 real pages of the
article-extraction benchmark as the articles of ``--outlets`` outlets (one feed each, every
page at every outlet: reprints, so the clusterer has copy groups to find; 181 x outlets
pages, up to 5,000 with 28 outlets).
In one run it measures:

- the limit: trafilatura alone (``trafilatura.extract``, text only, and ``bare_extraction``
  with metadata, which is what an aggregator needs) over the same pages on every core;
- each stage alone: fetching the pages (the fetcher, 8 threads), parsing the feeds, our
  extraction pool (with metadata), the dedup engine (signatures and clustering) on the
  extracted texts;
- the pipeline as ``newsagg poll --once --all`` runs it (``Pipeline.run_once``'s composition,
  in process: ``ingest``, feeds polled while the pages already listed are fetched, extracted
  and stored, and clustered as they come, then ``compare``), into SQLite and PostgreSQL;
  articles per second end to end with and without the comparisons;
- the profile: the same pass into SQLite with each stage run alone after the previous one
  (``sqlite_stages_one_after_another``: store cost = its pages time minus extraction's);
- peak memory (RSS) of this process and of its children;
- for each overlapped pass, where the CPU went: milliseconds of CPU an article in the
  pipeline process, in every other process (extraction workers, local server, PostgreSQL)
  and on idle cores (``cpu_*_ms_article``): comparable across passes when the ratio moves
  with the machine; the others split by process (``cpu_workers``, ``cpu_database``,
  ``cpu_server``: the local server is the remote sites' work; what is left of the others is
  the rest of the machine and processes that ended during the pass).

The ratio the issue asks for is end-to-end articles/s (feeds + pages + clustering) over
trafilatura-alone pages/s, both on every core of this machine. On a shared (virtual) machine
the speed of a core drifts from minute to minute (the limit measured 118, 72 and 46 pages/s
within an hour on the development machine); ``--repeat N`` measures the limit right before
and right after each end-to-end pass, takes the ratio of each pass to the mean of its two
limits, and reports every pass and the median (``ratios``).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import proc_cpu
from tests.support.httpserver import LocalServer, serve
from tests.support.newsite import Page, benchmark_pages, conditional, rss
from tests.support.paths import shared_data_dir

PG_ADMIN = os.environ.get(
    "NEWSAGG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def trafilatura_text(html: bytes) -> int:
    import trafilatura

    return len(trafilatura.extract(html.decode("utf-8", "replace")) or "")


def trafilatura_with_metadata(html: bytes) -> int:
    import trafilatura

    document = trafilatura.bare_extraction(html.decode("utf-8", "replace"), with_metadata=True)
    return 0 if document is None else len(getattr(document, "text", "") or "")


def pooled(fn: Callable[[bytes], int], pages: list[bytes]) -> float:
    """Seconds to run ``fn`` over ``pages`` on every core (the work pool)."""
    from aggregator.workpool import WorkPool

    with WorkPool(0, name="limit") as pool:
        for warm in pages[: pool.size]:
            pool.run(fn, warm, timeout=60)
        started = time.perf_counter()
        futures = [pool.submit(fn, html, timeout=60) for html in pages]
        for future in futures:
            future.result()
        return time.perf_counter() - started


def publish(server: LocalServer, pages: list[Page], outlets: int) -> list[dict[str, object]]:
    for page in pages:
        server.route(f"/articles/{page.id}.html", page.html, headers={"Content-Type": "text/html"})
    server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    entries = []
    for n in range(outlets):
        body = rss(server, f"outlet {n}", [(p.id, f"Story {p.id[:12]}") for p in pages], _start())
        server.route(f"/feeds/{n}.xml", handler=conditional(body, "application/rss+xml"))  # type: ignore[arg-type]
        entries.append(
            {"id": f"outlet{n}", "name": f"Outlet {n}", "feeds": [server.url(f"/feeds/{n}.xml")]}
        )
    return entries


def _start() -> datetime:
    return datetime(2026, 11, 27, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Site:
    """The local server, seen from this process."""

    base: str
    pid: int = 0  # the server's process (its CPU is the remote sites', not the pipeline's)

    def url(self, path: str) -> str:
        return self.base + path


def _serve_child(outlets: int, conn: Connection) -> None:
    shared = shared_data_dir()
    assert shared is not None
    with serve() as server:
        conn.send((server.url(""), publish(server, benchmark_pages(shared), outlets)))
        conn.recv()  # until the parent is done


@contextmanager
def served_apart(outlets: int) -> Iterator[tuple[Site, list[dict[str, object]]]]:
    """The local server in a process of its own: serving pages is the remote sites' work,
    not the pipeline's, so it must not share this process (and its GIL) with the pipeline."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_child, args=(outlets, child), daemon=True)
    process.start()
    try:
        base, entries = parent.recv()
        yield Site(base, process.pid or 0), entries
    finally:
        parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()


def fetch_alone(server: Site, pages: list[Page], outlets: int) -> float:
    from aggregator.fetch import Fetcher
    from aggregator.settings import FetchSettings

    settings = FetchSettings(allow_hosts=("127.0.0.1",), per_host_delay_s=0, per_host_concurrency=8)
    urls = [server.url(f"/articles/{p.id}.html") for p in pages] * outlets
    with Fetcher(settings) as fetcher, ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        list(pool.map(lambda u: len(fetcher.fetch(u).body), urls))
        return time.perf_counter() - started


Text = tuple[str, str, str, str]  # outlet, page id, title, text


def extract_alone(pages: list[Page], outlets: int) -> tuple[float, list[Text]]:
    from aggregator.extract_pool import ExtractorPool, PageInput
    from aggregator.types import ExtractedPage

    texts: list[Text] = []
    inputs = [
        PageInput((n, p.id), p.html, f"https://outlet{n}.example/{p.id}")
        for n in range(outlets)
        for p in pages
    ]
    with ExtractorPool() as pool:
        started = time.perf_counter()
        for (n, pid), result in pool.extract_many(inputs):
            if isinstance(result, ExtractedPage):
                texts.append((f"outlet{n}", pid, result.title or "", result.text))
        return time.perf_counter() - started, texts


def cluster_alone(texts: list[Text]) -> float:
    from aggregator.dedup.engine import DedupEngine
    from aggregator.dedup.features import DocInput
    from aggregator.dedup.params import DedupParams

    engine = DedupEngine(DedupParams())
    started = time.perf_counter()
    for n, (outlet, pid, title, text) in enumerate(texts):
        engine.add(DocInput(f"{outlet}/{pid}", outlet, title, text, 1.7e9 + n))
    return time.perf_counter() - started


def pipeline_run(
    db_url: str, entries: list[dict[str, object]], *, overlap: bool, server_pid: int = 0
) -> dict[str, float]:
    """One ``poll --once --all`` pass into ``db_url``, its stages timed.

    ``overlap``: as ``Pipeline.run_once`` composes it (``Pipeline.ingest``: the feeds are
    polled while the pages of those already stored are fetched and extracted, and articles
    are clustered as they are extracted), timed as one stage, ``ingest``. Otherwise each stage
    runs alone after the previous one: the profile.
    """
    from aggregator.allocator import freeze_start_up
    from aggregator.clustering import build_cluster_stage
    from tests.support.runtime import runtime

    timings: dict[str, float] = {}
    with runtime(
        db_url,
        entries,
        NEWSAGG_EXTRACT_WORKERS="0",
        NEWSAGG_LOG_LEVEL="WARNING",
        NEWSAGG_LEXICONS=str(Path(__file__).resolve().parents[1] / "config" / "lexicons.toml"),
    ) as rt:
        from aggregator.wiring import utc_now

        pipeline = rt.pipeline
        pipeline.clusterer = build_cluster_stage(rt.settings, rt.store, clock=utc_now)
        freeze_start_up()  # as ``newsagg poll`` and the service do before their work

        def feeds() -> list[Any]:
            return pipeline.poll_feeds(include_not_due=True)

        stages: tuple[tuple[str, Callable[[], object]], ...] = (
            ("feeds", feeds),
            ("pages", pipeline.process_pages),
            ("cluster", pipeline.cluster),
        )
        if overlap:
            stages = (("ingest", lambda: pipeline.ingest(feeds)),)
        # as `poll --once` compares: in the extraction workers, idle once the pages are done
        compare = ("compare", lambda: pipeline.compare(pool=pipeline.compare_pool))
        for stage, call in (*stages, compare):
            started, cpu, procs = time.perf_counter(), cpu_seconds(), proc_cpu.snapshot()
            call()
            timings[stage] = time.perf_counter() - started
            if stage == "ingest":
                timings |= cpu_spent(cpu, cpu_seconds())
                timings |= cpu_of_others(procs, proc_cpu.snapshot(), server_pid)
        timings["articles"] = rt.store.articles.count(state="clustered")
        engine = pipeline.clusterer.engine
        # articles whose exact title and text the engine had read lately (every page is
        # served at each outlet: an upper bound on what real feeds' wire copy saves)
        timings["reprints_read_once"] = engine.readings.hits if engine is not None else 0
    gc.unfreeze()  # a service freezes once; the next pass freezes its own runtime
    return timings


def cpu_seconds() -> tuple[float, float, float]:
    """CPU seconds so far: the machine's busy and idle time (``/proc/stat``, every process:
    the pipeline, its extraction workers, the local server, PostgreSQL), and this process's."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:9]]
    hertz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    own = os.times()
    return (sum(ticks) - idle) / hertz, idle / hertz, own.user + own.system


def cpu_spent(
    before: tuple[float, float, float], after: tuple[float, float, float]
) -> dict[str, float]:
    """Where the CPU of a stage went: this process, every other, and the cores left idle."""
    busy, idle, own = (a - b for a, b in zip(after, before, strict=True))
    return {"cpu_pipeline_s": own, "cpu_others_s": busy - own, "cpu_idle_s": idle}


def cpu_of_others(
    before: dict[int, proc_cpu.Proc], after: dict[int, proc_cpu.Proc], server_pid: int
) -> dict[str, float]:
    """``cpu_others_s`` split: the extraction workers, PostgreSQL's processes and the local
    server (the remote sites' share, which trafilatura alone does not pay)."""
    spent = proc_cpu.spent_by_group(before, after, {"pipeline": os.getpid(), "server": server_pid})
    return {f"cpu_{group}_s": spent.get(group, 0.0) for group in ("workers", "database", "server")}


def end_to_end_s(timings: dict[str, float]) -> float:
    """Seconds from the first feed to the last article clustered (comparisons aside)."""
    return sum(timings.get(stage, 0.0) for stage in ("feeds", "pages", "cluster", "ingest"))


def summary(timings: dict[str, float], report: dict[str, Any]) -> dict[str, float]:
    e2e = end_to_end_s(timings)
    articles = timings["articles"]
    return {
        **{k: round(v, 2) for k, v in timings.items()},
        "e2e_articles_s": round(articles / e2e, 1),
        "e2e_with_compare_articles_s": round(articles / (e2e + timings["compare"]), 1),
        "ratio_to_trafilatura_text": round(articles / e2e / report["trafilatura_text_pages_s"], 2),
        "ratio_to_trafilatura_meta": round(articles / e2e / report["trafilatura_meta_pages_s"], 2),
        **cpu_per_article(timings),
    }


CPU_KEYS = (
    "cpu_pipeline_s", "cpu_others_s", "cpu_idle_s",
    "cpu_workers_s", "cpu_database_s", "cpu_server_s",
)  # fmt: skip


def cpu_per_article(timings: dict[str, float]) -> dict[str, float]:
    """Milliseconds of CPU an article in each place (of the overlapped pass only)."""
    return {
        key.removesuffix("_s") + "_ms_article": round(1000 * timings[key] / timings["articles"], 2)
        for key in CPU_KEYS
        if key in timings
    }


def parse_alone(server: Site, outlets: int) -> float:
    """Seconds to parse every outlet's feed (our parser, feedparser inside) in this process."""
    from aggregator.fetch import Fetcher
    from aggregator.parse import parse_feed
    from aggregator.settings import FetchSettings

    with Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), per_host_delay_s=0)) as fetcher:
        bodies = [fetcher.fetch(server.url(f"/feeds/{n}.xml")).body for n in range(outlets)]
    started = time.perf_counter()
    for n, body in enumerate(bodies):
        parse_feed(body, headers={}, url=server.url(f"/feeds/{n}.xml"), now=_start())
    return time.perf_counter() - started


def postgres_url() -> str:
    import psycopg

    name = f"newsagg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def peak_rss_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mb": round(own, 1), "largest_child_mb": round(children, 1)}


def one_pass(
    db: str, entries: list[dict[str, object]], *, overlap: bool, server_pid: int = 0
) -> dict[str, float]:
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if db == "sqlite" else postgres_url()
    try:
        return pipeline_run(url, entries, overlap=overlap, server_pid=server_pid)
    finally:
        if db != "sqlite":
            drop_postgres(url)


def bracketed(
    args: argparse.Namespace,
    entries: list[dict[str, object]],
    html: list[bytes],
    report: dict[str, Any],
    server_pid: int = 0,
) -> dict[str, Any]:
    """Each database's end-to-end passes, each between two measurements of the limit; the
    last pass of each database also fills ``report[db]`` (the table's row)."""
    passes: dict[str, list[dict[str, float]]] = {}
    before = report["trafilatura_text_pages_s"]
    for _ in range(max(1, args.repeat)):
        for db in args.db.split(","):
            timings = one_pass(db, entries, overlap=True, server_pid=server_pid)
            after = len(html) / pooled(trafilatura_text, html)
            limit = (before + after) / 2
            e2e = timings["articles"] / end_to_end_s(timings)
            row = summary(timings, {**report, "trafilatura_text_pages_s": limit})
            report[db] = row
            passes.setdefault(db, []).append(
                {"limit_pages_s": round(limit, 1), "e2e_articles_s": round(e2e, 1),
                 "ratio": round(e2e / limit, 3), **cpu_per_article(timings)}
            )  # fmt: skip
            before = after
    return {
        db: {"passes": rows, "median_ratio": statistics.median(r["ratio"] for r in rows)}
        for db, rows in passes.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outlets", type=int, default=10)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--repeat", type=int, default=1, help="end-to-end passes, each bracketed by the limit"
    )
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is needed (the benchmark pages)")
    from aggregator.wiring import WORKER_MODULES
    from aggregator.workpool import preload

    # as the service does before its first pool starts the fork server; and what this module
    # imports: run with -m, each worker runs it again as its main module (the service's
    # script is cheap to run again: see aggregator.cli.dispatch)
    preload(*WORKER_MODULES, "tests.support.httpserver", "tests.support.newsite")
    pages = benchmark_pages(shared)
    count = len(pages) * args.outlets
    html = [p.html for p in pages] * args.outlets
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "articles": count,
        "load_avg_start": os.getloadavg()[0],
    }
    report["trafilatura_text_pages_s"] = count / pooled(trafilatura_text, html)
    report["trafilatura_meta_pages_s"] = count / pooled(trafilatura_with_metadata, html)
    with served_apart(args.outlets) as (server, entries):
        report["fetch_alone_pages_s"] = count / fetch_alone(server, pages, args.outlets)
        extract_s, texts = extract_alone(pages, args.outlets)
        report["extract_alone_pages_s"] = count / extract_s
        report["cluster_alone_ms_per_article"] = 1000 * cluster_alone(texts) / len(texts)
        report["parse_alone_ms_per_feed"] = 1000 * parse_alone(server, args.outlets) / args.outlets
        report["sqlite_stages_one_after_another"] = summary(
            one_pass("sqlite", entries, overlap=False), report
        )
        report["ratios"] = bracketed(args, entries, html, report, server.pid)
    report["memory"] = peak_rss_mb()
    report["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2, default=lambda v: round(v, 2)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
