"""The clustering dev sets as corpus records with gold labels (read from ../shared/data).

- BASIL: 180 full-text articles, 60 stories (3 outlets each).
- AllSides: 1,101 full-text articles, topic-and-day groups (noisy labels).
- MSVCode: 20 queries x 50 search results, titles and snippets only; three annotators'
  clusterings (1-based positions; unlisted results are singletons). All 1,000 results are
  clustered together as one stream; gold labels are namespaced by query.
"""

from __future__ import annotations

import email.utils
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.corpus import CorpusRecord, parse_published, read_corpus


@dataclass(frozen=True)
class DevSet:
    name: str
    records: list[CorpusRecord]
    golds: dict[str, dict[str, str]]  # gold name -> article id -> label


def data_dir() -> Path:
    for candidate in (
        os.environ.get("NEWSAGG_SHARED_DATA"),
        str(Path(__file__).resolve().parents[2] / "shared" / "data"),
        "/work/shared/data",
    ):
        if candidate and (Path(candidate) / "clustering").is_dir():
            return Path(candidate)
    raise SystemExit("../shared/data/clustering not found (set NEWSAGG_SHARED_DATA)")


def jsonl_set(name: str, path: Path) -> DevSet:
    records, _ = read_corpus(path)
    gold = {r.id: r.story for r in records if r.story is not None}
    return DevSet(name, records, {"gold": gold})


def msvcode_set(root: Path) -> DevSet:
    records: list[CorpusRecord] = []
    golds: dict[str, dict[str, str]] = {"gold1": {}, "gold2": {}, "gold3": {}}
    for path in sorted((root / "dataset").glob("*.txt")):
        query = path.stem
        items = json.loads(path.read_text(encoding="utf-8-sig"))
        for position, item in enumerate(items, start=1):
            records.append(_msv_record(query, position, item, len(records) + 1))
        for name, gold in golds.items():
            clusters = json.loads((root / name / path.name).read_text(encoding="utf-8-sig"))
            for number, cluster in enumerate(clusters):
                for position in cluster:
                    gold[f"{query}#{position}"] = f"{query}:{number}"
            for position in range(1, len(items) + 1):
                gold.setdefault(f"{query}#{position}", f"{query}#{position}")
    return DevSet("msvcode", records, golds)


def _msv_record(query: str, position: int, item: dict[str, object], line: int) -> CorpusRecord:
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    url = str(item.get("url") or "")
    return CorpusRecord(
        id=f"{query}#{position}",
        outlet=urlsplit(url).hostname or "unknown",
        title=str(meta.get("title") or item.get("title") or ""),
        text=str(meta.get("description") or ""),
        published=_loose_date(str(item.get("date") or "")),
        line=line,
        url=url,
    )


def _loose_date(text: str) -> datetime | None:
    """ISO dates, RFC 2822 dates and 'Aug 29, 2017'; None for anything else."""
    for parse in (parse_published, _rfc2822, _month_day_year):
        try:
            return parse(text)
        except (ValueError, TypeError, IndexError):
            continue
    return None


def _rfc2822(text: str) -> datetime:
    value = email.utils.parsedate_to_datetime(text)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _month_day_year(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%b %d, %Y").replace(tzinfo=UTC)


def dev_sets() -> list[DevSet]:
    root = data_dir() / "clustering"
    return [
        jsonl_set("basil", root / "basil-dev.jsonl"),
        jsonl_set("allsides", root / "allsides-groups.jsonl"),
        msvcode_set(root / "msvcode-search-results"),
    ]


def param_overrides(items: list[str]) -> dict[str, Any]:
    """``--param KEY=JSON`` arguments of the dedup benches as a mapping of overrides."""
    return {key: json.loads(value) for key, value in (item.split("=", 1) for item in items)}


def same_day(records: list[CorpusRecord]) -> list[CorpusRecord]:
    """Every record published on one day (dense news: time cannot separate stories)."""
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return [replace(r, published=day) for r in records]
