"""Small pure helpers for the templates: safe links, sanitised HTML, times, sparklines, and the
"why is this here" explanation of a membership."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from markupsafe import Markup

from aggregator._call import redact

ALLOWED_TAGS = {"p", "br", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "q"}
SAFE_SCHEMES = {"http", "https"}


def safe_href(url: object) -> str | None:
    """The URL if a browser may follow it (http/https with a host), else None: no
    ``javascript:``, ``data:`` or entity-obfuscated schemes ever reach an ``href``."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or len(url) > 4000 or any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc:
        return None
    return url


def public_outlets(outlets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Outlet health rows as pages and the API show them: feed URLs without credentials
    (``user:password@``, ``api_key=`` ...), which an operator may put in a feed's address."""
    return [
        {**o, "feeds": [{**f, "url": redact(str(f["url"]))} for f in o["feeds"]]} for o in outlets
    ]


def clean_html(html: str) -> Markup:
    """Stored HTML (a feed summary) made safe at render time with nh3."""
    cleaned = nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        clean_content_tags={"script", "style"},
    )
    return Markup(cleaned)  # noqa: S704 - nh3 output is sanitised HTML


def fmt_time(value: object, precision: str = "minute") -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return "—"
    if precision == "day" or (value.hour == value.minute == value.second == 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    s = abs(float(seconds))
    if s < 120:
        text = f"{s:.0f} s"
    elif s < 7200:
        text = f"{s / 60:.0f} min"
    elif s < 2 * 86400:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} days"
    return text if seconds >= 0 else f"-{text}"


def paragraphs(text: str | None, limit: int = 400) -> list[str]:
    parts = [p.strip() for p in (text or "").split("\n") if p.strip()]
    return parts[:limit]


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int


def sparkline(counts: Sequence[int], *, width: float = 120, height: float = 24) -> list[Bar]:
    """Coverage over time as bars, one for each slice that has articles (the counts of
    ``storage.coverage.coverage_counts``), the tallest ``height`` high."""
    if not counts or max(counts) <= 0:
        return []
    top = max(counts)
    step = width / len(counts)
    bars = []
    for i, count in enumerate(counts):
        if count > 0:
            h = max(2.0, height * count / top)
            bars.append(
                Bar(
                    round(i * step, 2),
                    round(height - h, 2),
                    round(step * 0.8, 2),
                    round(h, 2),
                    count,
                )
            )
    return bars


def bars_markup(bars: Sequence[Bar]) -> Markup:
    """The bars as SVG ``rect`` elements, built in one pass: numbers only, nothing from the
    outside (a page of 50 stories drew 800 bars through 5,000 template escapes)."""
    rects = "".join(
        f'<rect x="{float(b.x)}" y="{float(b.y)}" width="{float(b.width)}" '
        f'height="{float(b.height)}"><title>{int(b.count)} article'
        f"{'s' if b.count != 1 else ''}</title></rect>"
        for b in bars
    )
    return Markup(rects)  # noqa: S704 (floats and ints formatted here, no text from outside)


WHY_LABELS = {
    "score": "score",
    "rule": "rule",
    "shared_terms": "shared terms",
    "terms": "shared terms",
    "gap_s": "time gap",
    "time_gap_s": "time gap",
    "time_gap_hours": "time gap",
    "threshold": "threshold",
    "partner": "closest article",
    "candidates": "candidates compared",
    "near_miss": "nearest other story",
}


def _why_value(key: str, value: Any) -> str:
    if key.endswith("_s") and isinstance(value, int | float):
        return fmt_duration(value)
    if key.endswith("_hours") and isinstance(value, int | float):
        return fmt_duration(value * 3600)
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return ", ".join(_why_value("", v) for v in value[:20])
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_why_value(str(k), v)}" for k, v in list(value.items())[:10])
    return str(value)[:300]


def why_lines(
    why: Mapping[str, Any] | None, score: float | None, rule: str | None
) -> list[tuple[str, str]]:
    """(label, text) pairs explaining a membership: score, rule, shared terms, time gap, the
    rest of whatever the dedup engine recorded."""
    data = dict(why or {})
    data.setdefault("score", score)
    data.setdefault("rule", rule)
    ordered: Iterable[str] = [k for k in WHY_LABELS if k in data] + sorted(
        k for k in data if k not in WHY_LABELS
    )
    return [
        (WHY_LABELS.get(key, key.replace("_", " ")), _why_value(key, data[key]))
        for key in ordered
        if data[key] is not None and data[key] != []
    ]
