"""Cluster a whole corpus in ``published`` order with the incremental engine (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.corpus import CorpusRecord
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.engine import DedupEngine
from aggregator.dedup.features import DocInput
from aggregator.dedup.model import Assignment, ClusterEvent, Outcome, Placement
from aggregator.dedup.params import DedupParams

SAME_DAY = 1_700_000_000.0  # the instant every article gets with ``same_day``


@dataclass
class CorpusResult:
    """Final placements in input order, each article's assignment as it arrived, and the
    merges and moves that happened on the way."""

    placements: list[Placement]
    assignments: dict[str, Assignment]
    events: list[ClusterEvent] = field(default_factory=list)

    def story_of(self) -> dict[str, int]:
        return {p.article_id: p.story_cluster for p in self.placements}

    def copy_of(self) -> dict[str, int]:
        return {p.article_id: p.copy_group for p in self.placements}


def to_doc(record: CorpusRecord, same_day: bool = False) -> DocInput:
    return DocInput(
        id=record.id,
        outlet=record.outlet,
        title=record.title,
        text=record.text,
        time=SAME_DAY if same_day else _seconds(record.published),
        language=record.language,
    )


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def publication_order(records: Sequence[CorpusRecord], same_day: bool = False) -> list[int]:
    """Indexes of ``records`` by published time (unknown last), then input order."""
    if same_day:
        return list(range(len(records)))

    def key(index: int) -> tuple[float, int]:
        published = records[index].published
        return (math.inf if published is None else published.timestamp(), index)

    return sorted(range(len(records)), key=key)


def cluster_corpus(
    records: Sequence[CorpusRecord],
    params: DedupParams,
    *,
    corrections: Iterable[Correction] = (),
    same_day: bool = False,
) -> CorpusResult:
    """Cluster ``records`` as the service would have, one at a time in published order;
    editors' corrections are respected on the way and re-applied at the end (they win)."""
    engine = DedupEngine(params, keep_evicted=True)
    fixes = list(corrections)
    for fix in fixes:
        engine.constraints.record(fix)
    assignments: dict[str, Assignment] = {}
    events: list[ClusterEvent] = []
    for index in publication_order(records, same_day):
        result = engine.add(to_doc(records[index], same_day))
        assignments[result.article_id] = result
        events.extend(result.events)
    final = {p.article_id: p for p in [*engine.evicted, *engine.placements()]}
    for result in assignments.values():
        if result.article_id not in final:
            final[result.article_id] = _resolve(result, final, assignments)
    final = apply_corrections(final, fixes, engine.book.next_id, engine.next_copy_group)
    placements = [final[record.id] for record in records]
    return CorpusResult(placements, assignments, events)


def _resolve(
    result: Assignment, final: dict[str, Placement], assignments: dict[str, Assignment]
) -> Placement:
    """Where a duplicate or a flagged article ends up."""
    if result.outcome is Outcome.DUPLICATE and result.duplicate_of is not None:
        original = final.get(result.duplicate_of)
        if original is None:
            original = _resolve(assignments[result.duplicate_of], final, assignments)
        return Placement(result.article_id, original.story_cluster, original.copy_group)
    return Placement(result.article_id, result.story_cluster, result.copy_group)


def apply_corrections(
    placements: dict[str, Placement],
    corrections: Iterable[Correction],
    next_cluster: int,
    next_group: int,
) -> dict[str, Placement]:
    """Editors' corrections over final placements, in the order they were made. An article
    split or moved away from its copies gets a copy group of its own."""
    out = dict(placements)
    for fix in corrections:
        present = [a for a in fix.article_ids if a in out]
        if fix.kind is CorrectionKind.MERGE:
            clusters = {out[a].story_cluster for a in present}
            if len(clusters) > 1:
                keep = min(clusters)
                for key, p in out.items():
                    if p.story_cluster in clusters:
                        out[key] = Placement(key, keep, p.copy_group)
            continue
        if fix.kind is CorrectionKind.SPLIT:
            destination, next_cluster = next_cluster, next_cluster + 1
        elif fix.target in out:
            destination = out[fix.target].story_cluster
        else:
            continue
        moving = set(present)
        renamed: dict[int, int] = {}
        for article in present:
            group = out[article].copy_group
            if group not in renamed:
                left = any(p.copy_group == group and k not in moving for k, p in out.items())
                renamed[group] = next_group if left else group
                next_group += int(left)
            out[article] = Placement(article, destination, renamed[group])
    return out
