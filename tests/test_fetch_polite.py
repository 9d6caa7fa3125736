"""Politeness: per-host delay and concurrency (measured at the server), and robots.txt."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from aggregator._robots import parse_robots
from aggregator.errors import FetchError
from aggregator.fetch import Fetcher
from tests.support.fetchkit import InFlight, closed_port, reset, settings
from tests.support.httpserver import LocalServer, Response, serve

UA = "newsagg/0.1 (+https://example.invalid/newsagg)"


@pytest.fixture(scope="module")
def _public_server() -> Iterator[LocalServer]:
    with serve("127.0.0.1") as server:
        yield server


@pytest.fixture
def http_server(_public_server: LocalServer) -> LocalServer:
    return reset(_public_server)


# -- per-host delay and concurrency -----------------------------------------------------------


def test_request_starts_on_one_host_are_spaced_by_the_delay(http_server: LocalServer) -> None:
    """Redirect hops and robots.txt fetches count as requests too."""
    starts = InFlight()
    http_server.route("/robots.txt", handler=starts)
    http_server.route("/page", handler=starts)
    http_server.route(
        "/moved", handler=starts.answering(Response(302, headers={"Location": "/page"}))
    )
    with Fetcher(settings(per_host_delay_s=0.25)) as f:
        assert f.robots_allows(http_server.url("/page"))
        f.fetch(http_server.url("/moved"))
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(f.fetch, [http_server.url("/page")] * 3))
    gaps = [b - a for a, b in zip(starts.starts, starts.starts[1:], strict=False)]
    assert len(starts.starts) == 6
    assert min(gaps) >= 0.23, gaps


class _Schedule:
    """The database's shared host schedule, in this process: each call takes the next slot
    (``reserve_host``'s arithmetic). The first call takes its slot late, as a slow round trip
    to the database would, so the thread that came to the gate first is served second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._calls = 0

    def __call__(self, host: str, delay_s: float) -> float:
        with self._lock:
            self._calls += 1
            first = self._calls == 1
        if first:
            time.sleep(0.1)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + delay_s
            return start - now


def test_a_shared_schedule_spaces_requests_whatever_order_threads_reach_it(
    http_server: LocalServer,
) -> None:
    starts = InFlight()
    http_server.route("/page", handler=starts)
    polite = settings(per_host_delay_s=0.3, per_host_concurrency=2)
    with Fetcher(polite, host_schedule=_Schedule()) as f, ThreadPoolExecutor(2) as pool:
        list(pool.map(f.fetch, [http_server.url("/page")] * 4))
    gaps = [b - a for a, b in zip(starts.starts, starts.starts[1:], strict=False)]
    assert len(starts.starts) == 4
    assert min(gaps) >= 0.27, gaps


def test_different_hosts_do_not_wait_for_each_other(http_server: LocalServer) -> None:
    starts = InFlight()
    http_server.route("/page", handler=starts)
    allowed = settings(per_host_delay_s=2.0, allow_hosts=("127.0.0.1", "localhost"))
    with Fetcher(allowed) as f:
        f.fetch(http_server.url("/page"))
        f.fetch(f"http://localhost:{http_server.port}/page")
    assert starts.starts[1] - starts.starts[0] < 1.0


def test_at_most_per_host_concurrency_requests_in_flight(http_server: LocalServer) -> None:
    counter = InFlight(hold_s=0.2)
    http_server.route("/slow", handler=counter)
    with (
        Fetcher(settings(per_host_concurrency=2, per_host_delay_s=0.0)) as f,
        ThreadPoolExecutor(6) as pool,
    ):
        list(pool.map(f.fetch, [http_server.url("/slow")] * 6))
    assert counter.peak == 2
    assert len(counter.starts) == 6


def test_waiting_for_the_host_is_not_charged_to_the_deadline(http_server: LocalServer) -> None:
    counter = InFlight(hold_s=0.3)
    http_server.route("/slow", handler=counter)
    limits = settings(per_host_concurrency=1, deadline_s=0.8, timeout_s=0.8)
    with Fetcher(limits) as f, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(f.fetch, [http_server.url("/slow")] * 4))
    assert [r.body for r in results] == [b"ok"] * 4  # the last one waited ~0.9 s in line
    assert counter.peak == 1


