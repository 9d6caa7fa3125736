"""The incremental engine on hand-written articles: rules, explanations, bad input,
eviction, restore and editor corrections."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aggregator.dedup.clusters import Cluster
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.engine import DedupEngine, StoredArticle
from aggregator.dedup.features import DocInput, analyse, term_id
from aggregator.dedup.model import Assignment, Outcome, Rule
from aggregator.dedup.params import DedupParams
from aggregator.dedup.reading import Reading, RecentReadings, text_digest
from aggregator.dedup.vectors import SparseVec, add
from aggregator.types import Flag
from tests.dedup_samples import BUDGET, DAY, FINAL, QUAKE_AP, QUAKE_OWN, T0, article

PARAMS = DedupParams()


def engine(**overrides: object) -> DedupEngine:
    return DedupEngine(DedupParams.from_mapping(overrides), keep_evicted=True)


def test_same_text_from_the_same_outlet_is_one_article() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Quake hits Chile"))
    again = e.add(article("a2", QUAKE_AP, "ap", "Quake hits Chile (updated)"))
    assert again.outcome is Outcome.DUPLICATE and again.duplicate_of == "a1"
    assert again.why.rule is Rule.DUPLICATE
    assert (again.story_cluster, again.copy_group) == (first.story_cluster, first.copy_group)
    assert e.placement("a2") is None  # not indexed twice


def test_reprint_by_another_outlet_joins_the_copy_group() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Quake hits Chile"))
    copy = e.add(article("c1", "Advertisement\n" + QUAKE_AP[:400], "cbs", "CHILE QUAKE"))
    assert copy.outcome is Outcome.ADDED and copy.why.rule is Rule.COPY
    assert copy.copy_group == first.copy_group and copy.story_cluster == first.story_cluster
    assert copy.why.partner == "a1" and copy.why.score >= PARAMS.copy_jaccard - 0.2


def test_own_words_of_the_same_story_join_by_centroid_with_an_explanation() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Strong earthquake hits southern Chile"))
    e.add(article("f1", FINAL, "ap", "Real Madrid win Champions League"))
    own = e.add(
        article("n1", QUAKE_OWN, "nyt", "Chile lifts tsunami alert after 7.1 earthquake", T0 + 3600)
    )
    assert own.why.rule is Rule.CENTROID and own.story_cluster == first.story_cluster
    assert own.copy_group != first.copy_group
    assert own.why.score >= own.why.threshold
    assert {"chile", "7.1", "tsunami"} & set(own.why.shared_terms)
    assert own.why.time_gap_hours == pytest.approx(1.0)
    assert own.why.partner == "a1"
    assert own.why_dict()["rule"] == "centroid"


def test_another_story_starts_a_cluster_and_keeps_the_near_miss() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Strong earthquake hits southern Chile"))
    other = e.add(article("b1", BUDGET, "nyt", "Council passes budget"))
    assert other.why.rule is Rule.NEW_STORY and other.story_cluster != first.story_cluster
    if other.near_miss is not None:
        assert other.near_miss.cluster == first.story_cluster
        assert other.near_miss.score < other.near_miss.threshold


def test_languages_are_clustered_apart() -> None:
    e = engine()
    en = e.add(article("a1", QUAKE_AP, "ap", "Quake hits Chile"))
    es = e.add(article("a2", QUAKE_AP, "efe", "Quake hits Chile", language="es"))
    assert en.story_cluster != es.story_cluster and es.language == "es"


def test_time_gap_beyond_the_link_gap_keeps_stories_apart() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Quake"))
    later = e.add(article("a2", QUAKE_AP, "cbs", "Quake", T0 + 10 * DAY))
    assert later.story_cluster != first.story_cluster


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("", Flag.EMPTY_TEXT),
        ("Short.", Flag.TOO_SHORT),
        ("Subscribe to our newsletter.\nAccept cookies.\nAll rights reserved.", Flag.BOILERPLATE),
    ],
)
def test_flagged_input_stays_alone_and_never_forms_a_giant_cluster(text: str, flag: Flag) -> None:
    e = engine()
    results = [e.add(article(f"x{i}", text, f"outlet{i}")) for i in range(30)]
    assert all(r.outcome is Outcome.UNCLUSTERED and flag in r.flags for r in results)
    assert len({r.story_cluster for r in results}) == 30
    assert len({r.copy_group for r in results}) == 30


def test_non_latin_text_is_flagged_and_still_clustered() -> None:
    text = "Сильное землетрясение магнитудой 7,1 произошло у побережья Чили в понедельник вечером"
    e = engine()
    first = e.add(article("r1", text, "tass", "Землетрясение в Чили", language=None))
    second = e.add(
        article("r2", text + " Жертв нет.", "ria", "Землетрясение в Чили", language=None)
    )
    assert Flag.NON_LATIN in first.flags and first.language == "cyrillic"
    assert second.story_cluster == first.story_cluster


def test_old_articles_are_evicted_from_the_window() -> None:
    e = engine(window_hours=96.0)
    e.add(article("a1", QUAKE_AP, "ap", "Quake"))
    e.add(article("b1", BUDGET, "ap", "Budget", T0 + 5 * DAY))
    assert e.placement("a1") is None and e.placement("b1") is not None
    assert [p.article_id for p in e.evicted] == ["a1"]


def stored(
    e: DedupEngine, results: list[Assignment], outlets: dict[str, str]
) -> list[StoredArticle]:
    out = []
    for r in results:
        place = e.placement(r.article_id)
        if place is None or r.signature is None:
            continue
        time = T0 + int(r.article_id[-1]) * 60
        out.append(
            StoredArticle(
                r.article_id,
                outlets[r.article_id],
                time,
                r.signature,
                place.story_cluster,
                place.copy_group,
            )
        )
    return out


def test_restore_from_stored_signatures_continues_like_the_original() -> None:
    docs = [
        article("q1", QUAKE_AP, "ap", "Quake hits Chile", T0 + 60),
        article("f2", FINAL, "ap", "Madrid win final", T0 + 120),
        article("b3", BUDGET, "nyt", "Council budget", T0 + 180),
    ]
    original = engine()
    results = [original.add(d) for d in docs]
    rebuilt = engine()
    assert rebuilt.restore(stored(original, results, {d.id: d.outlet for d in docs})) == 3
    assert sorted(rebuilt.placements(), key=str) == sorted(original.placements(), key=str)
    probe = article("n9", QUAKE_OWN, "nyt", "Chile lifts tsunami alert", T0 + 600)
    a, b = original.add(probe), rebuilt.add(probe)
    assert (a.story_cluster, a.why.rule) == (b.story_cluster, b.why.rule)
    assert a.why.score == pytest.approx(b.why.score, abs=1e-3)
    assert (
        rebuilt.add(article("q9", QUAKE_AP, "ap", "again", T0 + 700)).outcome is Outcome.DUPLICATE
    )


def test_restore_refuses_signatures_of_other_parameters() -> None:
    e = engine()
    r = e.add(article("q1", QUAKE_AP, "ap", "Quake"))
    assert r.signature is not None
    other = engine(seed=7)
    with pytest.raises(Exception, match="other parameters"):
        other.restore([StoredArticle("q1", "ap", T0, r.signature, 1, 1)])


def three_stories() -> tuple[DedupEngine, dict[str, Assignment]]:
    e = engine()
    docs = [
        article("q1", QUAKE_AP, "ap", "Strong earthquake hits southern Chile"),
        article("q2", QUAKE_OWN, "nyt", "Chile lifts tsunami alert after 7.1 earthquake"),
        article("f1", FINAL, "ap", "Real Madrid win Champions League"),
        article("b1", BUDGET, "ap", "Council passes budget"),
    ]
    return e, {d.id: e.add(d) for d in docs}


def test_editor_merge_split_and_move() -> None:
    e, got = three_stories()
    assert got["q1"].story_cluster == got["q2"].story_cluster
    done, events = e.correct(Correction(CorrectionKind.MERGE, ("f1", "b1")))
    assert events and events[0].kind is Rule.EDITOR
    assert e.placement("f1").story_cluster == e.placement("b1").story_cluster  # type: ignore[union-attr]
    done, _ = e.correct(Correction(CorrectionKind.SPLIT, ("q2",)))
    assert done.away_from == ("q1",)
    assert e.placement("q2").story_cluster != e.placement("q1").story_cluster  # type: ignore[union-attr]
    done, _ = e.correct(Correction(CorrectionKind.MOVE, ("b1",), target="q1"))
    assert e.placement("b1").story_cluster == e.placement("q1").story_cluster  # type: ignore[union-attr]
    assert set(done.away_from) == {"f1"}
    assert Correction.from_dict(done.to_dict()) == done


def test_split_articles_are_not_rejoined_automatically() -> None:
    e, _ = three_stories()
    e.correct(Correction(CorrectionKind.SPLIT, ("q2",)))
    q1 = e.placement("q1").story_cluster  # type: ignore[union-attr]
    q2 = e.placement("q2").story_cluster  # type: ignore[union-attr]
    bridge = e.add(article("q3", QUAKE_AP + " " + QUAKE_OWN, "bbc", "Chile earthquake", T0 + 60))
    assert bridge.story_cluster in (q1, q2)
    assert e.placement("q1").story_cluster != e.placement("q2").story_cluster  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "merge", "article_ids": ["only-one"]},
        {"kind": "move", "article_ids": ["a"]},
        {"kind": "zap", "article_ids": ["a", "b"]},
        {"article_ids": ["a"]},
    ],
)
def test_bad_corrections_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(Exception, match="correction"):
        Correction.from_dict(bad)


def test_assignment_is_frozen() -> None:
    _, got = three_stories()
    with pytest.raises(dataclasses.FrozenInstanceError):
        got["q1"].story_cluster = 5  # type: ignore[misc]


def test_stored_article_becomes_engine_input() -> None:
    from datetime import UTC, datetime

    from aggregator.dedup import doc_from_article
    from aggregator.types import Article, DateSource

    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    stored = Article(
        id=42,
        outlet_id="cbs",
        canonical_url="https://cbs.example/a",
        url="https://cbs.example/a",
        title="Quake",
        text=QUAKE_AP,
        published=None,
        published_source=DateSource.FIRST_SEEN,
        first_seen=when,
        content_hash="h",
        revision=1,
        flags=frozenset(),
        language="en",
    )
    doc = doc_from_article(stored)
    assert (doc.id, doc.outlet, doc.time, doc.language) == ("42", "cbs", when.timestamp(), "en")


def test_the_index_follows_the_window_over_a_long_run() -> None:
    e = engine(window_hours=96.0, link_gap_hours=24.0)
    texts = [QUAKE_AP, QUAKE_OWN, FINAL, BUDGET]
    for i in range(400):  # one article an hour for 400 hours
        e.add(
            article(
                f"a{i}", f"{texts[i % 4]} Update {i}.", f"o{i}", f"Story {i % 4}", T0 + 3600 * i
            )
        )
    held = 96 + 96 // 24 + 1  # the window, plus the sweep interval (a 24th of the window)
    assert e.rows.live <= held
    assert len(e.evicted) >= 400 - held
    assert all(len(c.members) <= held for c in e.book.clusters.values())
    assert e.copy_index.nbytes < held * 32 * 8 * 4  # dead segments are dropped or compacted


def test_a_revision_replaces_the_earlier_version() -> None:
    e = engine()
    e.add(article("a1", QUAKE_AP, "ap", "Quake hits Chile"))
    e.add(article("b1", BUDGET, "ap", "Council budget"))
    revised = e.add(article("a1", FINAL, "ap", "Madrid win the final"))
    assert revised.outcome is Outcome.ADDED  # not a duplicate of itself
    assert e.rows.live == 2
    assert [p.article_id for p in e.placements()].count("a1") == 1


def test_restore_keeps_new_ids_above_the_given_floors() -> None:
    e = engine()
    e.restore([], next_cluster=500, next_copy_group=900)
    fresh = e.add(article("z1", BUDGET, "ap", "Council budget"))
    assert fresh.story_cluster >= 500 and fresh.copy_group >= 900


def test_a_row_vector_follows_the_idf_it_is_read_under() -> None:
    """Row vectors are kept between reads (``ClusterBook.vector``); once the IDF takes a
    step, a read must give the vector under the new IDF, not the kept one."""
    e = engine()
    e.add(article("a", QUAKE_AP))
    e.add(article("b", FINAL, "reuters"))
    row = e.rows.row_of["a"]
    before = e.book.vector(row)
    assert np.array_equal(e.book.vector(row).weights, before.weights)
    step = e.idf.generation
    e.add(article("c", QUAKE_OWN, "bbc"))  # still warming up: every article is a step
    assert e.idf.generation > step
    ids, tf = e.rows.vector(row)
    fresh = SparseVec(ids, tf * e.idf.idf(ids)).normalized()
    after = e.book.vector(row)
    assert np.array_equal(after.ids, fresh.ids)
    assert np.array_equal(after.weights, fresh.weights)
    assert not np.array_equal(after.weights, before.weights)


SNIPPETS = [  # eight terms each, no two alike
    "Storm floods harbour district overnight, stranding ferries, fishermen",
    "Council approves budget funding bridge, tunnel, tramline, cycleways",
    "Striker signs three year contract, rivals celebrate, fans protest",
    "Museum reopens gallery after restoration, frescoes, tapestries, sculptures shine",
    "Chipmaker posts record quarterly profit, margins widen, shares",
    "Volcano ash grounds flights across region, airlines cancel departures",
]


def test_a_merge_needs_less_of_the_short_text_bar_as_the_clusters_grow() -> None:
    e = engine()
    rows = [
        e.rows.row_of[e.add(article(f"s{i}", t, f"o{i}")).article_id]
        for i, t in enumerate(SNIPPETS)
    ]
    terms = {e.rows.terms(r) for r in rows}
    assert len(terms) == 1 and 0 < terms.pop() < PARAMS.vector_terms  # short, equally long
    n = e.rows.terms(rows[0])
    limit = e.linker.regroup._merge_limit
    one, two, other = Cluster(1, 0, [rows[0]]), Cluster(2, 0, [rows[1]]), Cluster(3, 0, rows[2:])
    pair = Cluster(4, 0, rows[:2])
    join = e.linker.threshold(0.0, False, n)
    floor = e.linker.threshold(0.0, False)
    assert limit(one, two, 0.0, False, n) == pytest.approx(join)  # two articles: as a join
    bars = [
        limit(one, two, 0.0, False, n),
        limit(one, other, 0.0, False, n),
        limit(pair, other, 0.0, False, n),
    ]
    assert bars == sorted(bars, reverse=True) and len(set(bars)) == 3
    assert all(floor < bar for bar in bars)  # less of the short-text term, never none
    old = engine(merge_short_text="arrival").linker.regroup._merge_limit
    assert old(pair, other, 0.0, False, n) == pytest.approx(join)  # the bridge's bar, any size


def test_a_clusters_term_count_is_read_alike_row_by_row_and_by_column() -> None:
    e = engine()
    for i in range(130):
        words = " ".join(SNIPPETS[j % len(SNIPPETS)] for j in range(1 + i % 4))
        e.add(article(f"t{i}", f"{words} item{i}", f"o{i}"))
    rows = sorted(e.rows.row_of.values())
    assert len(rows) > 100 and len({e.rows.terms(r) for r in rows}) > 1
    for members in (rows[:5], rows[:48], rows[:49], rows, rows[::-3]):
        assert e.rows.terms_total(members) == sum(e.rows.terms(r) for r in members)


def test_cluster_sums_of_an_earlier_idf_step_are_freed_and_read_again_alike() -> None:
    """A cached cluster sum is stale once the IDF steps; it is freed at the first read after
    the step (not kept for every cluster ever read), and a new read gives the same sum a
    fresh addition of the members' vectors gives."""
    e = engine(idf_warm_up=0, idf_step_max=4)  # a step every few articles
    for i, text in enumerate(SNIPPETS * 3):
        e.add(article(f"f{i}", f"{text} {i}", f"o{i % 5}"))
    clusters = list(e.book.clusters.values())
    for cluster in clusters:
        e.book.total(cluster)
    assert all(c.total is not None for c in clusters)
    step = e.idf.generation
    for i, text in enumerate(SNIPPETS):
        e.add(article(f"g{i}", text, f"p{i}"))
    assert e.idf.generation > step
    first = clusters[0]
    got = e.book.total(first)
    stale = [c for c in clusters if c.total is not None and c.total_stamp != e.idf.generation]
    assert stale == []
    fresh = add([e.book.vector(r) for r in first.members])
    assert np.array_equal(got.ids, fresh.ids) and np.array_equal(got.weights, fresh.weights)


