"""Synthetic but realistic news streams, made by sampling sentences of the dev sets.

A story mixes the sentences of two or three real articles (so stories share real vocabulary
and real sentence shapes), with every name and figure in them replaced by the story's own
(consistently within the story): with only ~1,300 real articles to draw from, stories would
otherwise repeat one another at 100k articles, where real events differ by who, where and how
many.
Each story is covered by one to six outlets: each writes its own version (a sample of the
story's sentences, in its own order, with a few sentences from unrelated articles), and some
outlets reprint another's version with light edits (bench/dedup_reprints.py). Stories start
one after another; their articles arrive within three hours (a longer spread would make the
generator hold more articles in memory than the engine does).
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from aggregator.corpus import CorpusRecord
from aggregator.dedup.features import DocInput
from bench.dedup_data import dev_sets
from bench.dedup_reprints import reprint

_SPLIT = re.compile(r"(?<=[.!?])\s+")
HOUR = 3600.0
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ENTITY = re.compile(
    r"(?<=\w )[A-Z][a-z]+|\b\d[\d,.]*\d\b|\b\d\b"
)  # names inside a sentence, figures
SPREAD_HOURS = 3.0  # a story's articles arrive within this time (keeps the look-ahead small)


@dataclass(frozen=True)
class Pool:
    articles: list[list[str]]  # sentences of each real article
    outlets: list[str]


def sentence_pool() -> Pool:
    articles: list[list[str]] = []
    for ds in dev_sets()[:2]:
        for record in ds.records:
            sentences = [s.strip() for s in _SPLIT.split(record.text) if len(s.split()) >= 6]
            if len(sentences) >= 8:
                articles.append(sentences)
    return Pool(articles, [f"outlet{i:03d}" for i in range(400)])


def stream(pool: Pool, count: int, seed: int, per_day: float) -> Iterator[DocInput]:
    """``count`` articles in time order, about ``per_day`` of them a day."""
    rng = random.Random(seed)
    start = 1_700_000_000.0
    story = 0
    pending: list[tuple[float, int, DocInput]] = []
    emitted = 0
    clock = start
    while emitted < count:
        articles = _story(pool, rng, story, clock)
        story += 1
        for offset, doc in articles:
            heapq.heappush(pending, (clock + offset, story * 100 + len(pending) % 100, doc))
        clock += 86400.0 / per_day * len(articles)
        while pending and pending[0][0] <= clock and emitted < count:
            when, _, doc = heapq.heappop(pending)
            emitted += 1
            yield DocInput(doc.id, doc.outlet, doc.title, doc.text, when, "en")


def _names(rng: random.Random) -> list[str]:
    """Names for the story's headlines."""
    return [_pseudo(rng, False) for _ in range(4)]


def _relabel(sentence: str, own: dict[str, str], rng: random.Random) -> str:
    """The sentence with its names and figures replaced by the story's own, consistently."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if word not in own:
            own[word] = _pseudo(rng, word[0].isdigit())
        return own[word]

    return _ENTITY.sub(swap, sentence)


def _pseudo(rng: random.Random, number: bool) -> str:
    if number:
        return str(rng.randint(2, 99_999))
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(4, 9))).title()


def _story(
    pool: Pool, rng: random.Random, number: int, clock: float
) -> list[tuple[float, DocInput]]:
    sources = rng.sample(pool.articles, rng.randint(2, 3))
    names = _names(rng)
    own: dict[str, str] = {}
    sentences = [_relabel(s, own, rng) for source in sources for s in source[: rng.randint(6, 14)]]
    outlets = rng.sample(pool.outlets, rng.randint(1, 6))
    out: list[tuple[float, DocInput]] = []
    for k, outlet in enumerate(outlets):
        chosen = rng.sample(sentences, max(4, int(len(sentences) * rng.uniform(0.5, 0.8))))
        noise = rng.choice(pool.articles)
        chosen += rng.sample(noise, min(2, len(noise)))
        rng.shuffle(chosen)
        title = " ".join([*rng.sample(names, 2), *chosen[0].split()[: rng.randint(4, 9)]])
        text = "\n\n".join(" ".join(chosen[i : i + 3]) for i in range(0, len(chosen), 3))
        doc = DocInput(f"s{number}-{k}", outlet, title, text, None, "en")
        out.append((rng.uniform(0, SPREAD_HOURS * HOUR), doc))
    for k in range(rng.choice((0, 0, 1, 2))):
        _, original = rng.choice(out)
        record = CorpusRecord(original.id, original.outlet, original.title, original.text, None, 0)
        copy = reprint(record, rng, rng.choice(pool.outlets), f"r{k}")
        out.append(
            (
                rng.uniform(0, SPREAD_HOURS * HOUR),
                DocInput(copy.id, copy.outlet, copy.title, copy.text, None, "en"),
            )
        )
    return out
