"""Start-up restore in batches builds the engine that article-by-article restore builds
(index segments, rows, IDF, clusters, codes, next ids), and a restored engine assigns the
next real articles as the row-by-row one and the engine that never stopped do."""

from __future__ import annotations

import dataclasses
import math
from array import array
from functools import lru_cache
from itertools import pairwise
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.corpus import read_corpus
from aggregator.dedup import clusters as clusters_module
from aggregator.dedup import restore as restore_module
from aggregator.dedup.batch import publication_order, to_doc
from aggregator.dedup.engine import DedupEngine, IdfCarry, StoredArticle
from aggregator.dedup.features import DocInput
from aggregator.dedup.lsh import BandIndex, band_keys, band_keys_many
from aggregator.dedup.model import Assignment, Placement
from aggregator.dedup.params import DedupParams
from aggregator.dedup.sigbatch import decode_many
from aggregator.dedup.signatures import ArticleSignature
from aggregator.dedup.vectors import IdfTable, add
from aggregator.errors import DedupError
from bench.dedup_data import same_day
from tests.dedup_samples import BUDGET, DAY, FINAL, QUAKE_AP, QUAKE_OWN, T0, article
from tests.support.paths import require_shared_data

PARAMS = DedupParams()
FILES = {"basil": "basil-dev.jsonl", "allsides": "allsides-groups.jsonl"}
LIMIT = 500  # articles of a set (in publication order), to keep the test fast

# -- the parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("bands", "rows"), [(32, 1), (32, 4), (4, 2)])
def test_band_keys_of_a_matrix_are_the_band_keys_of_each_row(bands: int, rows: int) -> None:
    matrix = np.random.default_rng(bands * rows).integers(0, 2**32, (50, bands * rows))
    signatures = matrix.astype(np.uint32)
    many = band_keys_many(signatures, bands, rows)
    assert many.shape == (50, bands)
    for sig, keys in zip(signatures, many, strict=True):
        assert np.array_equal(keys, band_keys(sig, bands, rows))


def index_state(index: BandIndex) -> tuple[Any, ...]:
    index.query(np.zeros(0, dtype=np.uint32))  # anything waiting joins the open rows
    segments = [(s.entries.tolist(), s.first_row, s.last_row) for s in index._segments]
    return segments, index._open, index._open_rows


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["one", "many", "query", "remove"]), st.integers(1, 11)),
        min_size=1,
        max_size=30,
    ),
    seal=st.integers(2, 6),
)
def test_insert_many_builds_the_index_that_inserts_one_by_one_build(
    steps: list[tuple[str, int]], seal: int
) -> None:
    rng = np.random.default_rng(seal)
    batched, reference = BandIndex(10_000, seal), BandIndex(10_000, seal)
    row = 0
    for kind, size in steps:
        if kind == "query":
            keys = rng.integers(0, 4, 3).astype(np.uint32)
            a, b = batched.query(keys), reference.query(keys)
            assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
            continue
        if kind == "remove":
            gone = row - size

            def share(first: int, last: int, gone: int = gone) -> float:
                return sum(r < gone for r in range(first, last + 1)) / (last - first + 1)

            def alive(rows: np.ndarray, gone: int = gone) -> np.ndarray:
                return np.asarray(rows >= gone)

            for index in (batched, reference):
                index.remove(share, alive)
            continue
        count = 1 if kind == "one" else size
        rows = np.arange(row, row + count, dtype=np.int64)
        keys = rng.integers(0, 4, (count, 3)).astype(np.uint32)  # small keys: shared buckets
        if kind == "one":
            batched.insert(row, keys[0])
        else:
            batched.insert_many(rows, keys)
        for r, k in zip(rows.tolist(), keys, strict=True):
            reference.insert(r, k)
        row += count
    assert index_state(batched) == index_state(reference)
    assert len(batched) == len(reference)


