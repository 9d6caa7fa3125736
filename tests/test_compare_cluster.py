"""compare_cluster end to end on real stories: alignment, copy, timeline, headlines,
omissions, labels, non-English text and the flat export rows."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.compare import (
    COMPARE_VERSION,
    CompareArticle,
    OutletInfo,
    analysis,
    compare_cluster,
    comparison_rows,
    load_lexicons,
)
from tests.support.paths import require_shared_data

REPO = Path(__file__).resolve().parents[1]
SEEN = datetime(2026, 11, 1, tzinfo=UTC)
BECK = "6f95dcb9-e960-45ac-8c0e-91b85724c909"  # Glenn Beck at CPAC, 20 Feb 2010
ORLANDO = "76810849-0335-4ad3-9eaf-f0d9c5baceb6"  # reactions to the Orlando shooting, 2016
PARTS = {"timeline", "similarity", "sentences", "terms", "quotes", "headlines", "omissions"}


@pytest.fixture(scope="module")
def basil() -> list[dict[str, Any]]:
    path = require_shared_data() / "clustering" / "basil-dev.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def lexicons() -> Any:
    return load_lexicons(REPO / "config" / "lexicons.toml")


def story(basil: list[dict[str, Any]], story_id: str, **times: datetime) -> list[CompareArticle]:
    articles = []
    for row in basil:
        if row["story"] == story_id:
            outlet = row["outlet"].lower()
            published = times.get(
                outlet, datetime.fromisoformat(row["published"]).replace(tzinfo=UTC)
            )
            source = "feed" if outlet in times else "import"
            articles.append(
                CompareArticle(
                    id=row["id"],
                    outlet_id=outlet,
                    title=row["title"],
                    text=row["text"],
                    url=row["url"],
                    published=published,
                    published_source=source,
                    first_seen=SEEN,
                )
            )
    return articles


def by_text(sentences: list[dict[str, Any]], start: str) -> dict[str, Any]:
    (found,) = [s for s in sentences if s["text"].startswith(start)]
    return found


def test_json_deterministic_and_order_free(basil: list[dict[str, Any]], lexicons: Any) -> None:
    articles = story(basil, BECK)
    first = compare_cluster(articles, (), lexicons)
    shuffled = articles[:]
    random.Random(4).shuffle(shuffled)
    again = compare_cluster(shuffled, (), lexicons)
    assert json.dumps(first, allow_nan=False, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert first["version"] == COMPARE_VERSION
    assert PARTS | {"outlets", "params", "articles", "flags"} <= set(first)


def test_a_word_for_word_reprint_is_read_once_and_compared_as_if_read_alone(
    basil: list[dict[str, Any]], lexicons: Any
) -> None:
    """Two wire outlets carry the NYT text word for word: what is read from a text (words,
    sentences, quotes, names, figures, terms) is shared, and the comparison is the one made
    when every text is read on its own (the same reprints with trailing spaces: texts that
    differ, words, sentences and offsets that do not)."""
    articles = story(basil, BECK)
    nyt = next(a for a in articles if a.outlet_id == "nyt")

    def reprints(pad: str) -> list[CompareArticle]:
        return [
            replace(nyt, id=f"copy{n}", outlet_id=f"wire{n}", text=nyt.text + pad * (n + 1))
            for n in range(2)
        ]

    word_for_word = [replace(r, text=str(nyt.text + " ")[:-1]) for r in reprints("")]
    docs = analysis.analyse_all([*articles, *word_for_word])
    assert docs[-1].tokens is docs[-2].tokens is next(d for d in docs if d.id == nyt.id).tokens
    assert [d.id for d in docs[-2:]] == ["copy0", "copy1"]
    shared = compare_cluster([*articles, *word_for_word], (), lexicons, now=SEEN)
    alone = compare_cluster([*articles, *reprints(" ")], (), lexicons, now=SEEN)
    assert json.dumps(shared, sort_keys=True) == json.dumps(alone, sort_keys=True)
    assert {"wire0", "wire1"} <= set(shared["sentences"]["outlets"])
    assert shared["quotes"]["items"] and shared["terms"]["groups"]


def test_sentence_alignment_of_the_beck_story(basil: list[dict[str, Any]]) -> None:
    """Checked by reading the three articles: Fox and HuffPost quote the "clown show" lines
    word for word; NYT and HuffPost transcribe "Hello, my name is the Republican Party" with
    small differences; HuffPost's "America is not a circus." has no counterpart."""
    sentences = compare_cluster(story(basil, BECK))["sentences"]["outlets"]
    fox, hpo, nyt = (
        sentences["fox"]["sentences"],
        sentences["hpo"]["sentences"],
        sentences["nyt"]["sentences"],
    )
    clown = by_text(fox, '"America is not a clown show.')
    assert [(m["outlet"], m["kind"]) for m in clown["shared_with"]] == [("hpo", "identical")]
    hello = by_text(nyt, "“Hello, my name is the Republican Party")
    assert [(m["outlet"], m["kind"]) for m in hello["shared_with"]] == [("hpo", "near")]
    assert by_text(hpo, "America is not a circus.")["status"] == "unique"
    assert by_text(fox, "Beck also launched the 9/12 Project")["status"] == "unique"
    assert [s["i"] for s in fox] == list(range(len(fox)))  # in the article's order
    assert sentences["fox"]["shared"] == 2


