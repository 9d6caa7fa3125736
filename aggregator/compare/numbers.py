"""Figures in running text: amounts, percentages, casualty figures and other counts.

Digits (``1,200``, ``3.5``), with a currency sign or word (``$``, ``€``, ``£``, ``dollars``),
a scale (``million``, ``billion``, ``bn``) or a percent sign or word. Spelled numbers
(``three``, ``a dozen``) only when a casualty word follows. Not figures: years (1900-2100 with
nothing attached), ages (``Matthew Denice, 23,``), days of months (``Jan. 5``, ``5 March``),
times (``5 p.m.``, ``10:30``), ordinals (``2nd``), numbers inside names (``F-16``,
``COVID-19``), dates like ``9/11`` and ``No. 10``.

A casualty figure has a casualty word (killed, dead, wounded, ...) within the next four words,
or ``killing``/``killed``/``death toll`` just before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from aggregator.compare.text import word_set

NUMBER_RE = re.compile(
    r"(?<![\w.,/:-])(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?!(?!(?:bn|mn|m|k)\b)[\w/-]|[.,]\d)"
)
SCALE_RE = re.compile(r"[\s-]?(million|billion|trillion|thousand|bn|mn|m|k)\b", re.IGNORECASE)
PERCENT_RE = re.compile(r"\s?(%|percent\b|per cent\b)", re.IGNORECASE)
CURRENCY_WORD_RE = re.compile(r"\s(dollars|euros|yuan|rubles|roubles|yen|rupees)\b", re.IGNORECASE)
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
DATE_BEFORE_RE = re.compile(MONTH + r"\s$")
DATE_AFTER_RE = re.compile(r"\s" + MONTH + r"(?!\w)")
TIME_AFTER_RE = re.compile(r"\s?(a\.m\.|p\.m\.|am\b|pm\b|GMT|ET\b|:\d)", re.IGNORECASE)
AGE_BEFORE_RE = re.compile(r"[A-Z][\w.'’-]*,\s$")
MAX_AGE = 120
NO_BEFORE_RE = re.compile(r"(?:No|Nos|Number|Article|Section|Chapter|Resolution)\.?\s$")
WORD_RE = re.compile(r"[A-Za-z][\w'-]*")
SPELLED_RE = re.compile(
    r"\b(?P<word>(?:a\s)?dozen|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred)\b",
    re.IGNORECASE,
)
SPELLED = MappingProxyType({
    "a dozen": 12, "dozen": 12, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
})  # fmt: skip
SCALES = MappingProxyType({
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9,
    "bn": 1e9, "trillion": 1e12,
})  # fmt: skip
CASUALTY_WORDS = word_set(
    """killed dead died deaths death casualties wounded injured injuries fatalities victims
    bodies slain murdered"""
)
CASUALTY_BEFORE_RE = re.compile(
    r"(killing|killed|kills|toll|death toll of|deaths of)\s"
    r"(at least\s|more than\s|about\s|some\s|nearly\s)?$",
    re.IGNORECASE,
)
YEAR_MIN, YEAR_MAX = 1900, 2100
NOUN_STOP = word_set("of to in on at and or the a an for from by with per is was were are")


@dataclass(frozen=True, slots=True)
class Figure:
    value: float
    kind: str  # "casualty", "money", "percent", "count" or "number"
    text: str
    start: int
    end: int

    @property
    def key(self) -> tuple[str, float]:
        family = self.kind if self.kind in {"money", "percent"} else "quantity"
        return family, float(f"{self.value:.6g}")


def find_figures(text: str) -> list[Figure]:
    figures = [f for m in NUMBER_RE.finditer(text) if (f := _digits(text, m)) is not None]
    figures += [f for m in SPELLED_RE.finditer(text) if (f := _spelled(text, m)) is not None]
    return sorted(figures, key=lambda f: f.start)


def _digits(text: str, match: re.Match[str]) -> Figure | None:
    raw = match.group("num")
    end = match.end()
    value = float(raw.replace(",", ""))
    before = text[max(0, match.start() - 24) : match.start()]
    if DATE_BEFORE_RE.search(before) or NO_BEFORE_RE.search(before):
        return None
    if AGE_BEFORE_RE.search(before) and text[end : end + 1] == "," and value < MAX_AGE:
        return None  # "Matthew Denice, 23, was killed": an age
    if (
        DATE_AFTER_RE.match(text, end)
        or TIME_AFTER_RE.match(text, end)
        or text[end : end + 1] == ":"
    ):
        return None
    money = match.group("cur") is not None
    if scale := SCALE_RE.match(text, end):
        word = scale.group(1).lower()
        if word not in {"m", "k"} or money:
            value *= SCALES[word]
            end = scale.end()
    if pct := PERCENT_RE.match(text, end):
        return Figure(
            value, "percent", text[match.start() : pct.end()].strip(), match.start(), pct.end()
        )
    if cur := CURRENCY_WORD_RE.match(text, end):
        money, end = True, cur.end()
    plain = not money and end == match.end() and "," not in raw and "." not in raw
    if plain and YEAR_MIN <= value <= YEAR_MAX:
        return None
    kind = "money" if money else _kind(text, match.start(), end)
    return Figure(value, kind, text[match.start() : end].strip(), match.start(), end)


def _spelled(text: str, match: re.Match[str]) -> Figure | None:
    word = " ".join(match.group("word").lower().split())
    if _kind(text, match.start(), match.end()) != "casualty":
        return None
    return Figure(float(SPELLED[word]), "casualty", match.group(), match.start(), match.end())


def _kind(text: str, start: int, end: int) -> str:
    following = [w.lower() for w in WORD_RE.findall(text[end : end + 60])[:4]]
    if any(w in CASUALTY_WORDS for w in following):
        return "casualty"
    if CASUALTY_BEFORE_RE.search(text[max(0, start - 40) : start]):
        return "casualty"
    gap = text[end : end + 2]
    if following and gap[:1] == " " and following[0] not in NOUN_STOP and gap[1:].islower():
        return "count"
    return "number"