def idf_state(table: IdfTable) -> tuple[Any, ...]:
    queue = [q.tolist() for q in table._queue]
    return table.docs, table.next_step, table._counts.tobytes(), queue


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(0, 140),
    cuts=st.lists(st.integers(0, 140), max_size=6),
    batch=st.sampled_from([1, 3, 2000]),
    warm=st.sampled_from([0, 10]),
)
def test_idf_counts_many_documents_as_it_counts_each(
    count: int, cuts: list[int], batch: int, warm: int
) -> None:
    """Chunks of any size, across any number of steps, end where one by one ends: the same
    counts, the same documents waiting for the next step."""
    rng = np.random.default_rng(count)
    docs = [
        np.unique(rng.integers(0, 2**32, rng.integers(0, 60))).astype(np.uint32)
        for _ in range(count)
    ]
    # 1,024 counters (shared within a document); steps after each of the first documents,
    # then at each tenth of growth
    one, many = IdfTable(10, batch, warm_up=warm), IdfTable(10, batch, warm_up=warm)
    for terms in docs:
        one.add(terms)
    bounds = sorted({0, count, *(c for c in cuts if c <= count)})
    for a, b in pairwise(bounds):
        part = docs[a:b]
        owners = np.repeat(np.arange(len(part)), [len(d) for d in part])
        many.add_many(np.concatenate([np.zeros(0, np.uint32), *part]), owners, len(part))
    assert one.seen == many.seen == count
    assert idf_state(one) == idf_state(many)
    copy = IdfTable(10, batch, warm_up=warm)
    copy.load(one.to_bytes())
    assert idf_state(copy) == idf_state(one)


def test_the_idf_answers_from_its_last_step() -> None:
    """Steps after each of the first ``warm_up`` documents, then at each tenth of growth
    (110, 121, 133, ...), at most ``batch`` apart; between steps the answer does not move."""
    term, absent = np.asarray([7], dtype=np.uint32), np.asarray([9], dtype=np.uint32)
    for batch, expected in ((2000, [110, 121, 133, 146]), (5, [105, 110, 115, 120])):
        table = IdfTable(10, batch, warm_up=100)
        steps = []
        for n in range(1, 301):
            before = table.idf(absent)[0]
            table.add(term)
            if table.idf(absent)[0] != before:
                steps.append(n)
                assert table.docs == n
            assert table.docs <= n < table.next_step
        assert steps[:100] == list(range(1, 101))
        assert steps[100:][: len(expected)] == expected


TIMES = st.one_of(st.none(), st.just(math.nan), st.floats(T0, T0 + 30 * DAY))


@settings(max_examples=60, deadline=None)
@given(before=st.lists(TIMES, max_size=5), times=st.lists(TIMES, max_size=40))
def test_planned_ticks_are_the_ticks_one_by_one(
    before: list[float | None], times: list[float | None]
) -> None:
    planned, ticked = DedupEngine(PARAMS), DedupEngine(PARAMS)
    for e in (planned, ticked):
        for t in before:
            e._tick(t)
    returned: list[float] = []
    swept: list[int] = []

    def evict(now: float) -> list[Placement]:
        swept.append(len(returned))
        return []

    ticked.evict = evict  # type: ignore[method-assign]
    for t in times:
        returned.append(ticked._tick(t))
    raw = np.array([math.nan if t is None else t for t in times], dtype=np.float64)
    got, clocks, due = planned._plan_ticks(raw)
    assert np.array_equal(got, np.array(returned, dtype=np.float64), equal_nan=True)
    assert due.tolist() == swept
    if times:
        assert np.array_equal(clocks[-1], ticked.clock, equal_nan=True)


