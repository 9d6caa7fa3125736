"""Normalisation, tokens, shingles and flags."""

from __future__ import annotations

import time
import zlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedup.features import DocInput, analyse, shingle_hashes
from aggregator.dedup.lexicon import (
    BOILERPLATE_HEADS,
    boilerplate_found,
    boilerplate_pattern,
    boilerplate_piece,
)
from aggregator.dedup.params import DedupParams
from aggregator.dedup.text import normalize, script, sentences, tokens
from aggregator.types import Flag

PARAMS = DedupParams()
NEWS = (
    "The city council approved the 2025 budget on Tuesday after a long debate. "
    "Council members said the plan adds 1,200 teachers and raises spending by 3.5 percent. "
    "The mayor praised the vote and promised new parks in every district."
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＦＵＬＬ width", ["full", "width"]),  # NFKC folds full-width letters
        ("Straße ﬁnal", ["strasse", "final"]),  # case folding and the fi ligature
        ("It’s 3.5% of 1,200 — really!", ["it", "s", "3.5", "of", "1,200", "really"]),
        ("COVID-19 cases", ["covid", "19", "cases"]),
        ("東京都で", ["東京", "京都", "都で"]),  # unspaced scripts become character bigrams
        ("Москва сегодня", ["москва", "сегодня"]),
    ],
)
def test_tokens_fold_case_drop_punctuation_and_keep_numbers(raw: str, expected: list[str]) -> None:
    assert tokens(normalize(raw)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world", "latin"),
        ("Привет мир", "cyrillic"),
        ("مرحبا بالعالم", "arabic"),
        ("你好世界", "cjk"),
        ("123 !!", "none"),
    ],
)
def test_script(text: str, expected: str) -> None:
    assert script(text) == expected


_SCRIPT_OF = {"a": "latin", "Z": "latin", "é": "latin", "ß": "latin", "Я": "cyrillic",
              "ж": "cyrillic", "中": "cjk"}  # fmt: skip


@given(st.text(alphabet="aZé×1 .Яж中ß", max_size=60))
def test_script_is_the_script_of_most_letters(text: str) -> None:
    """The rule spelled out: the script most letters are in (ties: the first name in
    alphabetical order), "none" without letters; "×" is no letter."""
    counts = Counter(_SCRIPT_OF[c] for c in text if c in _SCRIPT_OF)
    expected = max(sorted(counts), key=counts.__getitem__) if counts else "none"
    assert script(text) == expected


def test_shingles_are_order_sensitive_and_unique() -> None:
    a = shingle_hashes(["a", "b", "c", "d", "e", "f"], 3)
    assert len(a) == 4
    assert set(shingle_hashes(["f", "e", "d", "c", "b", "a"], 3).tolist()).isdisjoint(a.tolist())
    assert len(shingle_hashes(["x", "x", "x", "x", "x", "x"], 3)) == 1
    assert len(shingle_hashes(["only", "two"], 5)) == 1
    assert len(shingle_hashes([], 5)) == 0


def doc(text: str, title: str = "", language: str | None = None) -> DocInput:
    return DocInput("d", "o", title, text, 0.0, language)


@pytest.mark.parametrize(
    ("document", "flag", "clusterable"),
    [
        (doc(""), Flag.EMPTY_TEXT, False),
        (
            doc("", title="Council approves budget after long debate on schools"),
            Flag.EMPTY_TEXT,
            True,
        ),
        (doc("Council votes."), Flag.TOO_SHORT, False),
        (
            doc("Москва объявила новый бюджет города на следующий год и план строительства"),
            Flag.NON_LATIN,
            True,
        ),
        (
            doc(
                "Subscribe to our newsletter.\nAccept cookies to continue.\n"
                "Please enable JavaScript.\nAll rights reserved."
            ),
            Flag.BOILERPLATE,
            False,
        ),
    ],
)
def test_bad_input_gets_a_clear_flag(document: DocInput, flag: Flag, clusterable: bool) -> None:
    feats = analyse(document, PARAMS)
    assert flag in feats.flags
    assert feats.clusterable is clusterable


def test_normal_news_has_no_flag_and_a_language() -> None:
    feats = analyse(doc(NEWS, "Council approves budget"), PARAMS)
    assert feats.flags == frozenset() and feats.clusterable
    assert feats.language == "en"
    assert "budget" in feats.term_tf and "the" not in feats.term_tf
    assert feats.term_tf["budget"] > feats.term_tf["teachers"]  # title words weigh more


def test_given_language_wins_over_the_guess() -> None:
    assert analyse(doc(NEWS, language="EN-us"), PARAMS).language == "en"
    assert analyse(doc("Москва объявила новый бюджет города"), PARAMS).language == "cyrillic"


