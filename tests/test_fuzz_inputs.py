"""Fuzzing with hypothesis over mutated real inputs (../shared/data): feed parsing, HTML
extraction, canonical URLs and the article JSONL reader. The properties are in
``tests.fuzz.targets``; here each runs a modest number of examples, and
``python -m tests.fuzz.run --minutes 30`` runs them for as long as one likes.

Hypothesis keeps the failing examples it finds in .hypothesis/ (not committed) and replays them
first, so a failure found once is found again until fixed.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.corpus import CorpusReader
from storage.store import Store
from tests.fuzz import targets
from tests.support.paths import REPO

pytest_plugins = ["tests.support.figureplugin"]

FAST = settings(
    deadline=None,  # the properties check their own, generous, time bound
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)


@settings(FAST, max_examples=150)
@given(feed=targets.FEEDS, content_type=targets.FEED_TYPES)
def test_mutated_real_feeds_parse_or_fail_by_name(
    shared_data: Path, feed: tuple[str, bytes], content_type: str
) -> None:
    label, body = feed
    targets.check_feed(label, body, content_type)


@settings(FAST, max_examples=25)
@given(page=targets.PAGES, content_type=targets.PAGE_TYPES)
def test_mutated_real_pages_extract_or_fail_by_name(
    shared_data: Path, page: tuple[str, bytes], content_type: str | None
) -> None:
    label, html = page
    targets.check_page(label, html, content_type)


@settings(FAST, max_examples=5)
@given(page=targets.PAGES)
def test_extraction_is_deterministic_on_mutated_pages(
    shared_data: Path, page: tuple[str, bytes]
) -> None:
    targets.check_page_twice(page[0], page[1], "text/html")


@settings(FAST, max_examples=300)
@given(
    url=st.one_of(targets.URLS, targets.URLS.map(lambda u: u.swapcase()), st.text(max_size=80)),
    base=st.none() | targets.URLS,
)
def test_real_links_and_garbage_have_idempotent_canonical_forms(
    shared_data: Path, url: str, base: str | None
) -> None:
    targets.check_url(url[:60], url, base)


@settings(FAST, max_examples=300)
@given(pair=targets.url_variants())
def test_tracking_case_port_and_fragment_never_change_a_canonical_url(
    shared_data: Path, pair: tuple[str, str]
) -> None:
    targets.check_url_variant(*pair)


@settings(FAST, max_examples=150)
@given(lines=st.lists(targets.corpus_line(), min_size=1, max_size=6))
def test_mutated_corpus_lines_are_records_or_numbered_errors_and_round_trip(
    shared_data: Path, lines: list[bytes]
) -> None:
    targets.check_corpus(f"{len(lines)} lines", lines)


def test_newsagg_import_of_a_fuzzed_file_loses_no_good_line(
    shared_data: Path, tmp_path: Path
) -> None:
    """One file of 300 mutated lines through the real command (storage, dedup, clustering):
    every good line is read, every bad one reported with its number, nothing else lost."""
    lines = targets.random_corpus_lines(random.Random(7), 300)
    records = targets.check_corpus("import file", lines)
    bad = [n for n, line in enumerate(lines, 1) if n not in {r.line for r in records}]
    assert 10 < len(bad) < 290  # the file mixes both kinds
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    url = f"sqlite:///{tmp_path / 'import.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    env.update(
        {
            "NEWSAGG_DATABASE_URL": url,
            "NEWSAGG_LEXICONS": str(REPO / "config" / "lexicons.toml"),
            "NEWSAGG_SETTINGS": str(REPO / "config" / "settings.toml"),
            "PYTHONPATH": str(REPO),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "import", "--no-progress", str(path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    match = re.search(
        r"read (\d+) articles: stored (\d+), already stored (\d+), bad lines (\d+)", done.stdout
    )
    assert match, done.stdout[-2000:]
    read, stored, already, bad_lines = map(int, match.groups())
    assert (read, bad_lines) == (len(records), len(bad))
    assert stored + already == read
    reported = re.findall(r"fuzz\.jsonl:(\d+)", done.stdout)
    assert [int(n) for n in reported] == bad[:50]  # each bad line named by its number
    with Store.open(url) as store:
        assert store.articles.count() == stored
        assert store.articles.count(state="ready") == 0  # all clustered


# -- what fuzzing found, kept as plain examples ------------------------------------------------


@pytest.mark.parametrize("field", ["title", "text", "outlet", "id", "url", "language", "story"])
def test_a_lone_surrogate_escape_makes_a_bad_line_not_a_crash(field: str) -> None:
    """Found by the import fuzz: ``"\\ud800"`` is valid JSON but no text; stored, it crashed
    ``newsagg import`` with UnicodeEncodeError instead of being reported as a bad line."""
    good = {"id": "a", "outlet": "o", "title": "t", "text": "x", "published": "2019-01-01"}
    bad = json.dumps({**good, field: "before \ud800 after"}).encode()
    reader = CorpusReader([json.dumps(good).encode(), bad], resource="f.jsonl")
    assert [r.id for r in reader] == ["a"]
    (error,) = reader.errors
    assert error.line == 2 and "surrogate" in str(error) and f"'{field}'" in str(error)
