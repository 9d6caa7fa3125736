"""Parameter sets, signatures, story clusters, memberships, comparisons, corrections, audit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update

from aggregator.errors import NotFoundError
from aggregator.types import JsonText
from storage.base import Repo
from storage.coverage import coverage_counts
from storage.models import (
    ArticleRow,
    IdfSnapshotRow,
    MembershipRow,
    OutletRow,
    ParamSetRow,
    SignatureRow,
    StoryClusterRow,
    StoryComparisonRow,
)

CLUSTERS = cast(Table, StoryClusterRow.__table__)  # for statements run for many rows at once


@dataclass(frozen=True, slots=True)
class StoredSignature:
    article_id: int
    payload: bytes
    sort_time: datetime


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    """One article's place in a story cluster, with why it is there."""

    article_id: int
    cluster_key: str
    copy_group: str | None
    score: float
    rule: str
    why: Mapping[str, Any] = field(default_factory=dict)
    duplicate_of: int | None = None
    outlet_id: str = ""  # filled when read back


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    id: int
    key: str
    title: str
    language: str | None
    first_published: datetime | None
    last_updated: datetime | None
    article_count: int
    outlet_count: int
    outlets: tuple[str, ...]
    merged_into: int | None
    comparison: Mapping[str, Any] | None


def _summary(row: StoryClusterRow, comparison: Mapping[str, Any] | None) -> ClusterSummary:
    return ClusterSummary(
        id=row.id,
        key=row.key,
        title=row.title,
        language=row.language,
        first_published=row.first_published,
        last_updated=row.last_updated,
        article_count=row.article_count,
        outlet_count=row.outlet_count,
        outlets=tuple(row.outlets),
        merged_into=row.merged_into,
        comparison=comparison,
    )


