"""The fetcher against a real local HTTP server: limits, bodies, redirects, conditional GET and
status classification (RELIABILITY.md, "Fetching")."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import brotli
import pytest

from aggregator.errors import BlockedAddressError, FetchError
from aggregator.fetch import HTML_ACCEPT, Fetcher
from aggregator.types import Validators
from tests.support.fetchkit import (
    closed_port,
    drip_body,
    drip_headers,
    endless_body,
    hits_under,
    redirect_chain,
    reset,
    settings,
    silent_listener,
)
from tests.support.httpserver import LocalServer, Request, Response, serve

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GIB = 1 << 30


@pytest.fixture(scope="module")
def _public_server() -> Iterator[LocalServer]:
    with serve("127.0.0.1") as server:
        yield server


@pytest.fixture
def http_server(_public_server: LocalServer) -> LocalServer:
    """One server for the module (stopping one takes 0.5 s), emptied before each test."""
    return reset(_public_server)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(settings(), wall_clock=lambda: NOW) as f:
        yield f


def fetch_error(fetcher: Fetcher, url: str, **kwargs: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, **kwargs)  # type: ignore[arg-type]
    return caught.value


# -- a plain fetch ----------------------------------------------------------------------------


def test_fetch_returns_body_headers_validators_and_sends_an_honest_user_agent(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    url = http_server.route(
        "/feed.xml",
        b"<rss/>",
        headers={"ETag": '"v1"', "Last-Modified": "Fri, 27 Nov 2026 10:00:00 GMT"}
        | {"Content-Type": "application/rss+xml"},
    )
    got = fetcher.fetch(url, resource="outlet 'x': feed")
    assert (got.status, got.body, got.url, got.final_url) == (200, b"<rss/>", url, url)
    assert got.etag == '"v1"' and got.last_modified == "Fri, 27 Nov 2026 10:00:00 GMT"
    assert got.body_hash == hashlib.sha256(b"<rss/>").hexdigest()
    assert got.content_type == "application/rss+xml" and got.fetched_at == NOW
    assert not got.not_modified
    sent = http_server.requests[-1].headers
    assert sent["User-Agent"] == settings().user_agent
    assert sent["Accept-Encoding"] == "gzip, deflate, br"
    assert "application/rss+xml" in sent["Accept"]
    assert "If-None-Match" not in sent


def test_without_fingerprint_no_body_hash_is_made_and_nothing_reads_as_unchanged(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    """Pages are fetched with ``fingerprint=False``: no SHA-256 of the body, and a body is
    never taken for unchanged, even against validators that carry the same body's hash."""
    url = http_server.route("/page.html", b"<p>same</p>", headers={"Content-Type": "text/html"})
    same = Validators(body_hash=hashlib.sha256(b"<p>same</p>").hexdigest())
    got = fetcher.fetch(url, validators=same, fingerprint=False)
    assert (got.status, got.body, got.body_hash, got.not_modified) == (
        200,
        b"<p>same</p>",
        None,
        False,
    )
    assert fetcher.fetch(url, validators=same).not_modified  # with it (the default): unchanged


def test_accept_header_can_ask_for_html(http_server: LocalServer, fetcher: Fetcher) -> None:
    url = http_server.route("/page", b"<html></html>")
    fetcher.fetch(url, accept=HTML_ACCEPT)
    assert http_server.requests[-1].headers["Accept"] == HTML_ACCEPT


# -- server never answers / drips slowly -----------------------------------------------------


def test_server_that_never_answers_times_out() -> None:
    with silent_listener() as port, Fetcher(settings(timeout_s=0.3)) as f:
        started = time.monotonic()
        error = fetch_error(f, f"http://127.0.0.1:{port}/feed")
        assert error.code == "timeout"
        assert f"http://127.0.0.1:{port}/feed" in str(error)
        assert time.monotonic() - started < 2.0


def test_body_dripping_one_byte_at_a_time_is_cut_at_the_deadline(
    http_server: LocalServer,
) -> None:
    url = http_server.route("/drip", handler=drip_body(0.1, 100))
    with Fetcher(settings(timeout_s=0.5, deadline_s=1.0)) as f:
        started = time.monotonic()
        error = fetch_error(f, url)
        took = time.monotonic() - started
    assert error.code == "timeout" and url in str(error)
    assert 0.9 <= took < 2.0  # each read came within the read timeout: only the deadline cut it