def sample_payloads() -> list[bytes]:
    """Real signatures (long and short bodies, languages) and hand-made ones with an odd
    number of top terms, so arrays start at every alignment."""
    e = DedupEngine(PARAMS)
    docs = [
        article("q1", QUAKE_AP, "ap", "Quake hits Chile"),
        article("f1", FINAL, "bbc", "Madrid win", language="es"),
        article("b1", BUDGET[:120], "nyt", "Budget", language="pt-BR"),
        article("n1", QUAKE_OWN, "nyt", "Chile lifts alert", language=None),
    ]
    payloads = [s for d in docs if (s := e.add(d).signature) is not None]
    base = ArticleSignature.from_bytes(payloads[0])
    for k, language in ((3, "x"), (64, "zh-hant"), (0, ""), (7, "ab")):
        odd = dataclasses.replace(
            base,
            vec_ids=np.arange(k, dtype=np.uint32) * 7919,
            vec_tf=np.linspace(1, 2, k).astype(np.float16),
            terms=np.arange(k * 3, dtype=np.uint32),
            copy=base.copy if k % 2 else np.zeros(0, dtype=np.uint32),
            language=language,
        )
        payloads.append(odd.to_bytes())
    return payloads


def test_signatures_decoded_together_are_the_ones_decoded_alone() -> None:
    payloads = sample_payloads()
    got = decode_many(payloads, PARAMS)
    assert got.count == len(payloads)
    for i, payload in enumerate(payloads):
        sig = ArticleSignature.from_bytes(payload)
        k = len(sig.vec_ids)
        assert got.languages[i] == sig.language
        assert (int(got.shingles[i]), int(got.body_key[i])) == (sig.shingles, sig.body_key)
        assert bool(got.has_copy[i]) == bool(len(sig.copy))
        if len(sig.copy):
            assert np.array_equal(got.copy[i], sig.copy)
        assert np.array_equal(got.story[i], sig.story)
        assert int(got.vec_len[i]) == k
        assert np.array_equal(got.vec_ids[i, :k], sig.vec_ids) and not got.vec_ids[i, k:].any()
        assert np.array_equal(got.vec_tf[i, :k], sig.vec_tf)
        terms = got.terms[got.term_starts[i] : got.term_starts[i + 1]]
        assert np.array_equal(terms, sig.terms)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p: p[:10], "not a newsagg signature"),
        (lambda p: p[:-1], "expected"),
        (lambda p: b"XXXX" + p[4:], "not a newsagg signature"),
        (lambda p: p[:4] + (7).to_bytes(4, "little") + p[8:], "other parameters"),
    ],
)
def test_restore_stops_at_the_first_bad_signature_as_row_by_row_does(
    spoil: Any, message: str
) -> None:
    payloads = sample_payloads()
    items = [
        StoredArticle(f"a{i}", "ap", T0 + i, p, 1 + i % 3, 1 + i) for i, p in enumerate(payloads)
    ]
    items[5] = dataclasses.replace(items[5], signature=spoil(items[5].signature))
    batched, reference = DedupEngine(PARAMS), DedupEngine(PARAMS)
    with pytest.raises(DedupError, match=message):
        batched.restore(items)
    with pytest.raises(DedupError, match=message):
        for item in items:
            reference._restore_one(item)
    assert engine_state(batched) == engine_state(reference)
    assert len(batched.placements()) == 5


# -- whole engines ------------------------------------------------------------------------


def engine_state(e: DedupEngine) -> dict[str, Any]:
    """Everything a restore puts back, as plain values."""
    chunks = {}
    for number, chunk in e.rows._chunks.items():
        columns = {name: getattr(chunk, name) for name in chunk.__slots__}
        chunks[number] = {
            name: (v.tobytes() if isinstance(v, np.ndarray) else v) for name, v in columns.items()
        }
    clusters = {
        c.id: (c.language, c.members, c.first, c.last, c.total is None, c.outlet_codes)
        for c in e.book.clusters.values()
    }
    return {
        "rows": chunks,
        "row_of": dict(e.rows.row_of.items()),
        "next_row": (e.rows.next_row, e.rows.live),
        "story_index": index_state(e.story_index),
        "copy_index": index_state(e.copy_index),
        "idf": idf_state(e.idf),
        "clusters": clusters,
        "ids": (e.book.next_id, e.next_copy_group, e.idf.seen, e._codes),
        "clock": (e.clock, e._last_sweep),
    }


