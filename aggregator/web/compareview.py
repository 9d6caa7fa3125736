"""The stored comparison JSON (issue 4) as view models for the story page.

Each part is built on its own: a part the comparison lacks is marked missing, and a part whose
shape is not what this code expects (an older or newer comparison version) is shown as raw,
escaped JSON instead of breaking the page. Geometry for the inline SVG charts (timeline) and
the heat-map classes are computed here, so templates need no arithmetic and no inline styles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.web.views import fmt_duration, fmt_time

PARTS = (
    ("outlets", "Outlets and labels"),
    ("timeline", "Timeline"),
    ("similarity", "Text similarity"),
    ("headlines", "Headlines"),
    ("sentences", "Shared and unique sentences"),
    ("terms", "Term choices"),
    ("quotes", "Quotes"),
    ("omissions", "Omissions"),
)
RAW_LIMIT = 20_000
STATUSES = frozenset({"shared", "unique", "short"})
MAX_SENTENCES = 200
TIMELINE_WIDTH, LABEL_WIDTH, ROW_HEIGHT = 720, 170, 30


@dataclass(frozen=True, slots=True)
class Part:
    key: str
    title: str
    view: Any = None
    raw: str | None = None  # JSON shown when the view could not be built
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Refs:
    """Resolves the comparison's article ids to stored articles and outlet ids to names."""

    articles: Mapping[str, Mapping[str, Any]]
    names: Mapping[str, str]

    def name(self, outlet: str) -> str:
        return self.names.get(outlet) or outlet

    def article(self, ref: object) -> Mapping[str, Any] | None:
        return self.articles.get(str(ref))