def test_a_reprint_of_a_text_read_lately_is_not_read_again() -> None:
    e = engine()
    first = e.add(article("a1", QUAKE_AP, "ap", "Quake hits Chile"))
    copy = e.add(article("c1", QUAKE_AP, "cbs", "Quake hits Chile"))
    other_title = e.add(article("r1", QUAKE_AP, "rt", "Chile quake"))
    assert e.readings.hits == 1  # the same title and text; another title is read afresh
    assert copy.why.rule is Rule.COPY and copy.why.score == 1.0
    assert copy.copy_group == first.copy_group == other_title.copy_group
    assert copy.signature is not None and first.signature is not None
    assert copy.signature[:64] == first.signature[:64]  # one reading, stored twice


def reading_of(doc: DocInput) -> Reading:
    return DedupEngine(PARAMS, readings_kept=0)._reading(analyse(doc, PARAMS))


def test_readings_are_kept_for_the_last_few_texts_only() -> None:
    readings = RecentReadings(kept=2)
    docs = [article(f"a{n}", text, "ap", "") for n, text in enumerate((QUAKE_AP, FINAL, BUDGET))]
    fresh = DedupEngine(PARAMS, readings_kept=0)
    for doc in docs:
        readings.put(text_digest(doc), fresh._reading(analyse(doc, PARAMS)))
    assert len(readings) == 2
    assert readings.get(text_digest(docs[0])) is None  # read longest ago: gone
    assert readings.get(text_digest(docs[2])) is not None and readings.hits == 1
    assert len(fresh.readings) == 0  # kept=0 keeps none
    few_terms = RecentReadings(kept=10, terms_kept=len(reading_of(docs[0]).term_ids) + 1)
    for doc in docs:
        few_terms.put(text_digest(doc), reading_of(doc))
    assert len(few_terms) == 1  # the terms they hold, all told, are bounded too


def test_a_reading_is_keyed_by_title_text_and_language_and_shared_read_only() -> None:
    doc = article("a1", QUAKE_AP, "ap", "Quake hits Chile")
    same = dataclasses.replace(doc, id="b9", outlet="cbs", time=T0 + DAY)
    assert text_digest(doc) == text_digest(same)  # neither the id, the outlet nor the time
    changed = [
        dataclasses.replace(doc, title="Quake hits Peru"),
        dataclasses.replace(doc, text=QUAKE_AP + " More."),
        dataclasses.replace(doc, language="es"),
        dataclasses.replace(doc, title="Quake hits Chile" + QUAKE_AP[:5], text=QUAKE_AP[5:]),
    ]
    assert len({text_digest(d) for d in [doc, *changed]}) == 5
    reading = reading_of(doc)
    assert reading.signature is not None
    words = list(analyse(doc, PARAMS).term_tf)
    asked = [term_id(words[2]), term_id("unseenword"), term_id(words[0])]
    assert reading.words_of(asked) == (words[2], words[0])  # in the order asked, unknown skipped
    for shared in (reading.signature.copy, reading.signature.story, reading.term_ids):
        with pytest.raises(ValueError, match="read-only"):
            shared[0] = 0