@lru_cache(maxsize=4)
def real_stream(name: str, dense: bool) -> list[DocInput]:
    records, _ = read_corpus(require_shared_data() / "clustering" / FILES[name])
    if dense:
        records = same_day(records)
    docs = [to_doc(records[i], dense) for i in publication_order(records, dense)]
    return docs[:LIMIT]


def decision(a: Assignment) -> tuple[Any, ...]:
    events = tuple((e.kind, e.article_ids, e.from_cluster, e.to_cluster) for e in a.events)
    return (a.outcome, a.story_cluster, a.copy_group, a.why.rule, a.why.cluster, events)


def test_a_sum_made_from_the_row_store_is_the_sum_of_the_row_vectors_to_the_bit() -> None:
    e = DedupEngine(PARAMS)
    for doc in real_stream("allsides", dense=True):
        e.add(doc)
    rows = np.array(sorted(e.rows.row_of.values()))
    picks = [rows[:0], rows[:2], rows[5:8], rows[3:51], rows[::7], rows[-300:], rows]
    for pick in picks:
        members = array("q", pick.tolist())
        got = e.book._sum(members)
        want = add([e.book.vector(r) for r in members])
        assert np.array_equal(got.ids, want.ids)
        assert got.weights.tobytes() == want.weights.tobytes()