def test_headers_dripping_are_cut_at_the_deadline(http_server: LocalServer) -> None:
    url = http_server.route("/drip-headers", handler=drip_headers(0.1, 100))
    with Fetcher(settings(timeout_s=0.5, deadline_s=1.0)) as f:
        started = time.monotonic()
        error = fetch_error(f, url)
        took = time.monotonic() - started
    assert error.code == "timeout"
    assert 0.9 <= took < 2.0


def test_deadline_covers_the_whole_redirect_chain(http_server: LocalServer) -> None:
    http_server.route("/slow", handler=redirect_chain(http_server.base, "/slow", 5, 0.3))
    with Fetcher(settings(timeout_s=1.0, deadline_s=1.0)) as f:
        error = fetch_error(f, http_server.url("/slow?n=0"))
    assert error.code == "timeout"
    assert hits_under(http_server, "/slow") <= 4  # 6 hops of 0.3 s would need 1.8 s


# -- body size caps and bombs -------------------------------------------------------------------


def test_body_over_the_cap_by_content_length_is_refused_before_reading(
    http_server: LocalServer,
) -> None:
    url = http_server.route("/big", b"x" * 2000, headers={"Content-Length": "5000000"})
    with Fetcher(settings(max_bytes=1_000_000)) as f:
        error = fetch_error(f, url)
    assert error.code == "too_large" and "Content-Length 5000000" in str(error)


def test_streamed_body_over_the_cap_is_refused(http_server: LocalServer) -> None:
    url = http_server.route("/endless", handler=endless_body(b"y" * 65536))
    with Fetcher(settings(max_bytes=1_000_000)) as f:
        error = fetch_error(f, url)
    assert error.code == "too_large" and url in str(error)


def test_body_exactly_at_the_cap_is_accepted(http_server: LocalServer) -> None:
    url = http_server.route("/exact", b"z" * 1000)
    with Fetcher(settings(max_bytes=1000)) as f:
        assert len(f.fetch(url).body) == 1000


