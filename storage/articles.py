"""Articles: idempotent inserts, revisions, tombstones, the page queue and the cluster queue.

An article moves through ``state``: ``pending`` (its page must be fetched) -> ``ready`` (text
final, waiting for the clusterer) -> ``clustered``. Each step commits on its own, so a process
killed anywhere resumes where it stopped, and unique keys make every insert idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.orm import Session

from aggregator.errors import NotFoundError
from aggregator.types import Article, ArticleDraft, DateSource, PageOutcome, PendingPage
from storage.base import Repo
from storage.models import ArticleHtmlRow, ArticleRevisionRow, ArticleRow, TombstoneRow

PENDING, READY, CLUSTERED = "pending", "ready", "clustered"


@dataclass(frozen=True, slots=True)
class InsertResult:
    new_ids: tuple[int, ...]
    revised_ids: tuple[int, ...]
    unchanged: int
    tombstoned: int


def text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _clean(value: str | None) -> str | None:
    """PostgreSQL rejects NUL in text; the parsers strip it, this is the last guard."""
    return value.replace("\x00", "") if value else value


def to_article(row: ArticleRow) -> Article:
    return Article(
        id=row.id,
        outlet_id=row.outlet_id,
        canonical_url=row.canonical_url,
        url=row.url,
        title=row.title,
        text=row.text,
        published=row.published,
        published_source=DateSource(row.published_source),
        first_seen=row.first_seen,
        content_hash=row.content_hash,
        revision=row.revision,
        flags=frozenset(row.flags),
        language=row.language,
        author=row.author,
        summary=row.summary,
        guid=row.guid,
        feed_id=row.feed_id,
        external_id=row.external_id,
        updated_at=row.updated_at,
    )


def _values(draft: ArticleDraft, now: datetime) -> dict[str, Any]:
    return {
        "outlet_id": draft.outlet_id,
        "feed_id": draft.feed_id,
        "canonical_url": draft.canonical_url[:2000],
        "url": draft.url[:2000],
        "entry_key": draft.entry_key[:2000],
        "guid": (draft.guid or "")[:2000] or None,
        "external_id": draft.external_id,
        "title": _clean(draft.title) or "",
        "summary": _clean(draft.summary) or "",
        "text": _clean(draft.text) or "",
        "author": (_clean(draft.author) or "")[:500] or None,
        "language": draft.language,
        "published": draft.published,
        "published_raw": (draft.published_raw or "")[:200] or None,
        "published_source": draft.published_source.value,
        "first_seen": draft.first_seen,
        "updated_at": now,
        "content_hash": draft.content_hash,
        "item_hash": draft.item_hash,
        "revision": 1,
        "flags": sorted(draft.flags),
        "extractor": draft.extractor,
        "state": PENDING if draft.pending else READY,
        "attempts": 0,
        "ready_at": None if draft.pending else now,
    }


class ArticleRepo(Repo):
    """Articles and their queues."""

    def insert_drafts(
        self, drafts: Sequence[ArticleDraft], now: datetime, *, max_revisions: int = 10
    ) -> InsertResult:
        """Insert new articles; revise existing ones whose feed entry changed. Idempotent."""
        if not drafts:
            return InsertResult((), (), 0, 0)
        with self.session() as session:
            live = self._drop_tombstoned(session, drafts)
            new_ids = self._insert_new(session, live, now)
            inserted = set(new_ids)
            rest = [d for d in live if (d.outlet_id, d.entry_key) not in inserted]
            revised = self._revise(session, rest, now, max_revisions)
        return InsertResult(
            new_ids=tuple(new_ids.values()),
            revised_ids=tuple(revised),
            unchanged=len(rest) - len(revised),
            tombstoned=len(drafts) - len(live),
        )

    def _drop_tombstoned(
        self, session: Session, drafts: Sequence[ArticleDraft]
    ) -> list[ArticleDraft]:
        urls = {d.canonical_url for d in drafts}
        dead = set(
            session.execute(
                select(TombstoneRow.outlet_id, TombstoneRow.canonical_url).where(
                    TombstoneRow.canonical_url.in_(urls)
                )
            )
        )
        return [d for d in drafts if (d.outlet_id, d.canonical_url) not in dead]

    def _insert_new(
        self, session: Session, drafts: Sequence[ArticleDraft], now: datetime
    ) -> dict[tuple[str, str], int]:
        if not drafts:
            return {}
        # one statement, the rows as parameters: SQLAlchemy batches them into multi-row
        # INSERTs ("insertmanyvalues") from a statement it compiles once; rows inlined with
        # .values([...]) made a new statement to compile for every feed (30 ms for 180 rows)
        statement = (
            self.insert(ArticleRow.__table__)
            .on_conflict_do_nothing()
            .returning(ArticleRow.id, ArticleRow.outlet_id, ArticleRow.entry_key)
        )
        rows = session.execute(statement, [_values(d, now) for d in drafts]).all()
        return {(outlet, key): article_id for article_id, outlet, key in rows}

    def _revise(
        self, session: Session, drafts: Sequence[ArticleDraft], now: datetime, cap: int
    ) -> list[int]:
        revised: list[int] = []
        stored = self._stored_for(session, drafts)
        for draft in drafts:
            row = stored.get((draft.outlet_id, "key", draft.entry_key)) or stored.get(
                (draft.outlet_id, "url", draft.canonical_url)
            )
            if row is None:
                continue
            if row.guid is None and draft.guid:
                # first seen in a document cut before its <guid>: the whole entry names it
                row.guid = draft.guid[:2000]
            if not draft.item_hash or row.item_hash == draft.item_hash:
                continue
            if row.title == (draft.title or "") and row.summary == (draft.summary or ""):
                row.item_hash = draft.item_hash
                continue
            if row.revision >= cap:
                continue  # churn capped: the feed keeps rewriting this entry
            session.add(
                ArticleRevisionRow(
                    article_id=row.id,
                    revision=row.revision,
                    title=row.title,
                    summary=row.summary,
                    content_hash=row.content_hash,
                    seen_at=row.updated_at,
                )
            )
            row.title = _clean(draft.title) or row.title
            row.summary = _clean(draft.summary) or ""
            row.item_hash = draft.item_hash
            row.revision += 1
            row.updated_at = now
            revised.append(row.id)
        return revised

    @staticmethod
    def _stored_for(
        session: Session, drafts: Sequence[ArticleDraft]
    ) -> dict[tuple[str, str, str], ArticleRow]:
        """The stored articles the drafts may revise, in one query per outlet (not one per
        entry), by entry key and by canonical URL."""
        found: dict[tuple[str, str, str], ArticleRow] = {}
        by_outlet: dict[str, list[ArticleDraft]] = {}
        for draft in drafts:
            by_outlet.setdefault(draft.outlet_id, []).append(draft)
        for outlet_id, group in by_outlet.items():
            keys = list({d.entry_key for d in group})
            urls = list({d.canonical_url for d in group})
            rows = session.scalars(
                select(ArticleRow)
                .where(
                    ArticleRow.outlet_id == outlet_id,
                    or_(ArticleRow.entry_key.in_(keys), ArticleRow.canonical_url.in_(urls)),
                )
                .order_by(ArticleRow.id)
            )
            for row in rows:
                found.setdefault((outlet_id, "key", row.entry_key), row)
                found.setdefault((outlet_id, "url", row.canonical_url), row)
        return found

    def get(self, article_id: int) -> Article:
        with self.session(write=False) as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise NotFoundError("no such article", resource=f"article {article_id}")
            return to_article(row)

    def get_many(self, ids: Sequence[int]) -> list[Article]:
        with self.session(write=False) as session:
            rows = session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))
            by_id = {row.id: to_article(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def count(self, *, state: str | None = None, outlet_id: str | None = None) -> int:
        with self.session(write=False) as session:
            query = select(func.count()).select_from(ArticleRow)
            if state is not None:
                query = query.where(ArticleRow.state == state)
            if outlet_id is not None:
                query = query.where(ArticleRow.outlet_id == outlet_id)
            return int(session.scalar(query) or 0)

    def revisions(self, article_id: int) -> list[tuple[int, str, datetime]]:
        """Earlier headlines: (revision, title, seen until)."""
        with self.session(write=False) as session:
            rows = session.execute(
                select(
                    ArticleRevisionRow.revision,
                    ArticleRevisionRow.title,
                    ArticleRevisionRow.seen_at,
                )
                .where(ArticleRevisionRow.article_id == article_id)
                .order_by(ArticleRevisionRow.revision)
            )
            return list(rows)

    def revisions_many(self, ids: Sequence[int]) -> dict[int, list[tuple[datetime, str]]]:
        """Earlier headlines of many articles: id -> [(seen until, title)], oldest first."""
        with self.session(write=False) as session:
            rows = session.execute(
                select(
                    ArticleRevisionRow.article_id,
                    ArticleRevisionRow.seen_at,
                    ArticleRevisionRow.title,
                )
                .where(ArticleRevisionRow.article_id.in_(ids))
                .order_by(ArticleRevisionRow.article_id, ArticleRevisionRow.revision)
            ).all()
        found: dict[int, list[tuple[datetime, str]]] = {}
        for article_id, seen_at, title in rows:
            found.setdefault(article_id, []).append((seen_at, title))
        return found

    # -- the page queue -------------------------------------------------------------------

    def claim_pending(
        self, now: datetime, *, owner: str, lease_s: float, limit: int
    ) -> list[PendingPage]:
        """Lease up to ``limit`` articles whose page must be fetched (oldest first)."""
        free = or_(ArticleRow.lease_until.is_(None), ArticleRow.lease_until < now)
        candidates = (
            select(ArticleRow.id)
            .where(ArticleRow.state == PENDING, free)
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        if self.skip_locked:
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(ArticleRow)
            .where(ArticleRow.id.in_(candidates.scalar_subquery()), free)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
            .returning(ArticleRow)
        )
        with self.session() as session:
            rows = session.scalars(statement, execution_options={"synchronize_session": False})
            pages = [
                PendingPage(
                    article_id=row.id,
                    outlet_id=row.outlet_id,
                    url=row.url,
                    title=row.title,
                    summary=row.summary,
                    published=row.published,
                    attempts=row.attempts,
                    feed_id=row.feed_id,
                )
                for row in rows
            ]
        return sorted(pages, key=lambda p: p.article_id)

    def finish_page(self, outcome: PageOutcome, now: datetime) -> None:
        """Store what the page stage made of an article; it becomes ready for clustering."""
        self.finish_pages([outcome], now)

    def finish_pages(self, outcomes: Sequence[PageOutcome], now: datetime) -> int:
        """``finish_page`` for many articles in one transaction; returns how many were
        still pending (an article finished by another worker meanwhile is left alone)."""
        if not outcomes:
            return 0
        by_id = {o.article_id: o for o in outcomes}
        with self.session() as session:
            rows = session.execute(
                select(*_FINISH_READS).where(ArticleRow.id.in_(by_id), ArticleRow.state == PENDING)
            ).all()
            if rows:  # ORM bulk UPDATE by primary key: one executemany, no unit of work
                session.execute(
                    update(ArticleRow), [_finished(row, by_id[row.id], now) for row in rows]
                )
            pages = [
                _html_values(row, by_id[row.id], now)
                for row in rows
                if by_id[row.id].html_packed is not None
            ]
            if pages:
                statement = self.insert(ArticleHtmlRow.__table__)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["article_id"],
                        set_={
                            "html_gz": statement.excluded.html_gz,
                            "final_url": statement.excluded.final_url,
                            "content_type": statement.excluded.content_type,
                            "fetched_at": statement.excluded.fetched_at,
                        },
                    ),
                    pages,
                )
            return len(rows)

    def defer_page(self, article_id: int, until: datetime, *, attempts: int) -> None:
        """Try the page again later (a transient failure)."""
        with self.session() as session:
            session.execute(
                update(ArticleRow)
                .where(ArticleRow.id == article_id, ArticleRow.state == PENDING)
                .values(lease_owner=None, lease_until=until, attempts=attempts)
            )

    # -- the cluster queue ----------------------------------------------------------------

    def ready_for_clustering(self, limit: int, *, after_id: int = 0) -> list[Article]:
        """Articles whose text is final, in the order they became ready; articles clustered
        before (put back by ``recluster``) first, in the order the clusterer took them."""
        with self.session(write=False) as session:
            rows = session.scalars(
                select(ArticleRow)
                .where(ArticleRow.state == READY, ArticleRow.id > after_id)
                .order_by(
                    ArticleRow.cluster_seq.asc().nulls_last(), ArticleRow.ready_at, ArticleRow.id
                )
                .limit(limit)
            )
            return [to_article(row) for row in rows]

    def mark_clustered(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.session() as session:
            session.execute(
                update(ArticleRow)
                .where(and_(ArticleRow.id.in_(ids), ArticleRow.state == READY))
                .values(state=CLUSTERED)
            )

    def requeue_for_clustering(self) -> int:
        """Put every clustered article back in the cluster queue (``newsagg recluster``);
        their ready order is kept, so the rebuild sees them in the order the service did."""
        with self.session() as session:
            result = session.execute(
                update(ArticleRow).where(ArticleRow.state == CLUSTERED).values(state=READY)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def html(self, article_id: int) -> bytes | None:
        with self.session(write=False) as session:
            row = session.get(ArticleHtmlRow, article_id)
            return row.html_packed if row is not None else None


def _html_values(row: Row[Any], outcome: PageOutcome, now: datetime) -> dict[str, Any]:
    return {
        "article_id": row.id,
        "html_gz": outcome.html_packed,
        "final_url": (outcome.final_url or row.url)[:2000],
        "content_type": (outcome.content_type or "")[:200] or None,
        "fetched_at": now,
    }


_FINISH_READS = (
    ArticleRow.id,
    ArticleRow.url,
    ArticleRow.summary,
    ArticleRow.flags,
    ArticleRow.title,
    ArticleRow.author,
    ArticleRow.language,
    ArticleRow.published,
    ArticleRow.published_source,
    ArticleRow.extractor,
    ArticleRow.attempts,
)


def _finished(row: Row[Any], outcome: PageOutcome, now: datetime) -> dict[str, Any]:
    """The columns of a pending article (``row``: ``_FINISH_READS``) once its page is done:
    the page's text, the feed's title, author and date kept where the feed gave them."""
    text = _clean(outcome.text) or ""
    title, published, source = row.title, row.published, row.published_source
    if outcome.title and not title:
        title = _clean(outcome.title) or ""
    if published is None and outcome.published is not None:
        published = outcome.published
        source = (outcome.published_source or DateSource.PAGE).value
    return {
        "id": row.id,
        "text": text,
        "content_hash": text_hash(text or row.summary),
        "flags": sorted(set(row.flags) | set(outcome.flags)),
        "title": title,
        "author": row.author or ((_clean(outcome.author) or "")[:500] or None),
        "language": outcome.language or row.language,
        "published": published,
        "published_source": source,
        "extractor": outcome.extractor or row.extractor,
        "state": READY,
        "ready_at": now,
        "updated_at": now,
        "lease_owner": None,
        "lease_until": None,
        "attempts": row.attempts + 1,
    }
