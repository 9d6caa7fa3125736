"""Read-side queries for operations: outlets with feed health, labels, the audit log and the
queue depths that ``/metrics`` reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Text, and_, case, cast, func, select
from sqlalchemy.engine import Connection

from storage.models import ArticleRow as A
from storage.models import AuditLogRow, FeedRow, OutletRow
from storage.models import StoryClusterRow as C
from storage.queries import reading

# -- outlets and feed health ----------------------------------------------------------------


def _feed_health(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "state": row.state,
        "last_fetched_at": row.last_fetched_at,
        "last_success_at": row.last_success_at,
        "last_status": row.last_status,
        "result": row.last_error_code or ("ok" if row.last_fetched_at else "never fetched"),
        "last_error": row.last_error,
        "error_count": row.error_count,
        "next_check_at": row.next_check_at,
        "broken": row.state == "gone" or row.error_count > 0,
    }


def _recent_counts(conn: Connection, since: datetime) -> dict[str, tuple[int, int, int]]:
    """outlet -> (articles seen, pages processed, pages extracted) since ``since``."""
    processed = and_(A.feed_id.is_not(None), A.state != "pending")
    extracted = and_(
        processed, A.extractor.is_not(None), ~cast(A.flags, Text).like('%"summary_only"%')
    )
    rows = conn.execute(
        select(
            A.outlet_id,
            func.count(),
            func.sum(case((processed, 1), else_=0)),
            func.sum(case((extracted, 1), else_=0)),
        )
        .where(A.first_seen >= since)
        .group_by(A.outlet_id)
    ).all()
    return {o: (int(n), int(p or 0), int(e or 0)) for o, n, p, e in rows}


def outlets_health(engine: Engine, now: datetime, *, days: int = 7) -> list[dict[str, Any]]:
    """Every outlet with its feeds' health and recent output; broken feeds first."""
    with reading(engine) as conn:
        outlets = conn.execute(select(OutletRow).order_by(OutletRow.id)).all()
        feeds = conn.execute(select(FeedRow).order_by(FeedRow.id)).all()
        counts = _recent_counts(conn, now - timedelta(days=days))
    by_outlet: dict[str, list[dict[str, Any]]] = {}
    for feed in feeds:
        by_outlet.setdefault(feed.outlet_id, []).append(_feed_health(feed))
    result = []
    for outlet in outlets:
        seen, processed, extracted = counts.get(outlet.id, (0, 0, 0))
        mine = sorted(
            by_outlet.get(outlet.id, []), key=lambda f: (not f["broken"], -f["error_count"])
        )
        result.append(
            {
                "id": outlet.id,
                "name": outlet.name,
                "homepage": outlet.homepage,
                "country": outlet.country,
                "language": outlet.language,
                "labels": dict(outlet.labels),
                "feeds": mine,
                "broken": any(f["broken"] for f in mine),
                "articles_per_day": round(seen / days, 2),
                "extraction_rate": round(extracted / processed, 3) if processed else None,
                "window_days": days,
            }
        )
    return sorted(result, key=lambda o: (not o["broken"], -_max_errors(o), o["id"]))


def _max_errors(outlet: dict[str, Any]) -> int:
    return max((f["error_count"] for f in outlet["feeds"]), default=0)


def outlet_choices(engine: Engine) -> list[dict[str, Any]]:
    """Every outlet's id, name and labels (for filter forms), by name."""
    with reading(engine) as conn:
        rows = conn.execute(select(OutletRow.id, OutletRow.name, OutletRow.labels)).all()
    items = [{"id": oid, "name": name, "labels": dict(labels or {})} for oid, name, labels in rows]
    return sorted(items, key=lambda o: (str(o["name"]).lower(), o["id"]))


def outlet_ids_with_label(engine: Engine, key: str | None, value: str) -> tuple[str, ...]:
    """Outlets carrying a label (``key=value``, or ``value`` under any key)."""
    with reading(engine) as conn:
        rows = conn.execute(select(OutletRow.id, OutletRow.labels)).all()
    return tuple(
        sorted(
            oid
            for oid, labels in rows
            if any(str(v) == value and (key is None or k == key) for k, v in (labels or {}).items())
        )
    )


def outlet_names(engine: Engine) -> dict[str, str]:
    with reading(engine) as conn:
        rows = conn.execute(select(OutletRow.id, OutletRow.name)).all()
    return {str(oid): str(name) for oid, name in rows}


# -- audit log and operations ---------------------------------------------------------------


def audit_entries(
    engine: Engine,
    *,
    cluster_id: int | None = None,
    before: int | None = None,
    limit: int = 100,
    scan: int | None = None,
) -> list[dict[str, Any]]:
    """Audit entries older than id ``before``, newest first; with ``cluster_id`` only those
    that name the cluster (scanned in batches, so up to ``limit`` are always found, unless
    ``scan`` bounds how many recent entries are looked at)."""
    found: list[dict[str, Any]] = []
    looked = 0
    with reading(engine) as conn:
        while len(found) < limit and (scan is None or looked < scan):
            query = select(AuditLogRow).order_by(AuditLogRow.id.desc()).limit(500)
            if before is not None:
                query = query.where(AuditLogRow.id < before)
            rows = conn.execute(query).all()
            looked += len(rows)
            for r in rows:
                entry = {"id": r.id, "at": r.at, "actor": r.actor, "action": r.action}
                entry.update(target=r.target, detail=dict(r.detail))
                if cluster_id is None or cluster_id in _clusters_named(entry["detail"]):
                    found.append(entry)
            if len(rows) < 500:
                break
            before = rows[-1].id
    return found[:limit]


def _clusters_named(detail: dict[str, Any]) -> set[int]:
    payload = detail.get("payload") or {}
    named = set(payload.get("clusters") or [])
    named.update(
        payload[k]
        for k in ("cluster", "from", "to", "into", "new")
        if isinstance(payload.get(k), int)
    )
    return {int(n) for n in named if isinstance(n, int)}


def queue_depths(engine: Engine, now: datetime) -> dict[str, int]:
    """Work waiting in the database: pages to fetch, articles to cluster, feeds due, stale
    comparisons (computed when Prometheus scrapes)."""
    with reading(engine) as conn:
        count = func.count()
        return {
            "pages_pending": int(conn.scalar(select(count).where(A.state == "pending")) or 0),
            "articles_ready": int(conn.scalar(select(count).where(A.state == "ready")) or 0),
            "feeds_due": int(
                conn.scalar(
                    select(count).where(FeedRow.state == "active", FeedRow.next_check_at <= now)
                )
                or 0
            ),
            "comparisons_stale": int(
                conn.scalar(
                    select(count).where(
                        C.comparison_stale, C.merged_into.is_(None), C.article_count > 0
                    )
                )
                or 0
            ),
        }


def outlet_label_keys(engine: Engine) -> list[str]:
    with reading(engine) as conn:
        rows = conn.execute(select(OutletRow.labels)).scalars().all()
    return sorted({key for labels in rows for key in (labels or {})})
