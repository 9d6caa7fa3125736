"""Outlet labels and the cluster's coverage distribution by label.

Every label key that any outlet of the cluster carries is a dimension; an outlet without that
key counts as ``"unknown"``, and so does an outlet missing from the outlet list. Keys that cite
rather than classify (``source``, ``note``, ``*_source``, ``*_url``) are shown with the outlet
but left out of the distribution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.model import OutletInfo

UNKNOWN = "unknown"
CITATION_KEYS = frozenset({"source", "sources", "note", "notes", "url"})


def _is_category(key: str) -> bool:
    return key not in CITATION_KEYS and not key.endswith(("_source", "_url", "_note"))


def outlet_labels(docs: list[Doc], outlets: Mapping[str, OutletInfo]) -> dict[str, Any]:
    articles = Counter(d.outlet for d in docs)
    present = sorted(articles)
    info: dict[str, dict[str, Any]] = {}
    for outlet in present:
        known = outlets.get(outlet)
        info[outlet] = {
            "name": known.name if known else outlet,
            "country": known.country if known else None,
            "labels": dict(sorted(known.labels.items())) if known else {},
            "known": known is not None,
            "articles": articles[outlet],
        }
    keys = sorted({k for row in info.values() for k in row["labels"] if _is_category(k)})
    distribution = {key: _tally(present, articles, _label_of(info, key)) for key in keys}
    countries = _tally(present, articles, lambda o: info[o]["country"] or UNKNOWN)
    return {"outlets": info, "distribution": distribution, "countries": countries}


def _label_of(info: dict[str, dict[str, Any]], key: str) -> Callable[[str], str]:
    return lambda outlet: str(info[outlet]["labels"].get(key, UNKNOWN))


def _tally(
    present: list[str], articles: Counter[str], value_of: Callable[[str], str]
) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for outlet in present:
        cell = table.setdefault(str(value_of(outlet)), {"outlets": 0, "articles": 0})
        cell["outlets"] += 1
        cell["articles"] += articles[outlet]
    return dict(sorted(table.items()))
