"""Term choices: how often each outlet uses each variant of the lexicon groups."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.lexicon import LexiconGroup
from aggregator.compare.lexmatch import Matcher, TermMatch
from aggregator.compare.model import CompareOptions
from aggregator.compare.text import read_once, rounded


def outlet_words(docs: list[Doc]) -> dict[str, int]:
    words: Counter[str] = Counter()
    for doc in docs:
        words[doc.outlet] += len(doc.tokens)
    return dict(sorted(words.items()))


def term_choices(
    docs: list[Doc], matcher: Matcher, options: CompareOptions
) -> list[dict[str, Any]]:
    """The groups found in the cluster: per outlet, counts, the forms used, snippets."""
    words = outlet_words(docs)
    by_text: dict[str, list[TermMatch]] = {}  # a reprint word for word matches the same
    matches = {
        doc.id: read_once(by_text, doc.text, partial(matcher.find, doc.tokens, doc.text))
        for doc in docs
    }
    by_group: dict[int, list[tuple[Doc, TermMatch]]] = defaultdict(list)
    for doc in docs:
        for match in matches[doc.id]:
            by_group[match.group].append((doc, match))
    return [
        _group_table(matcher.lexicons.groups[g], by_group[g], words, options)
        for g in sorted(by_group)
    ]


def _group_table(
    group: LexiconGroup,
    found: list[tuple[Doc, TermMatch]],
    words: dict[str, int],
    options: CompareOptions,
) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {outlet: Counter() for outlet in words}
    forms: dict[str, Counter[str]] = {outlet: Counter() for outlet in words}
    snippets: dict[str, list[dict[str, str]]] = defaultdict(list)
    for doc, match in found:
        name = group.variants[match.variant].name
        counts[doc.outlet][name] += 1
        tokens = doc.tokens[match.first : match.last + 1]
        forms[doc.outlet][" ".join(t.lower for t in tokens)] += 1
        if counts[doc.outlet][name] <= options.snippets_per_variant:
            snippets[doc.outlet].append(snippet(doc, match, name, options.snippet_chars))
    outlets = {
        outlet: _outlet_cell(counts[outlet], words[outlet], forms[outlet], snippets[outlet])
        for outlet in words
    }
    dominant = {cell["dominant"] for cell in outlets.values() if cell["dominant"]}
    used: dict[str, list[str]] = defaultdict(list)
    for outlet, outlet_counts in counts.items():
        for name in outlet_counts:
            used[name].append(outlet)
    return {
        "id": group.id,
        "label": group.label,
        "outlets": outlets,
        "variants_used": {v.name: used[v.name] for v in group.variants if v.name in used},
        "divergent": len(dominant) > 1,
    }


def _outlet_cell(
    counts: Counter[str], words: int, forms: Counter[str], snippets: list[dict[str, str]]
) -> dict[str, Any]:
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total": total,
        "per_1000": per_1000(total, words),
        "dominant": top[0][0] if top else None,
        "variants": {
            name: {"count": n, "per_1000": per_1000(n, words)} for name, n in sorted(counts.items())
        },
        "forms": dict(sorted(forms.items())),
        "snippets": snippets,
    }


def per_1000(count: int, words: int) -> float:
    return rounded(1000.0 * count / words, 3) if words else 0.0


def snippet(doc: Doc, match: TermMatch, variant: str, width: int) -> dict[str, str]:
    """The match with up to ``width`` characters of context on each side, cut at word
    boundaries and within the paragraph."""
    text = doc.text
    start, end = doc.tokens[match.first].start, doc.tokens[match.last].end
    left = max(text.rfind("\n", 0, start) + 1, start - width)
    right_limit = text.find("\n", end)
    right = min(end + width, len(text) if right_limit < 0 else right_limit)
    before = text[left:start]
    after = text[end:right]
    if left > 0 and text[left - 1] not in "\n " and " " in before:
        before = before.split(" ", 1)[1]
    if right < len(text) and text[right] not in "\n " and " " in after:
        after = after.rsplit(" ", 1)[0]
    return {
        "article": doc.id,
        "variant": variant,
        "before": before.lstrip(),
        "match": text[start:end],
        "after": after.rstrip(),
    }
