"""Fault injection: hostile server behaviours and hostile documents, served by path.

``FaultWeb`` wraps two real local servers: the public one on 127.0.0.1 (the internet of the
test) and a private one on 127.0.0.2 that plays the internal network; its hit counter must
stay 0 whatever the public one answers. Every fault is registered under a *kind* ("drip",
"bomb-gzip", "retry-after-date" ...) and each time one is served it is tallied in ``TALLY``,
so the figures in docs/reliability.md count what was really sent, not what was planned.

The documents here are our own synthetic ones; real pages and feeds are read from
../shared/data by the tests that use them (never copied into the repository).
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from xml.sax.saxutils import escape

import brotli

from tests.support.fetchkit import drip_body, endless_body
from tests.support.httpserver import Handler, LocalServer, Request, Response, serve

TALLY: Counter[str] = Counter()  # fault kind -> times served, over the whole test session
_TALLY_LOCK = threading.Lock()

MIB = 1 << 20
BOMB_EXPANDS_TO = 256 * MIB


def tally(kind: str, n: int = 1) -> None:
    with _TALLY_LOCK:
        TALLY[kind] += n


# -- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One feed entry. ``guid=None`` leaves the element out; so does ``link=None``."""

    title: str
    link: str | None
    guid: str | None = None
    date: str | None = None
    summary: str = ""
    content: str | None = None  # content:encoded (HTML)


def rfc822(when: datetime) -> str:
    return email.utils.format_datetime(when, usegmt=True)


def rss(items: Sequence[Item], *, title: str = "Fault feed", channel_extra: str = "") -> str:
    """An RSS 2.0 document (text: encode it as the fault needs)."""
    parts = []
    for item in items:
        xml = [f"<title>{escape(item.title)}</title>"]
        if item.link is not None:
            xml.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            xml.append(f"<guid isPermaLink='false'>{escape(item.guid)}</guid>")
        if item.date is not None:
            xml.append(f"<pubDate>{escape(item.date)}</pubDate>")
        xml.append(f"<description>{escape(item.summary)}</description>")
        if item.content is not None:
            xml.append(f"<content:encoded><![CDATA[{item.content}]]></content:encoded>")
        parts.append("<item>" + "".join(xml) + "</item>")
    return (
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title>{channel_extra}{''.join(parts)}</channel></rss>"
    )


_WORDS = [
    "harbour",
    "bridge",
    "council",
    "budget",
    "repair",
    "protest",
    "mayor",
    "vote",
    "engineers",
    "traffic",
    "ferry",
    "tolls",
    "closure",
    "inspection",
    "steel",
    "cables",
    "report",
    "residents",
    "commuters",
    "detour",
    "contract",
    "federal",
    "grant",
    "weather",
    "storm",
    "river",
    "port",
    "cargo",
    "union",
    "strike",
    "schedule",
    "delay",
    "minister",
    "audit",
    "safety",
]


def story_text(slug: str, paragraphs: int = 6) -> list[str]:
    """Plain paragraphs of news-like prose, different for each ``slug`` (our own text)."""
    seed = int(hashlib.sha256(slug.encode()).hexdigest(), 16)
    out = []
    for p in range(paragraphs):
        words = [_WORDS[(seed >> ((p * 7 + i) % 200)) % len(_WORDS)] for i in range(14)]
        out.append(
            f"Paragraph {p + 1} of the {slug} report: officials said the "
            + " ".join(words)
            + f" would be reviewed again on day {p + 3} of the inquiry."
        )
    return out


def article_page(title: str, paragraphs: Sequence[str], *, after: str = "", head: str = "") -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title>{head}</head><body><main><article><h1>{escape(title)}</h1>{body}</article>"
        f"{after}</main></body></html>"
    )


def billion_laughs(levels: int = 10) -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    for n in range(1, levels):
        lines.append(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">')
    doctype = "<!DOCTYPE rss [" + "".join(lines) + "]>"
    last = f"&lol{levels - 1};"
    return (
        f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>{last}</title>'
        f"<item><title>laughs {last}</title><link>http://127.0.0.1/laughs</link>"
        "<guid>laughs</guid></item></channel></rss>"
    ).encode()


def xxe(system_ids: Sequence[str]) -> bytes:
    """A feed whose DOCTYPE declares external entities (files, URLs) and uses them."""
    decls = "".join(f'<!ENTITY ext{n} SYSTEM "{s}">' for n, s in enumerate(system_ids))
    uses = " ".join(f"&ext{n};" for n in range(len(system_ids)))
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{decls}]><rss version="2.0"><channel>'
        f"<title>xxe</title><item><title>XXE {uses}</title><link>http://127.0.0.1/xxe</link>"
        f"<guid>xxe</guid><description>leak {uses}</description></item></channel></rss>"
    ).encode()


# -- server behaviours -------------------------------------------------------------------------


def _zeros(total: int) -> Iterator[bytes]:
    block = bytes(MIB)
    for _ in range(total // MIB):
        yield block


@functools.cache
def bomb(coding: str, prefix: bytes = b"", size: int = BOMB_EXPANDS_TO) -> bytes:
    """``prefix`` followed by ``size`` bytes of zeros, compressed with ``coding``; a few
    hundred KB that expand to ``size``. Cached: building one takes a fraction of a second."""
    if coding == "br":
        packer = brotli.Compressor(quality=5)
        return (
            packer.process(prefix) + b"".join(map(packer.process, _zeros(size))) + (packer.finish())
        )
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}[coding]
    z = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return z.compress(prefix) + b"".join(map(z.compress, _zeros(size))) + z.flush()


