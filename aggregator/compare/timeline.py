"""Timeline: when each outlet first reported, where that time came from, and who was first.

An article's time is its published time, unless that is missing, more than
``future_tolerance_s`` after ``now``, or more than ``published_after_seen_tolerance_s`` after we
first saw the article; then it is our first sighting (``first_seen``). A published time at
exactly midnight UTC is taken to be a date without a time of day (``precision: "day"``), and
two outlets on the same day at day precision are tied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from aggregator.compare.model import CompareArticle, CompareOptions
from aggregator.compare.text import as_utc, iso

SOURCE_WORDS = MappingProxyType(
    {
        "feed": "published time from the feed",
        "page": "published time from the page's metadata",
        "import": "published time given in the imported file",
        "first_seen": "our first sighting (no trustworthy published time)",
    }
)
CLEAR_LEAD_S = 15 * 60


@dataclass(frozen=True, slots=True)
class Timing:
    time: datetime
    source: str
    precision: str  # "exact" or "day"
    flags: tuple[str, ...] = ()


def article_timing(
    article: CompareArticle, now: datetime | None, options: CompareOptions
) -> Timing:
    seen = as_utc(article.first_seen)
    if article.published is None:
        return Timing(seen, "first_seen", "exact")
    published = as_utc(article.published)
    if now is not None and published > as_utc(now) + timedelta(seconds=options.future_tolerance_s):
        return Timing(seen, "first_seen", "exact", ("future_date",))
    if published > seen + timedelta(seconds=options.published_after_seen_tolerance_s):
        return Timing(seen, "first_seen", "exact", ("published_after_first_seen",))
    midnight = published.hour == published.minute == published.second == published.microsecond == 0
    source = article.published_source if article.published_source != "first_seen" else "first_seen"
    precision = "day" if midnight and source != "first_seen" else "exact"
    return Timing(published, source, precision)


def build_timeline(
    ordered: list[tuple[CompareArticle, Timing]], copy_groups: list[dict[str, Any]]
) -> dict[str, Any]:
    """``ordered``: the cluster's articles with their timings, earliest first."""
    firsts: dict[str, tuple[CompareArticle, Timing]] = {}
    counts: dict[str, int] = {}
    for article, timing in ordered:
        firsts.setdefault(article.outlet_id, (article, timing))
        counts[article.outlet_id] = counts.get(article.outlet_id, 0) + 1
    if not firsts:
        return {"first_report": None, "first_reporter": None, "outlets": []}
    rows = list(firsts.values())
    start = rows[0][1].time
    outlets = [
        {
            "outlet": article.outlet_id,
            "article": article.id,
            "published": iso(timing.time),
            "time_source": timing.source,
            "precision": timing.precision,
            "delay_s": int((timing.time - start).total_seconds()),
            "rank": rank,
            "articles": counts[article.outlet_id],
            "flags": list(timing.flags),
        }
        for rank, (article, timing) in enumerate(rows, start=1)
    ]
    return {
        "first_report": iso(start),
        "first_reporter": _first_reporter(rows, copy_groups),
        "outlets": outlets,
    }


def _same_time(a: Timing, b: Timing) -> bool:
    if "day" in (a.precision, b.precision):
        return a.time.date() == b.time.date()
    return a.time == b.time


def _first_reporter(
    rows: list[tuple[CompareArticle, Timing]], copy_groups: list[dict[str, Any]]
) -> dict[str, Any]:
    article, timing = rows[0]
    tied = [a.outlet_id for a, t in rows[1:] if _same_time(timing, t)]
    runner_up = next(((a, t) for a, t in rows[1:] if a.outlet_id not in tied), None)
    evidence = [f"{iso(timing.time)}: {SOURCE_WORDS.get(timing.source, timing.source)}"]
    lead_s: int | None = None
    if tied:
        evidence.append(f"tied with {', '.join(tied)} at {timing.precision} precision")
    if runner_up is not None:
        lead_s = int((runner_up[1].time - timing.time).total_seconds())
        evidence.append(
            f"{_duration(lead_s)} before {runner_up[0].outlet_id} ({iso(runner_up[1].time)})"
        )
    if timing.precision == "day":
        evidence.append("the date carries no time of day")
    copied_by = _copied_by(article, copy_groups)
    if copied_by:
        evidence.append(f"its text was reprinted by {', '.join(copied_by)}")
    return {
        "outlet": article.outlet_id,
        "article": article.id,
        "time": iso(timing.time),
        "time_source": timing.source,
        "precision": timing.precision,
        "tied_with": tied,
        "next_outlet": runner_up[0].outlet_id if runner_up else None,
        "lead_s": lead_s,
        "copied_by": copied_by,
        "confidence": _confidence(timing, tied, lead_s),
        "evidence": evidence,
    }


def _copied_by(article: CompareArticle, copy_groups: list[dict[str, Any]]) -> list[str]:
    for group in copy_groups:
        if article.id in group["articles"]:
            return [o for o in group["outlets"] if o != article.outlet_id]
    return []


def _confidence(timing: Timing, tied: list[str], lead_s: int | None) -> str:
    if tied or timing.source == "first_seen" or timing.precision == "day":
        return "low"
    if lead_s is None or lead_s >= CLEAR_LEAD_S:
        return "high"
    return "medium"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