_FINNISH = (
    "Helsingin kaupunginvaltuusto hyväksyi keskiviikkona ensi vuoden talousarvion äänin "
    "neljäkymmentä kolme kahtakymmentä vastaan. Kaupunki lisää rahoitusta kouluille, "
    "päiväkodeille sekä joukkoliikenteelle, mutta leikkaa kulttuurimenoista. Pormestari kertoi "
    "päätöksen turvaavan palvelut vaikeina aikoina vaikka verotulot laskevat selvästi."
)


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        # headlines and snippets drop function words: too short to tell, the default
        ("Typhoon Noru lashes western Japan", "", "en"),
        ("Weakening Typhoon Noru makes landfall, batters central Japan with rain", "", "en"),
        ("Council approves budget", NEWS, "en"),
        (
            "Elon Musk planea el estreno del cohete Falcon Heavy para noviembre",
            "Será el más potente en servicio cuando entre en funcionamiento",
            "es",
        ),
        (
            "Star Wars : un spin-off sur Obi-Wan Kenobi en développement !",
            "Un spin-off de la saga Star Wars centré sur le personnage est en préparation",
            "fr",
        ),
        ("Dringen bij pinmachine voor bitcoin", "De opmars van de virtuele munt bitcoin", "nl"),
        # long enough to tell, and in none of the languages known: the script's name
        ("Talousarvio hyväksyttiin", _FINNISH, "latin"),
    ],
)
def test_an_unlabelled_text_gets_a_language_guess(title: str, text: str, expected: str) -> None:
    assert analyse(doc(text, title), PARAMS).language == expected


def test_the_default_language_is_a_parameter() -> None:
    german = DedupParams(default_language="de")
    assert analyse(doc("", "Taifun Noru trifft Japan"), german).language == "de"
    assert analyse(doc(NEWS, "Council approves budget"), german).language == "en"


def test_gigantic_text_is_cut_flagged_and_fast() -> None:
    huge = NEWS * 20_000  # about 8 MB
    started = time.perf_counter()
    feats = analyse(doc(huge), PARAMS)
    assert Flag.GIGANTIC in feats.flags
    assert time.perf_counter() - started < 10
    assert len(feats.shingles) <= PARAMS.max_tokens


_PHRASE_WORDS = sorted({w for h in BOILERPLATE_HEADS for w in h.split()} | {"in", "on", "app"})


@given(
    st.lists(
        st.sampled_from([*_PHRASE_WORDS, " ", "?", "x", "ing", ". ", "\n", "Sign", "©"]),
        max_size=16,
    ).map("".join)
)
def test_boilerplate_found_agrees_with_the_pattern_on_every_sentence(text: str) -> None:
    """The cheap search finds a phrase wherever the pattern does: in the whole text, and no
    sentence piece that holds a match is passed over by its substring test."""
    pattern = boilerplate_pattern()
    found = boilerplate_found(text.casefold())
    assert bool(found) == bool(pattern.search(text.casefold()))
    for piece in sentences(text):
        folded = piece.casefold()
        if pattern.search(folded):
            assert any(phrase in folded for phrase in found)
        if boilerplate_piece(folded, found):
            assert pattern.search(folded)


def test_boilerplate_heads() -> None:
    assert "log" in BOILERPLATE_HEADS and "terms of " in BOILERPLATE_HEADS  # "log ?in"
    assert boilerplate_found("the council approved the budget on tuesday") == set()
    assert boilerplate_found("please login, or log in, to continue") == {"login", "log in"}
    assert boilerplate_found("the minister will resign in march; a backlog in courts") == set()


@pytest.mark.parametrize(
    ("sentence", "boilerplate"),
    [
        ("Subscribe to our newsletter", True),
        ("Sign up for our morning briefing and get the day's five biggest stories", True),
        ("Advertisement", True),
        ("Advertisement Continue reading the main story", True),
        ("Copyright 2024 Example Media Group", True),
        ("Get the best of our coverage delivered to your inbox every weekday morning", True),
        ("Governor says budget talks will resume on Monday Read more", True),
        ("We use cookies. By continuing you accept all cookies and our privacy policy.", True),
        # news sentences that use the same words
        ("The senator said she would resign in March after the vote on the budget bill", False),
        (
            "Streaming service added five million subscribers in the quarter, beating forecasts",
            False,
        ),
        (
            "Officials urged residents to sign up for flood alerts before the storm reached land",
            False,
        ),
        (
            "The campaign released a new advertisement that will run in three swing states",
            False,
        ),
        (
            "The plan remains the most popular option among voters under thirty, the poll found",
            False,
        ),
        (
            "Bakers sold out of sugar cookies and gingerbread at the holiday market on Saturday",
            False,
        ),
    ],
)
def test_boilerplate_sentences_are_told_from_news(sentence: str, boilerplate: bool) -> None:
    folded = sentence.casefold()
    assert boilerplate_piece(folded, boilerplate_found(folded)) is boilerplate


def test_a_snippet_mentioning_subscribers_is_not_boilerplate() -> None:
    snippet = (
        "The network released the finale four days early by mistake. The episode was open to "
        "subscribers in two countries for an hour before it was pulled."
    )
    feats = analyse(doc(snippet, "Network airs finale early by mistake"), PARAMS)
    assert Flag.BOILERPLATE not in feats.flags and feats.clusterable


def test_term_ids_stay_bounded_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    from aggregator.dedup import features

    monkeypatch.setattr(features, "_TERM_IDS_KEPT", 100)
    words = [f"w{n}" for n in range(1000)]
    first = list(features.term_ids(words))
    assert len(features._TERM_IDS) <= 100
    assert first == [zlib.crc32(w.encode()) for w in words] == list(features.term_ids(words))
    assert features.term_id("budget") == zlib.crc32(b"budget")
