"""The incremental dedup engine: ``add(doc) -> Assignment`` against a time-bounded index.

One article at a time, in time order:

1. features (flags, language, shingles, salient terms); flagged input stays alone;
2. MinHash signatures: word shingles (copy) and salient terms (story); band keys;
3. candidates from both LSH indexes, within the language and the time gap;
4. a verified copy of the same outlet is a duplicate: folded into the earlier article;
   a verified copy of another outlet joins that article's copy group and story cluster;
5. otherwise the best candidate cluster by average-linkage TF-IDF cosine, if it clears the
   threshold, else a new cluster (the best rejected one is kept as the near miss);
6. then the arrival may pull better-fitting members of nearby clusters over (moves) and may
   prove that two clusters are one story (merges); both are returned as events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aggregator.dedup.arrays import distinct
from aggregator.dedup.clusters import ClusterBook
from aggregator.dedup.corrections import Constraints, Correction
from aggregator.dedup.features import DocInput, Features, analyse, story_term_hashes
from aggregator.dedup.linking import CopyMatch, Linker, Probe
from aggregator.dedup.lsh import BandIndex, band_keys
from aggregator.dedup.model import Assignment, ClusterEvent, Outcome, Placement, Rule, Why
from aggregator.dedup.params import DedupParams
from aggregator.dedup.reading import READINGS_KEPT, Reading, RecentReadings, term_table, text_digest
from aggregator.dedup.restore import count_terms, restore_all
from aggregator.dedup.rows import RowData, RowStore
from aggregator.dedup.signatures import ArticleSignature, MinHasher
from aggregator.dedup.vectors import IdfTable, SparseVec, from_terms

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
HOUR = 3600.0
EVICT_EVERY = 1 / 96  # of the window: how far the clock moves between eviction sweeps (1.75 h
# of a week: up to 10,000 rows past the window at 143,000 articles a day, where 1 / 24 let
# 42,000 linger, 55 MB at 1.3 KB a row)


class DedupEngine:
    """Copy groups and story clusters for a stream of articles. Not thread-safe: one
    clusterer owns one engine."""

    def __init__(
        self, params: DedupParams, *, keep_evicted: bool = False, readings_kept: int = READINGS_KEPT
    ) -> None:
        self.params = params
        self.copy_hasher = MinHasher(params.copy_num_perm, params.seed)
        self.story_hasher = MinHasher(params.story_num_perm, params.seed)
        self.rows = RowStore(params.copy_num_perm, params.vector_terms)
        self.copy_index = BandIndex(params.max_bucket)
        self.story_index = BandIndex(params.max_bucket)
        self.idf = IdfTable(params.idf_buckets_log2, params.idf_step_max, params.idf_warm_up)
        self.book = ClusterBook(self.rows, self.idf)
        self.constraints = Constraints()
        self.linker = Linker(self)
        self.next_copy_group = 1
        self.clock = math.nan
        self._last_sweep = math.nan
        self._codes: dict[str, int] = {}
        self._keep_evicted = keep_evicted
        self.evicted: list[Placement] = []
        self.readings = RecentReadings(readings_kept)

    # -- public API ------------------------------------------------------------------------

    def add(self, doc: DocInput) -> Assignment:
        """Assign one article; cheap enough to call for every article as it is stored.
        An id the index already holds is a new revision: the old one is dropped first."""
        time = self._tick(doc.time)
        self._forget(doc.id)
        reading = self._read(doc)
        if reading.signature is None:
            return self._alone(doc, reading)
        sig = reading.signature
        cands = self.linker.candidates(sig, self.code(reading.language), time)
        copies = self.linker.copies(sig, cands)
        copy = copies[0] if copies else None
        if copy is not None and self._is_duplicate(copy, doc.outlet, sig):
            return self._duplicate(doc, reading, copy.row, copy.score)
        language = self.code(reading.language)
        vector, stored = self._vector(reading, time)
        sig = _with_vector(sig, stored)
        probe = Probe(doc.id, vector, reading.words_of, time, language, self.code(doc.outlet))
        decision = self.linker.decide(probe, cands, copy)
        row = self._store(
            doc.id, doc.outlet, sig, time=time, cluster=decision.cluster, group=decision.copy_group
        )
        events = self.linker.after_join(row, probe, decision, copies)
        return Assignment(
            article_id=doc.id,
            outcome=Outcome.ADDED,
            story_cluster=self.rows.cluster(row),
            copy_group=self.rows.copy_group(row),
            why=decision.why,
            near_miss=decision.near_miss,
            flags=reading.flags,
            language=reading.language,
            events=tuple(events),
            signature=sig.to_bytes(),
        )

    def evict(self, now: float) -> list[Placement]:
        """Drop articles older than the window before ``now`` (seconds since the epoch)."""
        cutoff = now - self.params.window_hours * HOUR
        gone: list[Placement] = []
        for row in self.rows.rows_older_than(cutoff):
            placement = Placement(
                self.rows.id(row), self.rows.cluster(row), self.rows.copy_group(row)
            )
            cluster = self.book.get(placement.story_cluster)
            if cluster is not None:
                self.book.detach(cluster, row)
            self.rows.kill(row)
            gone.append(placement)
        self.copy_index.remove(self.rows.gone_share, self.rows.alive_many)
        self.story_index.remove(self.rows.gone_share, self.rows.alive_many)
        self.rows.free_dead_chunks()
        if self._keep_evicted:
            self.evicted.extend(gone)
        return gone

    def restore(
        self,
        stored: Iterable[StoredArticle],
        *,
        next_cluster: int = 1,
        next_copy_group: int = 1,
        idf: IdfCarry | None = None,
    ) -> int:
        """Put stored articles back (in the order they were added) without re-deciding
        their clusters; call on a new engine. New cluster and copy group ids start above
        every restored one and above the given floors (pass the store's largest ids + 1:
        flagged and duplicate articles have none of their own signatures, but they used ids
        too). Without ``idf`` the IDF counts the restored articles; with it, the carried
        table and the articles counted after it (a ``bad_idf`` ``DedupError`` before
        anything is restored when the table is refused)."""
        if idf is not None:
            self.idf.load(idf.table)
        self.book.next_id = max(self.book.next_id, next_cluster)
        self.next_copy_group = max(self.next_copy_group, next_copy_group)
        restored = restore_all(self, stored, count_idf=idf is None)
        if idf is not None:
            count_terms(self, idf.after)
        return restored

    def correct(self, correction: Correction) -> tuple[Correction, list[ClusterEvent]]:
        """Apply an editor's correction; returns it completed (``away_from`` filled in, ready
        to store) and the cluster changes it made."""
        return self.linker.correct(correction)

    def placement(self, article_id: str) -> Placement | None:
        row = self.rows.row_of.get(article_id)
        if row is None:
            return None
        return Placement(article_id, self.rows.cluster(row), self.rows.copy_group(row))

    def placements(self) -> list[Placement]:
        """Every live article's current cluster and copy group."""
        return [
            Placement(self.rows.id(r), self.rows.cluster(r), self.rows.copy_group(r))
            for r in self.rows.live_rows()
        ]

    def index_bytes(self) -> int:
        """Bytes held in numpy arrays by the index (rows, LSH, IDF), Python objects aside."""
        return self.rows.nbytes + self.copy_index.nbytes + self.story_index.nbytes + self.idf.nbytes

    def code(self, name: str) -> int:
        """A small int for a language or outlet name."""
        return self._codes.setdefault(name, len(self._codes) + 1)

    # -- steps -----------------------------------------------------------------------------

    def _tick(self, time: float | None) -> float:
        if time is not None and not math.isnan(time):
            due = self._sweep_due(time)
            self.clock = time if math.isnan(self.clock) else max(self.clock, time)
            if due:
                self._last_sweep = self.clock
                self.evict(self.clock)
            return time
        return self.clock

    def _sweep_due(self, time: float | None) -> bool:
        """Whether ``_tick(time)`` runs an eviction sweep: on the first clock reading, then
        whenever the clock enters a new slot of the sweep grid (fixed slots from the epoch,
        so an engine restarted from storage sweeps when the original would have)."""
        if time is None or math.isnan(time):
            return False
        if math.isnan(self._last_sweep):
            return True
        clock = max(self.clock, time)
        sweep = self.params.window_hours * HOUR * EVICT_EVERY
        return math.floor(clock / sweep) > math.floor(self._last_sweep / sweep)

    def _plan_ticks(self, times: F64) -> tuple[F64, F64, I64]:
        """What ``_tick`` would do for each of ``times`` (NaN: unknown) in turn, without
        doing it: the time each call returns, the clock after each, and where a sweep falls
        due (``_sweep_due``'s rule, vectorised: a known time whose clock enters a new slot)."""
        clocks: F64 = np.fmax.accumulate(np.concatenate([[self.clock], times]))[1:]
        known = ~np.isnan(times)
        returned: F64 = np.where(known, times, clocks)
        sweep = self.params.window_hours * HOUR * EVICT_EVERY
        slots = np.floor(clocks / sweep)
        before = np.concatenate([[np.floor(self._last_sweep / sweep)], slots[:-1]])
        if math.isnan(self._last_sweep) and known.any():
            before[int(np.argmax(known))] = -math.inf  # the first clock reading sweeps
        due = known & (slots > before)
        return returned, clocks, np.flatnonzero(due)

    def _read(self, doc: DocInput) -> Reading:
        """The article-only work (analysis, signatures, term table), once per distinct text
        among the last few read (``reading.py``: reprints reuse it)."""
        key = text_digest(doc)
        found = self.readings.get(key)
        if found is None:
            found = self._reading(analyse(doc, self.params))
            self.readings.put(key, found)
        return found

    def _reading(self, feats: Features) -> Reading:
        ids, tf, words = term_table(feats)
        return Reading(
            flags=feats.flags,
            language=feats.language,
            signature=self._signature(feats, ids) if feats.clusterable else None,
            term_ids=ids,
            term_tf=tf,
            term_words=words,
        )

    def _signature(self, feats: Features, ids: npt.NDArray[np.uint32]) -> ArticleSignature:
        """``ids``: the distinct ids of the article's terms (``term_table``)."""
        p = self.params
        copy = np.zeros(0, dtype=np.uint32)
        if len(feats.shingles) >= p.copy_min_shingles:
            copy = self.copy_hasher.signature(feats.shingles)
        story = self.story_hasher.signature(story_term_hashes(feats.story_terms))
        terms = distinct(ids)
        for shared in (copy, story, terms):  # reprints share them (``reading.py``)
            shared.flags.writeable = False
        return ArticleSignature(
            seed=p.seed,
            copy=copy,
            story=story,
            vec_ids=np.zeros(0, dtype=np.uint32),
            vec_tf=np.zeros(0, dtype=np.float16),
            terms=terms,
            shingles=len(feats.shingles),
            body_key=feats.body_key,
            flags=feats.flags,
            language=feats.language,
        )

    def _vector(self, reading: Reading, time: float) -> tuple[SparseVec, SparseVec]:
        """Count the article into the IDF, keep its top terms by TF-IDF; returns the unit
        TF-IDF vector and the stored term frequencies."""
        assert reading.signature is not None
        self.idf.add(reading.signature.terms)
        ids, tf = reading.term_ids, reading.term_tf
        top = (-(tf * self.idf.idf(ids))).argsort(kind="stable")[: self.params.vector_terms]
        stored = from_terms(ids[top], tf[top].astype(np.float16).astype(np.float64))
        weighted = SparseVec(stored.ids, stored.weights * self.idf.idf(stored.ids))
        return weighted.normalized(), stored

    def _store(
        self,
        doc_id: str,
        outlet: str,
        sig: ArticleSignature,
        *,
        time: float,
        cluster: int,
        group: int,
    ) -> int:
        p = self.params
        row = self.rows.append(
            RowData(
                id=doc_id,
                time=time,
                language=self.code(sig.language),
                outlet=self.code(outlet),
                cluster=cluster,
                copy_group=group,
                shingles=sig.shingles,
                body_key=sig.body_key,
                copy=sig.copy,
                vec_ids=sig.vec_ids,
                vec_tf=sig.vec_tf,
            )
        )
        self.story_index.insert(row, band_keys(sig.story, p.story_bands, p.story_rows))
        if len(sig.copy):
            self.copy_index.insert(row, band_keys(sig.copy, p.copy_bands, p.copy_rows))
        return row

    def _forget(self, article_id: str) -> None:
        row = self.rows.row_of.get(article_id)
        if row is None:
            return
        cluster = self.book.get(self.rows.cluster(row))
        if cluster is not None:
            self.book.detach(cluster, row)
        self.rows.kill(row)

    def _is_duplicate(self, copy: CopyMatch, outlet: str, sig: ArticleSignature) -> bool:
        if not copy.same_outlet(self.rows, self.code(outlet)):
            return False
        return copy.score >= self.params.duplicate_jaccard or copy.same_body(self.rows, sig)

    def _alone(self, doc: DocInput, reading: Reading) -> Assignment:
        cluster = self.book.next_id
        self.book.next_id += 1
        group = self.next_copy_group
        self.next_copy_group += 1
        return Assignment(
            article_id=doc.id,
            outcome=Outcome.UNCLUSTERED,
            story_cluster=cluster,
            copy_group=group,
            why=Why(Rule.UNCLUSTERED),
            flags=reading.flags,
            language=reading.language,
        )

    def _duplicate(self, doc: DocInput, reading: Reading, row: int, score: float) -> Assignment:
        original = self.rows.id(row)
        return Assignment(
            article_id=doc.id,
            outcome=Outcome.DUPLICATE,
            story_cluster=self.rows.cluster(row),
            copy_group=self.rows.copy_group(row),
            why=Why(
                Rule.DUPLICATE,
                score=score,
                threshold=self.params.duplicate_jaccard,
                partner=original,
            ),
            flags=reading.flags,
            language=reading.language,
            duplicate_of=original,
        )

    def _restore_one(self, item: StoredArticle) -> None:
        """One stored article back, row by row: the reference the batched ``restore``
        (restore.py) must agree with."""
        sig = ArticleSignature.from_bytes(item.signature)
        sig.check(self.params)
        time = self._tick(item.time)
        self.idf.add(sig.terms)
        cluster = self.book.get(item.story_cluster) or self.book.new(
            self.code(sig.language), item.story_cluster
        )
        row = self._store(
            item.id, item.outlet, sig, time=time, cluster=cluster.id, group=item.copy_group
        )
        self.book.attach(cluster, row)
        self.next_copy_group = max(self.next_copy_group, item.copy_group + 1)


@dataclass(frozen=True, slots=True)
class IdfCarry:
    """The IDF of more than the window, for a restart: a table that ``idf.to_bytes()``
    wrote, and the signatures (``Assignment.signature``) of the articles the engine counted
    after writing it, in the order it counted them (restored ones among them)."""

    table: bytes
    after: Iterable[bytes]


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the store hands it back for a restart: its signature bytes (from
    ``Assignment.signature``), its time and its current cluster and copy group."""

    id: str
    outlet: str
    time: float | None
    signature: bytes
    story_cluster: int
    copy_group: int


def _with_vector(sig: ArticleSignature, vector: SparseVec) -> ArticleSignature:
    return ArticleSignature(
        seed=sig.seed,
        copy=sig.copy,
        story=sig.story,
        vec_ids=vector.ids,
        vec_tf=vector.weights.astype(np.float16),
        terms=sig.terms,
        shingles=sig.shingles,
        body_key=sig.body_key,
        flags=sig.flags,
        language=sig.language,
    )


__all__ = ["DedupEngine", "DocInput", "StoredArticle"]
