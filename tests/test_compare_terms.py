"""Lexicon loading, variant matching (the "IS" rule) and distinctive words."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.compare import CompareArticle, compare_cluster, load_lexicons, parse_lexicons
from aggregator.compare.lexmatch import Matcher
from aggregator.compare.text import tokenize
from aggregator.errors import ConfigError
from tests.support.paths import require_shared_data

REPO = Path(__file__).resolve().parents[1]
SEEN = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def lexicons() -> Any:
    return load_lexicons(REPO / "config" / "lexicons.toml")


@pytest.fixture(scope="module")
def matcher(lexicons: Any) -> Matcher:
    return Matcher(lexicons)


@pytest.fixture(scope="module")
def ground_truth() -> dict[str, str]:
    path = (
        require_shared_data() / "extraction" / "article-extraction-benchmark" / "ground-truth.json"
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    return {key[:8]: value["articleBody"] for key, value in data.items()}


@pytest.fixture(scope="module")
def basil() -> list[dict[str, Any]]:
    path = require_shared_data() / "clustering" / "basil-dev.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def variant_counts(matcher: Matcher, text: str, group: str) -> dict[str, int]:
    (g,) = [i for i, grp in enumerate(matcher.lexicons.groups) if grp.id == group]
    counts: dict[str, int] = {}
    for match in matcher.find(tuple(tokenize(text)), text):
        if match.group == g:
            name = matcher.lexicons.groups[g].variants[match.variant].name
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_shipped_lexicons_have_the_issue_groups(lexicons: Any) -> None:
    groups = {g.id: g for g in lexicons.groups}
    assert [v.name for v in groups["islamic_state"].variants] == [
        "Islamic State",
        "IS",
        "ISIS",
        "ISIL",
        "Daesh",
    ]
    for gid in ("killed_died", "regime_government", "armed_groups", "protesters", "immigrants"):
        assert gid in groups
    assert len(lexicons.digest) == 16


# Real passages (extraction benchmark ground truth); counts checked by reading the texts.
@pytest.mark.parametrize(
    ("article", "expected"),
    [
        ("076f4f33", {}),  # "there IS an oxygen bar in Delhi": the verb, set in capitals
        ("aec5deea", {}),  # "WHO IS THE FRONT-RUNNER?": a heading in capitals
        ("1ee91d1f", {"Islamic State": 4, "ISIS": 1}),  # VOA Polygraph on al-Tanf
    ],
)
def test_islamic_state_names_on_real_text(
    matcher: Matcher, ground_truth: dict[str, str], article: str, expected: dict[str, int]
) -> None:
    assert variant_counts(matcher, ground_truth[article], "islamic_state") == expected


def test_is_opening_a_question_is_not_the_group(
    matcher: Matcher, basil: list[dict[str, Any]]
) -> None:
    (row,) = [r for r in basil if r["id"].startswith("af996942")]
    assert "Is the photo of him?" in row["text"]
    assert variant_counts(matcher, row["text"], "islamic_state") == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IS militants seized the town.", {"IS": 1}),
        ("Iran Rejects US Help Against IS", {"IS": 1}),
        ("The IS group, ISIL's leader and Daesh fighters", {"IS": 1, "ISIL": 1, "Daesh": 1}),
        ("Isis, the goddess; this is it; Is it over?", {}),
        ("IS FIGHTERS ADVANCE", {}),
    ],
)
def test_capitals_rule(matcher: Matcher, text: str, expected: dict[str, int]) -> None:
    assert variant_counts(matcher, text, "islamic_state") == expected


def test_term_counts_on_a_real_article(lexicons: Any, basil: list[dict[str, Any]]) -> None:
    """Fox on birthright citizenship: "illegal immigrant(s)" 5 times, "illegal alien" once,
    and "illegal immigration" (a different word) not at all (counted by hand)."""
    (row,) = [r for r in basil if r["id"].startswith("be779b0d")]
    article = CompareArticle(row["id"], "fox", row["title"], row["text"], first_seen=SEEN)
    terms = compare_cluster([article], (), lexicons)["terms"]
    (group,) = [g for g in terms["groups"] if g["id"] == "immigrants"]
    cell = group["outlets"]["fox"]
    assert {k: v["count"] for k, v in cell["variants"].items()} == {
        "illegal immigrants": 5,
        "illegal aliens": 1,
    }
    assert cell["forms"] == {"illegal alien": 1, "illegal immigrant": 2, "illegal immigrants": 3}
    words = terms["words"]["fox"]
    assert abs(words - len(row["text"].split())) / words < 0.05
    assert cell["per_1000"] == round(6000 / words, 3)
    for snippet in cell["snippets"]:
        assert snippet["before"] + snippet["match"] + snippet["after"] in row["text"]
    assert len(cell["snippets"]) == 4  # at most 3 per variant


def test_distinctive_word_z_score_by_hand() -> None:
    """Outlet a: "alpha alpha beta", outlet b: "beta gamma". Prior from the cluster with
    alpha0 = 5 words: a_alpha = 2. For "alpha" in a:
    delta = log((2+2)/(3+5-2-2)) - log((0+2)/(2+5-0-2)) = 0 - log(0.4) = 0.916291,
    var = 1/(2+2) + 1/(0+2) = 0.75, z = 0.916291 / sqrt(0.75) = 1.058."""
    articles = [
        CompareArticle("1", "a", "t", "alpha alpha beta", first_seen=SEEN),
        CompareArticle("2", "b", "t", "beta gamma", first_seen=SEEN),
    ]
    distinctive = compare_cluster(articles)["terms"]["distinctive"]
    (alpha,) = [w for w in distinctive["outlets"]["a"] if w["word"] == "alpha"]
    assert alpha["z"] == pytest.approx(0.916291 / math.sqrt(0.75), abs=1e-3)
    assert alpha["log_odds"] == pytest.approx(0.916291, abs=1e-4)
    assert distinctive["alpha0"] == 5.0


def test_distinctive_words_of_the_beck_story(basil: list[dict[str, Any]]) -> None:
    """HuffPost quotes Beck's "big tent" riff (tent 5 times; Fox once, NYT never); Fox names
    Beck 11 times in a shorter text."""
    rows = [r for r in basil if r["story"] == "6f95dcb9-e960-45ac-8c0e-91b85724c909"]
    articles = [
        CompareArticle(r["id"], r["outlet"], r["title"], r["text"], first_seen=SEEN) for r in rows
    ]
    result = compare_cluster(articles)["terms"]["distinctive"]
    distinctive, names = result["outlets"], result["names"]
    hpo = {w["word"]: w for w in distinctive["hpo"]}
    assert hpo["tent"]["count"] == 5
    assert names["fox"][0]["word"] == "beck"  # names are listed apart from word choices
    assert "beck" not in {w["word"] for ws in distinctive.values() for w in ws}
    for words in [*distinctive.values(), *names.values()]:
        zs = [w["z"] for w in words]
        assert zs == sorted(zs, reverse=True)
        assert all(w["count"] > 0 and w["word"] not in {"the", "said", "and"} for w in words)


def test_background_prior_changes_the_prior(basil: list[dict[str, Any]]) -> None:
    rows = [r for r in basil if r["story"] == "6f95dcb9-e960-45ac-8c0e-91b85724c909"]
    articles = [
        CompareArticle(r["id"], r["outlet"], r["title"], r["text"], first_seen=SEEN) for r in rows
    ]
    background = {"beck": 1000, "the": 50000, "tent": 1}
    result = compare_cluster(articles, background=background)
    assert result["terms"]["distinctive"]["prior"] == "background"
    assert result["params"]["background_words"] == 51001


BAD_LEXICONS = [
    ({}, "groups: must be a table"),
    ({"groups": {"x": {"variants": []}}}, "groups.x.label: must be a non-empty string"),
    (
        {"groups": {"x": {"label": "X", "variants": [{"name": "a", "patterns": ["a"]}]}}},
        "groups.x.variants: must be a list of at least two variants",
    ),
    (
        {"groups": {"Bad-Id": {"label": "X"}}},
        "groups.Bad-Id: group ids are lower-case letters",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [
                        {"name": "a", "patterns": ["a,b"]},
                        {"name": "b", "patterns": ["b"]},
                    ],
                }
            }
        },
        "groups.x.variants[0].patterns[0]: 'a,b' is not a single word",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [
                        {"name": "a", "patterns": ["ab*"]},
                        {"name": "b", "patterns": ["b"]},
                    ],
                }
            }
        },
        "groups.x.variants[0].patterns[0]: 'ab*': a prefix needs at least 3 characters",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [
                        {"name": "a", "patterns": ["a"], "case_sensitive": "yes"},
                        {"name": "b", "patterns": ["b"]},
                    ],
                }
            }
        },
        "groups.x.variants[0].case_sensitive: must be true or false",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [{"name": "a", "pattern": ["a"]}, {"name": "b", "patterns": ["b"]}],
                }
            }
        },
        "groups.x.variants[0].pattern: unknown key",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [
                        {"name": "a", "patterns": ["a"]},
                        {"name": "a", "patterns": ["b"]},
                    ],
                }
            }
        },
        "groups.x.variants[1].name: duplicate variant 'a'",
    ),
    (
        {
            "groups": {
                "x": {
                    "label": "X",
                    "variants": [
                        {"name": "a", "patterns": ["Word"]},
                        {"name": "b", "patterns": ["word"]},
                    ],
                }
            }
        },
        "groups.x.variants[1].patterns: duplicate pattern 'word'",
    ),
    ({"version": 0, "groups": {}}, "version: must be a positive integer"),
]


@pytest.mark.parametrize(("data", "message"), BAD_LEXICONS)
def test_bad_lexicons_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_lexicons(data, source="lex.toml")
    assert caught.value.resource == "lex.toml"
    assert str(caught.value).startswith(f"lex.toml: {message}")


def test_unreadable_lexicon_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_lexicons(tmp_path / "none.toml")
    assert missing.value.code == "missing_file"
    broken = tmp_path / "broken.toml"
    broken.write_text("[groups.x\nlabel = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read lexicons"):
        load_lexicons(broken)
