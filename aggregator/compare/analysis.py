"""One pass over each article: words, sentences, quotations, language. Every part reads these."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, replace

from aggregator.compare.attribution import Attribution, attribute
from aggregator.compare.model import CompareArticle
from aggregator.compare.quotescan import QuoteSpan, find_quotes
from aggregator.compare.sentences import Sentence, split_sentences
from aggregator.compare.text import Token, guess_language, tokenize


@dataclass(frozen=True, slots=True)
class Quote:
    span: QuoteSpan
    attribution: Attribution | None


@dataclass(frozen=True, slots=True)
class Doc:
    """An article read once: everything the comparison parts need from its text."""

    article: CompareArticle
    tokens: tuple[Token, ...]
    sentences: tuple[Sentence, ...]
    quotes: tuple[Quote, ...]
    in_quote: tuple[bool, ...]  # per token: inside a direct quotation
    language: str  # "en", "other" (flagged) or "unknown" (too short to tell)
    sentence_tokens: tuple[tuple[int, int], ...]  # per sentence: its tokens[first:last]

    @property
    def id(self) -> str:
        return self.article.id

    @property
    def outlet(self) -> str:
        return self.article.outlet_id

    @property
    def text(self) -> str:
        return self.article.text


def analyse_all(articles: Iterable[CompareArticle]) -> list[Doc]:
    """``analyse`` of each article; a text read before (a reprint word for word, common in
    a story's copy group) shares that reading instead of being read again."""
    read: dict[str, Doc] = {}
    docs = []
    for article in articles:
        known = read.get(article.text)
        doc = replace(known, article=article) if known is not None else analyse(article)
        read.setdefault(article.text, doc)
        docs.append(doc)
    return docs


def analyse(article: CompareArticle) -> Doc:
    text = article.text
    tokens = tuple(tokenize(text))
    spans = find_quotes(text)
    sentences = tuple(split_sentences(text))
    starts = [t.start for t in tokens]
    return Doc(
        article=article,
        tokens=tokens,
        sentences=sentences,
        quotes=tuple(Quote(span, _attribute(text, span)) for span in spans),
        in_quote=_quote_mask(tokens, spans),
        language=guess_language(text, [t.lower for t in tokens]),
        sentence_tokens=tuple(
            (bisect.bisect_left(starts, s.start), bisect.bisect_left(starts, s.end))
            for s in sentences
        ),
    )


def _attribute(text: str, span: QuoteSpan) -> Attribution | None:
    first_line = text.rfind("\n", 0, span.start) + 1
    last_line_end = text.find("\n", span.end)
    return attribute(
        text,
        span.start,
        span.end,
        line_start=first_line,
        line_end=len(text) if last_line_end < 0 else last_line_end,
    )


def _quote_mask(tokens: tuple[Token, ...], spans: list[QuoteSpan]) -> tuple[bool, ...]:
    parts = sorted(part for span in spans for part in span.parts)
    starts = [a for a, _ in parts]
    mask: list[bool] = []
    for token in tokens:
        i = bisect.bisect_right(starts, token.start) - 1
        mask.append(i >= 0 and token.start < parts[i][1])
    return tuple(mask)
