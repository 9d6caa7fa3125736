"""Labelled pairs and triples from the real dev sets, with the pinned default thresholds.

Each case is decided inside its whole dev set clustered on one day (so the IDF is learned
from real news and time cannot help), as ``newsagg cluster --same-day`` would do it.
"""

from __future__ import annotations

import random
from functools import lru_cache

import pytest

from aggregator.corpus import read_corpus
from aggregator.dedup.batch import CorpusResult, cluster_corpus
from aggregator.dedup.params import DedupParams
from bench.dedup_data import msvcode_set, same_day
from bench.dedup_reprints import reprint
from tests.support.paths import require_shared_data

PINNED = {
    "story_threshold": 0.15,
    "same_outlet_penalty": 0.1,
    "short_text_factor": 1.0,
    "merge_short_text": "clusters",
    "gap_penalty_per_day": 0.02,
    "copy_jaccard": 0.4,
    "copy_containment": 0.65,
    "duplicate_jaccard": 0.95,
    "num_perm": (128, 32),
}

SAME_STORY = [
    (
        "basil",
        (
            "17a9d9cb-727d-4173-b829-ceded51002e5",
            "40b85964-da38-43b1-82e3-74327c79cb24",
            "f3d0ebba-4805-4def-b3ac-4359d5937556",
        ),
    ),
    (
        "basil",
        (
            "bf45994d-2159-4c28-9d63-ff12c5337bf5",
            "8a841e62-6284-49a9-a2ed-931b603750f1",
            "b724c385-6954-43da-a0cc-95ae8a11628d",
        ),
    ),
    (
        "basil",
        (
            "73b9c883-1fce-456d-8f13-29006e58ff13",
            "333aa94a-629a-4025-9af2-40bdc51c5bf1",
            "9fb5214f-563a-4fc5-b204-fac51cb2ca31",
        ),
    ),
    pytest.param(
        "allsides",
        ("3RyWePJKYUOp2azm", "8bj1AmnkhYKT0PDL", "xmDjaK7GrUDFvFXn"),
        # a known miss since cluster sums are exact (CHANGES.md, 2026-11-29): the third
        # article scores 0.144 against the other two's cluster; it passed only while that
        # cluster's sum was cached under an older IDF
        marks=pytest.mark.xfail(strict=True, reason="average linkage 0.144 < threshold"),
    ),
    ("allsides", ("2GxnOkdFEFBMoTC1", "Hh7mVncIjKKibJgM", "OKlQjb3KSjZcCbzn")),
]
# the closest pairs of different stories (near misses): they must stay apart
DIFFERENT_STORY = [
    ("basil", ("428ef98c-26e1-4a69-80fb-e95cd2b2b4ab", "6ce75053-9a66-4cf3-a74f-56ae99d204b8")),
    ("basil", ("8b93035f-edd3-48b7-b617-59399ccddca4", "6ce75053-9a66-4cf3-a74f-56ae99d204b8")),
    ("basil", ("6ea16a66-c839-4de9-8f05-6244498bd216", "cdaba747-9514-4a92-b1a9-262da1be54ab")),
    ("basil", ("17a9d9cb-727d-4173-b829-ceded51002e5", "bf45994d-2159-4c28-9d63-ff12c5337bf5")),
]
# a real wire reprint: the Washington Times running an Associated Press story
REPRINT = [("allsides", ("DkQ4OrtC0OITk2R2", "Hxh0WbJz33iyQVv5"))]
FILES = {"basil": "basil-dev.jsonl", "allsides": "allsides-groups.jsonl"}


@lru_cache(maxsize=2)
def clustered(name: str) -> CorpusResult:
    path = require_shared_data() / "clustering" / FILES[name]
    records, _ = read_corpus(path)
    records = same_day(records)
    if name == "basil":  # and a seeded reprint of every tenth article, by another outlet
        rng = random.Random(7)
        records += [reprint(r, rng, "wire", "r") for r in records[::10]]
    return cluster_corpus(records, DedupParams())


def test_thresholds_are_pinned() -> None:
    p = DedupParams()
    values = {k: getattr(p, k) for k in PINNED if k != "num_perm"}
    assert values == {k: v for k, v in PINNED.items() if k != "num_perm"}
    assert (p.copy_num_perm, p.story_num_perm) == PINNED["num_perm"]


@pytest.mark.parametrize(("name", "ids"), SAME_STORY)
def test_same_story_shares_a_cluster(name: str, ids: tuple[str, ...]) -> None:
    stories = clustered(name).story_of()
    assert len({stories[i] for i in ids}) == 1
    copies = clustered(name).copy_of()
    assert len({copies[i] for i in ids}) == len(ids)  # own words: no copy group


@pytest.mark.parametrize(("name", "ids"), DIFFERENT_STORY)
def test_different_stories_stay_apart(name: str, ids: tuple[str, ...]) -> None:
    stories = clustered(name).story_of()
    assert len({stories[i] for i in ids}) == len(ids)


@pytest.mark.parametrize(("name", "ids"), REPRINT)
def test_wire_reprint_shares_a_copy_group(name: str, ids: tuple[str, ...]) -> None:
    result = clustered(name)
    assert len({result.copy_of()[i] for i in ids}) == 1
    assert len({result.story_of()[i] for i in ids}) == 1


def test_generated_reprints_join_their_originals() -> None:
    result = clustered("basil")
    copies = result.copy_of()
    reprints = [i for i in copies if i.endswith("~r")]
    assert len(reprints) == 18
    joined = [i for i in reprints if copies[i] == copies[i.removesuffix("~r")]]
    assert len(joined) >= 17
    for article in joined:
        why = result.assignments[article].why
        if why.partner == article.removesuffix("~r"):
            assert why.rule == "copy"


def test_a_headline_without_a_snippet_joins_the_story_of_its_twin() -> None:
    """MSVCode as given (dated): two search results carry the same headline but for one
    word, one with its snippet and one with none. The bare headline has hardly a function
    word; it must still be read as English and clustered with its twin, not set apart."""
    records = msvcode_set(require_shared_data() / "clustering" / "msvcode-search-results").records
    result = cluster_corpus(records, DedupParams())
    bare, full = result.assignments["m1-typhoon#38"], result.assignments["m1-typhoon#13"]
    assert (bare.language, full.language) == ("en", "en")
    assert result.story_of()["m1-typhoon#38"] == result.story_of()["m1-typhoon#13"]


def test_reports_of_one_leak_become_one_story_when_the_bridge_is_a_snippet() -> None:
    """MSVCode on one day: reports of an HBO episode leak that all three annotators put in
    one story. They formed three clusters whose average linkage (0.31-0.35) was well above the
    threshold, but each bridging arrival was a snippet, and a merge used to need that
    snippet's short-text bar. The bar now follows the clusters' own size and length."""
    path = require_shared_data() / "clustering" / "msvcode-search-results"
    records = same_day(msvcode_set(path).records)
    leak = [f"m1-game of throne#{n}" for n in (1, 5, 8, 24, 28, 31, 40, 44, 45)]
    stories = cluster_corpus(records, DedupParams()).story_of()
    assert len({stories[i] for i in leak}) == 1
    before = cluster_corpus(records, DedupParams(merge_short_text="arrival")).story_of()
    assert len({before[i] for i in leak}) > 1  # the knob is what joins them
