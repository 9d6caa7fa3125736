"""Heartbeats of running processes and the retention of bulky data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text

from storage.base import Repo
from storage.models import ArticleHtmlRow, FetchLogRow, WorkerRow


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    kind: str
    started_at: datetime
    heartbeat_at: datetime
    info: Mapping[str, Any]


class WorkerRepo(Repo):
    def heartbeat(
        self,
        worker_id: str,
        *,
        kind: str,
        started_at: datetime,
        now: datetime,
        info: Mapping[str, Any],
    ) -> None:
        with self.session() as session:
            session.merge(
                WorkerRow(
                    id=worker_id,
                    kind=kind,
                    started_at=started_at,
                    heartbeat_at=now,
                    info=dict(info),
                )
            )

    def workers(self) -> list[WorkerInfo]:
        with self.session(write=False) as session:
            rows = session.scalars(select(WorkerRow).order_by(WorkerRow.heartbeat_at.desc()))
            return [
                WorkerInfo(r.id, r.kind, r.started_at, r.heartbeat_at, dict(r.info)) for r in rows
            ]

    def forget(self, worker_id: str) -> None:
        with self.session() as session:
            session.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))

    def prune_workers(self, silent_since: datetime) -> int:
        with self.session() as session:
            result = session.execute(delete(WorkerRow).where(WorkerRow.heartbeat_at < silent_since))
            return int(getattr(result, "rowcount", 0) or 0)

    def reserve_host(self, host: str, delay_s: float) -> float:
        """Take the next request slot of ``host`` in the schedule shared by every worker:
        returns the seconds to wait before starting. Times are the database's clock, so
        workers on hosts with skewed clocks still keep the delay. (PostgreSQL; with SQLite
        one process holds the in-memory gate and this returns 0.)"""
        if self.dialect != "postgresql":
            return 0.0
        with self.session() as session:
            wait = session.execute(
                text(
                    "INSERT INTO host_slots (host, next_at) "
                    "VALUES (:host, clock_timestamp() + make_interval(secs => :delay)) "
                    "ON CONFLICT (host) DO UPDATE SET next_at = "
                    "GREATEST(host_slots.next_at, clock_timestamp()) "
                    "+ make_interval(secs => :delay) "
                    "RETURNING EXTRACT(EPOCH FROM (next_at - clock_timestamp())) - :delay"
                ),
                {"host": host[:255], "delay": float(delay_s)},
            ).scalar()
        return max(0.0, float(wait or 0.0))

    def drop_html(self, fetched_before: datetime) -> int:
        """Retention: drop the raw HTML of pages fetched before the cutoff (text, clusters
        and tombstones stay)."""
        with self.session() as session:
            result = session.execute(
                delete(ArticleHtmlRow).where(ArticleHtmlRow.fetched_at < fetched_before)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def prune_fetch_log(self, before: datetime) -> int:
        with self.session() as session:
            result = session.execute(delete(FetchLogRow).where(FetchLogRow.started_at < before))
            return int(getattr(result, "rowcount", 0) or 0)