def heat(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "heat-none"
    return f"heat-{max(0, min(10, round(float(value) * 10)))}"


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _outlets(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["outlets"]
    rows = [
        {
            "outlet": outlet,
            "name": info.get("name") or refs.name(outlet),
            "country": info.get("country") or "",
            "labels": sorted((str(k), str(v)) for k, v in (info.get("labels") or {}).items()),
            "articles": info.get("articles", 0),
        }
        for outlet, info in sorted(part["outlets"].items())
    ]
    distribution = [
        (key, [(value, cell["outlets"], cell["articles"]) for value, cell in values.items()])
        for key, values in sorted((part.get("distribution") or {}).items())
    ]
    return {"rows": rows, "distribution": distribution}


def _timeline(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["timeline"]
    rows = list(part["outlets"])
    order = {row["outlet"]: i for i, row in enumerate(rows)}
    points = [(a["outlet"], _time(a.get("time")), a) for a in c.get("articles", [])]
    times = [t for _, t, _ in points if t is not None] or [
        t for t in (_time(r.get("published")) for r in rows) if t is not None
    ]
    start, end = (min(times), max(times)) if times else (None, None)
    span = (end - start).total_seconds() if start and end else 0.0
    plot = TIMELINE_WIDTH - LABEL_WIDTH - 20

    def x(moment: datetime | None) -> float:
        if moment is None or start is None or span <= 0:
            return LABEL_WIDTH + plot / 2
        return round(LABEL_WIDTH + plot * (moment - start).total_seconds() / span, 1)

    dots = [
        {"x": x(t), "y": order[o] * ROW_HEIGHT + ROW_HEIGHT / 2, "title": a.get("title", "")}
        for o, t, a in points
        if o in order
    ]
    lines = [
        {
            "outlet": row["outlet"],
            "name": refs.name(row["outlet"]),
            "y": i * ROW_HEIGHT + ROW_HEIGHT / 2,
            "published": fmt_time(row.get("published"), row.get("precision", "")),
            "source": row.get("time_source"),
            "precision": row.get("precision"),
            "delay": fmt_duration(row.get("delay_s")),
            "rank": row.get("rank"),
            "article": refs.article(row.get("article")),
        }
        for i, row in enumerate(rows)
    ]
    first = part.get("first_reporter") or {}
    return {
        "lines": lines,
        "dots": dots,
        "width": TIMELINE_WIDTH,
        "height": max(1, len(rows)) * ROW_HEIGHT + 24,
        "axis_y": max(1, len(rows)) * ROW_HEIGHT + 16,
        "start": fmt_time(start),
        "end": fmt_time(end),
        "label_x": LABEL_WIDTH,
        "end_x": TIMELINE_WIDTH - 20,
        "first": {
            "outlet": refs.name(str(first.get("outlet", ""))) if first else None,
            "confidence": first.get("confidence"),
            "evidence": [str(e) for e in first.get("evidence", [])],
        },
    }


def _matrix(outlets: list[str], values: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "outlet": a,
            "cells": [
                {"value": values.get(a, {}).get(b), "cls": heat(values.get(a, {}).get(b)), "to": b}
                for b in outlets
            ],
        }
        for a in outlets
    ]


def _similarity(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["similarity"]
    outlets = list(part["outlets"])
    articles = [
        {
            "outlet": info["outlet"],
            "article": refs.article(ref),
            "wire_share": info.get("wire_share"),
        }
        for ref, info in part.get("articles", {}).items()
    ]
    groups = [
        {
            "id": g.get("id"),
            "outlets": [refs.name(o) for o in g.get("outlets", [])],
            "size": len(g.get("articles", [])),
            "earliest": refs.name(str(g.get("earliest_outlet", ""))),
            "source": g.get("source", ""),
        }
        for g in part.get("copy_groups", [])
    ]
    return {
        "outlets": outlets,
        "names": [refs.name(o) for o in outlets],
        "cosine": _matrix(outlets, part.get("cosine", {})),
        "shared": _matrix(outlets, part.get("shared_text", {})),
        "groups": groups,
        "articles": sorted(articles, key=lambda a: (a["outlet"], -(a["wire_share"] or 0))),
    }


def _sentences(c: dict[str, Any], refs: Refs) -> list[dict[str, Any]]:
    columns = []
    for outlet, cell in c["sentences"]["outlets"].items():
        sentences = [
            {
                "text": s["text"],
                "status": s["status"] if s["status"] in STATUSES else "other",
                "also": ", ".join(refs.name(m["outlet"]) for m in s.get("shared_with", [])),
            }
            for s in cell["sentences"][:MAX_SENTENCES]
        ]
        columns.append(
            {
                "outlet": outlet,
                "name": refs.name(outlet),
                "shared": cell.get("shared", 0),
                "unique": cell.get("unique", 0),
                "unique_share": cell.get("unique_share"),
                "sentences": sentences,
                "more": max(0, len(cell["sentences"]) - MAX_SENTENCES),
            }
        )
    return columns


def _terms(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["terms"]
    outlets = sorted(part.get("words", {}))
    groups = []
    for group in part.get("groups", []):
        variants = list(group.get("variants_used", {}))
        rows = [
            {
                "variant": variant,
                "cells": [
                    group["outlets"].get(o, {}).get("variants", {}).get(variant) for o in outlets
                ],
            }
            for variant in variants
        ]
        groups.append(
            {
                "label": group.get("label", group.get("id")),
                "divergent": group.get("divergent"),
                "rows": rows,
            }
        )
    distinctive = [
        {"outlet": refs.name(o), "words": [(w["word"], w.get("z")) for w in words[:12]]}
        for o, words in (part.get("distinctive", {}).get("outlets") or {}).items()
    ]
    return {
        "outlets": [refs.name(o) for o in outlets],
        "groups": groups,
        "distinctive": distinctive,
    }


def _quotes(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["quotes"]
    shared = [
        {
            "text": g["text"],
            "outlets": [refs.name(o) for o in g.get("outlets", [])],
            "speakers": g.get("speakers", []),
        }
        for g in part.get("groups", [])
    ]
    alone: dict[str, list[dict[str, Any]]] = {}
    for item in part.get("items", []):
        if not item.get("shared_with") and not item.get("short"):
            alone.setdefault(item["outlet"], []).append(
                {"text": item["text"], "speaker": item.get("speaker")}
            )
    columns = [{"name": refs.name(o), "quotes": quotes[:30]} for o, quotes in sorted(alone.items())]
    return {"shared": shared, "alone": columns}


def _headlines(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["headlines"]
    base = part.get("base") or {}
    rows = [
        {
            "name": refs.name(outlet),
            "title": cell.get("title", ""),
            "ops": [op for op in cell.get("diff", []) if isinstance(op, Mapping)],
            "similarity": cell.get("similarity"),
            "revisions": [
                (fmt_time(r.get("at")), r.get("title", "")) for r in cell.get("revisions", [])
            ],
        }
        for outlet, cell in part["outlets"].items()
    ]
    return {
        "base": base.get("title"),
        "base_outlet": refs.name(str(base.get("outlet", ""))),
        "basis": base.get("basis"),
        "rows": rows,
    }


def _omissions(c: dict[str, Any], refs: Refs) -> dict[str, Any]:
    part = c["omissions"]

    def names(outlets: list[str]) -> str:
        return ", ".join(refs.name(o) for o in outlets)

    return {
        "names": [
            {
                "text": n["name"],
                "present": names(n["present_in"]),
                "absent": names(n["absent_from"]),
            }
            for n in part.get("names", [])[:40]
        ],
        "numbers": [
            {
                "text": n["text"],
                "kind": n.get("kind", ""),
                "present": names(n["present_in"]),
                "absent": names(n["absent_from"]),
                "context": n.get("context") or {},
            }
            for n in part.get("numbers", [])[:40]
        ],
    }


BUILDERS: dict[str, Callable[[dict[str, Any], Refs], Any]] = {
    "outlets": _outlets,
    "timeline": _timeline,
    "similarity": _similarity,
    "headlines": _headlines,
    "sentences": _sentences,
    "terms": _terms,
    "quotes": _quotes,
    "omissions": _omissions,
}


def _raw(value: object) -> str:
    text = json.dumps(value, indent=1, ensure_ascii=False, default=str)
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "\n… (truncated)"


def build_parts(comparison: Mapping[str, Any] | None, refs: Refs) -> list[Part]:
    """Every part of the comparison, as a view, as raw JSON, or marked missing."""
    if not isinstance(comparison, Mapping):
        return []
    data = dict(comparison)
    parts = []
    for key, title in PARTS:
        if data.get(key) is None:
            parts.append(Part(key, title, missing=True))
            continue
        try:
            parts.append(Part(key, title, view=BUILDERS[key](data, refs)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            parts.append(Part(key, title, raw=_raw(data[key])))
    return parts
