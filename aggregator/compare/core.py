"""``compare_cluster``: the per-outlet comparison of one story cluster. Reads top to bottom."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.compare.align import align_sentences
from aggregator.compare.analysis import Doc, analyse_all
from aggregator.compare.headlines import compare_headlines
from aggregator.compare.labels import outlet_labels
from aggregator.compare.lexicon import Lexicons
from aggregator.compare.lexmatch import Matcher
from aggregator.compare.logodds import distinctive_words
from aggregator.compare.model import COMPARE_VERSION, CompareArticle, CompareOptions, OutletInfo
from aggregator.compare.names import cluster_vocabulary
from aggregator.compare.omissions import find_omissions
from aggregator.compare.quotes import compare_quotes
from aggregator.compare.similarity import compare_texts
from aggregator.compare.terms import outlet_words, term_choices
from aggregator.compare.text import iso
from aggregator.compare.timeline import Timing, article_timing, build_timeline
from aggregator.types import JsonText

NO_LEXICONS = Lexicons(groups=())


@dataclass(frozen=True, slots=True)
class CompareJob:
    """``compare_cluster``'s arguments, to run here or in a worker process (it pickles)."""

    articles: tuple[CompareArticle, ...]
    outlets: Mapping[str, OutletInfo]
    lexicons: Lexicons | None
    now: datetime | None
    truncated: tuple[int, int] | None = None  # (compared, members): a story over the cap

    def run(self) -> dict[str, Any]:
        comparison = compare_cluster(self.articles, self.outlets, self.lexicons, now=self.now)
        if self.truncated is not None:
            compared, members = self.truncated
            comparison["truncated"] = {"compared": compared, "members": members}
        return comparison

    def encoded(self) -> JsonText:
        """``run()`` as JSON text: what a worker process hands back (a string crosses
        between processes for a fraction of the cost of the dict it encodes)."""
        return JsonText.of(self.run())


def compare_cluster(
    articles: Iterable[CompareArticle],
    outlets: Mapping[str, OutletInfo] | Iterable[OutletInfo] = (),
    lexicons: Lexicons | None = None,
    *,
    now: datetime | None = None,
    background: Mapping[str, int] | None = None,
    options: CompareOptions | None = None,
) -> dict[str, Any]:
    """Compare how the outlets of one story cluster covered it.

    Pure and deterministic: the same input gives the same JSON-serialisable dict. ``now`` only
    serves to distrust published times in the future; ``background`` (word -> count from a
    larger corpus) replaces the cluster as the prior of the distinctive-word statistics.
    Raises ValueError when two articles share an id.
    """
    options = options or CompareOptions()
    lexicons = lexicons or NO_LEXICONS
    outlet_map = _outlet_map(outlets)
    ordered = _in_time_order(list(articles), now, options)
    docs = analyse_all(article for article, _ in ordered)
    similarity = compare_texts(docs, options)
    vocab = cluster_vocabulary(docs)
    return {
        "version": COMPARE_VERSION,
        "params": _params(options, lexicons, background),
        "articles": _articles(docs, [timing for _, timing in ordered]),
        "flags": _flags(docs),
        "timeline": build_timeline(ordered, similarity["copy_groups"]),
        "similarity": similarity,
        "sentences": align_sentences(docs, options),
        "terms": {
            "words": outlet_words(docs),
            "groups": term_choices(docs, Matcher(lexicons), options),
            "distinctive": distinctive_words(docs, options, background, vocab.names),
        },
        "quotes": compare_quotes(docs, vocab, options),
        "headlines": compare_headlines(docs),
        "omissions": find_omissions(docs, vocab, options),
        "outlets": outlet_labels(docs, outlet_map),
    }


def _outlet_map(outlets: Mapping[str, OutletInfo] | Iterable[OutletInfo]) -> dict[str, OutletInfo]:
    if isinstance(outlets, Mapping):
        return {info.id: info for info in outlets.values()}
    return {info.id: info for info in outlets}


def _in_time_order(
    articles: list[CompareArticle], now: datetime | None, options: CompareOptions
) -> list[tuple[CompareArticle, Timing]]:
    ids = [a.id for a in articles]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate article ids in cluster: {', '.join(duplicates)}")
    timed = [(a, article_timing(a, now, options)) for a in articles]
    return sorted(timed, key=lambda pair: (pair[1].time, pair[0].outlet_id, pair[0].id))


def _params(
    options: CompareOptions, lexicons: Lexicons, background: Mapping[str, int] | None
) -> dict[str, Any]:
    return {
        **options.as_dict(),
        "lexicons": {
            "version": lexicons.version,
            "digest": lexicons.digest,
            "groups": len(lexicons.groups),
        },
        "background_words": sum(background.values()) if background is not None else None,
    }


def _articles(docs: list[Doc], timings: list[Timing]) -> list[dict[str, Any]]:
    return [
        {
            "id": doc.id,
            "outlet": doc.outlet,
            "title": doc.article.title,
            "url": doc.article.url,
            "time": iso(timing.time),
            "time_source": timing.source,
            "words": len(doc.tokens),
            "sentences": len(doc.sentences),
            "quotes": len(doc.quotes),
            "language": doc.language,
            "flags": list(timing.flags) + (["non_english"] if doc.language == "other" else []),
        }
        for doc, timing in zip(docs, timings, strict=True)
    ]


def _flags(docs: list[Doc]) -> dict[str, Any]:
    return {
        "non_english": [d.id for d in docs if d.language == "other"],
        "language_unknown": [d.id for d in docs if d.language == "unknown"],
        "empty_text": [d.id for d in docs if not d.tokens],
        "single_outlet": len({d.outlet for d in docs}) < 2,
    }