class ClusterRepo(Repo):
    # -- parameter sets -------------------------------------------------------------------

    def ensure_param_set(
        self, version: str, params: Mapping[str, Any], now: datetime, *, activate: bool
    ) -> None:
        """Record a parameter set (idempotent); with ``activate`` it becomes the active one."""
        with self.session() as session:
            if session.get(ParamSetRow, version) is None:
                session.add(
                    ParamSetRow(version=version, params=dict(params), active=False, created_at=now)
                )
                session.flush()
            if activate:
                session.execute(update(ParamSetRow).values(active=ParamSetRow.version == version))

    def active_version(self) -> str | None:
        with self.session(write=False) as session:
            return session.scalar(select(ParamSetRow.version).where(ParamSetRow.active))

    def param_set(self, version: str) -> dict[str, Any]:
        with self.session(write=False) as session:
            row = session.get(ParamSetRow, version)
            if row is None:
                raise NotFoundError("no such parameter set", resource=f"param set {version}")
            return dict(row.params)

    # -- signatures -----------------------------------------------------------------------

    def save_signatures(self, version: str, signatures: Sequence[StoredSignature]) -> None:
        if not signatures:
            return
        rows = [signature_values(version, s) for s in signatures]
        with self.session() as session:
            session.execute(self.insert(SignatureRow.__table__).on_conflict_do_nothing(), rows)

    def iter_signatures(
        self, version: str, since: datetime, *, batch: int = 5000
    ) -> Iterator[list[StoredSignature]]:
        """Stored signatures newer than ``since``, oldest first, in batches (for start-up)."""
        last: tuple[datetime, int] | None = None
        while True:
            query = (
                select(SignatureRow.article_id, SignatureRow.payload, SignatureRow.sort_time)
                .where(SignatureRow.param_version == version, SignatureRow.sort_time >= since)
                .order_by(SignatureRow.sort_time, SignatureRow.article_id)
                .limit(batch)
            )
            if last is not None:
                query = query.where(
                    (SignatureRow.sort_time > last[0])
                    | ((SignatureRow.sort_time == last[0]) & (SignatureRow.article_id > last[1]))
                )
            with self.session(write=False) as session:
                rows = [StoredSignature(a, bytes(p), t) for a, p, t in session.execute(query)]
            if not rows:
                return
            yield rows
            last = (rows[-1].sort_time, rows[-1].article_id)

    # -- clusters and memberships ---------------------------------------------------------

    def save_memberships(
        self, version: str, records: Sequence[MembershipRecord], now: datetime
    ) -> dict[str, int]:
        """Create missing clusters (by key), upsert memberships; returns key -> cluster id."""
        if not records:
            return {}
        with self.session() as session:
            ids = cluster_ids(session, version, {r.cluster_key for r in records}, now)
            upsert_memberships(session, self.insert, version, ids=ids, records=records, now=now)
        return ids

    def merge_clusters(
        self, version: str, into_key: str, from_keys: Sequence[str], now: datetime
    ) -> None:
        """Move every member of ``from_keys`` into ``into_key``; the old rows point there."""
        with self.session() as session:
            ids = cluster_ids(session, version, {into_key, *from_keys}, now)
            target = ids[into_key]
            sources = [ids[k] for k in from_keys if ids[k] != target]
            if not sources:
                return
            session.execute(
                update(MembershipRow)
                .where(
                    MembershipRow.param_version == version, MembershipRow.cluster_id.in_(sources)
                )
                .values(cluster_id=target)
            )
            session.execute(
                update(StoryClusterRow)
                .where(StoryClusterRow.id.in_(sources))
                .values(
                    merged_into=target, article_count=0, outlet_count=0, outlets=[], coverage=[]
                )
            )

    def move_articles(
        self, version: str, article_ids: Sequence[int], to_key: str, now: datetime
    ) -> int:
        """Put articles into the cluster ``to_key`` (created if new); returns its id."""
        with self.session() as session:
            target = cluster_ids(session, version, {to_key}, now)[to_key]
            session.execute(
                update(StoryClusterRow).where(StoryClusterRow.id == target).values(merged_into=None)
            )
            session.execute(
                update(MembershipRow)
                .where(
                    MembershipRow.param_version == version,
                    MembershipRow.article_id.in_(article_ids),
                )
                .values(cluster_id=target, rule="editor", assigned_at=now)
            )
            return target

    def refresh_stats(self, cluster_ids: Sequence[int], now: datetime) -> None:
        """Recompute title, counts, outlets and times of clusters from their members."""
        with self.session() as session:
            refresh_clusters(session, cluster_ids, now)

    def cluster_ids_of(self, version: str, article_ids: Sequence[int]) -> dict[int, int]:
        with self.session(write=False) as session:
            rows = session.execute(
                select(MembershipRow.article_id, MembershipRow.cluster_id).where(
                    MembershipRow.param_version == version,
                    MembershipRow.article_id.in_(article_ids),
                )
            ).all()
            return dict(rows)

    def cluster(self, cluster_id: int) -> ClusterSummary:
        with self.session(write=False) as session:
            row = session.get(StoryClusterRow, cluster_id)
            if row is None:
                raise NotFoundError("no such story cluster", resource=f"cluster {cluster_id}")
            comparison = session.scalar(
                select(StoryComparisonRow.comparison).where(
                    StoryComparisonRow.cluster_id == cluster_id
                )
            )
            return _summary(row, comparison)

    def clusters(self, version: str, *, limit: int = 1000) -> list[ClusterSummary]:
        with self.session(write=False) as session:
            rows = session.execute(
                select(StoryClusterRow, StoryComparisonRow.comparison)
                .outerjoin(StoryComparisonRow)
                .where(
                    StoryClusterRow.param_version == version,
                    StoryClusterRow.merged_into.is_(None),
                    StoryClusterRow.article_count > 0,
                )
                .order_by(StoryClusterRow.id)
                .limit(limit)
            )
            return [_summary(row, comparison) for row, comparison in rows]

    def members(self, cluster_id: int) -> list[tuple[int, MembershipRecord]]:
        """(article id, membership) of a cluster, oldest article first."""
        with self.session(write=False) as session:
            rows = session.execute(
                select(MembershipRow, StoryClusterRow.key, ArticleRow.outlet_id)
                .join(StoryClusterRow, StoryClusterRow.id == MembershipRow.cluster_id)
                .join(ArticleRow, ArticleRow.id == MembershipRow.article_id)
                .where(MembershipRow.cluster_id == cluster_id)
                .order_by(func.coalesce(ArticleRow.published, ArticleRow.first_seen), ArticleRow.id)
            ).all()
            return [
                (
                    m.article_id,
                    MembershipRecord(
                        m.article_id,
                        key,
                        m.copy_group,
                        m.score,
                        m.rule,
                        dict(m.why),
                        m.duplicate_of,
                        outlet,
                    ),
                )
                for m, key, outlet in rows
            ]

    def stale_comparisons(self, version: str, limit: int) -> list[tuple[int, int]]:
        """(cluster id, revision) of up to ``limit`` stories whose comparison is stale."""
        with self.session(write=False) as session:
            return [
                (cluster_id, revision)
                for cluster_id, revision in session.execute(
                    select(StoryClusterRow.id, StoryClusterRow.revision)
                    .where(
                        StoryClusterRow.param_version == version,
                        StoryClusterRow.comparison_stale,
                        StoryClusterRow.merged_into.is_(None),
                        StoryClusterRow.article_count > 0,
                    )
                    .order_by(StoryClusterRow.id)
                    .limit(limit)
                )
            ]

    def save_comparison(
        self,
        cluster_id: int,
        comparison: Mapping[str, Any] | JsonText,
        now: datetime,
        revision: int | None = None,
    ) -> None:
        self.save_comparisons([(cluster_id, comparison, revision)], now)

    def save_comparisons(
        self,
        comparisons: Sequence[tuple[int, Mapping[str, Any] | JsonText, int | None]],
        now: datetime,
    ) -> None:
        """Store stories' comparisons in one transaction: (cluster id, comparison, revision).

        A comparison (a mapping, or its JSON already encoded) is stored in any case; it
        clears the story's stale flag only if the story is still at ``revision`` (None: in any
        case). A story changed since its members were read stays stale: compared again."""
        if not comparisons:
            return
        table = StoryComparisonRow.__table__
        upsert = self.insert(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=["cluster_id"], set_={"comparison": upsert.excluded.comparison}
        )
        clusters = CLUSTERS
        with self.session() as session:
            session.execute(
                upsert,
                [
                    {"cluster_id": cluster_id, "comparison": _document(comparison)}
                    for cluster_id, comparison, _ in comparisons
                ],
            )
            session.execute(
                update(clusters)
                .where(
                    clusters.c.id == bindparam("cluster_id"),
                    (clusters.c.revision == bindparam("seen")) | bindparam("any_revision"),
                )
                .values(comparison_at=now, comparison_stale=False),
                [
                    {
                        "cluster_id": cluster_id,
                        "seen": revision or 0,
                        "any_revision": revision is None,
                    }
                    for cluster_id, _, revision in comparisons
                ],
            )

    def outlet_labels(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """outlet id -> (name, country, labels)."""
        with self.session(write=False) as session:
            rows = session.execute(
                select(OutletRow.id, OutletRow.name, OutletRow.country, OutletRow.labels)
            ).all()
            return {oid: (name, country, dict(labels)) for oid, name, country, labels in rows}

    def drop_version(self, version: str) -> None:
        """Delete the clusters, memberships and IDF table of a parameter set (recluster; the
        signatures stay: the same parameters make the same ones)."""
        with self.session() as session:
            session.execute(delete(IdfSnapshotRow).where(IdfSnapshotRow.param_version == version))
            session.execute(delete(MembershipRow).where(MembershipRow.param_version == version))
            session.execute(
                update(StoryClusterRow)
                .where(StoryClusterRow.param_version == version)
                .values(merged_into=None)
            )
            session.execute(delete(StoryClusterRow).where(StoryClusterRow.param_version == version))

    def count_clusters(self, version: str) -> int:
        with self.session(write=False) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(StoryClusterRow)
                    .where(
                        StoryClusterRow.param_version == version,
                        StoryClusterRow.merged_into.is_(None),
                        StoryClusterRow.article_count > 0,
                    )
                )
                or 0
            )