def test_an_outlet_with_several_articles_is_matched_by_its_earliest_best_sentence(
    basil: list[dict[str, Any]],
) -> None:
    """The wire carries NYT's text three times: at 1 h with one word of the "Hello, my name
    is" sentence changed, word for word at 2 h and again at 3 h. Each NYT sentence's match at
    the wire is its best, and of equal ones the earliest: the 1 h copy, except for the changed
    sentence, where the 2 h copy's identical one wins. The 3 h copy is never the match."""
    t0 = datetime(2010, 2, 20, 15, 0, tzinfo=UTC)
    articles = story(
        basil, BECK, nyt=t0, fox=t0 + timedelta(hours=1), hpo=t0 + timedelta(hours=1, minutes=30)
    )
    nyt = next(a for a in articles if a.outlet_id == "nyt")
    edited = nyt.text.replace("Hello, my name is", "Hello, my name was", 1)
    assert edited != nyt.text

    def copy(id_: str, hours: int, text: str) -> CompareArticle:
        at = t0 + timedelta(hours=hours)
        return replace(nyt, id=id_, outlet_id="wire", text=text, published=at, first_seen=at)

    copies = [copy("late", 3, nyt.text), copy("copy", 2, nyt.text), copy("edit", 1, edited)]
    sentences = compare_cluster([*articles, *copies])["sentences"]["outlets"]
    at_wire = {
        s["text"]: next(
            (m["article"], m["kind"]) for m in s["shared_with"] if m["outlet"] == "wire"
        )
        for s in sentences["nyt"]["sentences"]
        if s["status"] == "shared"
    }
    hello = at_wire.pop(by_text(sentences["nyt"]["sentences"], "“Hello, my name is")["text"])
    assert hello == ("copy", "identical")
    assert len(at_wire) > 10
    assert set(at_wire.values()) == {("edit", "identical")}
    changed = by_text(sentences["wire"]["sentences"], "“Hello, my name was")
    assert changed["article"] == "edit"
    assert ("nyt", "near") in [(m["outlet"], m["kind"]) for m in changed["shared_with"]]


def test_a_reprint_is_copy_and_the_original_first(basil: list[dict[str, Any]]) -> None:
    """A wire-style reprint of the NYT article (new first paragraph, last one cut) two hours
    later: it is a copy of NYT, most of its own words are copied, the others' are not."""
    t0 = datetime(2010, 2, 20, 15, 0, tzinfo=UTC)
    articles = story(
        basil, BECK, nyt=t0, fox=t0 + timedelta(hours=1), hpo=t0 + timedelta(hours=1, minutes=30)
    )
    nyt = next(a for a in articles if a.outlet_id == "nyt")
    paragraphs = nyt.text.split("\n\n")
    reprint = CompareArticle(
        id="reprint",
        outlet_id="wire",
        title=nyt.title,
        text="\n\n".join(["WASHINGTON (Wire) — Beck spoke on Saturday.", *paragraphs[1:-1]]),
        published=t0 + timedelta(hours=2),
        first_seen=t0 + timedelta(hours=2),
        headline_revisions=(
            (t0 + timedelta(hours=2), "Beck speaks at CPAC"),
            (t0 + timedelta(hours=3), nyt.title),
        ),
    )
    result = compare_cluster([*articles, reprint])
    sim = result["similarity"]
    (group,) = sim["copy_groups"]
    assert set(group["articles"]) == {nyt.id, "reprint"}
    assert (group["earliest_outlet"], group["source"]) == ("nyt", "text")
    assert sim["articles"]["reprint"]["wire_share"] > 0.8
    assert sim["articles"]["reprint"]["best_match"]["outlet"] == "nyt"
    fox_id = next(a.id for a in articles if a.outlet_id == "fox")
    assert sim["articles"][fox_id]["wire_share"] < 0.05
    # the reprint lacks NYT's title line (5 words) and last paragraph (23 words) of 369
    assert sim["shared_text"]["nyt"]["wire"] == pytest.approx(1 - 28 / 369, abs=0.01)
    assert sim["shared_text"]["wire"]["nyt"] > 0.95  # all but its own 6-word first line
    first = result["timeline"]["first_reporter"]
    assert (first["outlet"], first["confidence"], first["lead_s"]) == ("nyt", "high", 3600)
    assert first["copied_by"] == ["wire"]
    assert [o["delay_s"] for o in result["timeline"]["outlets"]] == [0, 3600, 5400, 7200]
    headlines = result["headlines"]
    assert headlines["base"]["basis"] == "most_common"  # NYT's title twice (NYT and the reprint)
    revisions = headlines["outlets"]["wire"]["revisions"]
    assert [r["title"] for r in revisions] == ["Beck speaks at CPAC", nyt.title]
    assert {"op": "replace", "base": "speaks at", "text": "Wows the"} in revisions[1][
        "diff_from_previous"
    ]


