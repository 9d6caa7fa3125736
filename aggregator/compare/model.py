"""Inputs of the comparison: frozen dataclasses, independent of storage.

The pipeline builds these from stored articles and outlets; tests and benchmarks build them from
JSONL. Datetimes must be timezone-aware (naive values are taken to be UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

COMPARE_VERSION = "newsagg-compare/1"

TIME_SOURCES = frozenset({"feed", "page", "first_seen", "import"})


@dataclass(frozen=True, slots=True)
class CompareArticle:
    """One article of a story cluster, as the comparison needs it.

    ``published_source`` says where ``published`` came from: ``"feed"``, ``"page"`` (page
    metadata), ``"import"`` (a JSONL import) or ``"first_seen"`` (no date was given, so
    ``published`` is our own first sighting). ``headline_revisions`` lists the titles a feed
    showed over time, oldest first, as ``(seen_at, title)`` pairs.
    """

    id: str
    outlet_id: str
    title: str
    text: str
    first_seen: datetime
    url: str = ""
    published: datetime | None = None
    published_source: str = "feed"
    copy_group: str | int | None = None
    headline_revisions: tuple[tuple[datetime, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OutletInfo:
    """An outlet with its free-form labels (``ownership``, ``state_affiliated``, ...)."""

    id: str
    name: str
    country: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """Tunable parameters; echoed under ``params`` in every comparison."""

    top_words: int = 20  # distinctive words listed per outlet
    prior_scale: float | None = None  # alpha0 of the Dirichlet prior; None: size of the prior
    min_z: float = 0.0  # distinctive words need a z-score above this
    copy_ngram: int = 8  # word n-grams that count as copied text
    copy_containment: float = 0.5  # share of an article's n-grams found in another: a copy
    sentence_jaccard: float = 0.4  # word-trigram Jaccard for near-identical sentences
    sentence_containment: float = 0.8  # a shorter sentence carried inside a longer one
    quote_containment: float = 0.6  # word-trigram containment for one quote inside another
    snippets_per_variant: int = 3
    snippet_chars: int = 60
    max_names: int = 40
    max_numbers: int = 40
    future_tolerance_s: float = 300.0  # a published time this far after `now` is not trusted
    published_after_seen_tolerance_s: float = 3600.0  # nor one this far after first sighting

    def as_dict(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.__slots__}
