"""Function words of a handful of languages, and a guess of a text's language from them.

Shared by extraction (a page that declares no language) and the dedup engine (an article
that arrives without one). No model: counts of very common words, read as a language only
when one of them clearly leads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType

MIN_SHARE = 0.10  # the leader's hits must cover this share of the words
MARGIN = 1.25  # ... and beat the runner-up's by this factor

FUNCTION_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
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
        word: tuple(lang for lang, vocab in FUNCTION_WORDS.items() if word in vocab)
        for word in sorted(set().union(*FUNCTION_WORDS.values()))
    }
)


def by_function_words(words: Sequence[str], *, min_hits: int) -> str | None:
    """The ISO 639-1 code of the language whose function words clearly lead among the
    lower-case ``words``: at least ``min_hits`` of them, covering ``MIN_SHARE`` of the words
    and ``MARGIN`` times the runner-up's count; None when the evidence is thin."""
    scores = Counter(dict.fromkeys(FUNCTION_WORDS, 0))  # ties rank in the table's order
    for languages in filter(None, map(_LANGUAGES_OF.get, words)):
        for lang in languages:
            scores[lang] += 1
    (best, hits), (_, runner_up) = scores.most_common(2)
    if hits >= max(min_hits, MIN_SHARE * len(words)) and hits > MARGIN * runner_up:
        return best
    return None
