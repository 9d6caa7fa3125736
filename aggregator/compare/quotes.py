"""Direct quotations per outlet: who is quoted, which quotes outlets share, which one alone uses.

A quote of 4+ words matches another outlet's when at least ``quote_containment`` of the
shorter one's word trigrams are in the longer one (outlets cut quotes differently); shorter
quoted phrases (scare quotes: ``"progressivism"``) match only word for word. A pronoun
speaker (``he said``) is resolved as ``speakers`` explains.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.names import Vocabulary
from aggregator.compare.speakers import Speaker, named, resolve_speakers
from aggregator.compare.text import read_once, word_ngrams, words

SHORT_WORDS = 4


def compare_quotes(docs: list[Doc], vocab: Vocabulary, options: CompareOptions) -> dict[str, Any]:
    read: dict[str, tuple[list[Speaker], list[list[str]]]] = {}  # per text: reprints share
    items = [item for doc in docs for item in _article_quotes(doc, vocab, read)]
    roots = _group(items, options)
    members: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(roots):
        members[root].append(i)
    groups: list[dict[str, Any]] = []
    for root in sorted(members, key=lambda r: members[r][0]):
        outlets = sorted({items[i]["outlet"] for i in members[root]})
        if len(outlets) < 2:
            continue
        gid = f"g{len(groups)}"
        for i in members[root]:
            items[i]["group"] = gid
            items[i]["shared_with"] = [o for o in outlets if o != items[i]["outlet"]]
        groups.append(_group_entry(gid, [items[i] for i in members[root]], outlets))
    return {"items": items, "groups": groups, "by_outlet": _by_outlet(items)}


def _article_quotes(
    doc: Doc, vocab: Vocabulary, read: dict[str, tuple[list[Speaker], list[list[str]]]]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    speakers, quoted_words = read_once(read, doc.text, partial(_speakers_and_words, doc, vocab))
    for n, (quote, speaker) in enumerate(zip(doc.quotes, speakers, strict=True)):
        attribution = quote.attribution
        quote_words = list(quoted_words[n])
        found.append(
            {
                "id": f"{doc.id}#{n}",
                "article": doc.id,
                "outlet": doc.outlet,
                "text": quote.span.text,
                "words": len(quote_words),
                "short": len(quote_words) < SHORT_WORDS,
                "paragraphs": quote.span.paragraphs,
                "start": quote.span.start,
                "speaker": speaker.name,
                "speaker_key": _key(speaker.name),
                "speaker_as_written": attribution.speaker if attribution else None,
                "speaker_resolution": speaker.resolution,
                "attribution": attribution.how if attribution else None,
                "verb": attribution.verb if attribution else None,
                "group": None,
                "shared_with": [],
                "_words": quote_words,
            }
        )
    return found


def _speakers_and_words(doc: Doc, vocab: Vocabulary) -> tuple[list[Speaker], list[list[str]]]:
    return resolve_speakers(doc, vocab), [words(q.span.text) for q in doc.quotes]


def _key(speaker: str | None) -> str | None:
    """A name's last word ("Secretary of State John Kerry" -> "kerry"); else the phrase."""
    if not speaker:
        return None
    if named(speaker):
        return speaker.split()[-1].rstrip(".").lower()
    return speaker.lower()


def _group(items: list[dict[str, Any]], options: CompareOptions) -> list[int]:
    """Each quote's group (the index of one member): quotes with the same words, and quotes
    of 4+ words whose trigrams match (``quote_containment``), joined. A quote's words decide
    its matches, so each distinct one is matched once (reprints repeat a story's quotes)."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}  # a quote's words -> the first quote with them
    grams: list[tuple[int, frozenset[tuple[str, ...]]]] = []
    for i, item in enumerate(items):
        quote_words = item.pop("_words")
        key = " ".join(quote_words)
        if not key:
            continue
        if key in first:
            parent[find(i)] = find(first[key])
            continue
        first[key] = i
        if not item["short"]:
            grams.append((i, frozenset(word_ngrams(quote_words, 3))))
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for g, (_, key_grams) in enumerate(grams):
        for gram in key_grams:
            postings[gram].append(g)
    for g, (i, key_grams) in enumerate(grams):
        shared: Counter[int] = Counter()
        for gram in key_grams:
            shared.update(h for h in postings[gram] if h > g)
        for h, count in shared.items():
            j, other = grams[h]
            if count / min(len(key_grams), len(other)) >= options.quote_containment:
                parent[find(j)] = find(i)
    return [find(i) for i in range(len(items))]


def _group_entry(gid: str, members: list[dict[str, Any]], outlets: list[str]) -> dict[str, Any]:
    longest = max(members, key=lambda m: (m["words"], m["id"]))
    speakers = sorted({m["speaker"] for m in members if m["speaker"]})
    return {
        "id": gid,
        "text": longest["text"],
        "outlets": outlets,
        "quotes": [m["id"] for m in members],
        "speakers": speakers,
    }


def _by_outlet(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for item in items:
        row = table.setdefault(
            item["outlet"],
            {
                "quotes": 0,
                "short_quotes": 0,
                "shared": 0,
                "alone": 0,
                "attributed": 0,
                "speakers": Counter(),
            },
        )
        if item["short"]:
            row["short_quotes"] += 1
            continue
        row["quotes"] += 1
        row["shared" if item["shared_with"] else "alone"] += 1
        if item["speaker"]:
            row["attributed"] += 1
            row["speakers"][item["speaker"]] += 1
    for row in table.values():
        row["speakers"] = dict(sorted(row["speakers"].items(), key=lambda kv: (-kv[1], kv[0])))
    return dict(sorted(table.items()))
