"""The cluster stage: the shell around the incremental dedup engine.

One clusterer owns one engine. It takes articles in the order they became ready, assigns each
to a copy group and a story cluster, and stores the batch (signatures, memberships, the moves
later arrivals caused, the articles' state) in one transaction, so storage always matches
the engine. At start-up the engine is rebuilt from the stored signatures of the time window.
Editor corrections are stored apart (see ``aggregator.editing``) and learnt here: recorded
as constraints at start-up, applied to the engine when new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aggregator import editing
from aggregator.compare import Lexicons, load_lexicons
from aggregator.comparing import ComparisonRefresher
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.engine import DedupEngine, IdfCarry, StoredArticle
from aggregator.dedup.features import doc_from_article
from aggregator.dedup.model import Assignment, ClusterEvent
from aggregator.dedup.params import DedupParams
from aggregator.errors import DedupError, NewsaggError
from aggregator.extract import extractor_name
from aggregator.log import event
from aggregator.settings import DEFAULT_LEXICONS_PATH, Settings
from aggregator.types import Article
from aggregator.workpool import WorkPool
from storage.assignments import ClusterMove, IdfSnapshot, RestoreRow
from storage.clusters import MembershipRecord, StoredSignature
from storage.corrections import Correction as StoredCorrection
from storage.store import Store

log = logging.getLogger("newsagg.cluster")
IDF_SAVE_EVERY = 2000  # articles counted between two stored IDF tables (a few MB each)
Clock = Callable[[], datetime]
Observer = Callable[[float], None]  # seconds per article, for metrics


def dedup_params(settings: Settings) -> DedupParams:
    """The parameter set in force: defaults, the settings' [dedup] overrides, and the
    extractor version that produced the texts."""
    values = {"extractor": extractor_name(), **settings.dedup}
    return DedupParams.from_mapping(values)


class JobLock(Protocol):
    """Makes the clusterer a singleton among processes (``storage.locks.SingletonLock``)."""

    generation: int

    def acquire(self) -> bool: ...


class Clusterer:
    """Implements the pipeline's cluster stage; thread-safe (one lock around the engine).
    With a ``job_lock`` it only clusters while this process holds that lock, and rebuilds
    its engine from storage whenever it (re)gains it."""

    def __init__(
        self,
        store: Store,
        params: DedupParams,
        *,
        clock: Clock,
        refresher: ComparisonRefresher | None = None,
        observe: Observer | None = None,
        job_lock: JobLock | None = None,
        idf_every: int | None = None,
    ) -> None:
        self.store = store
        self.params = params
        self.version = params.version
        self.clock = clock
        self.refresher = refresher
        self.observe = observe
        self.engine: DedupEngine | None = None
        self.job_lock = job_lock
        self._generation = 0
        self._lock = threading.Lock()
        self._last_correction = 0
        self.idf_every = IDF_SAVE_EVERY if idf_every is None else idf_every
        self._idf_saved = 0  # the engine's ``idf.seen`` when its table was last stored

    # -- the stage ------------------------------------------------------------------------

    def run(self, limit: int) -> int:
        """Cluster up to ``limit`` ready articles and learn new corrections. Returns how
        many articles were clustered."""
        with self._lock:
            if not self._mine():
                return 0
            engine = self._engine()
            self._learn_corrections(engine)
            articles = self.store.articles.ready_for_clustering(limit)
            if articles:
                self._cluster(engine, articles)
        return len(articles)

    def refresh(
        self, limit: int, stop: Callable[[], bool] = lambda: False, pool: WorkPool | None = None
    ) -> int:
        """Recompute up to ``limit`` stale comparisons (a job of its own, so a burst of
        articles is clustered first and each changed story compared once after it), until
        ``stop()``."""
        if self.refresher is None or not self._lock_free_mine():
            return 0
        return self.refresher.run(limit, stop, pool)

    def _lock_free_mine(self) -> bool:
        with self._lock:
            return self._mine()

    def apply_corrections(self) -> None:
        """Learn corrections made since the last run (the web calls this after an edit)."""
        with self._lock:
            if self._mine():
                self._learn_corrections(self._engine())

    def _mine(self) -> bool:
        """Whether this process may cluster now; forgets the engine when another process
        may have clustered since this one last did."""
        if self.job_lock is None:
            return True
        if not self.job_lock.acquire():
            self.engine = None
            return False
        if self.job_lock.generation != self._generation:
            self._generation = self.job_lock.generation
            self.engine = None
        return True

    def reapply_corrections(self) -> None:
        """Apply every stored correction to the engine again (after a rebuild from scratch:
        ``newsagg recluster``), so editors' decisions win over the new clustering."""
        with self._lock:
            engine = self._engine()
            self._last_correction = 0
            self._learn_corrections(engine)
            for stored in self.store.corrections.corrections():
                editing.replay(
                    self.store,
                    self.version,
                    stored.kind,
                    dict(stored.payload),
                    key=str(-stored.id),
                    now=self.clock(),
                )

    def _cluster(self, engine: DedupEngine, articles: Sequence[Article]) -> None:
        started, reused = time.perf_counter(), engine.readings.hits
        assignments = [(a, engine.add(doc_from_article(a))) for a in articles]
        elapsed = time.perf_counter() - started
        reused = engine.readings.hits - reused
        idf = self._idf_due(engine)
        try:
            self.store.assignments.persist_batch(
                self.version,
                signatures=[
                    StoredSignature(a.id, x.signature, a.sort_time)
                    for a, x in assignments
                    if x.signature is not None
                ],
                records=[membership(a, x) for a, x in assignments],
                moves=[move(e) for _, x in assignments for e in x.events],
                clustered=[a.id for a in articles],
                now=self.clock(),
                idf=idf,
            )
        except NewsaggError:
            self.engine = None  # storage did not take the batch: rebuild from storage next time
            raise
        if idf is not None:
            self._idf_saved = idf.articles
        if self.observe is not None:
            for _ in articles:
                self.observe(elapsed / len(articles))
        event(
            log,
            "cluster.batch",
            articles=len(articles),
            ms_per_article=round(1000 * elapsed / len(articles), 2),
            merges=sum(len(x.events) for _, x in assignments),
            reprints_read_once=reused,  # articles whose exact text was read lately
        )

    def _idf_due(self, engine: DedupEngine) -> IdfSnapshot | None:
        """The engine's IDF table to store with this batch, every ``idf_every`` articles."""
        if engine.idf.seen - self._idf_saved < self.idf_every:
            return None
        return IdfSnapshot(engine.idf.to_bytes(), engine.idf.seen)

    # -- start-up -------------------------------------------------------------------------

    def _engine(self) -> DedupEngine:
        if self.engine is None:
            self.engine = self._rebuild()
        return self.engine

    def _rebuild(self) -> DedupEngine:
        started = time.perf_counter()
        now = self.clock()
        self.store.clusters.ensure_param_set(
            self.version, self.params.to_dict(), now, activate=True
        )
        engine, restored = self._restore()
        corrections = self.store.corrections.corrections_after(0)
        for stored in corrections:
            try:
                engine.constraints.record(to_engine_correction(stored))
            except DedupError as exc:
                event(
                    log, "correction.skipped", level=logging.WARNING, id=stored.id, error=str(exc)
                )
        self._last_correction = corrections[-1].id if corrections else 0
        event(
            log,
            "cluster.started",
            version=self.version,
            restored=restored,
            seconds=round(time.perf_counter() - started, 2),
        )
        return engine

    def _restore(self) -> tuple[DedupEngine, int]:
        """A new engine holding the window's articles, with the stored IDF table and the
        articles counted after it (without one, or when it is refused: the window's IDF)."""
        snapshot = self.store.assignments.idf_snapshot(self.version)
        carry = None
        if snapshot is not None:
            after = self.store.assignments.signatures_after(self.version, snapshot.cluster_seq)
            carry = IdfCarry(snapshot.payload, after)
        try:
            return self._restore_with(carry)
        except DedupError as exc:
            if carry is None or exc.code != "bad_idf":
                raise
            event(log, "idf.refused", level=logging.WARNING, version=self.version, error=str(exc))
            return self._restore_with(None)

    def _restore_with(self, carry: IdfCarry | None) -> tuple[DedupEngine, int]:
        engine = DedupEngine(self.params)
        # The window ends at the newest stored article, as it did in the engine before the
        # restart, whatever the wall clock says: a restarted engine is the same engine.
        newest = self.store.assignments.newest_time(self.version) or self.clock()
        since = newest - timedelta(hours=self.params.window_hours)
        max_key, max_group = self.store.assignments.key_numbers(self.version)
        restored = engine.restore(
            self._stored(self.store.assignments.restore_rows(self.version, since)),
            next_cluster=max_key + 1,
            next_copy_group=max_group + 1,
            idf=carry,
        )
        self._idf_saved = engine.idf.seen
        return engine, restored

    @staticmethod
    def _stored(batches: Iterable[list[RestoreRow]]) -> Iterator[StoredArticle]:
        for batch in batches:
            for row in batch:
                if not row.cluster_key.lstrip("-").isdigit():
                    event(log, "restore.skipped", level=logging.WARNING, article=row.article_id)
                    continue  # not a cluster the engine made (hand-made data): left as stored
                yield StoredArticle(
                    id=str(row.article_id),
                    outlet=row.outlet_id,
                    time=row.sort_time.timestamp(),
                    signature=row.payload,
                    story_cluster=int(row.cluster_key),
                    copy_group=int(row.copy_group or 0),
                )

    # -- corrections ----------------------------------------------------------------------

    def _learn_corrections(self, engine: DedupEngine) -> None:
        for stored in self.store.corrections.corrections_after(self._last_correction):
            self._last_correction = stored.id
            try:
                done, events = engine.correct(to_engine_correction(stored))
            except DedupError as exc:  # e.g. its articles left the window: storage has it
                event(
                    log, "correction.skipped", level=logging.WARNING, id=stored.id, error=str(exc)
                )
                continue
            self.store.corrections.update_payload(
                stored.id, {**stored.payload, "engine": done.to_dict()}
            )
            self._adopt_keys(engine, stored, done)
            self.store.assignments.persist_batch(
                self.version,
                signatures=[],
                records=[],
                moves=[move(e) for e in events],
                clustered=[],
                now=self.clock(),
            )

    def _adopt_keys(self, engine: DedupEngine, stored: StoredCorrection, done: Correction) -> None:
        """The editor's change is already in storage under its own cluster; give that cluster
        the key the engine chose, so the cluster the editor sees keeps its id."""
        placement = engine.placement(done.article_ids[0])
        if placement is None:
            return
        if stored.kind == "split":
            old = str(stored.payload.get("key", ""))
        elif stored.kind == "merge":
            old = str(stored.payload.get("survivor_key", ""))
        else:
            return
        if old:
            self.store.assignments.rekey(self.version, old, str(placement.story_cluster))


