"""Omissions: names and figures some outlets report and others leave out.

A name counts as present in an outlet when the outlet mentions any phrase of the same entity
(see ``names``), or, for a person-like name (2-3 capitalised words), its last word as part of
any name: "John Kerry" is present in an outlet that only writes "Mr. Kerry". This errs towards
"present", so a listed omission is a real absence of the name. Figures are compared by value
within their family (amounts, percentages, other quantities): "$1.2 billion" equals
"$1,200 million" and "1,200 people" equals "1,200 killed".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from types import MappingProxyType
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.names import (
    Vocabulary,
    canonical_names,
    doc_names,
    person_like,
)
from aggregator.compare.numbers import Figure, find_figures
from aggregator.compare.text import read_once

KIND_ORDER = MappingProxyType({"casualty": 0, "money": 1, "percent": 2, "count": 3, "number": 4})
CONTEXT_CHARS = 50


def find_omissions(docs: list[Doc], vocab: Vocabulary, options: CompareOptions) -> dict[str, Any]:
    outlets = sorted({d.outlet for d in docs})
    phrases: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        phrases[doc.outlet].update(doc_names(doc, vocab))
    by_text: dict[str, list[Figure]] = {}  # a reprint word for word has the same figures
    figures = {
        doc.id: read_once(by_text, doc.text, partial(find_figures, doc.text)) for doc in docs
    }
    names = _name_omissions(phrases, outlets)
    numbers = _number_omissions(docs, figures, outlets)
    return {
        "names": names[: options.max_names],
        "numbers": numbers[: options.max_numbers],
        "casualty_figures": _casualties(docs, figures, outlets),
        "by_outlet": _by_outlet(names, numbers, outlets),
    }


def _name_omissions(phrases: dict[str, Counter[str]], outlets: list[str]) -> list[dict[str, Any]]:
    total: Counter[str] = Counter()
    for counts in phrases.values():
        total.update(counts)
    canonical = canonical_names(total)
    entities: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for outlet, counts in phrases.items():
        for phrase, n in counts.items():
            entities[canonical[phrase]][outlet][phrase] += n
    name_words = {o: {w for p in phrases[o] for w in p.split()} for o in outlets}
    rows = []
    for name, by_outlet in entities.items():
        mentions = {o: sum(by_outlet[o].values()) for o in outlets if by_outlet.get(o)}
        present = sorted(o for o in outlets if o in mentions or _loosely_named(name, name_words[o]))
        absent = [o for o in outlets if o not in present]
        if not absent or not present:
            continue
        variants = sorted({p for c in by_outlet.values() for p in c})
        rows.append(
            {
                "name": name,
                "variants": variants,
                "mentions": mentions,
                "present_in": present,
                "absent_from": absent,
            }
        )
    return sorted(
        rows, key=lambda r: (-len(r["present_in"]), -sum(r["mentions"].values()), r["name"])
    )


def _loosely_named(name: str, words: set[str]) -> bool:
    parts = name.split()
    return len(parts) > 1 and person_like(name) and parts[-1] in words


def _number_omissions(
    docs: list[Doc], figures: dict[str, list[Figure]], outlets: list[str]
) -> list[dict[str, Any]]:
    seen: dict[tuple[str, float], dict[str, Any]] = {}
    for doc in docs:
        for figure in figures[doc.id]:
            row = seen.setdefault(
                figure.key, {"first": (doc, figure), "mentions": Counter(), "kinds": Counter()}
            )
            row["mentions"][doc.outlet] += 1
            row["kinds"][figure.kind] += 1
    rows = []
    for (_family, value), row in seen.items():
        present = sorted(row["mentions"])
        absent = [o for o in outlets if o not in row["mentions"]]
        if not absent:
            continue
        doc, figure = row["first"]
        kind = min(row["kinds"], key=lambda k: KIND_ORDER[k])
        rows.append(
            {
                "text": figure.text,
                "value": value,
                "kind": kind,
                "mentions": dict(sorted(row["mentions"].items())),
                "present_in": present,
                "absent_from": absent,
                "context": _context(doc, figure),
            }
        )
    return sorted(rows, key=lambda r: (KIND_ORDER[r["kind"]], -len(r["present_in"]), r["value"]))


def _context(doc: Doc, figure: Figure) -> dict[str, str]:
    text = doc.text
    line_start = text.rfind("\n", 0, figure.start) + 1
    line_end = text.find("\n", figure.end)
    line_end = len(text) if line_end < 0 else line_end
    return {
        "article": doc.id,
        "before": text[max(line_start, figure.start - CONTEXT_CHARS) : figure.start].lstrip(),
        "match": figure.text,
        "after": text[figure.end : min(line_end, figure.end + CONTEXT_CHARS)].rstrip(),
    }


def _casualties(
    docs: list[Doc], figures: dict[str, list[Figure]], outlets: list[str]
) -> dict[str, list[float]]:
    table: dict[str, set[float]] = {o: set() for o in outlets}
    for doc in docs:
        table[doc.outlet].update(f.value for f in figures[doc.id] if f.kind == "casualty")
    return {o: sorted(values) for o, values in table.items()}


def _by_outlet(
    names: list[dict[str, Any]], numbers: list[dict[str, Any]], outlets: list[str]
) -> dict[str, dict[str, int]]:
    table = {
        o: {"names_missing": 0, "names_only_here": 0, "numbers_missing": 0, "numbers_only_here": 0}
        for o in outlets
    }
    for kind, rows in (("names", names), ("numbers", numbers)):
        for row in rows:
            for o in row["absent_from"]:
                table[o][f"{kind}_missing"] += 1
            if len(row["present_in"]) == 1:
                table[row["present_in"][0]][f"{kind}_only_here"] += 1
    return table
