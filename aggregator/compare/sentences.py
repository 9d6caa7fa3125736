"""Sentence splitting for news text, without a trained model.

Rules, in order:

1. A line break ends a sentence (extracted articles keep one paragraph per line).
2. ``。！？`` always end a sentence.
3. A run of ``. ! ? …`` (plus closing quotes or brackets right after it) followed by white
   space is a candidate; it ends a sentence only if the next word starts with a capital
   letter, a digit or a currency sign (optionally after an opening quote or bracket). So
   ``"Why?" he asked`` stays one sentence and ``3.5`` or ``U.S.-led`` never split.
4. After a period, the word before it decides (the part after a hyphen, as in
   ``post-Sept. 11`` or ``then-Rep. Giffords``):
   - a title (``Mr.``, ``Gen.``, ``Sen.``, ``Gov.``, ``Dr.`` ...) never ends a sentence;
   - a month or ``No.``/``Nos.``/``Vol.``/``Art.`` followed by a digit does not (``Jan. 5``,
     ``No. 10``);
   - an initial followed by another initial does not (``C. A. Ruppersberger``);
   - an initial (``John F. Kennedy``), an initialism with inner periods (``U.S.``, ``a.m.``,
     ``F.B.I.``) or another abbreviation (``Inc.``, ``Jr.``, ``St.``) ends a sentence only
     when the next word is a typical sentence opener (``The``, ``He``, ``I``, ``But`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.compare.text import word_set

CANDIDATE_RE = re.compile(r"[.!?…]+[\"'”’“‘)\]]*(?=\s)|[。！？]+[\"'”’」』)]*")
LINE_RE = re.compile(r"[^\n]+")
INITIAL_RE = re.compile(r"[A-Z]\.")
LETTERS_RE = re.compile(r"[^\W\d_]+")
NEXT_WORD_RE = re.compile(r"\s*[\"'“‘(\[«]*\s*(\S*)")

TITLES = word_set(
    """mr mrs ms messrs mmes dr prof gen lt col maj capt cmdr adm sgt cpl pvt gov sen sens rep
    reps pres supt det insp rev fr hon atty amb treas"""
)
MONTHS = word_set("jan feb mar apr jun jul aug sep sept oct nov dec")
NUMBERED = word_set("no nos vol art ch sec fig pp p")
ABBREVIATIONS = word_set(
    "inc corp co ltd llc bros jr sr vs etc approx dept est univ ave blvd rd assn st mt ft"
)
OPENERS = word_set(
    """the a an he she it they we i you his her their its our my this that these those there
    but and or so yet in on at after before when while as if however meanwhile still now then
    some many most one no not what why how who where officials police"""
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of an article: its text, character span and paragraph number."""

    text: str
    start: int
    end: int
    paragraph: int


def split_sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences with character offsets into ``text``."""
    sentences: list[Sentence] = []
    for paragraph, line in enumerate(LINE_RE.finditer(text)):
        for start, end in _split_line(line.group()):
            sentence = _make(text, line.start() + start, line.start() + end, paragraph)
            if sentence.text:
                sentences.append(sentence)
    return sentences


def _make(text: str, start: int, end: int, paragraph: int) -> Sentence:
    """A sentence with the white space at both ends trimmed off its span."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Sentence(text[start:end], start, end, paragraph)


def _split_line(line: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in CANDIDATE_RE.finditer(line):
        if match.end() <= start or not _ends_sentence(line, match):
            continue
        spans.append((start, match.end()))
        start = match.end()
    if line[start:].strip():
        spans.append((start, len(line)))
    return spans


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    mark = match.group()
    if mark[0] in "。！？":
        return True
    following = NEXT_WORD_RE.match(line, match.end())
    next_word = following.group(1) if following else ""
    if not next_word:
        return True  # end of the line
    if not (next_word[0].isupper() or next_word[0].isdigit() or next_word[0] in "$€£"):
        return False
    if mark.rstrip("\"'”’“‘)]") != ".":
        return True  # "!", "?", "..." before a capital
    return _period_ends_sentence(_word_before(line, match.start()), next_word)


def _word_before(line: str, end: int) -> str:
    start = end
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    return line[start:end].lstrip("\"'“‘([")


def _period_ends_sentence(before: str, next_word: str) -> bool:
    before = before.rsplit("-", 1)[-1]  # "post-Sept.", "then-Rep."
    key = before.lower()
    next_clean = next_word.strip("\"'“‘(")
    if INITIAL_RE.fullmatch(next_clean) and len(before) == 1:
        return False  # "C. A. Dutch Ruppersberger"
    first_word = LETTERS_RE.match(next_clean)
    opener = first_word is not None and first_word.group().lower() in OPENERS
    if key in TITLES:
        return False
    if next_word[0].isdigit() and (key in MONTHS or key in NUMBERED):
        return False
    if len(before) == 1 and before.isalpha():
        return opener  # an initial: "John F. Kennedy"
    if "." in before or key in ABBREVIATIONS or key in MONTHS:
        return opener  # "U.S. Ambassador" vs "in the U.S. The ..."
    return True
