"""SQLAlchemy 2 models: the schema of record. Change it only with an Alembic migration.

Tables:
    outlets, feeds              what we poll, with validators, schedule, health and leases
    fetch_log                   one row per fetch attempt (feed, page or robots.txt)
    articles                    one row per (outlet, canonical URL) and per (outlet, entry key)
    article_html                the fetched page, compressed, so articles can be re-extracted
    article_revisions           earlier titles/summaries/texts of an article
    tombstones                  articles the operator deleted: never ingested again
    param_sets                  versioned dedup parameters; one is active
    signatures                  per article and parameter set: the dedup engine's stored signature
    story_clusters, memberships story clusters and why each article belongs to its cluster
    corrections, audit_log      editor corrections (they win over re-clustering) and who did what
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json, list[Any]: Json}  # noqa: RUF012


class OutletRow(Base):
    __tablename__ = "outlets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    homepage: Mapped[str] = mapped_column(String(2000), default="")
    country: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    interval_minutes: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FeedRow(Base):
    __tablename__ = "feeds"
    __table_args__ = (Index(None, "state", "next_check_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="active")
    interval_minutes: Mapped[int]
    next_check_at: Mapped[datetime]
    etag: Mapped[str | None] = mapped_column(String(1000))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    error_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None]
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_unconditional_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class FetchLogRow(Base):
    __tablename__ = "fetch_log"
    __table_args__ = (Index(None, "feed_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    outlet_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # feed, page, robots
    url: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(index=True)
    elapsed_ms: Mapped[int] = mapped_column(default=0)
    status: Mapped[int | None]
    result: Mapped[str] = mapped_column(String(32))  # ok, not_modified, error
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(default=0)
    new_items: Mapped[int] = mapped_column(default=0)


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("outlet_id", "canonical_url"),
        UniqueConstraint("outlet_id", "entry_key"),
        Index(None, "state", "id"),
        Index(None, "published"),
        Index(None, "first_seen"),
        # covering: an article's times without reading its row, whose text comes first
        Index(None, "id", "published", "first_seen"),
        Index(None, "content_hash"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(
        ForeignKey("outlets.id", ondelete="RESTRICT"), index=True
    )
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    canonical_url: Mapped[str] = mapped_column(String(2000))
    url: Mapped[str] = mapped_column(String(2000))
    entry_key: Mapped[str] = mapped_column(String(2000))
    guid: Mapped[str | None] = mapped_column(String(2000))
    external_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(16))
    published: Mapped[datetime | None]
    published_raw: Mapped[str | None] = mapped_column(String(200))
    published_source: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime]
    updated_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64))
    item_hash: Mapped[str] = mapped_column(String(64), default="")  # the feed entry's content
    revision: Mapped[int] = mapped_column(default=1)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    extractor: Mapped[str | None] = mapped_column(String(100))
    # pending: waiting for its page; ready: text final, waiting for the clusterer; clustered
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    # the order in which the clusterer took the article (recluster replays it)
    cluster_seq: Mapped[int | None] = mapped_column(BigId, index=True)


class ArticleHtmlRow(Base):
    __tablename__ = "article_html"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    # the page as aggregator.pagepack packed it: a zstd frame, or gzip from versions before
    # 2026-11-29 (the column keeps its first name)
    html_packed: Mapped[bytes] = mapped_column("html_gz", LargeBinary)
    final_url: Mapped[str] = mapped_column(String(2000))
    content_type: Mapped[str | None] = mapped_column(String(200))
    fetched_at: Mapped[datetime] = mapped_column(index=True)


class ArticleRevisionRow(Base):
    __tablename__ = "article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    revision: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime]


class TombstoneRow(Base):
    __tablename__ = "tombstones"
    __table_args__ = (UniqueConstraint("outlet_id", "canonical_url"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(64))
    canonical_url: Mapped[str] = mapped_column(String(2000))
    entry_key: Mapped[str | None] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime]


class ParamSetRow(Base):
    __tablename__ = "param_sets"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class SignatureRow(Base):
    __tablename__ = "signatures"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    param_version: Mapped[str] = mapped_column(
        ForeignKey("param_sets.version", ondelete="CASCADE"), primary_key=True
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    sort_time: Mapped[datetime] = mapped_column(index=True)


class IdfSnapshotRow(Base):
    """The clusterer's IDF table (``IdfTable.to_bytes``), written with a clustering batch:
    it counted every article of the parameter set with ``cluster_seq`` up to this one. A
    restart loads it and counts the articles clustered after it, so the IDF of articles that
    left the window is kept."""

    __tablename__ = "idf_snapshots"

    param_version: Mapped[str] = mapped_column(
        ForeignKey("param_sets.version", ondelete="CASCADE"), primary_key=True
    )
    cluster_seq: Mapped[int] = mapped_column(BigInteger)
    articles: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime]


class StoryClusterRow(Base):
    __tablename__ = "story_clusters"
    __table_args__ = (
        UniqueConstraint("param_version", "key"),
        Index(None, "param_version", "last_updated", "id"),
        Index(None, "param_version", "first_published"),
        Index(None, "param_version", "outlet_count", "article_count", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    param_version: Mapped[str] = mapped_column(ForeignKey("param_sets.version", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    first_published: Mapped[datetime | None]
    last_updated: Mapped[datetime | None]
    article_count: Mapped[int] = mapped_column(default=0)
    outlet_count: Mapped[int] = mapped_column(default=0)
    outlets: Mapped[list[Any]] = mapped_column(default=list)
    # articles per 16th of the story's time span (storage.coverage); NULL until computed
    coverage: Mapped[list[Any] | None] = mapped_column(Json)
    merged_into: Mapped[int | None] = mapped_column(
        ForeignKey("story_clusters.id", ondelete="SET NULL")
    )
    comparison_at: Mapped[datetime | None]
    comparison_stale: Mapped[bool] = mapped_column(Boolean, default=True)
    # one more at each change of the members (a comparison of an older one stays stale)
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StoryComparisonRow(Base):
    """A story's comparison (``aggregator.compare``), apart from the story's row: the document
    grows with the story (megabytes for hundreds of articles), and in SQLite every column
    after it in a row is read by walking its overflow pages."""

    __tablename__ = "story_comparisons"

    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("story_clusters.id", ondelete="CASCADE"), primary_key=True
    )
    comparison: Mapped[dict[str, Any]] = mapped_column(Json)


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (Index(None, "cluster_id"), Index(None, "param_version", "copy_group"))

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    param_version: Mapped[str] = mapped_column(
        ForeignKey("param_sets.version", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[int] = mapped_column(ForeignKey("story_clusters.id", ondelete="CASCADE"))
    copy_group: Mapped[str | None] = mapped_column(String(200))
    duplicate_of: Mapped[int | None]
    score: Mapped[float] = mapped_column(Float, default=0.0)
    rule: Mapped[str] = mapped_column(String(32))
    why: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assigned_at: Mapped[datetime]


class CorrectionRow(Base):
    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # merge, split, move
    payload: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditLogRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class HostSlotRow(Base):
    """Per host, the earliest start of the next request: politeness shared by workers."""

    __tablename__ = "host_slots"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[datetime]


class WorkerRow(Base):
    """Heartbeats of running processes (scheduler liveness for /readyz and the UI)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


__all__ = [
    "ArticleHtmlRow",
    "ArticleRevisionRow",
    "ArticleRow",
    "AuditLogRow",
    "Base",
    "CorrectionRow",
    "FeedRow",
    "FetchLogRow",
    "HostSlotRow",
    "MembershipRow",
    "OutletRow",
    "ParamSetRow",
    "SignatureRow",
    "StoryClusterRow",
    "TombstoneRow",
    "WorkerRow",
]