def membership(article: Article, assignment: Assignment) -> MembershipRecord:
    duplicate = assignment.duplicate_of
    return MembershipRecord(
        article_id=article.id,
        cluster_key=str(assignment.story_cluster),
        copy_group=str(assignment.copy_group),
        score=assignment.why.score,
        rule=str(assignment.why.rule),
        why=assignment.why_dict(),
        duplicate_of=int(duplicate) if duplicate and duplicate.isdigit() else None,
    )


def move(change: ClusterEvent) -> ClusterMove:
    return ClusterMove(
        article_ids=tuple(int(a) for a in change.article_ids),
        to_key=str(change.to_cluster),
        from_key=str(change.from_cluster),
        rule=str(change.kind),
        copy_group=None if change.copy_group is None else str(change.copy_group),
    )


def to_engine_correction(stored: StoredCorrection) -> Correction:
    """The engine's form of a stored correction (article ids as strings)."""
    engine_form = stored.payload.get("engine")
    if isinstance(engine_form, dict):
        return Correction.from_dict(engine_form)
    payload = stored.payload
    if stored.kind == "merge":
        return Correction(CorrectionKind.MERGE, _ids(payload.get("anchors", ())))
    if stored.kind == "split":
        return Correction(CorrectionKind.SPLIT, _ids(payload.get("articles", ())))
    if stored.kind == "move":
        with_ = _ids(payload.get("with", ()))
        return Correction(
            CorrectionKind.MOVE,
            _ids([payload.get("article")]),
            target=with_[0] if with_ else None,
        )
    raise DedupError(f"unknown correction kind {stored.kind!r}", resource=f"correction {stored.id}")


