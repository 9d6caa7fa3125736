"""A light language guess for text whose page declares none (private to extract).

Two cheap signals, no model: counts of very common function words for a handful of languages
(the best must cover at least 10 % of the words and beat the runner-up clearly), then, for
scripts used by essentially one language (Hangul, kana, Greek ...), the script itself.
Anything else stays unknown (None): a wrong language is worse than none.
``choose_language`` weighs the guess against the page's declaration.
It also measures how much of the text is written in a non-Latin script.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

_WORD = re.compile(r"\w+")
_SAMPLE_WORDS = 1_000
_SAMPLE_CHARS = 6_000
_MIN_HITS = 5
_MIN_SHARE = 0.10
_MARGIN = 1.25

_FUNCTION_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        lang: frozenset(words.split())
        for lang, words in {
            "en": "the and of to is that for it with was on are be this by have from at not "
            "but his they which he she said has were their will would",
            "de": "der die und den von zu das mit sich des auf für ist im dem nicht ein eine "
            "als auch es er hat aus bei wird sie dass nach wurde",
            "fr": "le la les des et un une du est que qui dans pour pas au sur par ce il avec "
            "plus sont ont aux mais elle cette",
            "es": "el la los las del y un una que es por con para se no al lo como más su sus "
            "pero fue ha este esta",
            "it": "il lo gli le di del della che è un una per con non si da dei al sono alla "
            "anche come più nel",
            "pt": "o os as do da dos das em um uma que é para com não no na por se mais ao foi "
            "como seu sua",
            "nl": "de het een en van is dat op te zijn met voor niet die aan er ook als bij "
            "door werd maar naar",
            "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada ke juga ada "
            "adalah oleh kami saya atau karena bisa",
            "pl": "i w nie na się z że do to jest o jak po od ale dla przez jego czy",
            "tr": "bir ve bu da için ile çok olarak daha gibi olan ne ama",
            "ru": "и в не на что с по как это он а к из за то о его от для так но она был же "
            "все уже при были",
            "uk": "і в не на що з та як це до у за від він його але для є так які вже про було її",
            "ar": "في من على إلى أن التي الذي عن مع هذا كان هذه بين قد",
            "fa": "و در به از که این را با است برای آن یک شده",
        }.items()
    }
)

# each function word's languages: one lookup a word instead of one test a word per language
_LANGUAGES_OF: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        word: tuple(lang for lang, vocab in _FUNCTION_WORDS.items() if word in vocab)
        for word in sorted(set().union(*_FUNCTION_WORDS.values()))
    }
)

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
    scores = Counter(dict.fromkeys(_FUNCTION_WORDS, 0))  # ties rank in the table's order
    for languages in filter(None, map(_LANGUAGES_OF.get, words)):
        for lang in languages:
            scores[lang] += 1
    ranked = scores.most_common(2)
    if ranked:
        best, hits = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if hits >= max(_MIN_HITS, _MIN_SHARE * len(words)) and hits > _MARGIN * runner_up:
            return best
    return _by_script(text[:_SAMPLE_CHARS])


def choose_language(declared: str | None, text: str) -> str | None:
    """The page's declared language, unless the text is clearly in another language we know.

    Pages do declare the wrong language (a CMS default of ``en`` on German posts); the guess
    only overrides a declaration of a language it could have recognised.
    """
    guessed = guess_language(text) if text else None
    if declared is None or (guessed is not None and declared in _FUNCTION_WORDS):
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
