"""Text-only extraction for pages whose feed entry already gave the title and the date."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.extract import extract_page
from aggregator.settings import load_settings

BENCH = Path("extraction") / "article-extraction-benchmark"


def test_text_only_extraction_keeps_the_text_and_skips_the_metadata(shared_data: Path) -> None:
    root = shared_data / BENCH
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    checked = 0
    for key in sorted(truth)[:12]:
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        full = extract_page(html, url=truth[key]["url"])
        text_only = extract_page(html, url=truth[key]["url"], metadata=False)
        assert text_only.text == full.text
        assert text_only.flags == full.flags
        assert text_only.author is None
        checked += bool(full.title)
    assert checked >= 10  # the full extraction did find titles on these pages


def test_the_setting_takes_two_values() -> None:
    assert load_settings(env={}).extract.page_metadata == "when_missing"
    with pytest.raises(ConfigError, match="page_metadata"):
        load_settings(env={"NEWSAGG_EXTRACT_PAGE_METADATA": "sometimes"})
