"""Seeded reprints of real articles: what another outlet's copy of a wire story looks like.

Each reprint applies one to four edits, drawn at random: truncation (the first 45-90 % of
the words, as a feed summary or a cut reprint), inserted boilerplate lines (newsletter and
advertisement lines), reordered paragraphs, and light word edits (2-5 % of the words
replaced, dropped or doubled). The headline is rewritten too, as outlets do.
"""

from __future__ import annotations

import random
from dataclasses import replace

from aggregator.corpus import CorpusRecord

BOILERPLATE = (
    "Advertisement",
    "Sign up for our daily newsletter to get the latest news in your inbox.",
    "Read more: the stories you need to know today.",
    "Follow us on Twitter and Facebook for updates.",
    "This article was originally published by a wire service. All rights reserved.",
    "Click here to download our app.",
)
SWAPS = ("reportedly", "also", "on Monday", "officials", "in a statement", "the", "new")
EDITS = ("truncate", "boilerplate", "reorder", "words")


def reprint(record: CorpusRecord, rng: random.Random, outlet: str, suffix: str) -> CorpusRecord:
    """One edited copy of ``record`` under another outlet and id."""
    paragraphs = [p for p in record.text.split("\n") if p.strip()]
    chosen = rng.sample(EDITS, rng.randint(1, len(EDITS)))
    if "reorder" in chosen and len(paragraphs) > 3:
        paragraphs = _reorder(paragraphs, rng)
    if "words" in chosen:
        paragraphs = [_edit_words(p, rng) for p in paragraphs]
    if "truncate" in chosen:
        paragraphs = _truncate(paragraphs, rng.uniform(0.45, 0.9))
    if "boilerplate" in chosen:
        for _ in range(rng.randint(1, 3)):
            paragraphs.insert(rng.randint(0, len(paragraphs)), rng.choice(BOILERPLATE))
    title = f"{record.title} | {outlet.upper()}" if rng.random() < 0.5 else record.title.upper()
    return replace(
        record,
        id=f"{record.id}~{suffix}",
        outlet=outlet,
        title=title,
        text="\n\n".join(paragraphs),
        story=record.story,
    )


def _reorder(paragraphs: list[str], rng: random.Random) -> list[str]:
    head, rest = paragraphs[:1], paragraphs[1:]
    for _ in range(max(1, len(rest) // 4)):
        i, j = rng.randrange(len(rest)), rng.randrange(len(rest))
        rest[i], rest[j] = rest[j], rest[i]
    return head + rest


def _edit_words(paragraph: str, rng: random.Random) -> str:
    words = paragraph.split()
    out: list[str] = []
    rate = rng.uniform(0.02, 0.05)
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue
        if roll < 2 * rate / 3:
            out.append(rng.choice(SWAPS))
        elif roll < rate:
            out.extend([word, word])
        else:
            out.append(word)
    return " ".join(out)


def _truncate(paragraphs: list[str], share: float) -> list[str]:
    words = sum(len(p.split()) for p in paragraphs)
    keep = int(words * share)
    out: list[str] = []
    for paragraph in paragraphs:
        parts = paragraph.split()
        if keep <= 0:
            break
        out.append(" ".join(parts[:keep]))
        keep -= len(parts)
    return out


def with_reprints(
    records: list[CorpusRecord], seed: int, share: float = 0.5, most: int = 3
) -> tuple[list[CorpusRecord], dict[str, str]]:
    """The records plus 1..``most`` reprints of a ``share`` of them, shuffled; and the gold
    copy label of every record (the original's id; originals without reprints are alone)."""
    rng = random.Random(seed)
    out: list[CorpusRecord] = []
    gold: dict[str, str] = {}
    for record in records:
        out.append(record)
        gold[record.id] = record.id
        if rng.random() >= share:
            continue
        for n in range(rng.randint(1, most)):
            copy = reprint(record, rng, f"reprinter{rng.randrange(50)}", f"r{n}")
            out.append(copy)
            gold[copy.id] = record.id
    rng.shuffle(out)
    return [replace(r, line=i + 1) for i, r in enumerate(out)], gold