def _ids(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values if v is not None)


def build_cluster_stage(
    settings: Settings,
    store: Store,
    *,
    clock: Clock,
    observe: Observer | None = None,
    job_lock: JobLock | None = None,
) -> Clusterer:
    """The clusterer the service and ``poll --once`` use."""
    refresher = ComparisonRefresher(store, _lexicons(settings), clock)
    return Clusterer(
        store,
        dedup_params(settings),
        clock=clock,
        refresher=refresher,
        observe=observe,
        job_lock=job_lock,
    )


def _lexicons(settings: Settings) -> Lexicons | None:
    """The term-choice lexicons; without the default file the comparison has no term groups
    (a warning), while an explicitly named file that is missing is an error."""
    path = Path(settings.lexicons_path)
    if settings.lexicons_path == DEFAULT_LEXICONS_PATH and not path.exists():
        event(log, "lexicons.missing", level=logging.WARNING, path=str(path))
        return None
    return load_lexicons(path)


def recluster_all(settings: Settings, store: Store, *, clock: Clock) -> str:
    """Rebuild every story cluster under the current parameters; editor corrections are
    re-applied on top. The previous parameter set's results stay stored."""
    params = dedup_params(settings)
    store.clusters.drop_version(params.version)
    store.articles.requeue_for_clustering()
    clusterer = build_cluster_stage(settings, store, clock=clock)
    total = 0
    while (done := clusterer.run(5000)) > 0:
        total += done
    clusterer.reapply_corrections()
    refresh_all(clusterer, settings)
    count = store.clusters.count_clusters(params.version)
    return f"reclustered {total} articles into {count} story clusters with {params.version}"


def refresh_all(clusterer: Clusterer, settings: Settings) -> int:
    """Every stale comparison, computed on every core: what ``newsagg recluster`` and
    ``newsagg import`` leave (every story of a rebuild), with no page to extract beside it,
    so in a work pool of their own (``extract.workers`` processes, 0: one per core)."""
    total = 0
    with WorkPool(settings.extract.workers, name="compare", nice=settings.service.nice) as pool:
        while (done := clusterer.refresh(500, pool=pool)) > 0:
            total += done
    return total