# -- robots.txt -----------------------------------------------------------------------------------

ROBOTS = """\
# comments are ignored
User-agent: *
Disallow: /private/
Allow: /private/open$

User-agent: otherbot
Disallow: /
"""


def test_robots_disallow_and_allow(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", ROBOTS)
    with Fetcher(settings(user_agent=UA)) as f:
        assert not f.robots_allows(http_server.url("/private/article-1"))
        assert f.robots_allows(http_server.url("/private/open"))
        assert not f.robots_allows(http_server.url("/private/open/more"))
        assert f.robots_allows(http_server.url("/news/article-2"))
    assert http_server.hits["/robots.txt"] == 1  # cached per origin
    assert http_server.requests[0].headers["User-Agent"] == UA


def test_robots_group_naming_our_token_wins(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow:\n\nUser-agent: newsagg\nDisallow: /")
    with Fetcher(settings(user_agent=UA)) as f:
        assert not f.robots_allows(http_server.url("/news/1"))
        assert f.robots_allows(http_server.url("/robots.txt"))


def test_robots_cache_expires_after_ttl(http_server: LocalServer) -> None:
    now = [1000.0]
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /a")
    with Fetcher(settings(robots_ttl_s=60.0), clock=lambda: now[0]) as f:
        assert not f.robots_allows(http_server.url("/a"))
        now[0] += 30
        assert not f.robots_allows(http_server.url("/a"))
        assert http_server.hits["/robots.txt"] == 1
        http_server.route("/robots.txt", "User-agent: *\nDisallow: /b")
        now[0] += 31
        assert f.robots_allows(http_server.url("/a"))
        assert not f.robots_allows(http_server.url("/b"))
    assert http_server.hits["/robots.txt"] == 2


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_robots_4xx_allows_everything(http_server: LocalServer, status: int) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /", status=status)
    with Fetcher(settings()) as f:
        assert f.robots_allows(http_server.url("/anything"))


@pytest.mark.parametrize("status", [500, 503, 429])
def test_robots_5xx_is_unreachable_and_allows(http_server: LocalServer, status: int) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /", status=status)
    with Fetcher(settings()) as f:
        assert f.robots_allows(http_server.url("/anything"))


def test_robots_unreachable_host_allows() -> None:
    with Fetcher(settings(timeout_s=0.5)) as f:
        assert f.robots_allows(f"http://127.0.0.1:{closed_port()}/article")


def test_robots_unreachable_later_keeps_the_last_rules(http_server: LocalServer) -> None:
    now = [0.0]
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /private")
    with Fetcher(settings(robots_ttl_s=10.0), clock=lambda: now[0]) as f:
        assert not f.robots_allows(http_server.url("/private/1"))
        http_server.route("/robots.txt", "down", status=503)
        now[0] += 11
        assert not f.robots_allows(http_server.url("/private/1"))
    assert http_server.hits["/robots.txt"] == 2


def test_robots_redirect_is_followed(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", status=301, headers={"Location": "/real-robots.txt"})
    http_server.route("/real-robots.txt", "User-agent: *\nDisallow: /x")
    with Fetcher(settings()) as f:
        assert not f.robots_allows(http_server.url("/x/1"))


def test_robots_not_fetched_when_not_respected(http_server: LocalServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /")
    with Fetcher(settings(respect_robots=False)) as f:
        assert f.robots_allows(http_server.url("/x"))
    assert http_server.total_hits == 0


@pytest.mark.parametrize(
    ("robots", "path", "allowed"),
    [
        ("User-agent: *\nDisallow: /", "/a", False),
        ("User-agent: *\nDisallow:", "/a", True),
        ("User-agent: *\nDisallow: /*.pdf$", "/files/x.pdf", False),
        ("User-agent: *\nDisallow: /*.pdf$", "/files/x.pdf?dl=1", True),
        ("User-agent: *\nDisallow: /a\nAllow: /a/b", "/a/b/c", True),  # longest match
        ("User-agent: *\nDisallow: /a/b\nAllow: /a", "/a/b/c", False),
        ("User-agent: *\nDisallow: /page\nAllow: /page", "/page", True),  # tie: allow
        ("User-agent: *\nDisallow: /search?q=", "/search?q=x", False),
        ("User-agent: NewsAgg\nDisallow: /n\nUser-agent: *\nDisallow: /", "/x", True),
        ("User-agent: newsagg/2.0\nDisallow: /n", "/n/1", False),
        ("User-agent: a\nUser-agent: newsagg\nDisallow: /shared", "/shared", False),
        ("Disallow: /before-any-group\nUser-agent: *\nAllow: /", "/before-any-group", True),
        ("User-agent: *\nDisallow: /caf\u00e9", "/caf%C3%A9/menu", False),
        ("\ufeffUser-agent: *\nDisallow: /bom", "/bom", False),
        ("User-agent: *\nDisallow: /x", "/robots.txt", True),
    ],
)
def test_robots_rules(robots: str, path: str, allowed: bool) -> None:
    rules = parse_robots(robots, UA)
    assert rules.allows(f"http://example.test{path}") is allowed


def test_robots_matching_does_not_backtrack_for_ages() -> None:
    hostile = "User-agent: *\nDisallow: /" + "*a" * 200 + "b"
    rules = parse_robots(hostile, UA)
    assert rules.allows("http://example.test/" + "a" * 5000)


# -- Retry-After pauses the origin ------------------------------------------------------------


def test_retry_after_pauses_the_whole_origin_until_it_is_over(http_server: LocalServer) -> None:
    """Nothing is sent to a paused origin (the error says how long is left); the pause is
    capped by ``max_host_pause_s``; another origin (here another port) is not paused."""
    now = [1000.0]
    busy = http_server.route("/busy", status=429, headers={"Retry-After": "7200"})
    page = http_server.route("/page", "<p>fine</p>")
    with (
        serve("127.0.0.1") as other,
        Fetcher(settings(max_host_pause_s=600.0), clock=lambda: now[0]) as f,
    ):
        elsewhere = other.route("/page", "<p>also fine</p>")
        with pytest.raises(FetchError) as first:
            f.fetch(busy)
        assert (first.value.status, first.value.retry_after_s) == (429, 7200.0)
        with pytest.raises(FetchError) as paused:
            f.fetch(page)
        assert (paused.value.code, paused.value.status) == ("rate_limited", None)
        assert paused.value.retry_after_s == pytest.approx(600.0)
        assert f.fetch(elsewhere).status == 200
        now[0] += 599.0
        with pytest.raises(FetchError) as still:
            f.fetch(page)
        assert still.value.retry_after_s == pytest.approx(1.0)
        now[0] += 1.5
        assert f.fetch(page).status == 200
    assert http_server.hits["/page"] == 1 and http_server.hits["/busy"] == 1


def test_robots_txt_is_read_after_a_pause_not_assumed_from_it(http_server: LocalServer) -> None:
    """A robots.txt refused by the origin's pause is not cached as "allow everything"."""
    now = [1000.0]
    busy = http_server.route("/busy", status=429, headers={"Retry-After": "60"})
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /private\n")
    with Fetcher(settings(respect_robots=True, robots_ttl_s=3600), clock=lambda: now[0]) as f:
        with pytest.raises(FetchError):
            f.fetch(busy)
        assert f.robots_allows(http_server.url("/private/page"))  # unknown while paused
        assert http_server.hits["/robots.txt"] == 0
        now[0] += 61.0
        assert not f.robots_allows(http_server.url("/private/page"))
    assert http_server.hits["/robots.txt"] == 1
