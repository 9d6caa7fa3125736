"""Outlets, feeds, their schedule and health, and the fetch history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from aggregator.errors import NotFoundError
from aggregator.types import Feed, FeedState, Outlet, OutletConfig
from storage.base import Repo
from storage.models import FeedRow, FetchLogRow, OutletRow


@dataclass(frozen=True, slots=True)
class SyncReport:
    outlets_added: int
    outlets_updated: int
    feeds_added: int


@dataclass(frozen=True, slots=True)
class FetchLogEntry:
    kind: str  # feed, page, robots
    url: str
    started_at: datetime
    result: str  # ok, not_modified, error
    feed_id: int | None = None
    outlet_id: str | None = None
    elapsed_ms: int = 0
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    bytes: int = 0
    new_items: int = 0


def to_outlet(row: OutletRow) -> Outlet:
    return Outlet(row.id, row.name, row.homepage, row.country, row.language, dict(row.labels))


def to_feed(row: FeedRow) -> Feed:
    return Feed(
        id=row.id,
        outlet_id=row.outlet_id,
        url=row.url,
        state=FeedState(row.state),
        interval_minutes=row.interval_minutes,
        next_check_at=row.next_check_at,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        error_count=row.error_count,
        last_error=row.last_error,
        last_error_code=row.last_error_code,
        last_fetched_at=row.last_fetched_at,
        last_success_at=row.last_success_at,
        last_unconditional_at=row.last_unconditional_at,
        last_new_item_at=row.last_new_item_at,
    )


class FeedRepo(Repo):
    """Outlets and feeds."""

    def sync_outlets(
        self, configs: Sequence[OutletConfig], *, default_interval: int, now: datetime
    ) -> SyncReport:
        """Insert or update outlets and their feeds from configuration. Never deletes:
        feeds dropped from the file keep their history (disable them instead). Safe when
        several processes start at once (inserts are ON CONFLICT DO NOTHING)."""
        added = updated = feeds_added = 0
        with self.session() as session:
            for config in configs:
                inserted = session.execute(
                    self.insert(OutletRow.__table__)
                    .values(_outlet_values(config, now))
                    .on_conflict_do_nothing()
                    .returning(OutletRow.id)
                ).first()
                if inserted is not None:
                    added += 1
                else:
                    row = session.get(OutletRow, config.id, with_for_update=self.skip_locked)
                    if row is not None and _update_outlet(row, config, now):
                        updated += 1
                interval = config.interval_minutes or default_interval
                feeds_added += self._add_feeds(session, config.id, config.feeds, interval, now)
        return SyncReport(added, updated, feeds_added)

    def _add_feeds(
        self, session: Session, outlet_id: str, urls: Iterable[str], interval: int, now: datetime
    ) -> int:
        count = 0
        for url in dict.fromkeys(urls):
            inserted = session.execute(
                self.insert(FeedRow.__table__)
                .values(
                    outlet_id=outlet_id,
                    url=url,
                    state=FeedState.ACTIVE.value,
                    interval_minutes=interval,
                    next_check_at=now,
                    error_count=0,
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(FeedRow.id)
            ).first()
            if inserted is not None:
                count += 1
            else:
                session.execute(
                    update(FeedRow)
                    .where(FeedRow.url == url, FeedRow.interval_minutes != interval)
                    .values(interval_minutes=interval)
                )
        return count

    def outlets(self) -> list[Outlet]:
        with self.session(write=False) as session:
            rows = session.scalars(select(OutletRow).order_by(OutletRow.id))
            return [to_outlet(row) for row in rows]

    def outlet(self, outlet_id: str) -> Outlet:
        with self.session(write=False) as session:
            row = session.get(OutletRow, outlet_id)
            if row is None:
                raise NotFoundError("no such outlet", resource=f"outlet {outlet_id!r}")
            return to_outlet(row)

    def outlet_configs(self) -> list[OutletConfig]:
        """Outlets with their feed URLs, as an outlets file would list them."""
        with self.session(write=False) as session:
            feeds: dict[str, list[str]] = {}
            for outlet_id, url in session.execute(
                select(FeedRow.outlet_id, FeedRow.url).order_by(FeedRow.id)
            ):
                feeds.setdefault(outlet_id, []).append(url)
            return [
                OutletConfig(
                    id=row.id,
                    name=row.name,
                    homepage=row.homepage,
                    country=row.country,
                    language=row.language,
                    feeds=tuple(feeds.get(row.id, ())),
                    labels=dict(row.labels),
                    interval_minutes=row.interval_minutes,
                )
                for row in session.scalars(select(OutletRow).order_by(OutletRow.id))
            ]

    def feeds(self, outlet_id: str | None = None) -> list[Feed]:
        with self.session(write=False) as session:
            query = select(FeedRow).order_by(FeedRow.id)
            if outlet_id is not None:
                query = query.where(FeedRow.outlet_id == outlet_id)
            return [to_feed(row) for row in session.scalars(query)]

    def feed(self, feed_id: int) -> Feed:
        with self.session(write=False) as session:
            row = session.get(FeedRow, feed_id)
            if row is None:
                raise NotFoundError("no such feed", resource=f"feed {feed_id}")
            return to_feed(row)

    def claim_due(
        self,
        now: datetime,
        *,
        owner: str,
        lease_s: float,
        limit: int,
        outlet_id: str | None = None,
        include_not_due: bool = False,
    ) -> list[Feed]:
        """Lease up to ``limit`` due feeds to ``owner``. A lease expires after ``lease_s``, so
        the feeds of a dead worker are taken over. PostgreSQL skips rows locked by others."""
        free = or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now)
        conditions: list[Any] = [free, FeedRow.state != FeedState.DISABLED.value]
        if not include_not_due:
            conditions.append(FeedRow.next_check_at <= now)
        if outlet_id is not None:
            conditions.append(FeedRow.outlet_id == outlet_id)
        candidates = (
            select(FeedRow.id)
            .where(and_(*conditions))
            .order_by(FeedRow.next_check_at, FeedRow.id)
            .limit(limit)
        )
        if self.skip_locked:
            candidates = candidates.with_for_update(skip_locked=True)
        until = now + timedelta(seconds=lease_s)
        statement = (
            update(FeedRow)
            .where(FeedRow.id.in_(candidates.scalar_subquery()), free)
            .values(lease_owner=owner, lease_until=until)
            .returning(FeedRow)
        )
        with self.session() as session:
            rows = session.scalars(statement, execution_options={"synchronize_session": False})
            feeds = [to_feed(row) for row in rows]
        return sorted(feeds, key=lambda f: (f.next_check_at, f.id))

    def save_feed(self, feed: Feed, *, status: int | None, owner: str | None = None) -> None:
        """Store the outcome of one poll (validators, schedule, health) and free the lease."""
        values = {
            "etag": feed.etag,
            "last_modified": feed.last_modified,
            "body_hash": feed.body_hash,
            "next_check_at": feed.next_check_at,
            "error_count": feed.error_count,
            "last_error": feed.last_error,
            "last_error_code": feed.last_error_code,
            "last_status": status,
            "state": feed.state.value,
            "last_fetched_at": feed.last_fetched_at,
            "last_success_at": feed.last_success_at,
            "last_unconditional_at": feed.last_unconditional_at,
            "last_new_item_at": feed.last_new_item_at,
            "lease_owner": None,
            "lease_until": None,
        }
        statement = update(FeedRow).where(FeedRow.id == feed.id)
        if owner is not None:
            statement = statement.where(
                or_(FeedRow.lease_owner == owner, FeedRow.lease_owner.is_(None))
            )
        with self.session() as session:
            session.execute(statement.values(**values))

    def release(self, feed_ids: Sequence[int], owner: str) -> None:
        with self.session() as session:
            session.execute(
                update(FeedRow)
                .where(FeedRow.id.in_(feed_ids), FeedRow.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def set_state(self, feed_id: int, state: FeedState, now: datetime) -> None:
        with self.session() as session:
            session.execute(
                update(FeedRow)
                .where(FeedRow.id == feed_id)
                .values(state=state.value, next_check_at=now)
            )

    def log_fetches(self, entries: Sequence[FetchLogEntry]) -> None:
        if not entries:
            return
        with self.session() as session:
            session.execute(
                self.insert(FetchLogRow.__table__),
                [entry_values(entry) for entry in entries],
            )

    def fetch_log(self, feed_id: int, limit: int = 50) -> list[FetchLogEntry]:
        with self.session(write=False) as session:
            rows = session.scalars(
                select(FetchLogRow)
                .where(FetchLogRow.feed_id == feed_id)
                .order_by(FetchLogRow.id.desc())
                .limit(limit)
            )
            return [_log_entry(row) for row in rows]

    def count_fetches(self, *, kind: str | None = None) -> int:
        with self.session(write=False) as session:
            query = select(func.count()).select_from(FetchLogRow)
            if kind is not None:
                query = query.where(FetchLogRow.kind == kind)
            return int(session.scalar(query) or 0)


def entry_values(entry: FetchLogEntry) -> dict[str, Any]:
    return {
        "feed_id": entry.feed_id,
        "outlet_id": entry.outlet_id,
        "kind": entry.kind,
        "url": entry.url[:2000],
        "started_at": entry.started_at,
        "elapsed_ms": entry.elapsed_ms,
        "status": entry.status,
        "result": entry.result,
        "error_code": entry.error_code,
        "error_message": (entry.error_message or "")[:2000] or None,
        "bytes": entry.bytes,
        "new_items": entry.new_items,
    }


def _log_entry(row: FetchLogRow) -> FetchLogEntry:
    return FetchLogEntry(
        kind=row.kind,
        url=row.url,
        started_at=row.started_at,
        result=row.result,
        feed_id=row.feed_id,
        outlet_id=row.outlet_id,
        elapsed_ms=row.elapsed_ms,
        status=row.status,
        error_code=row.error_code,
        error_message=row.error_message,
        bytes=row.bytes,
        new_items=row.new_items,
    )


def _outlet_values(config: OutletConfig, now: datetime) -> dict[str, Any]:
    return {
        "id": config.id,
        "name": config.name,
        "homepage": config.homepage,
        "country": config.country,
        "language": config.language,
        "labels": dict(config.labels),
        "interval_minutes": config.interval_minutes,
        "created_at": now,
        "updated_at": now,
    }


def _update_outlet(row: OutletRow, config: OutletConfig, now: datetime) -> bool:
    wanted = {
        "name": config.name,
        "homepage": config.homepage,
        "country": config.country,
        "language": config.language,
        "labels": dict(config.labels),
        "interval_minutes": config.interval_minutes,
    }
    changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        row.updated_at = now
    return bool(changed)
