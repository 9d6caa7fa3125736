"""Headlines: each outlet's wording against the cluster's most common one, and revisions.

The base headline is the wording most outlets used word for word (case, punctuation and quote
styles ignored); when no two outlets agree, the medoid: the headline sharing the most words
with the others on average (ties: the earliest). Diffs are word-level, as runs of ``equal``,
``replace``, ``delete`` (base words the outlet dropped) and ``insert`` (words it added).
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.text import as_utc, iso, rounded, words

WORD_RE = re.compile(r"\S+")


def compare_headlines(docs: list[Doc]) -> dict[str, Any]:
    firsts = _first_per_outlet(docs)
    if not firsts:
        return {"base": None, "outlets": {}}
    base_doc, basis = _base(firsts)
    base = base_doc.article.title
    outlets = {}
    for outlet, doc in sorted(firsts.items()):
        ops = diff_words(base, doc.article.title)
        outlets[outlet] = {
            "article": doc.id,
            "title": doc.article.title,
            "diff": ops,
            "changed_words": changed_words(ops),
            "similarity": _ratio(base, doc.article.title),
            "other_titles": [d.article.title for d in docs if d.outlet == outlet and d is not doc],
            "revisions": _revisions(doc),
        }
    return {
        "base": {"title": base, "article": base_doc.id, "outlet": base_doc.outlet, "basis": basis},
        "outlets": outlets,
    }


def _first_per_outlet(docs: list[Doc]) -> dict[str, Doc]:
    firsts: dict[str, Doc] = {}
    for doc in docs:  # docs come in time order
        firsts.setdefault(doc.outlet, doc)
    return firsts


def _base(firsts: dict[str, Doc]) -> tuple[Doc, str]:
    ordered = list(firsts.values())
    if len(ordered) == 1:
        return ordered[0], "only"
    keys = [" ".join(words(d.article.title)) for d in ordered]
    counts = Counter(keys)
    top = max(counts.values())
    if top > 1:
        return ordered[keys.index(next(k for k in keys if counts[k] == top))], "most_common"
    sets = [set(words(d.article.title)) for d in ordered]

    def mean_overlap(i: int) -> float:
        others = [_jaccard(sets[i], sets[j]) for j in range(len(sets)) if j != i]
        return sum(others) / len(others)

    best = max(range(len(ordered)), key=lambda i: (round(mean_overlap(i), 9), -i))
    return ordered[best], "medoid"


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _norm(word: str) -> str:
    return word.lower().strip("\"'“”‘’.,:;!?()[]").replace("’", "'")


def diff_words(base: str, title: str) -> list[dict[str, str]]:
    """Word-level diff of ``title`` against ``base``."""
    a, b = WORD_RE.findall(base), WORD_RE.findall(title)
    matcher = SequenceMatcher(None, [_norm(w) for w in a], [_norm(w) for w in b], autojunk=False)
    ops: list[dict[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        op: dict[str, str] = {"op": tag}
        if tag != "insert":
            op["base"] = " ".join(a[i1:i2])
        if tag != "delete":
            op["text"] = " ".join(b[j1:j2])
        ops.append(op)
    return ops


def changed_words(ops: list[dict[str, str]]) -> int:
    """Words replaced, dropped or added (a replacement counts its longer side)."""
    return sum(
        max(len(WORD_RE.findall(op.get("base", ""))), len(WORD_RE.findall(op.get("text", ""))))
        for op in ops
        if op["op"] != "equal"
    )


def _ratio(base: str, title: str) -> float:
    a = [_norm(w) for w in WORD_RE.findall(base)]
    b = [_norm(w) for w in WORD_RE.findall(title)]
    return rounded(SequenceMatcher(None, a, b, autojunk=False).ratio(), 3)


def _revisions(doc: Doc) -> list[dict[str, Any]]:
    revisions = sorted(doc.article.headline_revisions, key=lambda r: (as_utc(r[0]), r[1]))
    out: list[dict[str, Any]] = []
    previous: str | None = None
    for seen_at, title in revisions:
        if title == previous:
            continue
        out.append(
            {
                "at": iso(seen_at),
                "title": title,
                "diff_from_previous": diff_words(previous, title) if previous is not None else [],
            }
        )
        previous = title
    return out
