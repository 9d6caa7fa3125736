"""Words, stop words, language guess and JSON helpers shared by the comparison parts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar


def word_set(words_: str) -> frozenset[str]:
    """A constant set of words written as one space-separated string."""
    return frozenset(words_.split())


# A word: letters/digits, joined by inner hyphens, apostrophes, periods or ampersands
# ("pro-life", "don't", "U.S", "3.5", "AT&T"). A trailing possessive "'s" is split off.
WORD_RE = re.compile(r"[^\W_]+(?:[-'’.&][^\W_]+)*")
POSSESSIVES = frozenset({"'s", "’s", "'S", "’S"})

STOPWORDS = word_set(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll
    i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
    not of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves
    then there there's these they they'd they'll they're they've this those through to too under
    until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves said says say will just like one two also mr ms
    mrs new would could may might must shall us get got going go says told tell even still well
    back many much now since yet however though although per via around among within without
    upon whether another every each either neither"""
)

# Very common English words: their share of a text tells English from other languages.
ENGLISH_MARKERS = word_set(
    "the of and to a in is that for on was with he it as at by said his are be from has have "
    "this not but had they were an which who their been would will its she her"
)

NON_LETTERS_RE = re.compile(r"[\W\d_]+")
NON_LATIN_RE = re.compile("[^A-Za-z\u00c0-\u024f]+")
LANGUAGE_MIN_WORDS = 15
ENGLISH_MIN_SHARE = 0.12
LATIN_MIN_SHARE = 0.7


class Token(NamedTuple):
    """A word of a text: surface form (possessive removed), lower case, character span."""

    text: str
    lower: str
    start: int
    end: int


def _strip_possessive(word: str) -> str:
    return word[:-2] if word[-2:] in POSSESSIVES else word


def tokenize(text: str) -> list[Token]:
    """The words of ``text`` with their character offsets."""
    tokens: list[Token] = []
    for match in WORD_RE.finditer(text):
        surface = _strip_possessive(match.group())
        start = match.start()
        lower = surface.lower().replace("’", "'")
        tokens.append(Token(surface, lower, start, start + len(surface)))
    return tokens


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (possessives removed), for matching and counting."""
    return [_strip_possessive(w).lower().replace("’", "'") for w in WORD_RE.findall(text)]


def is_content_word(word: str) -> bool:
    """A word worth listing: not a stop word, not a bare number, longer than one letter."""
    if len(word) < 2 or word in STOPWORDS:
        return False
    return not word.replace(".", "").replace(",", "").isdigit()


def guess_language(text: str, tokens: list[str] | None = None) -> str:
    """``"en"``, ``"other"`` (flagged: not English) or ``"unknown"`` (too little text).

    ``tokens``: the lower-case words of ``text``, when the caller has them already.
    """
    letters = NON_LETTERS_RE.sub("", text)
    if not letters:
        return "unknown"
    latin = len(NON_LATIN_RE.sub("", letters))
    if latin / len(letters) < LATIN_MIN_SHARE:
        return "other"
    tokens = words(text) if tokens is None else tokens
    if len(tokens) < LANGUAGE_MIN_WORDS:
        return "unknown"
    share = sum(1 for w in tokens if w in ENGLISH_MARKERS) / len(tokens)
    return "en" if share >= ENGLISH_MIN_SHARE else "other"


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if dt is None:
        return None
    return as_utc(dt).isoformat().replace("+00:00", "Z")


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def rounded(value: float, places: int = 4) -> float:
    """A float rounded for stable, compact JSON."""
    return round(float(value), places)


def word_ngrams(words_: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words_[i : i + n]) for i in range(len(words_) - n + 1)]


_T = TypeVar("_T")


def read_once(memo: dict[str, _T], text: str, read: Callable[[], _T]) -> _T:
    """``read()`` the first time ``text`` comes; for an equal text (a reprint word for word,
    common in a story's copy group) what it gave then."""
    found = memo.get(text)
    if found is None:
        found = memo[text] = read()
    return found
