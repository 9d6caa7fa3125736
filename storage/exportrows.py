"""Export rows: every row of a table, streamed in id order from one statement (a server-side
cursor on PostgreSQL, ``yield_per`` batches), never capped; and what a manifest records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, func, select

from aggregator.errors import InputError
from storage.models import ArticleRow as A
from storage.models import MembershipRow as M
from storage.models import ParamSetRow, StoryComparisonRow
from storage.models import StoryClusterRow as C
from storage.queries import (
    AnySelect,
    ArticleFilters,
    ClusterFilters,
    active_version,
    article_conditions,
    cluster_conditions,
    reading,
    with_membership,
)

EXPORT_TABLES = ("articles", "clusters", "memberships", "comparisons")


@dataclass(frozen=True, slots=True)
class ExportFilters:
    since: datetime | None = None
    until: datetime | None = None
    outlets: tuple[str, ...] = ()


def _export_articles(dialect: str, version: str | None, f: ExportFilters) -> AnySelect:
    query = select(
        func.coalesce(A.external_id, cast(A.id, Text)).label("id"),
        A.id.label("article_id"),
        A.outlet_id.label("outlet"),
        A.url,
        A.title,
        A.text,
        A.published,
        A.published_source,
        A.first_seen,
        A.language,
        A.author,
        A.flags,
        A.extractor,
        M.cluster_id.label("story_cluster"),
        M.copy_group,
    )
    conditions = article_conditions(dialect, ArticleFilters(f.since, f.until, f.outlets))
    return with_membership(query, version).where(*conditions).order_by(A.id)


def _export_clusters(dialect: str, version: str | None, f: ExportFilters) -> AnySelect:
    filters = ClusterFilters(since=f.since, until=f.until, outlets=f.outlets)
    columns: tuple[Any, ...] = (C.id, C.param_version, C.title, C.language, C.first_published)
    columns += (C.last_updated, C.article_count, C.outlet_count, C.outlets, C.comparison_at)
    conditions = cluster_conditions(dialect, version or "", filters)
    return select(*columns).where(*conditions).order_by(C.id)


def _export_memberships(dialect: str, version: str | None, f: ExportFilters) -> AnySelect:
    query = select(
        func.coalesce(A.external_id, cast(A.id, Text)).label("id"),
        M.article_id,
        A.outlet_id.label("outlet"),
        M.cluster_id.label("story_cluster"),
        M.copy_group,
        M.duplicate_of,
        M.score,
        M.rule,
        M.why,
        M.assigned_at,
        M.param_version,
    ).join(A, A.id == M.article_id)
    conditions = article_conditions(dialect, ArticleFilters(f.since, f.until, f.outlets))
    return query.where(M.param_version == version, *conditions).order_by(M.article_id)


def _export_comparisons(dialect: str, version: str | None, f: ExportFilters) -> AnySelect:
    filters = ClusterFilters(since=f.since, until=f.until, outlets=f.outlets)
    conditions = cluster_conditions(dialect, version or "", filters)
    return (
        select(C.id.label("cluster_id"), StoryComparisonRow.comparison)
        .join(StoryComparisonRow, StoryComparisonRow.cluster_id == C.id)
        .where(*conditions)
        .order_by(C.id)
    )


EXPORT_QUERIES = {
    "articles": _export_articles,
    "clusters": _export_clusters,
    "memberships": _export_memberships,
    "comparisons": _export_comparisons,
}


def export_batches(
    engine: Engine, table: str, filters: ExportFilters, *, batch: int = 2000
) -> Iterator[list[Sequence[Any]]]:
    """Every row of an export table, in id order, as batches of rows (tuples in the order of
    ``export_columns(table)``); streamed from one statement (one snapshot), never all in memory
    and never capped."""
    build = EXPORT_QUERIES.get(table)
    if build is None:
        raise InputError(f"unknown table {table!r}", resource="export")
    with reading(engine) as conn:
        query = build(engine.dialect.name, active_version(conn), filters)
        result = conn.execution_options(yield_per=batch).execute(query)
        for part in result.partitions():
            yield list(part)


def export_columns(table: str) -> list[str]:
    """The column names of an export table's rows, in order."""
    query = EXPORT_QUERIES[table]("sqlite", None, ExportFilters())
    return [column.name for column in query.selected_columns]


def export_context(engine: Engine, filters: ExportFilters) -> dict[str, Any]:
    """What a manifest records: the active parameter set and the extractor versions of the
    articles the filters select."""
    with reading(engine) as conn:
        version = active_version(conn)
        params = conn.scalar(select(ParamSetRow.params).where(ParamSetRow.version == version))
        extractors = conn.execute(
            select(A.extractor, func.count())
            .where(
                *article_conditions(
                    engine.dialect.name,
                    ArticleFilters(filters.since, filters.until, filters.outlets),
                )
            )
            .group_by(A.extractor)
            .order_by(A.extractor)
        ).all()
    return {
        "param_version": version,
        "params": dict(params) if params else None,
        "extractors": {name or "none": int(n) for name, n in extractors},
    }