def test_dedup_copy_groups_are_kept(basil: list[dict[str, Any]]) -> None:
    articles = story(basil, BECK)
    articles = [replace(a, copy_group=7) if a.outlet_id in {"fox", "hpo"} else a for a in articles]
    (group,) = compare_cluster(articles)["similarity"]["copy_groups"]
    assert (group["id"], group["source"], group["outlets"]) == ("7", "dedup", ["fox", "hpo"])


def test_timeline_day_precision_ties_and_future_dates(basil: list[dict[str, Any]]) -> None:
    articles = story(basil, BECK)  # all three dated 2010-02-20 without a time
    first = compare_cluster(articles)["timeline"]["first_reporter"]
    assert (first["precision"], first["confidence"]) == ("day", "low")
    assert sorted([first["outlet"], *first["tied_with"]]) == ["fox", "hpo", "nyt"]
    now = datetime(2026, 11, 28, tzinfo=UTC)
    future = [replace(articles[0], published=now + timedelta(days=3), first_seen=now)]
    (row,) = compare_cluster(future, now=now)["timeline"]["outlets"]
    assert (row["time_source"], row["flags"]) == ("first_seen", ["future_date"])


def test_omitted_names_and_casualty_figures(basil: list[dict[str, Any]]) -> None:
    """Orlando: all three report 50 dead; Fox and NYT add "at least 53" wounded, HuffPost
    says "scores of others injured". NYT never names the gunman (Omar Mir Seddique Mateen),
    HuffPost never mentions the White House (counted by hand)."""
    omissions = compare_cluster(story(basil, ORLANDO))["omissions"]
    assert omissions["casualty_figures"] == {
        "fox": [50.0, 53.0],
        "hpo": [50.0],
        "nyt": [50.0, 53.0],
    }
    (wounded,) = [n for n in omissions["numbers"] if n["value"] == 53.0]
    assert (wounded["kind"], wounded["absent_from"]) == ("casualty", ["hpo"])
    assert not [n for n in omissions["numbers"] if n["value"] == 50.0]  # everyone has it
    names = {n["name"]: n for n in omissions["names"]}
    assert names["Omar Mir Seddique Mateen"]["absent_from"] == ["nyt"]
    assert "Omar Mateen" in names["Omar Mir Seddique Mateen"]["variants"]
    assert names["White House"]["absent_from"] == ["hpo"]


def test_outlet_labels_and_distribution(basil: list[dict[str, Any]]) -> None:
    outlets = [
        OutletInfo("fox", "Fox News", "US", {"ownership": "private", "source": "https://x"}),
        OutletInfo(
            "nyt", "The New York Times", "US", {"ownership": "private", "state_affiliated": "no"}
        ),
    ]
    labels = compare_cluster(story(basil, BECK), outlets)["outlets"]
    assert labels["outlets"]["fox"]["labels"]["source"] == "https://x"
    assert labels["outlets"]["hpo"] == {
        "name": "hpo",
        "country": None,
        "labels": {},
        "known": False,
        "articles": 1,
    }
    assert labels["distribution"] == {
        "ownership": {
            "private": {"outlets": 2, "articles": 2},
            "unknown": {"outlets": 1, "articles": 1},
        },
        "state_affiliated": {
            "no": {"outlets": 1, "articles": 1},
            "unknown": {"outlets": 2, "articles": 2},
        },
    }
    assert labels["countries"]["US"] == {"outlets": 2, "articles": 2}


def _urdu_items() -> list[str]:
    feed = (
        require_shared_data()
        / "feeds/encodings/miniflux/internal/reader/parser/testdata/urdu_UTF8.xml"
    )
    xml = feed.read_text(encoding="utf-8")
    return [
        re.sub(r"<[^>]+>", " ", m)
        for m in re.findall(r"<description><!\[CDATA\[(.*?)\]\]>", xml, re.S)
    ]