_MEMBERSHIP_SET = (
    "cluster_id",
    "copy_group",
    "duplicate_of",
    "score",
    "rule",
    "why",
    "assigned_at",
)


def upsert_memberships(
    session: Any,
    insert: Any,
    version: str,
    *,
    ids: Mapping[str, int],
    records: Sequence[MembershipRecord],
    now: datetime,
) -> None:
    """Insert or replace the memberships of ``records`` in one statement executed for many
    rows (a ``Session.merge`` each read every row before writing it: a third of a clustering
    batch's database time). ``insert`` is the dialect's ``INSERT ... ON CONFLICT``; an article
    named twice keeps its last record, as one merge after another did."""
    last = {record.article_id: record for record in records}
    stmt = insert(MembershipRow.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["article_id", "param_version"],
        set_={name: stmt.excluded[name] for name in _MEMBERSHIP_SET},
    )
    session.execute(
        stmt, [membership_values(version, ids[r.cluster_key], r, now) for r in last.values()]
    )


def membership_values(
    version: str, cluster_id: int, record: MembershipRecord, now: datetime
) -> dict[str, Any]:
    return {
        "article_id": record.article_id,
        "param_version": version,
        "cluster_id": cluster_id,
        "copy_group": record.copy_group,
        "duplicate_of": record.duplicate_of,
        "score": float(record.score),
        "rule": record.rule,
        "why": dict(record.why),
        "assigned_at": now,
    }


