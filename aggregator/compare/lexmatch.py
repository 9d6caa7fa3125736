"""Find the variants of the lexicon groups in a tokenised text.

Rules (also in docs/compare.md):

- pattern words match whole words, in order; ``word*`` matches words starting with ``word``;
- case is ignored unless the variant is case-sensitive; curly and straight apostrophes match;
- a case-sensitive pattern word written in capitals (``IS``) matches only that exact spelling
  (``Is`` opening a question and ``is`` never count), and only outside a run of capitals: when
  every neighbouring word on the same line is itself written in capitals (``WHO IS THE
  FRONT-RUNNER?``), capitals carry no information and the word is skipped;
- a one-word capitals pattern that is also an English function word (``IS``, ``US``, ``IT``) is
  skipped where it reads as that word set in capitals for emphasis: after a subject word
  (``there IS an oxygen bar``, ``it IS``, ``what IS``) or before an article or ``not``;
- within a group, the leftmost longest match wins and matches never overlap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from aggregator.compare.lexicon import Lexicons
from aggregator.compare.text import STOPWORDS, Token, word_set

PREFIX_KEY = 3
SUBJECT_WORDS = word_set("there it he she this that what which who where how why here")
VERB_FOLLOWERS = word_set("a an the not no")


@dataclass(frozen=True, slots=True)
class _Pattern:
    group: int
    variant: int
    words: tuple[str, ...]
    prefix: tuple[bool, ...]
    case_sensitive: bool
    capitals: bool  # case-sensitive and written in capitals: the shouting rule applies


@dataclass(frozen=True, slots=True)
class TermMatch:
    group: int
    variant: int
    first: int  # token index
    last: int  # token index, inclusive


class Matcher:
    """Compiled lexicons: an index from a word (or the first letters of a prefix) to patterns."""

    def __init__(self, lexicons: Lexicons) -> None:
        self.lexicons = lexicons
        self._exact: dict[str, list[_Pattern]] = defaultdict(list)
        self._prefix: dict[str, list[_Pattern]] = defaultdict(list)
        for g, group in enumerate(lexicons.groups):
            for v, variant in enumerate(group.variants):
                for raw in variant.patterns:
                    pattern = _compile(g, v, raw, variant.case_sensitive)
                    first = pattern.words[0].lower()
                    if pattern.prefix[0]:
                        self._prefix[first[:PREFIX_KEY]].append(pattern)
                    else:
                        self._exact[first].append(pattern)

    def find(self, tokens: tuple[Token, ...], text: str) -> list[TermMatch]:
        """Non-overlapping matches per group, in text order."""
        candidates: list[TermMatch] = []
        for i, token in enumerate(tokens):
            for pattern in self._candidates(token.lower):
                end = _match_at(pattern, tokens, i, text)
                if end is not None:
                    candidates.append(TermMatch(pattern.group, pattern.variant, i, end))
        return _leftmost_longest(candidates)

    def _candidates(self, lower: str) -> list[_Pattern]:
        exact = self._exact.get(lower, [])
        prefix = self._prefix.get(lower[:PREFIX_KEY], [])
        return exact + prefix if prefix else exact


def _compile(group: int, variant: int, raw: str, case_sensitive: bool) -> _Pattern:
    words: list[str] = []
    prefix: list[bool] = []
    for word in raw.replace("’", "'").split():
        is_prefix = word.endswith("*")
        stem = word[:-1] if is_prefix else word
        words.append(stem if case_sensitive else stem.lower())
        prefix.append(is_prefix)
    capitals = case_sensitive and all(w.isupper() and len(w) > 1 for w in words)
    return _Pattern(group, variant, tuple(words), tuple(prefix), case_sensitive, capitals)


def _match_at(pattern: _Pattern, tokens: tuple[Token, ...], i: int, text: str) -> int | None:
    last = i + len(pattern.words) - 1
    if last >= len(tokens):
        return None
    for offset, (word, is_prefix) in enumerate(zip(pattern.words, pattern.prefix, strict=True)):
        token = tokens[i + offset]
        form = token.text.replace("’", "'") if pattern.case_sensitive else token.lower
        if not (form.startswith(word) if is_prefix else form == word):
            return None
    if pattern.capitals and _in_capitals(tokens, i, last, text):
        return None
    word_like = pattern.capitals and i == last and pattern.words[0].lower() in STOPWORDS
    if word_like and _reads_as_word(tokens, i, text):
        return None
    return last


def _in_capitals(tokens: tuple[Token, ...], first: int, last: int, text: str) -> bool:
    """Are all neighbours on the same line written in capitals (and is there one at least)?"""
    neighbours = [
        t for t in (_neighbour(tokens, first, -1, text), _neighbour(tokens, last, 1, text)) if t
    ]
    return bool(neighbours) and all(_capitals(t.text) for t in neighbours)


def _reads_as_word(tokens: tuple[Token, ...], i: int, text: str) -> bool:
    """``there IS an``: the function word in capitals for emphasis, not the acronym."""
    before = _neighbour(tokens, i, -1, text)
    after = _neighbour(tokens, i, 1, text)
    return (before is not None and before.lower in SUBJECT_WORDS) or (
        after is not None and after.lower in VERB_FOLLOWERS
    )


def _neighbour(tokens: tuple[Token, ...], i: int, step: int, text: str) -> Token | None:
    j = i + step
    if not 0 <= j < len(tokens):
        return None
    a, b = sorted((tokens[i], tokens[j]), key=lambda t: t.start)
    return None if "\n" in text[a.end : b.start] else tokens[j]


def _capitals(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)


def _leftmost_longest(candidates: list[TermMatch]) -> list[TermMatch]:
    chosen: list[TermMatch] = []
    taken_until: dict[int, int] = {}
    for match in sorted(candidates, key=lambda m: (m.first, -(m.last - m.first), m.variant)):
        if match.first <= taken_until.get(match.group, -1):
            continue
        chosen.append(match)
        taken_until[match.group] = match.last
    return chosen