def _zeros(total: int) -> Iterator[bytes]:
    block = bytes(1 << 20)
    for _ in range(total // len(block)):
        yield block


def _zlib_bomb(wbits: int) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return b"".join(packer.compress(b) for b in _zeros(GIB)) + packer.flush()


def _brotli_bomb() -> bytes:
    packer = brotli.Compressor(quality=5)
    return b"".join(packer.process(b) for b in _zeros(GIB)) + packer.finish()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Each expands to 1 GiB of zeros."""
    return {
        "gzip": _zlib_bomb(16 + zlib.MAX_WBITS),
        "deflate": _zlib_bomb(zlib.MAX_WBITS),
        "br": _brotli_bomb(),
    }


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_decompression_bomb_is_refused_with_memory_bounded(
    http_server: LocalServer, bombs: dict[str, bytes], coding: str
) -> None:
    bomb = bombs[coding]
    assert len(bomb) < 5_000_000  # the raw body is under the cap: only decoding can stop it
    url = http_server.route(f"/bomb-{coding}", bomb, headers={"Content-Encoding": coding})
    with Fetcher(settings(max_bytes=5_000_000, deadline_s=10.0, timeout_s=5.0)) as f:
        tracemalloc.start()
        try:
            error = fetch_error(f, url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert error.code == "too_large" and "decoded" in str(error)
    assert peak < 10_000_000, f"peak {peak} bytes (cap 5 MB) refusing a 1 GiB {coding} bomb"


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        ("gzip", gzip.compress(b"<rss>gzip</rss>" * 100, mtime=0)),
        (
            "x-gzip",
            gzip.compress(b"<rss>gzip</rss>" * 50, mtime=0)
            + gzip.compress(b"<rss>gzip</rss>" * 50, mtime=0),
        ),
        ("deflate", zlib.compress(b"<rss>gzip</rss>" * 100)),
        ("deflate", zlib.compress(b"<rss>gzip</rss>" * 100)[2:-4]),  # raw deflate, as some send
        ("br", brotli.compress(b"<rss>gzip</rss>" * 100)),
        ("identity", b"<rss>gzip</rss>" * 100),
    ],
)
def test_compressed_bodies_are_decoded(
    http_server: LocalServer, fetcher: Fetcher, coding: str, packed: bytes
) -> None:
    url = http_server.route("/packed", packed, headers={"Content-Encoding": coding})
    assert fetcher.fetch(url).body == b"<rss>gzip</rss>" * 100


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        ("gzip", b"\x1f\x8b\x08\x00garbage-not-gzip"),
        ("gzip", gzip.compress(b"a" * 5000, mtime=0)[:-12]),  # truncated stream
        ("br", b"\xff\xfe\xfd not brotli"),
        ("zstd", b"whatever"),
    ],
)
def test_corrupt_or_unknown_encodings_are_named_errors(
    http_server: LocalServer, fetcher: Fetcher, coding: str, packed: bytes
) -> None:
    url = http_server.route("/bad-coding", packed, headers={"Content-Encoding": coding})
    assert fetch_error(fetcher, url).code == "bad_encoding"


# -- redirects ------------------------------------------------------------------------------


def test_redirect_chain_of_max_hops_is_followed(http_server: LocalServer, fetcher: Fetcher) -> None:
    http_server.route("/chain", handler=redirect_chain(http_server.base, "/chain", 5))
    got = fetcher.fetch(http_server.url("/chain?n=0"))
    assert got.body == b"end of chain at 5"
    assert got.final_url == http_server.url("/chain?n=5")
    assert got.url == http_server.url("/chain?n=0")


def test_long_redirect_chain_is_refused(http_server: LocalServer, fetcher: Fetcher) -> None:
    http_server.route("/long", handler=redirect_chain(http_server.base, "/long", 6))
    error = fetch_error(fetcher, http_server.url("/long?n=0"))
    assert error.code == "too_many_redirects"
    assert hits_under(http_server, "/long") == 6  # the first request and 5 redirects, no more


def test_redirect_loop_is_refused(http_server: LocalServer, fetcher: Fetcher) -> None:
    http_server.route("/loop", status=301, headers={"Location": "/loop"})
    error = fetch_error(fetcher, http_server.url("/loop"))
    assert error.code == "too_many_redirects"
    assert http_server.hits["/loop"] == 6


def test_relative_redirect_is_resolved(http_server: LocalServer, fetcher: Fetcher) -> None:
    http_server.route("/old/feed", status=308, headers={"Location": "../new/feed"})
    http_server.route("/new/feed", b"moved here")
    got = fetcher.fetch(http_server.url("/old/feed"))
    assert (got.body, got.final_url) == (b"moved here", http_server.url("/new/feed"))


@pytest.mark.parametrize("headers", [{}, {"Location": ""}])
def test_redirect_without_location_is_bad_status(
    http_server: LocalServer, fetcher: Fetcher, headers: dict[str, str]
) -> None:
    url = http_server.route("/nowhere", status=302, headers=headers)
    error = fetch_error(fetcher, url)
    assert (error.code, error.status) == ("bad_status", 302)
    assert http_server.hits["/nowhere"] == 1


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://127.0.0.1/x"]
)
def test_bad_schemes_are_refused_directly_and_as_redirect_targets(
    http_server: LocalServer, fetcher: Fetcher, target: str
) -> None:
    direct = fetch_error(fetcher, target)
    assert isinstance(direct, BlockedAddressError) and direct.code == "bad_scheme"
    url = http_server.route("/to-scheme", status=302, headers={"Location": target})
    redirected = fetch_error(fetcher, url)
    assert redirected.code == "bad_scheme"
    assert url in str(redirected) and target in str(redirected)


def test_unparseable_urls_are_bad_url(fetcher: Fetcher) -> None:
    for url in ["http://", "http://[::1/", "http://127.0.0.1:99999/", "not a url"]:
        assert fetch_error(fetcher, url).code in ("bad_url", "bad_scheme"), url


# -- conditional GET ----------------------------------------------------------------------------


def _conditional(request: Request, h: BaseHTTPRequestHandler) -> Response:
    tags = {"ETag": '"v1"', "Last-Modified": "Fri, 27 Nov 2026 10:00:00 GMT"}
    if request.headers.get("If-None-Match") == '"v1"':
        return Response(304, headers=tags)
    return Response(200, b"<rss>same</rss>", headers=tags)


def test_304_is_not_modified_and_keeps_the_validators(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    url = http_server.route("/cond", handler=_conditional)
    first = fetcher.fetch(url)
    validators = Validators(first.etag, first.last_modified, first.body_hash)
    again = fetcher.fetch(url, validators=validators)
    sent = http_server.requests[-1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Fri, 27 Nov 2026 10:00:00 GMT"
    assert (again.status, again.not_modified, again.body) == (304, True, b"")
    assert (again.etag, again.last_modified, again.body_hash) == (
        first.etag,
        first.last_modified,
        first.body_hash,
    )


def test_unconditional_fetch_sends_no_validators_and_same_body_hash_is_not_modified(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    url = http_server.route("/cond", handler=_conditional)
    first = fetcher.fetch(url)
    validators = Validators(first.etag, first.last_modified, first.body_hash)
    again = fetcher.fetch(url, validators=validators, unconditional=True)
    sent = http_server.requests[-1].headers
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent
    assert (again.status, again.not_modified) == (200, True)
    assert again.body_hash == first.body_hash and again.etag == '"v1"'


def test_server_ignoring_validators_with_same_body_is_not_modified_by_hash(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    url = http_server.route("/same", b"<rss>unchanged</rss>", headers={"ETag": '"new-each-time"'})
    first = fetcher.fetch(url)
    again = fetcher.fetch(url, validators=Validators(etag='"old"', body_hash=first.body_hash))
    assert (again.status, again.not_modified) == (200, True)
    changed = fetcher.fetch(url, validators=Validators(body_hash="0" * 64))
    assert not changed.not_modified


# -- statuses -----------------------------------------------------------------------------------


def test_429_with_retry_after_seconds(http_server: LocalServer, fetcher: Fetcher) -> None:
    url = http_server.route("/busy", status=429, headers={"Retry-After": "120"})
    error = fetch_error(fetcher, url)
    assert (error.code, error.status, error.retry_after_s) == ("rate_limited", 429, 120.0)
    assert url in str(error)


def test_503_with_retry_after_http_date(http_server: LocalServer, fetcher: Fetcher) -> None:
    later = email.utils.format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    url = http_server.route("/later", status=503, headers={"Retry-After": later})
    error = fetch_error(fetcher, url)
    assert (error.code, error.status, error.retry_after_s) == ("rate_limited", 503, 90.0)


@pytest.mark.parametrize("garbage", ["soon", "-5", "1.5e3", "Mon, 99 Foo 2026"])
def test_garbage_retry_after_is_none(
    http_server: LocalServer, fetcher: Fetcher, garbage: str
) -> None:
    url = http_server.route("/garbage", status=429, headers={"Retry-After": garbage})
    error = fetch_error(fetcher, url)
    assert (error.code, error.retry_after_s) == ("rate_limited", None)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),  # no Retry-After: an outage, not a rate limit
        (404, "not_found"),
        (410, "gone"),
        (400, "client_error"),
        (451, "client_error"),
        (403, "forbidden"),
    ],
)
def test_error_statuses_have_stable_codes(
    http_server: LocalServer, fetcher: Fetcher, status: int, code: str
) -> None:
    url = http_server.route("/status", b"nope", status=status)
    error = fetch_error(fetcher, url)
    assert (error.code, error.status) == (code, status)
    assert url in str(error)


@pytest.mark.parametrize("status", [200, 204])
def test_empty_success_body_is_empty_body(
    http_server: LocalServer, fetcher: Fetcher, status: int
) -> None:
    url = http_server.route("/empty", b"", status=status)
    assert fetch_error(fetcher, url).code == "empty_body"


CHALLENGE_PAGE = b"<html><head><title>Just a moment...</title></head><body>...</body></html>"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"cf-mitigated": "challenge", "Server": "cloudflare"}, b"<html></html>"),
        ({"Server": "cloudflare"}, CHALLENGE_PAGE),
        ({"Server": "cloudflare"}, b'<script src="/cdn-cgi/challenge-platform/h/b/orchestrate">'),
        (
            {"Server": "cloudflare", "Content-Encoding": "gzip"},
            gzip.compress(CHALLENGE_PAGE, mtime=0),
        ),
        ({}, CHALLENGE_PAGE),
    ],
)
def test_cloudflare_style_403_challenge_is_blocked(
    http_server: LocalServer, fetcher: Fetcher, headers: dict[str, str], body: bytes
) -> None:
    url = http_server.route("/cf", body, status=403, headers=headers)
    error = fetch_error(fetcher, url)
    assert (error.code, error.status) == ("blocked", 403)


def test_plain_403_from_cloudflare_is_forbidden(http_server: LocalServer, fetcher: Fetcher) -> None:
    url = http_server.route("/no", b"Access denied", status=403, headers={"Server": "cloudflare"})
    assert fetch_error(fetcher, url).code == "forbidden"


def test_connection_refused_is_network(fetcher: Fetcher) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed"
    error = fetch_error(fetcher, url)
    assert error.code == "network" and url in str(error)


def test_errors_carry_the_resource_and_hide_credentials(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    http_server.route("/private-feed", status=404)
    url = f"http://reader:s3cret@127.0.0.1:{http_server.port}/private-feed?api_key=k3y&page=2"
    error = fetch_error(fetcher, url, resource="outlet 'rt': feed")
    assert str(error).startswith("outlet 'rt': feed: GET http://127.0.0.1:")
    assert "s3cret" not in str(error) and "k3y" not in str(error) and "page=2" in str(error)
    assert http_server.requests[-1].headers["Authorization"].startswith("Basic ")