@pytest.mark.parametrize("name", ["basil", "allsides"])
def test_a_cap_on_the_cluster_sums_held_changes_no_decision(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sums freed past the cap are summed afresh when read again, to the same bits: the
    same decisions and explanations as an engine that keeps every sum of the IDF step."""
    docs = real_stream(name, dense=True)
    free = DedupEngine(PARAMS)
    expected = [free.add(d) for d in docs]
    monkeypatch.setattr(clusters_module, "SUMS_KEPT", 3)
    capped = DedupEngine(PARAMS)
    most = 0
    for doc, want in zip(docs, expected, strict=True):
        got = capped.add(doc)
        assert decision(got) == decision(want), doc.id
        assert got.why == want.why and got.near_miss == want.near_miss, doc.id
        held = sum(c.total is not None for c in capped.book.clusters.values())
        most = max(most, held)
    assert most <= 3
    assert sum(len(c.members) > 1 for c in capped.book.clusters.values()) > 3  # evictions


@pytest.mark.parametrize(
    ("name", "dense"), [("basil", True), ("basil", False), ("allsides", True), ("allsides", False)]
)
def test_batch_restore_continues_like_row_by_row_restore_and_the_running_engine(
    name: str, dense: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = real_stream(name, dense)
    cut = len(docs) * 7 // 10
    running = DedupEngine(PARAMS)
    signatures = {d.id: s for d in docs[:cut] if (s := running.add(d).signature) is not None}
    stored = []
    for d in docs[:cut]:
        place = running.placement(d.id)
        if place is not None and d.id in signatures:
            stored.append(
                StoredArticle(
                    d.id, d.outlet, d.time, signatures[d.id], place.story_cluster, place.copy_group
                )
            )
    floors = {"next_cluster": running.book.next_id, "next_copy_group": running.next_copy_group}
    monkeypatch.setattr(restore_module, "RESTORE_BATCH", 37)  # chunks end anywhere
    batched, reference = DedupEngine(PARAMS), DedupEngine(PARAMS)
    for e in (batched, reference):  # seal (and merge) index segments inside the chunks
        e.story_index.seal_rows = e.copy_index.seal_rows = 16
    assert batched.restore(stored, **floors) == len(stored)
    reference.restore([], **floors)
    for item in stored:
        reference._restore_one(item)
    assert engine_state(batched) == engine_state(reference)
    assert len(stored) > (100 if dense else 1)
    # A restart does not keep the IDF of articles that left the window (a service may keep
    # it: ``idf.to_bytes``); carried over here, so that the restore alone is compared.
    idf = running.idf.to_bytes()
    for e in (batched, reference):
        e.idf.load(idf)
    for doc in docs[cut:]:
        a, b, c = batched.add(doc), reference.add(doc), running.add(doc)
        assert decision(a) == decision(b) == decision(c), doc.id
        assert a.why == b.why == c.why and a.near_miss == b.near_miss == c.near_miss
    assert engine_state(batched) == engine_state(reference)


def stored_now(engine: DedupEngine, docs: list[DocInput], sigs: dict[str, bytes]) -> list[Any]:
    """What storage holds of ``docs`` after ``engine`` assigned them: signature and place."""
    found = []
    for d in docs:
        place = engine.placement(d.id)
        if place is not None and d.id in sigs:
            found.append(
                StoredArticle(
                    d.id, d.outlet, d.time, sigs[d.id], place.story_cluster, place.copy_group
                )
            )
    return found


@pytest.mark.parametrize("name", ["basil", "allsides"])
def test_a_restart_anywhere_inside_the_window_changes_no_score(name: str) -> None:
    """Every article inside the window (one day): an engine restarted from storage, with
    nothing carried over, scores and decides every later article as the running engine,
    to the bit, wherever the restart falls (on and between IDF steps)."""
    params = dataclasses.replace(PARAMS, idf_warm_up=20)  # steps at 22, 24, ..., 33, 36, ...
    docs = real_stream(name, True)[:240]
    running = DedupEngine(params)
    sigs: dict[str, bytes] = {}
    restarts: list[tuple[DedupEngine, int]] = []
    for n, doc in enumerate(docs):
        if n % 16 == 5:  # restarts inside the warm-up and on and off the later steps
            restarted = DedupEngine(params)
            restarted.restore(
                stored_now(running, docs[:n], sigs),
                next_cluster=running.book.next_id,
                next_copy_group=running.next_copy_group,
            )
            restarts.append((restarted, n))
        made = running.add(doc)
        if made.signature is not None:
            sigs[doc.id] = made.signature
        for restarted, at in restarts:
            again = restarted.add(doc)
            assert decision(again) == decision(made), (at, doc.id)
            assert again.why == made.why and again.near_miss == made.near_miss, (at, doc.id)
    assert len(restarts) >= 10


@pytest.mark.parametrize("name", ["basil", "allsides"])
def test_a_restart_with_the_idf_carried_changes_no_score_after_evictions(name: str) -> None:
    """A 90-day window over years of dated articles, so most counted articles have left
    it: an engine restarted from the window's rows, a stored IDF table and the signatures
    counted after the table was written, scores every later article as the running engine
    to the bit. Restored from the window's counts alone, it does not (the control)."""
    params = dataclasses.replace(PARAMS, idf_warm_up=20, window_hours=24 * 90)
    docs = real_stream(name, False)[:320]
    running = DedupEngine(params)
    sigs: dict[str, bytes] = {}
    counted: list[str] = []  # ids in the order the IDF counted them
    table, table_at = running.idf.to_bytes(), 0
    carried: list[tuple[DedupEngine, int]] = []
    alone: list[DedupEngine] = []
    differs = 0
    for n, doc in enumerate(docs):
        if n % 24 == 3:
            table, table_at = running.idf.to_bytes(), len(counted)
        if n % 24 == 17:
            floors = {
                "next_cluster": running.book.next_id,
                "next_copy_group": running.next_copy_group,
            }
            stored = stored_now(running, docs[:n], sigs)
            after = [sigs[i] for i in counted[table_at:]]
            restarted, control = DedupEngine(params), DedupEngine(params)
            restarted.restore(stored, **floors, idf=IdfCarry(table, iter(after)))
            control.restore(stored, **floors)
            assert restarted.idf.seen == running.idf.seen >= control.idf.seen
            carried.append((restarted, n))
            alone.append(control)
        made = running.add(doc)
        if made.signature is not None:
            sigs[doc.id] = made.signature
            counted.append(doc.id)
        for restarted, at in carried:
            again = restarted.add(doc)
            assert decision(again) == decision(made), (at, doc.id)
            assert again.why == made.why and again.near_miss == made.near_miss, (at, doc.id)
        differs += sum(control.add(doc).why != made.why for control in alone)
    assert len(carried) >= 7
    assert len(running.placements()) < len(sigs) // 3  # most have left the window
    assert differs > 0


@lru_cache(maxsize=1)
def counted_run() -> tuple[DedupParams, list[bytes], list[bytes]]:
    """BASIL dated through an engine with a small IDF (steps every few articles): the IDF
    table after each counted article (``tables[k]``: after ``k``) and their signatures."""
    params = dataclasses.replace(PARAMS, idf_buckets_log2=12, idf_warm_up=5, idf_step_max=7)
    running = DedupEngine(params)
    tables, sigs = [running.idf.to_bytes()], []
    for doc in real_stream("basil", False):
        made = running.add(doc)
        if made.signature is not None:
            sigs.append(made.signature)
            tables.append(running.idf.to_bytes())
    return params, tables, sigs


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_table_and_the_signatures_after_it_make_the_idf_of_any_later_moment(
    data: st.DataObject,
) -> None:
    """Whatever moment the table was written at and however many articles came after it
    (across IDF steps, the queue and restore chunks), the carried IDF is the running one's."""
    params, tables, sigs = counted_run()
    written = data.draw(st.integers(0, len(sigs)), label="written")
    now = data.draw(st.integers(written, len(sigs)), label="now")
    engine = DedupEngine(params)
    with patch.object(restore_module, "RESTORE_BATCH", 7):
        engine.restore([], idf=IdfCarry(tables[written], iter(sigs[written:now])))
    assert engine.idf.to_bytes() == tables[now]


def test_a_refused_idf_table_changes_nothing() -> None:
    engine = DedupEngine(PARAMS)
    good = engine.idf.to_bytes()
    small = IdfTable(PARAMS.idf_buckets_log2 - 1).to_bytes()
    for bad in (b"", b"not zlib", good[:-3], small):
        with pytest.raises(DedupError) as refused:
            engine.restore([], idf=IdfCarry(bad, []))
        assert refused.value.code == "bad_idf"
        assert idf_state(engine.idf) == idf_state(DedupEngine(PARAMS).idf)


def test_restore_over_many_chunks_matches_row_by_row_with_evictions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hand-made articles over three weeks: sweeps fall due inside chunks and evict rows
    that the same chunk restored."""
    texts = [(QUAKE_AP, "Quake"), (FINAL, "Final"), (BUDGET, "Budget"), (QUAKE_OWN, "Alert")]
    e = DedupEngine(PARAMS)
    stored = []
    for i in range(120):
        text, title = texts[i % 4]
        doc = article(f"d{i}", f"{text} Update {i}.", f"o{i % 5}", title, T0 + i * 4 * 3600)
        result = e.add(doc)
        if result.signature is not None:
            stored.append(
                StoredArticle(doc.id, doc.outlet, doc.time, result.signature, 1 + i % 7, 1 + i)
            )
    monkeypatch.setattr(restore_module, "RESTORE_BATCH", 25)
    batched, reference = DedupEngine(PARAMS), DedupEngine(PARAMS)
    for x in (batched, reference):
        x.story_index.seal_rows = x.copy_index.seal_rows = 8
    batched.restore(stored)
    for item in stored:
        reference._restore_one(item)
    assert engine_state(batched) == engine_state(reference)
    assert 0 < len(batched.placements()) < len(stored)  # the window evicted the oldest
