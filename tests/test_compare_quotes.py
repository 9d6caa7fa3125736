"""Direct quotations and their speakers on real articles (BASIL dev set), checked by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.compare import CompareArticle, compare_cluster
from aggregator.compare.quotescan import find_quotes
from tests.support.paths import require_shared_data

SEEN = datetime(2026, 11, 1, tzinfo=UTC)
BECK_STORY = "6f95dcb9-e960-45ac-8c0e-91b85724c909"  # Fox, NYT and HuffPost on Glenn Beck at CPAC


@pytest.fixture(scope="module")
def basil() -> list[dict[str, Any]]:
    path = require_shared_data() / "clustering" / "basil-dev.jsonl"
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def as_article(row: dict[str, Any]) -> CompareArticle:
    return CompareArticle(
        id=row["id"],
        outlet_id=row["outlet"].lower(),
        title=row["title"],
        text=row["text"],
        first_seen=SEEN,
    )


def quotes_of(basil: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    (row,) = [r for r in basil if r["id"].startswith(prefix)]
    items: list[dict[str, Any]] = compare_cluster([as_article(row)])["quotes"]["items"]
    return items


# (article, the quote's first words, its last words, speaker, as written, where, paragraphs)
CASES = [
    # curly quotes, "he said" after; "he" is the protagonist named in the lead (Glenn Beck)
    ("17a9d9cb", "It’s not enough just", "as the other side,", "Glenn Beck", "he", "after", 1),
    # the second half of "“...,” he posited, “...”": attributed before it
    (
        "17a9d9cb",
        "it just happens to be",
        "still morning in America.",
        "Glenn Beck",
        "he",
        "before",
        1,
    ),
    # an opening mark misused as the closing one: “...?“ he asked
    ("17a9d9cb", "Who can guarantee", "happiness?", "Glenn Beck", "he", "after", 1),
    # straight quotes, both halves of "Progressivism," he declared, "is eating ..."
    ("f3d0ebba", "Progressivism,", "Progressivism,", "Glenn Beck", "he", "after", 1),
    ("f3d0ebba", "is eating the", "the Constitution.", "Glenn Beck", "he", "before", 1),
    # "said Cynthia Burgiss" after the quote
    ("40b85964", "This is how is", "should be,", "Cynthia Burgiss", "Cynthia Burgiss", "after", 1),
    # Beck told the crowd, "..."
    ("40b85964", "People need to", "sometimes wins.", "Beck", "Beck", "before", 1),
    # Graham said: "..." / Dempsey said: "..."
    ("cb62fdc6", "She said she didn't.", "she didn't?", "Graham", "Graham", "before", 1),
    ("cb62fdc6", "I would call myself", "she didn't.", "Dempsey", "Dempsey", "before", 1),
    # ,” Mr. Trump said: “...  -- the same speaker for the quote before and after
    ("5c1f90fd", "a powerful and", "southern border,", "Mr. Trump", "Mr. Trump", "after", 1),
    ("5c1f90fd", "This is not a 2,000-mile", None, "Mr. Trump", "Mr. Trump", "before", None),
    # two paragraphs by the press convention; "she said" resolves past "Mr. Netanyahu"
    ("428ef98c", "The point is, we want", "to have that,", "Ms. Rice", "she", "after", 2),
    # straight quotes over two paragraphs, then "Santorum said"
    (
        "14cbb6c2",
        "I was talking about energy",
        "have it upside down,",
        "Santorum",
        "Santorum",
        "after",
        2,
    ),
    # Warner said in a statement: “... a block quote whose second paragraph has no opening mark
    (
        "8de59e52",
        "Congress and the American",
        "would be unacceptable.",
        "Warner",
        "Warner",
        "before",
        2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_quote_and_speaker(basil: list[dict[str, Any]], case: tuple[Any, ...]) -> None:
    prefix, first, last, speaker, written, how, paragraphs = case
    found = [q for q in quotes_of(basil, prefix) if q["text"].startswith(first)]
    assert len(found) == 1, [q["text"][:40] for q in quotes_of(basil, prefix)]
    quote = found[0]
    if last is not None:
        assert quote["text"].endswith(last), quote["text"]
    if paragraphs is not None:
        assert quote["paragraphs"] == paragraphs
    assert (quote["speaker"], quote["speaker_as_written"], quote["attribution"]) == (
        speaker,
        written,
        how,
    )


def test_block_quote_without_speaker(basil: list[dict[str, Any]]) -> None:
    """A Facebook post quoted over two paragraphs, the second without an opening mark."""
    (quote,) = [q for q in quotes_of(basil, "55126d86") if q["text"].startswith("It has been")]
    assert quote["paragraphs"] == 2
    assert quote["text"].endswith("I have no use for friends like you.")
    assert quote["speaker"] is None


def test_nested_double_quotes_stay_inside_the_outer_quote(basil: list[dict[str, Any]]) -> None:
    quotes = quotes_of(basil, "397c6aa0")
    (outer,) = [q for q in quotes if q["text"].startswith("Beyond its symbolic power")]
    assert outer["text"].endswith(
        "“Constitutional Authority Statements” controversial and contentious."
    )
    assert not [q for q in quotes if q["text"].startswith("Constitutional Authority Statements")]


def test_which_quotes_outlets_share(basil: list[dict[str, Any]]) -> None:
    rows = [r for r in basil if r["story"] == BECK_STORY]
    quotes = compare_cluster([as_article(r) for r in rows])["quotes"]

    def sharing(outlet: str, start: str) -> list[str]:
        (item,) = [
            q for q in quotes["items"] if q["outlet"] == outlet and q["text"].startswith(start)
        ]
        shared: list[str] = item["shared_with"]
        return shared

    # NYT and HuffPost quote the same line, transcribed differently ("I have" / "I got")
    assert sharing("nyt", "Hello, my name is the Republican Party") == ["hpo"]
    assert sharing("hpo", "Hello, my name is the Republican Party") == ["nyt"]
    # HuffPost cuts "It is going to be a very good year. But it is not enough ..." differently
    assert sharing("nyt", "It’s not enough just to not suck") == ["hpo"]
    # only Fox quotes the student at the march, and Beck's "life is not fair"
    assert sharing("fox", "This is how is America should be") == []
    assert sharing("fox", "People need to understand") == []
    by_outlet = quotes["by_outlet"]
    assert by_outlet["fox"]["alone"] >= 2
    assert {g["outlets"][0] for g in quotes["groups"]} <= {"fox", "hpo", "nyt"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said "stop" and "go now."', [("stop", 1), ("go now.", 1)]),
        ("“One,\n\n“two.” he said", [("One, two.", 2)]),
        ("“Left open\n\nA new paragraph. “Closed,” he said.", [("Closed,", 1)]),
        ('He is 5\'10" tall and "fine."', [("fine.", 1)]),
    ],
)
def test_quote_marks_by_their_surroundings(text: str, expected: list[tuple[str, int]]) -> None:
    assert [(q.text, q.paragraphs) for q in find_quotes(text)] == expected
