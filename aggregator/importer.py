"""``newsagg import FILE.jsonl``: already-extracted articles through dedup, clustering and
comparison, exactly as polled articles go. Bad lines are reported with their line number and
skipped; an article already imported (same id) is not stored twice."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from aggregator.clustering import Clusterer, build_cluster_stage, refresh_all
from aggregator.corpus import CorpusRecord, read_corpus
from aggregator.errors import InputError
from aggregator.outlets import slugify
from aggregator.settings import Settings
from aggregator.types import ArticleDraft, DateSource, OutletConfig
from aggregator.wiring import utc_now
from storage.store import Store

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ImportReport:
    read: int
    stored: int
    already: int
    bad_lines: tuple[InputError, ...]
    clustered: int
    clusters: int

    def __str__(self) -> str:
        lines = [
            f"read {self.read} articles: stored {self.stored}, already stored {self.already}, "
            f"bad lines {len(self.bad_lines)}; clustered {self.clustered} "
            f"into {self.clusters} story clusters in all"
        ]
        lines += [f"  {error}" for error in self.bad_lines[:50]]
        if len(self.bad_lines) > 50:
            lines.append(f"  ... and {len(self.bad_lines) - 50} more bad lines")
        return "\n".join(lines)


def outlet_id(name: str) -> str:
    """A stable outlet slug for a name given in a file ("Fox News" -> "fox-news")."""
    return slugify(name) or "outlet-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def draft(record: CorpusRecord, now: datetime) -> ArticleDraft:
    canonical = record.url or f"urn:newsagg:import:{record.id}"
    return ArticleDraft(
        outlet_id=outlet_id(record.outlet),
        canonical_url=canonical,
        url=record.url or canonical,
        entry_key=f"import:{record.id}",
        external_id=record.id,
        title=record.title,
        text=record.text,
        summary="",
        published=record.published,
        published_source=DateSource.IMPORT if record.published else DateSource.FIRST_SEEN,
        first_seen=now,
        content_hash=hashlib.sha256(" ".join(record.text.split()).encode()).hexdigest(),
        language=record.language,
    )


def import_file(
    path: Path, store: Store, settings: Settings, *, progress: bool = False
) -> ImportReport:
    records, reader = read_corpus(path)
    records.sort(key=lambda r: (r.published is None, r.published or utc_now(), r.line))
    now = utc_now()
    _ensure_outlets(store, records, settings, now)
    stored = 0
    for start in range(0, len(records), BATCH):
        batch = [draft(r, now) for r in records[start : start + BATCH]]
        stored += len(store.articles.insert_drafts(batch, now).new_ids)
    clusterer = build_cluster_stage(settings, store, clock=utc_now)
    clustered = _drain(clusterer, progress)
    refresh_all(clusterer, settings)
    return ImportReport(
        read=len(records),
        stored=stored,
        already=len(records) - stored,
        bad_lines=tuple(reader.errors),
        clustered=clustered,
        clusters=store.clusters.count_clusters(clusterer.version),
    )


def _ensure_outlets(
    store: Store, records: Sequence[CorpusRecord], settings: Settings, now: datetime
) -> None:
    known = {o.id for o in store.feeds.outlets()}
    names = {outlet_id(r.outlet): r.outlet for r in records}
    missing = [
        OutletConfig(id=oid, name=name, homepage="", country="", language="", feeds=())
        for oid, name in sorted(names.items())
        if oid not in known
    ]
    if missing:
        store.feeds.sync_outlets(
            missing, default_interval=settings.poll.default_interval_minutes, now=now
        )


def _drain(clusterer: Clusterer, progress: bool) -> int:
    bar = tqdm(desc="cluster", unit=" articles", leave=False) if progress else None
    total = 0
    while (done := clusterer.run(500)) > 0:
        total += done
        if bar is not None:
            bar.update(done)
    if bar is not None:
        bar.close()
    return total
