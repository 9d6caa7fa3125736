"""What the clusterer writes and reads back: assignment batches in one transaction, the rows
a restarting engine rebuilds its index from, and the bookkeeping of engine keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from storage.base import Repo
from storage.clusters import (
    MembershipRecord,
    StoredSignature,
    cluster_ids,
    refresh_clusters,
    signature_values,
    upsert_memberships,
)
from storage.models import (
    ArticleRow,
    IdfSnapshotRow,
    MembershipRow,
    SignatureRow,
    StoryClusterRow,
)


@dataclass(frozen=True, slots=True)
class ClusterMove:
    """Articles the engine moved to another cluster after their assignment (a merge proved
    by a bridging article, a better-fitting cluster, an editor's correction)."""

    article_ids: tuple[int, ...]
    to_key: str
    rule: str
    from_key: str | None = None
    copy_group: str | None = None


@dataclass(frozen=True, slots=True)
class RestoreRow:
    """What a restarting clusterer needs of one stored article."""

    article_id: int
    outlet_id: str
    sort_time: datetime
    payload: bytes
    cluster_key: str
    copy_group: str | None


@dataclass(frozen=True, slots=True)
class IdfSnapshot:
    """The clusterer's IDF table (``payload``) after counting ``articles`` articles: every
    one of the parameter set clustered up to ``cluster_seq`` (which ``persist_batch`` fills
    in: the last number of the batch it is stored with)."""

    payload: bytes
    articles: int
    cluster_seq: int = 0


class AssignmentRepo(Repo):
    def persist_batch(
        self,
        version: str,
        *,
        signatures: Sequence[StoredSignature],
        records: Sequence[MembershipRecord],
        moves: Sequence[ClusterMove],
        clustered: Sequence[int],
        now: datetime,
        idf: IdfSnapshot | None = None,
    ) -> set[int]:
        """Store one clustering batch in one transaction: signatures, memberships, the moves
        that later arrivals caused, and the articles' state; with ``idf``, the IDF table as
        it is after this batch (it replaces the stored one). Returns the touched clusters."""
        with self.session() as session:
            if signatures:
                session.execute(
                    self.insert(SignatureRow.__table__).on_conflict_do_nothing(),
                    [signature_values(version, s) for s in signatures],
                )
            keys = {r.cluster_key for r in records} | {m.to_key for m in moves}
            keys |= {m.from_key for m in moves if m.from_key}
            ids = cluster_ids(session, version, keys, now)
            touched = {ids[r.cluster_key] for r in records}
            if records:
                upsert_memberships(session, self.insert, version, ids=ids, records=records, now=now)
            for move in moves:
                touched |= self._apply_move(session, version, ids, move, now)
            if clustered:
                last = self._mark_clustered(session, clustered)
                if idf is not None:
                    self._save_idf(session, version, idf, last, now)
            refresh_clusters(session, touched, now)
            return touched

    @staticmethod
    def _mark_clustered(session: Any, clustered: Sequence[int]) -> int:
        """Record the order the clusterer took the articles in (``recluster`` replays it);
        returns the last number given."""
        start = session.scalar(select(func.max(ArticleRow.cluster_seq))) or 0
        session.execute(
            update(ArticleRow),
            [
                {"id": article_id, "state": "clustered", "cluster_seq": start + n}
                for n, article_id in enumerate(clustered, start=1)
            ],
        )
        return int(start) + len(clustered)

    def _save_idf(
        self, session: Any, version: str, idf: IdfSnapshot, last: int, now: datetime
    ) -> None:
        values = {
            "param_version": version,
            "cluster_seq": last,
            "articles": idf.articles,
            "payload": idf.payload,
            "saved_at": now,
        }
        statement = self.insert(IdfSnapshotRow.__table__).values(values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["param_version"],
                set_={k: v for k, v in values.items() if k != "param_version"},
            )
        )

    def idf_snapshot(self, version: str) -> IdfSnapshot | None:
        """The last IDF table stored for a parameter set."""
        with self.session(write=False) as session:
            row = session.get(IdfSnapshotRow, version)
            if row is None:
                return None
            return IdfSnapshot(bytes(row.payload), row.articles, row.cluster_seq)

    def signatures_after(
        self, version: str, cluster_seq: int, *, batch: int = 5000
    ) -> Iterator[bytes]:
        """The signatures of the parameter set's articles clustered after ``cluster_seq``
        (whatever their time), in the order the clusterer took them: what it counted into
        its IDF after the stored table."""
        query = (
            select(SignatureRow.payload)
            .join(ArticleRow, ArticleRow.id == SignatureRow.article_id)
            .join(
                MembershipRow,
                (MembershipRow.article_id == SignatureRow.article_id)
                & (MembershipRow.param_version == version),
            )
            .where(SignatureRow.param_version == version, ArticleRow.cluster_seq > cluster_seq)
            .order_by(ArticleRow.cluster_seq, SignatureRow.article_id)
            .execution_options(yield_per=batch)
        )
        with self.session(write=False) as session:
            for part in session.execute(query).partitions(batch):
                yield from (bytes(payload) for (payload,) in part)

    def _apply_move(
        self, session: Any, version: str, ids: dict[str, int], move: ClusterMove, now: datetime
    ) -> set[int]:
        target = ids[move.to_key]
        sources = set(
            session.scalars(
                select(MembershipRow.cluster_id).where(
                    MembershipRow.param_version == version,
                    MembershipRow.article_id.in_(move.article_ids),
                )
            )
        )
        values: dict[str, Any] = {"cluster_id": target, "rule": move.rule, "assigned_at": now}
        if move.copy_group is not None:
            values["copy_group"] = move.copy_group
        session.execute(
            update(MembershipRow)
            .where(
                MembershipRow.param_version == version,
                MembershipRow.article_id.in_(move.article_ids),
            )
            .values(**values)
        )
        session.execute(
            update(StoryClusterRow).where(StoryClusterRow.id == target).values(merged_into=None)
        )
        if move.rule == "merge":
            emptied = [c for c in sources if c != target]
            session.execute(
                update(StoryClusterRow)
                .where(StoryClusterRow.id.in_(emptied))
                .values(merged_into=target)
            )
        return sources | {target}

    def restore_rows(
        self, version: str, since: datetime, *, batch: int = 5000
    ) -> Iterator[list[RestoreRow]]:
        """Stored signatures newer than ``since`` with each article's current place, in the
        order the clusterer took them (``cluster_seq``), in batches: a restarting clusterer
        rebuilds its index in the same order the running one built it.

        One statement, streamed (a server-side cursor on PostgreSQL), read in one snapshot:
        the order is on an expression no index serves, so keyset pages sorted the whole
        window again for every page (350k rows: 102 s in pages, 9 s in one pass)."""
        order = func.coalesce(ArticleRow.cluster_seq, 0)
        query = (
            select(
                SignatureRow.article_id,
                ArticleRow.outlet_id,
                SignatureRow.sort_time,
                SignatureRow.payload,
                StoryClusterRow.key,
                MembershipRow.copy_group,
            )
            .join(ArticleRow, ArticleRow.id == SignatureRow.article_id)
            .join(
                MembershipRow,
                (MembershipRow.article_id == SignatureRow.article_id)
                & (MembershipRow.param_version == version),
            )
            .join(StoryClusterRow, StoryClusterRow.id == MembershipRow.cluster_id)
            .where(SignatureRow.param_version == version, SignatureRow.sort_time >= since)
            .order_by(order, SignatureRow.article_id)
            .execution_options(yield_per=batch)
        )
        with self.session(write=False) as session:
            for part in session.execute(query).partitions(batch):
                yield [RestoreRow(a, o, t, bytes(p), k, g) for a, o, t, p, k, g in part]

    def newest_time(self, version: str) -> datetime | None:
        """The latest ``sort_time`` among the stored signatures of a parameter set."""
        with self.session(write=False) as session:
            return session.scalar(
                select(func.max(SignatureRow.sort_time)).where(
                    SignatureRow.param_version == version
                )
            )

    def key_numbers(self, version: str) -> tuple[int, int]:
        """The largest numeric cluster key and copy group used so far (0 when none), so a
        restarted engine never hands out an id that names an older cluster."""
        with self.session(write=False) as session:
            keys = session.scalars(
                select(StoryClusterRow.key).where(StoryClusterRow.param_version == version)
            )
            groups = session.scalars(
                select(MembershipRow.copy_group)
                .where(MembershipRow.param_version == version)
                .distinct()
            )
            return _max_int(keys), _max_int(groups)

    def rekey(self, version: str, old_key: str, new_key: str) -> None:
        """Give the cluster ``old_key`` the engine's key ``new_key``; a dead cluster that held
        ``new_key`` (merged away, emptied) keeps its row under another key."""
        if old_key == new_key:
            return
        with self.session() as session:
            exists = session.scalar(
                select(StoryClusterRow.id).where(
                    StoryClusterRow.param_version == version, StoryClusterRow.key == old_key
                )
            )
            if exists is None:
                return
            holder = session.scalars(
                select(StoryClusterRow).where(
                    StoryClusterRow.param_version == version, StoryClusterRow.key == new_key
                )
            ).first()
            if holder is not None:
                holder.key = f"retired-{holder.id}"
                session.flush()
            session.execute(
                update(StoryClusterRow)
                .where(StoryClusterRow.param_version == version, StoryClusterRow.key == old_key)
                .values(key=new_key)
            )


def _max_int(values: Any) -> int:
    best = 0
    for value in values:
        try:
            best = max(best, int(value))
        except (TypeError, ValueError):
            continue
    return best
