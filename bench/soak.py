"""Soak: the real service (``newsagg run``: scheduler + web UI in one process) polls 500 local
feeds that change every few seconds while the web UI is read at a steady rate. A documented
command, not part of ``make test``:

    .venv/bin/python -m bench.soak --minutes 30            # the full soak (SQLite, the default)
    .venv/bin/python -m bench.soak --minutes 10 --database postgresql+psycopg://postgres@127.0.0.1:5432/test

What it checks, and reports in bench/results/soak.json:

- memory stays flat: the RSS of the service and of its worker processes, sampled every 10 s;
  after a warm-up (the first fifth of the run) the service's RSS may not grow by more than
  ``--rss-bound-mb`` (the in-memory dedup index grows with the articles of its time window;
  the report gives the growth per stored article too);
- no error other than the injected ones: ``--fault-share`` of the feeds are faulty (HTTP 500,
  429 with Retry-After, a body that drips past the deadline, ill-formed XML, article pages
  that answer 404, rotating each minute); every warning or error the service logs must name
  one of those outlets, and no web request may fail;
- nothing lost: every entry served in a whole feed document is stored exactly once (by GUID),
  counted after the service has stopped;
- the stories page stays within its target: 100 ms at the 95th percentile, measured over
  every request of the steady reader (``--read-rate`` per second; also /api/clusters and story
  pages).

Feeds: each of the ``--feeds`` outlets publishes a new entry every 60-120 s (its own period)
and stamps its document every 5 s, so every poll parses a changed feed. Entries are the
articles of BASIL (../shared/data/clustering/basil-dev.jsonl, 60 stories told by three
outlets), re-dated, so the clusterer does real work. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx

from bench import proc_cpu
from storage.store import Store
from tests.support.cli import local_env
from tests.support.fetchkit import drip_body
from tests.support.httpserver import LocalServer, Request, Response, serve
from tests.support.paths import REPO, shared_data_dir

RESULTS = Path(__file__).parent / "results"
FAULTS = ("http-500", "429-retry-after", "drip-past-deadline", "ill-formed-xml", "page-404")
STAMP_S = 5  # a feed's document changes this often
KEEP = 20  # entries per feed document


def load_articles() -> list[dict[str, Any]]:
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is needed (BASIL articles)")
    path = shared / "clustering" / "basil-dev.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Farm:
    """``feeds`` outlets on one local server; ``faulty`` of them misbehave, each from a server
    of its own (a Retry-After pauses its whole origin, as a real site's would)."""

    server: LocalServer
    articles: list[dict[str, Any]]
    feeds: int
    faulty: set[int]
    start: float = field(default_factory=time.time)
    injected: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)
    published: set[str] = field(default_factory=set)  # GUIDs served in whole documents
    lock: threading.Lock = field(default_factory=threading.Lock)
    origins: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    own: dict[int, LocalServer] = field(default_factory=dict)

    def __enter__(self) -> Farm:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.origins.close()

    def site(self, n: int) -> LocalServer:
        """The server of outlet ``n``."""
        return self.own.get(n, self.server)

    def outlet(self, n: int) -> str:
        return f"fault-{n:03d}" if n in self.faulty else f"o{n:03d}"

    def period(self, n: int) -> float:
        return 60.0 + int(hashlib.sha256(str(n).encode()).hexdigest(), 16) % 61

    def install(self) -> None:
        for n in sorted(self.faulty):
            self.own[n] = self.origins.enter_context(serve(self.server.host))
        for site in (self.server, *self.own.values()):
            site.route("/robots.txt", "User-agent: *\nAllow: /\n")
        for n in range(self.feeds):
            self.site(n).routes[f"/f/{n}.xml"] = self._feed(n)
        self.server.route("/drip", handler=drip_body(0.5, 200))

    def fault(self, n: int) -> str | None:
        if n not in self.faulty:
            return None
        minute = int((time.time() - self.start) // 60)
        return FAULTS[(n + minute) % len(FAULTS)]

    def count(self, name: str, key: str) -> None:
        with self.lock:
            (self.injected if name == "injected" else self.served)[key] += 1

    def _feed(self, n: int):  # type: ignore[no-untyped-def]
        def handle(request: Request, h: BaseHTTPRequestHandler) -> Response | None:
            kind = self.fault(n)
            if kind == "http-500":
                self.count("injected", kind)
                return Response(500, b"internal error")
            if kind == "429-retry-after":
                self.count("injected", kind)
                return Response(429, b"slow down", {"Retry-After": "90"})
            if kind == "drip-past-deadline":
                self.count("injected", kind)
                return self.server.routes["/drip"](request, h)  # type: ignore[operator]
            body, guids = self.document(n)
            if kind == "ill-formed-xml":
                self.count("injected", kind)
                body = body[: len(body) * 2 // 3]
            else:
                with self.lock:
                    self.published.update(guids)
            self.count("served", "feed")
            return Response(200, body, {"Content-Type": "application/rss+xml"})

        return handle

    def document(self, n: int) -> tuple[bytes, list[str]]:
        now = time.time()
        period = self.period(n)
        newest = int((now - self.start + n % 60) // period)
        stamp = datetime.fromtimestamp(now - now % STAMP_S, UTC)
        items = []
        guids = [f"{n}-{k}" for k in range(max(0, newest - KEEP + 1), newest + 1)]
        for k in range(max(0, newest - KEEP + 1), newest + 1):
            article = self.articles[(n * 7 + k * 3) % len(self.articles)]
            when = datetime.fromtimestamp(self.start + k * period - n % 60, UTC)
            path = f"/p/{n}/{k}.html"
            site = self.site(n)
            if path not in site.routes:
                site.routes[path] = self._page(n, article)
            items.append(
                f"<item><title>{escape(article['title'])}</title>"
                f"<link>{site.url(path)}</link><guid>{n}-{k}</guid>"
                f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                f"<description>{escape(article['text'][:200])}</description></item>"
            )
        body = (
            f"<rss version='2.0'><channel><title>Outlet {n}</title>"
            f"<lastBuildDate>{format_datetime(stamp, usegmt=True)}</lastBuildDate>"
            + "".join(reversed(items))
            + "</channel></rss>"
        ).encode()
        return body, guids

    def _page(self, n: int, article: dict[str, Any]):  # type: ignore[no-untyped-def]
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in article["text"].split("\n\n"))
        body = (
            f"<html><head><meta charset='utf-8'><title>{html.escape(article['title'])}</title>"
            f"</head><body><article><h1>{html.escape(article['title'])}</h1>{paragraphs}"
            "</article></body></html>"
        ).encode()

        def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
            if self.fault(n) == "page-404":
                self.count("injected", "page-404")
                return Response(404, b"not found")
            self.count("served", "page")
            return Response(200, body, {"Content-Type": "text/html; charset=utf-8"})

        return handle


def outlets_toml(farm: Farm) -> str:
    return "\n".join(
        f'[[outlet]]\nid = "{farm.outlet(n)}"\nname = "Outlet {n}"\nlanguage = "en"\n'
        f'interval_minutes = 1\nfeeds = ["{farm.site(n).url(f"/f/{n}.xml")}"]\n'
        for n in range(farm.feeds)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) if match else 0


def is_web(pid: int) -> bool:
    """The web process of ``newsagg run`` (spawned; the extraction pool is forkserver's)."""
    try:
        return b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def children(pid: int) -> list[int]:
    return [child for child, proc in proc_cpu.snapshot().items() if proc.parent == pid]


@dataclass
class Reader:
    """Reads the web UI at a steady rate; records the stories page's latencies."""

    base: str
    rate: float
    stop: threading.Event
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        paths = ["/", "/", "/", "/api/clusters?limit=50", "/story"]
        step = 1.0 / self.rate
        n = 0
        story: int | None = None
        with httpx.Client(base_url=self.base, timeout=30) as client:
            next_at = time.monotonic()
            while not self.stop.is_set():
                path = paths[n % len(paths)]
                n += 1
                if path == "/story":
                    if story is None:
                        items = client.get("/api/clusters", params={"limit": 1}).json()["items"]
                        story = items[0]["id"] if items else None
                    path = f"/clusters/{story}" if story else "/"
                started = time.perf_counter()
                try:
                    response = client.get(path)
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - started
                kind = path.split("?")[0].split("/")[1] or "stories"
                self.latencies.setdefault(kind, []).append(elapsed)
                self.statuses[status] += 1
                if status != "200":
                    self.failures.append(f"{path}: {status}")
                next_at += step
                self.stop.wait(max(0.0, next_at - time.monotonic()))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


SKIPPED_RUN = re.compile(r'Execution of job "(\w+) .* skipped: maximum number of running instances')


def classify(log: Path, faulty: set[str]) -> tuple[Counter[str], list[str]]:
    """Warnings and errors the service logged: expected (a faulty outlet's, or APScheduler's
    note that a run was skipped because the previous one still ran: RELIABILITY.md's "the next
    run is skipped, not stacked") or not."""
    expected: Counter[str] = Counter()
    unexpected: list[str] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            if line.strip():
                unexpected.append(line[:300])  # not one of our events: a traceback or a print
            continue
        if event.get("level") not in ("warning", "error", "critical"):
            continue
        skipped = SKIPPED_RUN.search(str(event.get("event", "")))
        if skipped:
            expected[f"skipped-run:{skipped.group(1)}"] += 1
        elif str(event.get("outlet", "")) in faulty:
            expected[f"{event.get('event')}:{event.get('code', '')}"] += 1
        else:
            unexpected.append(line[:300])
    return expected, unexpected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--fault-share", type=float, default=0.05)
    parser.add_argument("--read-rate", type=float, default=5.0, help="web requests per second")
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in a temp folder)")
    parser.add_argument("--rss-bound-mb", type=float, default=150.0)
    parser.add_argument("--p95-target-ms", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args(argv)

    articles = load_articles()
    step = max(1, round(1 / args.fault_share)) if args.fault_share > 0 else 0
    faulty = {n for n in range(args.feeds) if step and n % step == step // 2}
    folder = Path(tempfile.mkdtemp(prefix="newsagg-soak-"))
    database = args.database or f"sqlite:///{folder / 'soak.db'}"
    port = free_port()
    log_path = folder / "service.log"
    with serve("127.0.0.1") as server, Farm(server, articles, args.feeds, faulty) as farm:
        (folder / "outlets.toml").write_text(outlets_toml(farm), encoding="utf-8")
        env = local_env(
            database,
            folder / "outlets.toml",
            FETCH_PER_HOST_CONCURRENCY="16",
            FETCH_TIMEOUT_S="2",
            FETCH_DEADLINE_S="4",
            POLL_MIN_INTERVAL_MINUTES="1",
            POLL_TICK_SECONDS="2",
            LOG_FORMAT="json",
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        subprocess.run(
            [sys.executable, "-m", "aggregator", "migrate"], env=env, cwd=folder, check=True
        )
        with log_path.open("wb") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "aggregator", "run", "--port", str(port)],
                env=env,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                report = soak(args, farm, service, f"http://127.0.0.1:{port}", database)
            finally:  # whatever happened, the service does not outlive the soak
                service.send_signal(signal.SIGTERM)
                try:
                    status: int | str = service.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    service.kill()
                    status = "killed after 120 s"
            report["exit_status"] = status
    report["loss"] = losses(farm, database)  # after the service stopped: its last poll is in
    expected, unexpected = classify(log_path, {farm.outlet(n) for n in faulty})
    report["logged_expected"] = dict(expected)
    report["logged_unexpected"] = unexpected[:50]
    report["logged_unexpected_count"] = len(unexpected)
    report["injected"] = dict(farm.injected)
    report["served"] = dict(farm.served)
    report["log"] = str(log_path)
    verdict = judge(report, args)
    report["verdict"] = verdict
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2, default=str))
    return 0 if all(verdict.values()) else 1


def soak(
    args: argparse.Namespace, farm: Farm, service: subprocess.Popen[bytes], base: str, url: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        raise SystemExit("the service did not answer /healthz within 180 s")
    stop = threading.Event()
    reader = Reader(base, args.read_rate, stop)
    thread = threading.Thread(target=reader.run, daemon=True)
    if args.read_rate > 0:
        thread.start()
    samples = []
    started = time.monotonic()
    end = started + args.minutes * 60
    while time.monotonic() < end and service.poll() is None:
        kids = children(service.pid)
        web = [k for k in kids if is_web(k)]
        workers = [k for k in kids if k not in web]
        with Store.open(url) as store:
            stored = store.articles.count()
        samples.append(
            {
                "t_s": round(time.monotonic() - started, 1),
                "service_rss_mb": round(rss_kb(service.pid) / 1024, 1),
                "web_rss_mb": round(sum(rss_kb(k) for k in web) / 1024, 1),
                "workers_rss_mb": round(sum(rss_kb(k) for k in workers) / 1024, 1),
                "workers": len(workers),
                "articles": stored,
                "load_1m": round(os.getloadavg()[0], 2),  # other work on the machine shows here
            }
        )
        time.sleep(min(10.0, max(0.0, end - time.monotonic())))
    stop.set()
    if thread.is_alive():
        thread.join(timeout=60)
    with Store.open(url) as store:
        totals = {
            "articles": store.articles.count(),
            "pending": store.articles.count(state="pending"),
            "ready_unclustered": store.articles.count(state="ready"),
            "clustered": store.articles.count(state="clustered"),
            "fetches": store.feeds.count_fetches(),
        }
    stories = reader.latencies.get("stories", [])
    return {
        "minutes": args.minutes,
        "feeds": args.feeds,
        "faulty_feeds": len(farm.faulty),
        "database": url.split(":", 1)[0],
        "service_alive_at_end": service.poll() is None,
        "totals": totals,
        "requests": dict(reader.statuses),
        "request_failures": reader.failures[:20],
        "latency_ms": {
            kind: {
                "n": len(values),
                "p50": round(1000 * statistics.median(values), 1),
                "p95": round(1000 * percentile(values, 0.95), 1),
                "p99": round(1000 * percentile(values, 0.99), 1),
                "max": round(1000 * max(values), 1),
            }
            for kind, values in reader.latencies.items()
            if values
        },
        "stories_p95_ms": round(1000 * percentile(stories, 0.95), 1),
        "cpus": os.cpu_count(),
        "load_1m_mean": round(statistics.mean([s["load_1m"] for s in samples] or [0.0]), 2),
        "memory": memory(samples),
        "samples": samples,
    }


def losses(farm: Farm, url: str) -> dict[str, Any]:
    """Every entry served in a whole feed document must be stored, once (by its GUID)."""
    with Store.open(url) as store:
        ids = list(range(1, store.articles.count() + 1000))
        # feedparser resolves a GUID that looks relative against the feed's URL: keep its tail
        # (entries cut from a truncated document have no GUID: keyed by content, not counted)
        stored = Counter(a.guid.rsplit("/", 1)[-1] for a in store.articles.get_many(ids) if a.guid)
    with farm.lock:
        published = set(farm.published)
    return {
        "published_in_whole_documents": len(published),
        "lost": len(published - set(stored)),
        "stored_more_than_once": sum(1 for n in stored.values() if n > 1),
        "lost_examples": sorted(published - set(stored))[:10],
    }


def memory(samples: list[dict[str, Any]]) -> dict[str, Any]:
    if len(samples) < 3:
        return {}
    warm = samples[len(samples) // 5]
    last = samples[-1]
    growth = last["service_rss_mb"] - warm["service_rss_mb"]
    added = max(1, last["articles"] - warm["articles"])
    return {
        "service_rss_mb_after_warmup": warm["service_rss_mb"],
        "service_rss_mb_at_end": last["service_rss_mb"],
        "service_rss_mb_peak": max(s["service_rss_mb"] for s in samples),
        "service_growth_mb": round(growth, 1),
        "growth_kb_per_article": round(1024 * growth / added, 2),
        "web_rss_mb_after_warmup": warm.get("web_rss_mb", 0.0),
        "web_rss_mb_at_end": last.get("web_rss_mb", 0.0),
        "web_growth_mb": round(last.get("web_rss_mb", 0.0) - warm.get("web_rss_mb", 0.0), 1),
        "workers_rss_mb_after_warmup": warm["workers_rss_mb"],
        "workers_rss_mb_at_end": last["workers_rss_mb"],
        "articles_added_after_warmup": added,
    }


def judge(report: dict[str, Any], args: argparse.Namespace) -> dict[str, bool]:
    mem = report.get("memory", {})
    growth = mem.get("service_growth_mb", float("inf")) + mem.get("web_growth_mb", 0.0)
    statuses = report.get("requests", {})
    return {
        "service_alive": bool(report.get("service_alive_at_end")),
        "memory_flat": growth <= args.rss_bound_mb,
        "no_unexpected_errors": report.get("logged_unexpected_count", 1) == 0,
        "no_failed_requests": set(statuses) <= {"200"},
        "nothing_lost": report.get("loss", {}).get("lost", 1) == 0
        and report.get("loss", {}).get("stored_more_than_once", 1) == 0,
        "stories_p95_within_target": report.get("stories_p95_ms", 1e9) <= args.p95_target_ms,
        "clean_exit": report.get("exit_status") == 0,
    }


if __name__ == "__main__":
    raise SystemExit(main())
