"""Invariants over generated corpora: clusters partition the input, copy groups nest in
story clusters, the result is deterministic for an order and seed, corrections win."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.corpus import CorpusRecord
from aggregator.dedup.batch import cluster_corpus, publication_order, to_doc
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.engine import DedupEngine
from aggregator.dedup.model import Placement
from aggregator.dedup.params import DedupParams

STORIES = [
    [
        "earthquake",
        "chile",
        "valdivia",
        "tsunami",
        "magnitude",
        "coast",
        "sirens",
        "bridges",
        "highway",
        "power",
    ],
    [
        "budget",
        "council",
        "mayor",
        "teachers",
        "taxes",
        "vote",
        "spending",
        "parks",
        "district",
        "forecast",
    ],
    [
        "final",
        "madrid",
        "dortmund",
        "wembley",
        "goal",
        "carvajal",
        "trophy",
        "coach",
        "penalty",
        "stadium",
    ],
    [
        "election",
        "senate",
        "ballots",
        "turnout",
        "candidate",
        "polls",
        "recount",
        "governor",
        "campaign",
        "debate",
    ],
]
COMMON = [
    "report",
    "officials",
    "monday",
    "statement",
    "percent",
    "government",
    "country",
    "city",
    "week",
    "group",
]
BASE = datetime(2024, 3, 1, tzinfo=UTC)


@st.composite
def corpora(draw: st.DrawFn) -> list[CorpusRecord]:
    count = draw(st.integers(1, 14))
    records: list[CorpusRecord] = []
    texts: list[str] = []
    for i in range(count):
        if texts and draw(st.booleans()) and draw(st.booleans()):
            text = draw(st.sampled_from(texts))  # a copy of an earlier text
        else:
            story = STORIES[draw(st.integers(0, len(STORIES) - 1))]
            words = draw(st.lists(st.sampled_from(story + COMMON), min_size=0, max_size=60))
            text = " ".join(words)
        texts.append(text)
        hours = draw(st.integers(0, 200))
        records.append(
            CorpusRecord(
                id=f"a{i}",
                outlet=draw(st.sampled_from(["ap", "cbs", "rt", "bbc"])),
                title=" ".join(text.split()[:6]),
                text=text,
                published=BASE + timedelta(hours=hours) if draw(st.booleans()) else None,
                line=i + 1,
            )
        )
    return records


def nested(placements: list[Placement]) -> bool:
    stories: dict[int, set[int]] = defaultdict(set)
    for p in placements:
        stories[p.copy_group].add(p.story_cluster)
    return all(len(s) == 1 for s in stories.values())


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(records=corpora())
def test_clusters_partition_the_input_and_copy_groups_nest(records: list[CorpusRecord]) -> None:
    result = cluster_corpus(records, DedupParams())
    assert [p.article_id for p in result.placements] == [r.id for r in records]
    assert set(result.assignments) == {r.id for r in records}
    assert nested(result.placements)


@SETTINGS
@given(records=corpora(), seed=st.integers(0, 2**32 - 1))
def test_assignment_is_deterministic_for_an_order_and_seed(
    records: list[CorpusRecord], seed: int
) -> None:
    params = DedupParams(seed=seed)
    first = cluster_corpus(records, params)
    second = cluster_corpus(records, params)
    assert first.placements == second.placements
    assert [a.why for a in first.assignments.values()] == [
        a.why for a in second.assignments.values()
    ]


@SETTINGS
@given(records=corpora(), data=st.data())
def test_corrections_win_over_clustering(records: list[CorpusRecord], data: st.DataObject) -> None:
    ids = [r.id for r in records]
    moving = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
    away = [i for i in ids if i not in moving][:3]
    split = Correction(CorrectionKind.SPLIT, tuple(moving), away_from=tuple(away))
    result = cluster_corpus(records, DedupParams(), corrections=[split])
    stories = result.story_of()
    assert len({stories[i] for i in moving}) == 1
    assert not {stories[i] for i in moving} & {stories[i] for i in away}
    assert nested(result.placements)


@SETTINGS
@given(records=corpora(), kept=st.integers(1, 3))
def test_readings_kept_for_reprints_change_no_result(
    records: list[CorpusRecord], kept: int
) -> None:
    docs = [to_doc(records[i]) for i in publication_order(records)]
    reused = DedupEngine(DedupParams(), readings_kept=kept)
    fresh = DedupEngine(DedupParams(), readings_kept=0)
    assert [reused.add(d) for d in docs] == [fresh.add(d) for d in docs]
    assert reused.placements() == fresh.placements()
    assert fresh.readings.hits == 0 and len(reused.readings) <= kept
