"""A fake news web on the local test server: RSS feeds that list real article pages.

Feeds answer conditional GETs (ETag / If-None-Match) with 304, as well-behaved servers do, so
a second poll can be checked to cost little. Pages are the real benchmark pages from
../shared/data, served as they were saved.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape

from tests.support.httpserver import LocalServer, Request, Response

BENCHMARK = "extraction/article-extraction-benchmark"


@dataclass(frozen=True)
class Page:
    id: str
    html: bytes
    truth: str


def benchmark_pages(shared: Path, limit: int | None = None) -> list[Page]:
    root = shared / BENCHMARK
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit]
    return [
        Page(
            pid,
            gzip.decompress((root / "html" / f"{pid}.html.gz").read_bytes()),
            truth[pid]["articleBody"],
        )
        for pid in ids
    ]


def rss(
    server: LocalServer, title: str, items: Sequence[tuple[str, str]], start: datetime
) -> bytes:
    """An RSS 2.0 document listing (page id, title) items, newest first."""
    entries = []
    for i, (pid, item_title) in enumerate(items):
        when = format_datetime(start - timedelta(minutes=i), usegmt=True)
        link = server.url(f"/articles/{pid}.html")
        entries.append(
            f"<item><title>{escape(item_title)}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink='false'>{pid}</guid><pubDate>{when}</pubDate>"
            f"<description>Summary of {escape(item_title)}</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>{server.base}</link>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


def conditional(body: bytes, content_type: str) -> object:
    """A route handler that answers If-None-Match with 304."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handler(request: Request, _h: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(304, b"", {"ETag": etag})
        return Response(200, body, {"Content-Type": content_type, "ETag": etag})

    return handler


def publish(
    server: LocalServer,
    pages: Sequence[Page],
    *,
    outlets: int = 3,
    overlap: int = 5,
    start: datetime = datetime(2026, 11, 27, 12, tzinfo=UTC),
) -> list[dict[str, object]]:
    """Serve ``pages`` as articles of ``outlets`` outlets, two feeds each; each outlet's
    second feed repeats ``overlap`` items of its first. Returns outlet entries for a TOML file."""
    server.route("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    for page in pages:
        server.route(f"/articles/{page.id}.html", page.html, headers={"Content-Type": "text/html"})
    entries: list[dict[str, object]] = []
    for n in range(outlets):
        mine = [(p.id, f"Article {p.id[:12]}") for p in pages[n::outlets]]
        half = len(mine) // 2
        feeds = []
        for f, items in enumerate([mine[:half], mine[half:] + mine[:overlap]]):
            path = f"/outlet{n}/feed{f}.xml"
            body = rss(server, f"Outlet {n} feed {f}", items, start)
            server.route(path, handler=conditional(body, "application/rss+xml"))  # type: ignore[arg-type]
            feeds.append(server.url(path))
        entries.append({"id": f"outlet{n}", "name": f"Outlet {n}", "feeds": feeds})
    return entries


def outlets_toml(entries: Sequence[dict[str, object]]) -> str:
    lines = []
    for e in entries:
        feeds = ", ".join(json.dumps(f) for f in e["feeds"])  # type: ignore[attr-defined]
        lines += [
            "[[outlet]]",
            f"id = {json.dumps(e['id'])}",
            f"name = {json.dumps(e['name'])}",
            'country = "US"',
            'language = "en"',
            f"feeds = [{feeds}]",
            "",
        ]
    return "\n".join(lines)