def signature_values(version: str, signature: StoredSignature) -> dict[str, Any]:
    return {
        "article_id": signature.article_id,
        "param_version": version,
        "payload": signature.payload,
        "sort_time": signature.sort_time,
    }


def cluster_ids(session: Any, version: str, keys: set[str], now: datetime) -> dict[str, int]:
    found = dict(
        session.execute(
            select(StoryClusterRow.key, StoryClusterRow.id).where(
                StoryClusterRow.param_version == version, StoryClusterRow.key.in_(keys)
            )
        ).all()
    )
    missing = sorted(keys - found.keys())
    if missing:
        # one INSERT ... RETURNING for all (ids in key order, as one flush per row gave)
        created = session.execute(
            insert(StoryClusterRow).returning(
                StoryClusterRow.key, StoryClusterRow.id, sort_by_parameter_order=True
            ),
            [
                {
                    "param_version": version,
                    "key": key,
                    "created_at": now,
                    "updated_at": now,
                    "outlets": [],
                }
                for key in missing
            ],
        )
        found.update((key, id_) for key, id_ in created)
    return found


def _document(comparison: Mapping[str, Any] | JsonText) -> dict[str, Any] | JsonText:
    return comparison if isinstance(comparison, JsonText) else dict(comparison)


def refresh_clusters(session: Any, cluster_ids: Iterable[int], now: datetime) -> None:
    """Recompute title, counts, outlets, times and coverage of clusters from their members:
    one read of every member and one UPDATE executed for many rows (a read and a write per
    cluster were a tenth of a clustering batch's time)."""
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return
    existing = set(
        session.scalars(select(StoryClusterRow.id).where(StoryClusterRow.id.in_(wanted)))
    )
    members: dict[int, list[Any]] = {cluster_id: [] for cluster_id in existing}
    rows = session.execute(
        select(
            MembershipRow.cluster_id,
            ArticleRow.outlet_id,
            ArticleRow.title,
            ArticleRow.published,
            ArticleRow.first_seen,
            ArticleRow.language,
        )
        .join(MembershipRow, MembershipRow.article_id == ArticleRow.id)
        .where(MembershipRow.cluster_id.in_(existing))
        .order_by(
            MembershipRow.cluster_id,
            func.coalesce(ArticleRow.published, ArticleRow.first_seen),
            ArticleRow.id,
        )
    )
    for cluster_id, *member in rows:
        members[cluster_id].append(member)
    if members:
        table = CLUSTERS
        session.execute(
            update(table)
            .where(table.c.id == bindparam("cluster_id"))
            .values(revision=table.c.revision + 1),
            [_statistics(cluster_id, found, now) for cluster_id, found in members.items()],
        )


def _statistics(cluster_id: int, members: list[Any], now: datetime) -> dict[str, Any]:
    times = [published or seen for _, _, published, seen, _ in members]
    outlets = sorted({outlet for outlet, *_ in members})
    return {
        "cluster_id": cluster_id,
        "article_count": len(members),
        "outlet_count": len(outlets),
        "outlets": outlets,
        "title": members[0][1] if members else "",
        "language": members[0][4] if members else None,
        "first_published": min(times) if times else None,
        "last_updated": max(times) if times else None,
        "coverage": coverage_counts(times),
        "comparison_stale": True,
        "updated_at": now,
    }
