"""A light language guess for text whose page declares none (private to extract).

Two cheap signals, no model: counts of very common function words for a handful of languages
(``aggregator.languages``: at least five, and clearly ahead of the runner-up), then, for
scripts used by essentially one language (Hangul, kana, Greek ...), the script itself.
Anything else stays unknown (None): a wrong language is worse than none.
``choose_language`` weighs the guess against the page's declaration.
It also measures how much of the text is written in a non-Latin script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from aggregator.languages import FUNCTION_WORDS, by_function_words

_WORD = re.compile(r"\w+")
_SAMPLE_WORDS = 1_000
_SAMPLE_CHARS = 6_000
_MIN_HITS = 5

_SCRIPTS: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "ko": re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
        "ja": re.compile("[\u3040-\u30ff]"),
        "zh": re.compile("[\u4e00-\u9fff]"),
        "el": re.compile("[\u0370-\u03ff]"),
        "he": re.compile("[\u0590-\u05ff]"),
        "th": re.compile("[\u0e00-\u0e7f]"),
        "ka": re.compile("[\u10a0-\u10ff]"),
        "hy": re.compile("[\u0530-\u058f]"),
    }
)
_NON_LATIN_LETTER = re.compile("[^\\W\\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_LETTER = re.compile(r"[^\W\d_]")


def guess_language(text: str) -> str | None:
    """An ISO 639-1 code for ``text``, or None when the evidence is thin."""
    words = [w.lower() for w in _WORD.findall(text[: _SAMPLE_CHARS * 2])[:_SAMPLE_WORDS]]
    return by_function_words(words, min_hits=_MIN_HITS) or _by_script(text[:_SAMPLE_CHARS])


def choose_language(declared: str | None, text: str) -> str | None:
    """The page's declared language, unless the text is clearly in another language we know.

    Pages do declare the wrong language (a CMS default of ``en`` on German posts); the guess
    only overrides a declaration of a language it could have recognised.
    """
    guessed = guess_language(text) if text else None
    if declared is None or (guessed is not None and declared in FUNCTION_WORDS):
        return guessed or declared
    return declared


def non_latin_share(text: str) -> float:
    """Share of the letters of ``text`` (a sample of it) that are not Latin script."""
    sample = text[:_SAMPLE_CHARS]
    others = len(_NON_LATIN_LETTER.findall(sample))  # few or none: cheap to find them all
    return others / len(_LETTER.findall(sample)) if others else 0.0


def _by_script(sample: str) -> str | None:
    letters = len(_LETTER.findall(sample))
    if not letters:
        return None
    counts = {lang: len(pattern.findall(sample)) for lang, pattern in _SCRIPTS.items()}
    if counts["ja"] > 0.1 * letters:
        return "ja"  # Japanese mixes kana with Chinese characters
    lang, count = max(counts.items(), key=lambda item: item[1])
    return lang if count > 0.5 * letters else None
