"""parse_feed_limited: parse_feed in a WorkPool process with a hard time limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.errors import ParseError
from aggregator.parse import parse_feed_limited
from aggregator.workpool import TaskCrashed, WorkPool

NOW = datetime(2026, 2, 18, tzinfo=UTC)
URL = "https://news.example.org/rss.xml"
GOOD = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>'
    b"<item><title>One</title><link>https://news.example.org/1</link></item></channel></rss>"
)


def crafted_author(size: int) -> bytes:
    """An <author> that feedparser's e-mail regex scans in quadratic time (no '@' to find:
    every start position runs to the end). 32 KB takes ~5 s here; 128 KB well over a minute."""
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>x</title><author>" + b"a" * size + b"</author></item></channel></rss>"
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkPool]:
    with WorkPool(1, name="parse-test") as work_pool:
        yield work_pool


def test_a_feed_parses_in_the_pool(pool: WorkPool) -> None:
    feed = parse_feed_limited(pool, GOOD, {"Content-Type": "application/rss+xml"}, URL, NOW, 30)
    assert feed.title == "World"
    assert [item.url for item in feed.items] == ["https://news.example.org/1"]


def test_the_crafted_author_regex_case_is_cut_and_the_pool_carries_on(pool: WorkPool) -> None:
    start = time.monotonic()
    with pytest.raises(ParseError) as caught:
        parse_feed_limited(pool, crafted_author(128_000), {}, URL, NOW, 1.0)
    assert time.monotonic() - start < 10
    assert caught.value.code == "parse_timeout"
    assert caught.value.resource == URL
    feed = parse_feed_limited(pool, GOOD, {}, URL, NOW, 30)
    assert feed.items[0].title == "One"


@pytest.mark.parametrize(("body", "code"), [(b"", "empty_body"), (b"<html></html>", "not_a_feed")])
def test_parse_errors_keep_their_code_across_the_process(
    pool: WorkPool, body: bytes, code: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed_limited(pool, body, {}, URL, NOW, 30)
    assert (caught.value.code, caught.value.resource) == (code, URL)


class DyingPool:
    """A stand-in whose worker dies, as WorkPool reports it."""

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        raise TaskCrashed("worker process died: signal 9")


def test_a_crashed_worker_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed_limited(DyingPool(), GOOD, {}, URL, NOW, 30)  # type: ignore[arg-type]
    assert caught.value.code == "parse_crashed"
    assert "signal 9" in str(caught.value)