def _german_items() -> list[str]:
    path = require_shared_data() / "feeds/encodings/rss-parser/test/output/heise.json"
    return [
        item["contentSnippet"]
        for item in json.loads(path.read_text(encoding="utf-8"))["feed"]["items"]
    ]


def test_non_english_text_is_flagged_not_fatal(basil: list[dict[str, Any]], lexicons: Any) -> None:
    articles = story(basil, BECK)
    urdu = CompareArticle(
        "ur", "bbcurdu", "BBC اردو", "\n\n".join(_urdu_items()[1:4]), first_seen=SEEN
    )
    german = CompareArticle(
        "de", "heise", "heise", "\n\n".join(_german_items()[:5]), first_seen=SEEN
    )
    empty = CompareArticle("empty", "blank", "Nothing", "", first_seen=SEEN)
    result = compare_cluster([*articles, urdu, german, empty], (), lexicons)
    json.dumps(result, allow_nan=False)
    assert result["flags"]["non_english"] == ["de", "ur"] or sorted(
        result["flags"]["non_english"]
    ) == ["de", "ur"]
    assert result["flags"]["empty_text"] == ["empty"]
    languages = {a["id"]: a["language"] for a in result["articles"]}
    assert languages["ur"] == languages["de"] == "other"
    assert {a["language"] for a in result["articles"] if a["outlet"] in {"fox", "hpo", "nyt"}} == {
        "en"
    }
    assert "non_english" in next(a for a in result["articles"] if a["id"] == "ur")["flags"]


def test_flat_rows_for_export(basil: list[dict[str, Any]], lexicons: Any) -> None:
    outlets = [OutletInfo("fox", "Fox News", "US", {"ownership": "private"})]
    result = compare_cluster(story(basil, ORLANDO), outlets, lexicons)
    outlet_rows, term_rows = comparison_rows(17, result)
    assert [r["outlet"] for r in outlet_rows] == ["fox", "hpo", "nyt"]
    assert len({tuple(r) for r in outlet_rows}) == 1  # the same columns in every row
    for row in outlet_rows + term_rows:
        assert all(v is None or isinstance(v, str | int | float | bool) for v in row.values())
        assert row["cluster_id"] == 17
    assert (
        outlet_rows[0]["label_ownership"] == "private" and outlet_rows[1]["label_ownership"] is None
    )
    assert (
        outlet_rows[0]["casualty_figures"] == "50;53" and outlet_rows[1]["casualty_figures"] == "50"
    )
    islamic = [r for r in term_rows if r["group"] == "islamic_state"]
    # "ISIS": Fox twice, HuffPost once, NYT never; "Islamic State": HuffPost and NYT once
    assert {(r["outlet"], r["term"]): r["count"] for r in islamic} == {
        ("fox", "Islamic State"): 0,
        ("fox", "ISIS"): 2,
        ("hpo", "Islamic State"): 1,
        ("hpo", "ISIS"): 1,
        ("nyt", "Islamic State"): 1,
        ("nyt", "ISIS"): 0,
    }
    distinctive = [r for r in term_rows if r["kind"] == "distinctive"]
    assert distinctive and all(isinstance(r["z"], float) and r["rank"] for r in distinctive)


MESSY = st.text(
    alphabet=st.sampled_from(
        list("ab IS Mr. U.S. 3.5 $ , ; : ! ? … \" “ ” ‘ ’ ' — \n\n 12 killed Кремль 伊朗。")
    ),
    max_size=300,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(MESSY, min_size=1, max_size=4), titles=st.lists(MESSY, min_size=4, max_size=4)
)
def test_any_text_gives_a_valid_comparison(texts: list[str], titles: list[str]) -> None:
    naive = datetime(2026, 1, 1)  # naive datetimes are taken to be UTC
    articles = [
        CompareArticle(
            str(i),
            f"o{i % 2}",
            titles[i],
            text,
            first_seen=naive,
            published=naive,
            headline_revisions=((naive, titles[i]), (SEEN, titles[(i + 1) % 4])),
        )
        for i, text in enumerate(texts)
    ]
    result = compare_cluster(articles, (), load_lexicons(REPO / "config" / "lexicons.toml"))
    json.dumps(result, allow_nan=False)
    comparison_rows("c", result)


def test_empty_cluster_and_duplicate_ids() -> None:
    empty = compare_cluster([])
    assert empty["timeline"]["first_reporter"] is None
    assert comparison_rows(1, empty) == ([], [])
    twice = [CompareArticle("a", "x", "t", "text", first_seen=SEEN)] * 2
    with pytest.raises(ValueError, match="duplicate article ids in cluster: a"):
        compare_cluster(twice)
