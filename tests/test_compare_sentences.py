"""Sentence splitting on real news text (BASIL dev set), cases checked by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aggregator.compare import split_sentences
from tests.support.paths import require_shared_data


@pytest.fixture(scope="module")
def basil() -> dict[str, str]:
    path = require_shared_data() / "clustering" / "basil-dev.jsonl"
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {row["id"]: row["text"] for row in map(json.loads, lines)}


def text_of(basil: dict[str, str], prefix: str) -> str:
    (text,) = [t for i, t in basil.items() if i.startswith(prefix)]
    return text


# (article id prefix, a passage of the article that must lie inside one sentence)
INSIDE = [
    ("312676c4", "Representative C. A. Dutch Ruppersberger of Maryland"),  # two initials
    ("84e2edc9", "the post-Sept. 11 law"),  # month after a hyphen, then a number
    ("34ed48f7", "then-Rep. Gabrielle Giffords"),  # title after a hyphen
    ("208ea167", "Wal-Mart Stores v. Dukes, No. 10-277, is whether"),  # No. + number
    ("fd1fbe97", "Rep. Kevin McCarthy, R-Calif., the No. 3 Republican"),
    ("d607f52a", "a $4.5 billion settlement payment"),  # decimal number
    ("b724c385", "HARTFORD, Conn. — Connecticut Attorney General and U.S. Senate candidate"),
    ("73b9c883", "Robert F. Bauer, the White House counsel, said in a memo"),  # an initial
    ("40b85964", 'A circus?" he said, drawing laughter.'),  # "?" + quote, then lower case
    ("17a9d9cb", "“Who can guarantee you happiness?“ he asked."),  # a misplaced opening mark
    ("8824d4fb", "U.S. Reps. John Lewis, Andre Carson and Emanuel Cleaver said"),
]

# (article id prefix, a passage that must end a sentence; the next sentence starts with `then`)
ENDS = [
    ("d2e17368", "attacks on Sept. 11, 2001.", "Mr. Obama shifted"),
    ("3955ca2a", "“We need a great director of the F.B.I.", "I cherish the F.B.I."),
    ("3955ca2a", "I cherish the F.B.I.", "It’s special,”"),  # initialism, then "It's"
    ("397c6aa0", "The amount I get is nearly $1.1 million.", "$1,071,872.87, to be exact"),
    ("37569447", "The federal subpoenas are due Feb. 5.", "The state committee subpoenas"),
    ("4d1963de", "said Rep. Steve Israel, D-N.Y.", '"But I do think'),
]


@pytest.mark.parametrize(("prefix", "passage"), INSIDE)
def test_passage_stays_in_one_sentence(basil: dict[str, str], prefix: str, passage: str) -> None:
    text = text_of(basil, prefix)
    assert passage in text
    assert any(passage in s.text for s in split_sentences(text))


@pytest.mark.parametrize(("prefix", "passage", "then"), ENDS)
def test_passage_ends_a_sentence(
    basil: dict[str, str], prefix: str, passage: str, then: str
) -> None:
    sentences = split_sentences(text_of(basil, prefix))
    ends = [i for i, s in enumerate(sentences) if s.text.endswith(passage)]
    assert ends, passage
    assert sentences[ends[0] + 1].text.startswith(then)


def test_spans_point_into_the_text_and_cover_it(basil: dict[str, str]) -> None:
    for text in basil.values():
        sentences = split_sentences(text)
        previous_end = 0
        for sentence in sentences:
            assert text[sentence.start : sentence.end] == sentence.text
            assert not text[previous_end : sentence.start].strip()  # nothing skipped
            previous_end = sentence.end
        assert not text[previous_end:].strip()


TITLE_END = re.compile(r"\b(Mr|Mrs|Ms|Dr|Gen|Sen|Rep|Gov|Lt|Col|Capt)\.$")


def test_no_sentence_ends_with_a_title(basil: dict[str, str]) -> None:
    endings = [
        s.text[-40:]
        for text in basil.values()
        for s in split_sentences(text)
        if TITLE_END.search(s.text)
    ]
    assert endings == []


def test_paragraphs_always_split_and_are_numbered() -> None:
    sentences = split_sentences("One line without a stop\n\nSecond paragraph. Two sentences.")
    assert [(s.text, s.paragraph) for s in sentences] == [
        ("One line without a stop", 0),
        ("Second paragraph.", 1),
        ("Two sentences.", 1),
    ]


def test_cjk_stops_split_without_spaces() -> None:
    sentences = split_sentences("伊朗拒绝合作。美国表示遗憾！")
    assert [s.text for s in sentences] == ["伊朗拒绝合作。", "美国表示遗憾！"]
