"""Fuzz targets: hypothesis strategies that mutate real inputs, and the properties every input
must keep. Shared by tests/test_fuzz_inputs.py (a modest number of examples in ``make test``)
and by ``python -m tests.fuzz.run`` (the long run, documented in docs/reliability.md).

Seeds are read from ../shared/data at run time (never copied into the repository); the
hostile fragments spliced into them are our own. Properties, for every target:

- nothing escapes but our own error types (``aggregator.errors``);
- each input finishes within a generous time bound: the product's own limit where it has one
  (``[parse] timeout_s``, ``[extract] timeout_s``), else a few seconds;
- the same input gives the same result (determinism), and canonical forms are idempotent.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from hypothesis import strategies as st

from aggregator.corpus import CorpusReader, CorpusRecord
from aggregator.errors import ExtractError, InputError, NewsaggError, ParseError
from aggregator.extract import extract_page
from aggregator.normalize import canonical_url
from aggregator.parse import parse_feed
from aggregator.settings import ExtractSettings, ParseSettings
from aggregator.types import ExtractedPage, Flag, ParsedFeed
from tests.support.figures import count
from tests.support.paths import require_shared_data

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
PAGE_URL = "https://news.example/a/1"
LIMITS_S = {
    "feeds": ParseSettings().timeout_s,
    "pages": ExtractSettings().timeout_s,
    "urls": 1.0,
    "corpus": 5.0,
    "api": 10.0,
}
CONTROL = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])

# Our own hostile fragments, spliced into real documents.
FRAGMENTS: tuple[bytes, ...] = (
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"&#0;",
    b"&#xD800;",
    b"&#1114112;",
    b"&amp;&lt;&bogus;&",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b"&x;&b;",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"<?xml version='1.0' encoding='x-unknown'?>",
    b'<meta charset="windows-1251">',
    b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">',
    b"<item><title>t</title><link>http://127.0.0.2/x</link></item>",
    b"<entry><id>x</id><link href='file:///etc/passwd'/></entry>",
    b"</channel></rss>",
    b"<rss version='2.0'><channel>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'>",
    b"<script>alert(1)</script>",
    b"<a href='javascript:alert(1)'>x</a>",
    b"<img src=x onerror=alert(1)>",
    b"<pubDate>Mon, 99 Foo 99999 25:61:61 +9999</pubDate>",
    b"<pubDate>Tue, 01 Jan 2999 00:00:00 GMT</pubDate>",
    b"<guid>dup</guid>",
    b"<div>" * 300,
    b"</div>" * 300,
    b"<p>" + b"word " * 2000 + b"</p>",
    b"\r\n\r\n",
    b"\t\x0b\x0c",
    "\u202e\u200b\ufeff".encode(),
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": null}]}',
)

# A mutation: (operation, where as a fraction of the document, length fraction, payload)
OPS = ("flip", "insert", "delete", "truncate", "duplicate", "splice", "swap")


@dataclass(frozen=True)
class Seeds:
    feeds: tuple[tuple[str, bytes], ...]  # (name, bytes)
    pages: tuple[tuple[str, bytes], ...]
    urls: tuple[str, ...]
    corpus: tuple[bytes, ...]


def _feed_files(shared: Path) -> list[Path]:
    roots = [shared / "feeds" / "news-2026-02", shared / "feeds" / "encodings"]
    files = [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]
    suite = sorted((shared / "feeds" / "feedparser-suite").rglob("*.xml"))
    return [p for p in files if p.stat().st_size < 2_000_000] + suite[::7]  # 300 of 2,107


JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Synthetic JSON feed",
        "items": [
            {
                "id": f"j{n}",
                "url": f"https://news.example/j{n}",
                "title": f"Item {n}",
                "content_html": "<p>text</p>",
                "date_published": "2026-11-27T10:00:00Z",
            }
            for n in range(3)
        ],
    }
).encode()


@functools.cache
def seeds(shared: Path) -> Seeds:
    feeds = [(str(p.relative_to(shared)), p.read_bytes()) for p in _feed_files(shared)]
    feeds.append(("synthetic/json-feed", JSON_FEED))
    bench = shared / "extraction" / "article-extraction-benchmark" / "html"
    pages = [(p.name, gzip.decompress(p.read_bytes())) for p in sorted(bench.glob("*.html.gz"))]
    links: list[str] = []
    for _name, body in feeds[:60]:
        found = re.findall(r"https?://[^\s<>\"']{4,300}", body.decode("utf-8", "replace"))
        links += [link for link in found if canonical_url(link)]
    corpus = []
    for name in ("basil-dev.jsonl", "allsides-groups.jsonl"):
        with (shared / "clustering" / name).open("rb") as handle:
            corpus += [line.rstrip(b"\n") for line in handle]
    return Seeds(tuple(feeds), tuple(pages), tuple(dict.fromkeys(links)), tuple(corpus))


def mutate(data: bytes, ops: Sequence[tuple[str, float, float, bytes]]) -> bytes:
    """Apply byte-level mutations; positions are fractions, so they scale to any document."""
    out = bytearray(data)
    for op, where, size, payload in ops:
        at = int(where * len(out))
        span = max(1, int(size * min(len(out), 4096)))
        if op == "flip" and out:
            at = min(at, len(out) - 1)
            out[at] ^= payload[0] if payload else 0xFF
        elif op in ("insert", "splice"):
            out[at:at] = payload
        elif op == "delete":
            del out[at : at + span]
        elif op == "truncate":
            del out[at:]
        elif op == "duplicate":
            out[at:at] = out[at : at + span]
        elif op == "swap":
            other = int(size * len(out))
            out[at : at + 16], out[other : other + 16] = out[other : other + 16], out[at : at + 16]
    return bytes(out)


def _ops() -> st.SearchStrategy[list[tuple[str, float, float, bytes]]]:
    payload = st.one_of(st.sampled_from(FRAGMENTS), st.binary(min_size=1, max_size=24))
    op = st.tuples(
        st.sampled_from(OPS),
        st.floats(0, 1, allow_nan=False),
        st.floats(0, 1, allow_nan=False),
        payload,
    )
    return st.lists(op, min_size=0, max_size=8)


def mutated(pool: Sequence[tuple[str, bytes]]) -> st.SearchStrategy[tuple[str, bytes]]:
    """(seed name + mutations, mutated bytes) from a pool of real documents."""

    def build(choice: int, ops: list[tuple[str, float, float, bytes]]) -> tuple[str, bytes]:
        name, data = pool[choice]
        return f"{name} {[(o, round(w, 3)) for o, w, _s, _p in ops]}", mutate(data, ops)

    return st.builds(build, st.integers(0, len(pool) - 1), _ops())


FEED_TYPES = st.sampled_from(
    ["", "application/rss+xml", "text/xml; charset=utf-8", "text/html; charset=iso-8859-1",
     "application/feed+json", "application/json; charset=utf-16", "text/plain; charset=bogus",
     "application/atom+xml; charset=windows-1251"]
)  # fmt: skip
PAGE_TYPES = st.sampled_from(
    [None, "text/html", "text/html; charset=utf-8", "text/html; charset=windows-1251",
     "application/xhtml+xml", "application/octet-stream", "text/plain", "image/png"]
)  # fmt: skip


def timed(target: str, label: str, call: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return call()
    finally:
        elapsed = time.monotonic() - started
        count("fuzz", target)
        assert elapsed < LIMITS_S[target], f"{target}: {elapsed:.1f}s on {label}"


# -- feeds ------------------------------------------------------------------------------------


def _feed_view(feed: ParsedFeed) -> tuple[Any, ...]:
    return (
        feed.title,
        feed.format,
        feed.bozo,
        tuple((i.key, i.title, i.url, i.summary, i.published, i.flags) for i in feed.items),
    )


def check_feed(label: str, body: bytes, content_type: str) -> str:
    """Returns "ok" or the error code; fails on anything else."""
    headers = {"Content-Type": content_type} if content_type else {}

    def parse() -> ParsedFeed | ParseError:
        try:
            return parse_feed(body, headers=headers, url="https://feeds.example/rss", now=NOW)
        except ParseError as exc:
            return exc
        except NewsaggError as exc:  # pragma: no cover - a wrong error type is a failure
            raise AssertionError(f"{label}: {type(exc).__name__} from the parser") from exc

    first = timed("feeds", label, parse)
    if isinstance(first, ParseError):
        assert first.code and first.resource, label
        return first.code
    keys = [item.key for item in first.items]
    assert len(keys) == len(set(keys)), f"{label}: duplicate keys"
    for item in first.items:
        assert not (set(item.title) & CONTROL) and "\n" not in item.title, label
        assert not (set(item.summary) & (CONTROL - {"\t"})), label
        assert item.url is None or item.url.startswith(("http://", "https://")), label
        assert item.published is None or item.published.tzinfo is not None, label
    again = parse()
    assert isinstance(again, ParsedFeed) and _feed_view(again) == _feed_view(first), label
    return "ok"


# -- pages ------------------------------------------------------------------------------------


def check_page(label: str, html: bytes, content_type: str | None) -> str:
    def run() -> ExtractedPage | ExtractError:
        try:
            return extract_page(
                html, url="https://news.example/a/1", content_type=content_type, now=NOW
            )
        except ExtractError as exc:
            return exc

    first = timed("pages", label, run)
    if isinstance(first, ExtractError):
        return first.code
    assert (first.text == "") == (Flag.EMPTY_TEXT in first.flags), label
    assert not (set(first.text) & CONTROL), label
    assert first.title is None or "\n" not in first.title, label
    assert first.published is None or first.published.tzinfo is not None, label
    if Flag.NOT_HTML in first.flags:
        assert first.text == "", label
    return "ok"


def check_page_twice(label: str, html: bytes, content_type: str | None) -> None:
    """Determinism: the same bytes give the same page (costs a second extraction)."""
    one = extract_page(html, url=PAGE_URL, content_type=content_type, now=NOW)
    two = extract_page(html, url=PAGE_URL, content_type=content_type, now=NOW)
    assert one == two, label


# -- canonical URLs ---------------------------------------------------------------------------

TRACKERS = ("utm_source=rss", "utm_medium=feed", "fbclid=x1", "gclid=2", "at_medium=RSS")


def url_variants() -> st.SearchStrategy[tuple[str, str]]:
    """(a real link, a variant of it that must have the same canonical form)."""

    def vary(url: str, upper: bool, port: bool, fragment: str, tracker: int) -> tuple[str, str]:
        parts = urlsplit(url)
        try:
            has_port = parts.port is not None
        except ValueError:
            return url, url
        scheme, netloc = parts.scheme, parts.netloc
        if upper:
            scheme, netloc = scheme.upper(), netloc.upper()
        if port and not has_port and not netloc.endswith("]"):
            netloc += ":443" if scheme.lower() == "https" else ":80"
        query = "&".join(filter(None, [parts.query, TRACKERS[tracker]]))
        keep = parts.fragment if parts.fragment.startswith("!") else fragment
        return url, urlunsplit((scheme, netloc, parts.path, query, keep))

    return st.builds(
        vary,
        URLS,
        st.booleans(),
        st.booleans(),
        st.text(alphabet="abcxyz-_0", max_size=8),
        st.integers(0, len(TRACKERS) - 1),
    )


def check_url(label: str, url: str, base: str | None) -> None:
    result = timed("urls", label, lambda: canonical_url(url, base))
    if result is None:
        return
    assert result.startswith(("http://", "https://")), (label, result)
    assert canonical_url(result) == result, (label, result)
    assert not (set(result) & CONTROL) and " " not in result, (label, result)


def check_url_variant(original: str, variant: str) -> None:
    want = canonical_url(original)
    count("fuzz", "url-variants")
    if want is None or "#!" in original:
        return
    assert canonical_url(variant) == want, (original, variant)


# -- the article JSONL importer ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = ("id", "outlet", "title", "text", "published", "url", "story", "language")
DATES = st.one_of(
    st.sampled_from(
        ["2019-01-01", "2019-13-45", "2019-02-29", "2020-02-29T25:00:00", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59+14:00", "2026-11-28T10:00:00-23:59", "yesterday", "", " ",
         "2019-01-01T00:00:00.123456789Z", "2019-W01-1", "+002019-01-01"]
    ),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.text(max_size=30),
)  # fmt: skip


EDITS = st.tuples(st.sampled_from(["drop", "set"]), st.sampled_from(KEYS), JSON_VALUES)
BYTE_OPS = st.tuples(
    st.sampled_from(OPS), st.floats(0, 1), st.floats(0, 1), st.sampled_from(FRAGMENTS)
)


def corpus_line() -> st.SearchStrategy[bytes]:
    """A real line of article JSONL, changed at the JSON level, then maybe at the byte level."""

    def change(
        line: bytes, edits: list[tuple[str, str, Any]], date: str | None, ops: list[Any]
    ) -> bytes:
        try:
            data = json.loads(line)
        except ValueError:
            return mutate(line, ops)
        for action, key, value in edits:
            if action == "drop":
                data.pop(key, None)
            else:
                data[key] = value
        if date is not None:
            data["published"] = date
        return mutate(json.dumps(data).encode(), ops)

    return st.builds(
        change,
        st.deferred(lambda: st.sampled_from(loaded().corpus)),
        st.lists(
            st.tuples(st.sampled_from(["drop", "set"]), st.sampled_from(KEYS), JSON_VALUES),
            max_size=3,
        ),
        st.none() | DATES,
        st.lists(
            st.tuples(
                st.sampled_from(OPS), st.floats(0, 1), st.floats(0, 1), st.sampled_from(FRAGMENTS)
            ),
            max_size=2,
        ),
    )


BAD_VALUES: tuple[Any, ...] = (
    None, 0, -1, 1e309, True, "", " ", [], {}, [1, [2, [3]]], {"a": {"b": None}}, "x" * 5000,
    "\u0000", "\ud800", "2019-13-45", "=cmd|' /C calc'!A0",
)  # fmt: skip


def random_corpus_lines(rng: random.Random, n: int) -> list[bytes]:
    """``n`` lines of article JSONL from real lines, with JSON edits and byte mutations drawn
    from ``rng`` (for one-off files: the real ``newsagg import`` test, the long run)."""
    pool = loaded().corpus
    lines = []
    for _ in range(n):
        line = pool[rng.randrange(len(pool))]
        data = json.loads(line)
        for _ in range(rng.randrange(3)):
            key = rng.choice(KEYS)
            if rng.random() < 0.3:
                data.pop(key, None)
            else:
                data[key] = rng.choice(BAD_VALUES)
        text = json.dumps(data).encode()
        ops = [
            (rng.choice(OPS), rng.random(), rng.random(), rng.choice(FRAGMENTS))
            for _ in range(rng.choice((0, 0, 0, 1, 2)))
        ]
        lines.append(mutate(text, ops).replace(b"\n", b" ").replace(b"\r", b" "))
    return lines


def _is_blank(raw: bytes, number: int) -> bool:
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False
    return not (text.lstrip("\ufeff") if number == 1 else text)


def check_corpus(label: str, lines: list[bytes]) -> list[CorpusRecord]:
    reader = CorpusReader(lines, resource="fuzz.jsonl")
    records = timed("corpus", label, lambda: list(reader))
    by_line = {r.line: r for r in records}
    errors = {e.line: e for e in reader.errors}
    assert not set(by_line) & set(errors), label
    for number, raw in enumerate(lines, start=1):
        if number in errors:
            assert isinstance(errors[number], InputError) and f":{number}" in str(errors[number])
        elif number not in by_line:
            assert _is_blank(raw, number), (label, number, raw[:80])
    assert len({r.id for r in records}) == len(records), label
    for record in records:
        assert record.id and record.outlet, label
        assert record.published is None or record.published.utcoffset() is not None, label
    again = list(CorpusReader([_dump(r).encode("utf-8", "surrogatepass") for r in records]))
    same = [f.name for f in fields(CorpusRecord) if f.name != "line"]
    view = [tuple(getattr(r, n) for n in same) for r in records]
    assert [tuple(getattr(r, n) for n in same) for r in again] == view, label
    return records


def _dump(record: CorpusRecord) -> str:
    data = {
        "id": record.id,
        "outlet": record.outlet,
        "title": record.title,
        "text": record.text,
        "published": record.published.isoformat() if record.published else None,
        "url": record.url,
        "story": record.story,
        "language": record.language,
    }
    return json.dumps(data)


def loaded() -> Seeds:
    """The seeds from ../shared/data (skips, or fails under CI=true, when it is absent)."""
    return seeds(require_shared_data())


FEEDS = st.deferred(lambda: mutated(loaded().feeds))
PAGES = st.deferred(lambda: mutated(loaded().pages))
URLS = st.deferred(lambda: st.sampled_from(loaded().urls))


# -- the web API and pages --------------------------------------------------------------------

ODD = (
    "", "0", "-1", "1e309", "NaN", "9" * 30, "\x00", "%00", "\ufeff", "\U0001f600", "ü", "'",
    '"', "*", "NEAR(", "OR", "-", "a:b", "ownership:private", "2019-01-01", "2019-01-01T25:00",
    "<script>", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", " ", "\t", "null", "[]", "{}",
    "' OR 1=1 --", "1; DROP TABLE articles", "%", "_", "\\", "$1", "${7*7}", "{{7*7}}",
)  # fmt: skip
VALUE = st.one_of(st.sampled_from(ODD), st.text(max_size=40), st.integers(-(2**70), 2**70).map(str))
PARAM_NAMES = ("since", "until", "outlet", "label", "language", "min_outlets", "q", "limit",
               "cursor", "sort", "cluster", "format", "page", "id")  # fmt: skip
PARAMS = st.dictionaries(st.sampled_from(PARAM_NAMES), VALUE, max_size=5)
SEGMENT = st.one_of(
    st.integers(-(2**70), 2**70).map(str), st.sampled_from(ODD), st.text(max_size=20)
).map(lambda s: quote(s, safe=""))
EXPORT_NAMES = st.one_of(
    st.sampled_from(
        ["articles.csv", "clusters.jsonl", "comparisons.csv", "memberships.parquet",
         "articles.jsonl.zip", "articles.exe", "ARTICLES.CSV", "articles.csv.zip.zip",
         "..%2Farticles.csv", "articles.csv%00.txt", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
         "articles.csv%2F..%2F..%2Fsecret"]
    ),
    SEGMENT,
)  # fmt: skip


def api_requests() -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """(path, query) over every read endpoint: lists, details, exports, HTML pages."""
    lists = st.tuples(
        st.sampled_from(["/api/clusters", "/api/articles", "/api/outlets", "/api/audit", "/",
                         "/outlets", "/audit"]),
        PARAMS,
    )  # fmt: skip
    details = st.tuples(
        st.builds(
            lambda prefix, seg: prefix + seg,
            st.sampled_from(["/api/clusters/", "/api/articles/", "/clusters/", "/articles/"]),
            SEGMENT,
        ),
        st.just({}),
    )
    exports = st.tuples(EXPORT_NAMES.map(lambda n: "/api/exports/" + n), PARAMS)
    return st.one_of(lists, details, exports)


def check_api(get: Callable[..., Any], path: str, params: dict[str, str]) -> int:
    """One request: never a 5xx; an API error has the JSON shape; a page (or a page's error)
    is HTML; a redirect stays on the site; the same read twice gives the same answer."""
    response = timed("api", f"{path} {params}", lambda: get(path, params=params))
    status = response.status_code
    assert status < 500, (path, params, status, response.text[:300])
    assert status in (200, 307, 400, 404), (path, params, status)
    api = path.startswith("/api/")
    if status == 307:  # "/api/clusters/" -> "/api/clusters"
        location = response.headers["location"]
        site = str(response.url.copy_with(path="/", query=None))
        assert location.startswith(("/", site)) and not location.startswith("//"), location
    elif api and status >= 400:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    elif not api:
        assert "text/html" in response.headers["content-type"], (path, status)
    if status == 200 and api and not path.startswith("/api/exports/"):
        assert get(path, params=params).json() == response.json(), (path, params)
    return int(status)