def hang(stop: threading.Event, seconds: float = 30.0) -> Handler:
    """Accept the request and never answer (until ``stop`` or ``seconds``)."""

    def handle(_r: Request, h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        stop.wait(seconds)

    return handle


def cut_mid_body(head: bytes) -> Handler:
    """Promise a body ten times longer than ``head``, send ``head`` and hang up, with
    SO_LINGER 0 so that the close is a reset where the kernel can make it one."""

    def handle(_r: Request, h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", str(len(head) * 10))
            h.end_headers()
            h.wfile.write(head)
            h.wfile.flush()
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            return

    return handle


def streamed(prefix: bytes, total: int) -> Handler:
    """``prefix`` and then padding, ``total`` bytes in all, with no Content-Length."""
    pad = b"<!-- " + b"p" * (64 * 1024 - 9) + b" -->"

    def handle(_r: Request, h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(prefix)
            sent = len(prefix)
            while sent < total:
                h.wfile.write(pad)
                sent += len(pad)
        except OSError:
            return

    return handle


def conditional(body: bytes, content_type: str = "application/rss+xml") -> Handler:
    """Answer If-None-Match with 304 (a well-behaved server)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handle(request: Request, _h: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(304, b"", {"ETag": etag})
        return Response(200, body, {"Content-Type": content_type, "ETag": etag})

    return handle


def retry_after(status: int, value: Callable[[], str]) -> Handler:
    """``status`` with a Retry-After computed at request time (an HTTP date must be fresh)."""

    def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
        return Response(status, b"slow down", {"Retry-After": value()})

    return handle


def http_date_in(seconds: float) -> Callable[[], str]:
    return lambda: rfc822(datetime.now(UTC) + timedelta(seconds=seconds))


@dataclass
class FaultWeb:
    """The public and private servers of one scenario, with a fault registry."""

    public: LocalServer
    private: LocalServer
    kinds: dict[str, str] = field(default_factory=dict)  # path -> kind
    stop: threading.Event = field(default_factory=threading.Event)
    origins: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        self.private.route("/feed.xml", "<rss><channel><title>internal</title></channel></rss>")
        self.private.route("/secret", "internal data")

    def url(self, path: str) -> str:
        return self.public.url(path)

    def private_url(self, path: str = "/secret") -> str:
        return self.private.url(path)

    def serve(
        self,
        kind: str,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        handler: Handler | None = None,
        own_origin: bool = False,
    ) -> str:
        """Register ``path`` as an instance of fault ``kind``; returns its URL. ``own_origin``
        serves it from a server of its own (another port): a Retry-After pauses a whole
        origin, which would hold every other fault of the public server."""
        if handler is None:
            data = body.encode() if isinstance(body, str) else body
            fixed = Response(status, data, dict(headers or {}))

            def handler(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
                return fixed

        inner = handler

        def counted(request: Request, h: BaseHTTPRequestHandler) -> Response | None:
            tally(kind)
            return inner(request, h)

        self.kinds[path] = kind
        server = self.origins.enter_context(serve(self.public.host)) if own_origin else self.public
        return server.route(path, handler=counted)

    def page(self, path: str, html: str | bytes, kind: str = "page") -> str:
        data = html.encode() if isinstance(html, str) else html
        return self.serve(kind, path, data, headers={"Content-Type": "text/html; charset=utf-8"})

    def feed(self, kind: str, path: str, document: str | bytes, **headers: str) -> str:
        data = document.encode() if isinstance(document, str) else document
        return self.serve(
            kind, path, data, headers={"Content-Type": "application/rss+xml", **headers}
        )

    # behaviours that need the servers themselves

    def drip(self, kind: str, path: str, interval_s: float = 0.5, count: int = 200) -> str:
        return self.serve(kind, path, handler=drip_body(interval_s, count))

    def hang(self, kind: str, path: str) -> str:
        return self.serve(kind, path, handler=hang(self.stop))

    def redirect(self, kind: str, path: str, location: str, status: int = 302) -> str:
        return self.serve(kind, path, status=status, headers={"Location": location})

    def chain(self, kind: str, prefix: str, hops: int, final: bytes) -> str:
        """``prefix/0`` -> ``prefix/1`` -> ... -> ``prefix/<hops>``, which answers ``final``."""
        for n in range(hops):
            self.redirect(kind, f"{prefix}/{n}", self.url(f"{prefix}/{n + 1}"))
        self.feed(kind, f"{prefix}/{hops}", final)
        return self.url(f"{prefix}/0")

    def loop(self, kind: str, prefix: str) -> str:
        self.redirect(kind, f"{prefix}/a", self.url(f"{prefix}/b"))
        self.redirect(kind, f"{prefix}/b", self.url(f"{prefix}/a"))
        return self.url(f"{prefix}/a")

    def endless(self, kind: str, path: str) -> str:
        return self.serve(kind, path, handler=endless_body(b"<!-- endless -->" * 4096, 10.0))

    def hits(self, prefix: str) -> int:
        return sum(n for path, n in self.public.hits.items() if path.startswith(prefix))

    def close(self) -> None:
        self.stop.set()
        self.origins.close()


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


__all__ = [
    "BOMB_EXPANDS_TO",
    "TALLY",
    "FaultWeb",
    "Item",
    "article_page",
    "billion_laughs",
    "bomb",
    "conditional",
    "cut_mid_body",
    "http_date_in",
    "retry_after",
    "rfc822",
    "rss",
    "story_text",
    "streamed",
    "tally",
    "xxe",
]
