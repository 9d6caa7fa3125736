"""Read-side queries for the web UI, the JSON API and exports: plain dataclasses and dicts.

Lists page by keyset (the last row's sort key, never an offset), so a page costs the same at
row 10 and at row 10 million, and ``next_key`` is None exactly when nothing follows. Search
goes through SQLite FTS5 or PostgreSQL full-text with every user word bound as a parameter;
words are extracted from the query first, so no search syntax (quotes, ``*``, ``NEAR(``,
``OR``, ``-``) reaches the engine. Export rows stream from one statement with ``yield_per``
(a server-side cursor on PostgreSQL), without a row cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import InputError, NotFoundError, StorageError
from storage.coverage import coverage_counts
from storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    MembershipRow,
    OutletRow,
    ParamSetRow,
    StoryClusterRow,
    StoryComparisonRow,
)

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
C, A, M = StoryClusterRow, ArticleRow, MembershipRow
MAX_TERMS, MAX_TERM_CHARS = 16, 64
SEARCH_CAP = 2000  # matches up to this many become an id list in the main query
WORD_RE = re.compile(r"[^\W_]+")
CLUSTER_SORTS = ("latest", "largest")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_key: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class ClusterFilters:
    since: datetime | None = None
    until: datetime | None = None
    outlets: tuple[str, ...] = ()  # covered by any of these
    labelled: tuple[str, ...] | None = None  # and by any of these (a label filter); () = none
    language: str | None = None
    min_outlets: int | None = None
    terms: tuple[str, ...] = ()  # from ``search_terms``


@dataclass(frozen=True, slots=True)
class ArticleFilters:
    since: datetime | None = None
    until: datetime | None = None
    outlets: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    cluster: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterItem:
    id: int
    title: str
    language: str | None
    first_published: datetime | None
    last_updated: datetime | None
    article_count: int
    outlet_count: int
    outlets: tuple[str, ...]
    coverage: tuple[int, ...] | None = None  # None: not computed yet (see ``coverage``)


@dataclass(frozen=True, slots=True)
class ClusterDetail:
    cluster: ClusterItem
    merged_into: int | None
    param_version: str
    comparison: dict[str, Any] | None
    comparison_at: datetime | None
    comparison_stale: bool
    articles: list[dict[str, Any]] = field(default_factory=list)


def search_terms(query: str) -> tuple[str, ...]:
    """The words of a search box, stripped of every operator. InputError when none."""
    words = tuple(w[:MAX_TERM_CHARS] for w in WORD_RE.findall(query))
    if not words:
        raise InputError("the search has no words in it", resource="q")
    if len(words) > MAX_TERMS:
        raise InputError(f"at most {MAX_TERMS} search words", resource="q")
    return words


def _matching_articles(dialect: str, terms: Sequence[str]) -> AnySelect:
    """Ids of the articles that contain every word (parameterised full-text search).

    On PostgreSQL the words are in ``article_search`` (migration 0006: written only when a
    title or text changes), and the matches are a MATERIALIZED CTE, found once through its
    GIN index, so the planner cannot walk an ordered index of ``articles`` instead and test
    each row (seconds for a rare word over a million articles)."""
    if dialect == "postgresql":
        condition = text("document @@ plainto_tsquery('simple', :fts_words)").bindparams(
            fts_words=" ".join(terms)
        )
        hits = (
            select(literal_column("article_id").label("id"))
            .select_from(text("article_search"))
            .where(condition)
            .cte("fts_hits")
            .prefix_with("MATERIALIZED")
        )
        return select(hits.c.id)
    phrase = " ".join(f'"{term}"' for term in terms)  # words only: no quote can occur inside
    return (
        select(literal_column("rowid"))
        .select_from(text("articles_fts"))
        .where(text("articles_fts MATCH :fts_words").bindparams(fts_words=phrase))
    )


def _covers_any(dialect: str, outlets: Sequence[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        jsonb = type_coerce(C.outlets, postgresql.JSONB)
        return jsonb.has_any(postgresql.array(list(outlets)))  # type: ignore[no-any-return]
    each = func.json_each(C.outlets).table_valued("value").alias("cluster_outlet")
    return exists(select(1).select_from(each).where(each.c.value.in_(list(outlets))))


def _before(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after ``values`` in descending order of ``columns`` (a keyset condition)."""
    parts = [
        and_(
            *(c == v for c, v in zip(columns[:i], values[:i], strict=True)), columns[i] < values[i]
        )
        for i in range(len(columns))
    ]
    return and_(columns[0] <= values[0], or_(*parts))


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; driver errors become StorageError (never a raw traceback)."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StorageError(f"database error: {type(exc).__name__}", resource="database") from exc


def active_version(conn: Connection) -> str | None:
    return conn.scalar(select(ParamSetRow.version).where(ParamSetRow.active))


# -- clusters -------------------------------------------------------------------------------


# What a list of stories shows: never ``comparison``, a JSON document that grows with the
# story (megabytes for a story of hundreds of articles), decoded for nothing.
ITEM_COLUMNS = (
    C.id,
    C.title,
    C.language,
    C.first_published,
    C.last_updated,
    C.article_count,
    C.outlet_count,
    C.outlets,
    C.coverage,
)


def _cluster_item(row: Any) -> ClusterItem:
    return ClusterItem(
        row.id,
        row.title,
        row.language,
        row.first_published,
        row.last_updated,
        row.article_count,
        row.outlet_count,
        tuple(row.outlets or ()),
        None if row.coverage is None else tuple(int(n) for n in row.coverage),
    )


def _few(conn: Connection, query: AnySelect) -> list[int] | None:
    """The ids ``query`` selects when there are at most ``SEARCH_CAP`` (a list the planner
    joins on by primary key), else None (the caller keeps the subquery)."""
    ids = [int(i) for i in conn.execute(query.limit(SEARCH_CAP + 1)).scalars()]
    return ids if len(ids) <= SEARCH_CAP else None


def _matching_clusters(
    conn: Connection | None, dialect: str, version: str, terms: Sequence[str]
) -> Any:
    """Clusters with an article that matches: through a short id list when few articles
    match (fast for rare words), else (or without a connection) through a subquery."""
    hits = _matching_articles(dialect, terms)
    few = _few(conn, hits) if conn is not None else None
    members = select(M.cluster_id).where(
        M.param_version == version, M.article_id.in_(few if few is not None else hits)
    )
    if few is None or conn is None:
        return C.id.in_(members)
    return C.id.in_([int(i) for i in conn.execute(members.distinct()).scalars()])


def cluster_conditions(
    dialect: str, version: str, f: ClusterFilters, conn: Connection | None = None
) -> list[Any]:
    conditions: list[Any] = [C.param_version == version, C.merged_into.is_(None)]
    conditions += [C.article_count > 0, C.last_updated.is_not(None)]
    if f.since is not None:
        conditions.append(C.last_updated >= f.since)
    if f.until is not None:
        conditions.append(C.first_published < f.until)
    if f.language:
        conditions.append(C.language == f.language)
    if f.min_outlets is not None:
        conditions.append(C.outlet_count >= f.min_outlets)
    if f.outlets:
        conditions.append(_covers_any(dialect, f.outlets))
    if f.labelled is not None:
        conditions.append(_covers_any(dialect, f.labelled) if f.labelled else C.id.is_(None))
    if f.terms:
        conditions.append(_matching_clusters(conn, dialect, version, f.terms))
    return conditions


def list_clusters(
    engine: Engine,
    filters: ClusterFilters,
    *,
    sort: str = "latest",
    after: tuple[Any, ...] | None = None,
    limit: int = 50,
) -> Page[ClusterItem]:
    """Story clusters of the active parameter set, newest (``latest``) or widest
    (``largest``: most outlets, then most articles) first."""
    keys = [C.last_updated, C.id] if sort == "latest" else [C.outlet_count, C.article_count, C.id]
    with reading(engine) as conn:
        version = active_version(conn)
        if version is None:
            return Page([], None)
        conditions = cluster_conditions(engine.dialect.name, version, filters, conn)
        query = select(*ITEM_COLUMNS).where(*conditions)
        if after is not None:
            query = query.where(_before(keys, after))
        rows = conn.execute(query.order_by(*(k.desc() for k in keys)).limit(limit + 1)).all()
    items = [_cluster_item(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    key = (
        (last.last_updated, last.id)
        if sort == "latest"
        else (last.outlet_count, last.article_count, last.id)
    )
    return Page(items, key)


COVERAGE_SQLITE = (
    "SELECT m.cluster_id, coalesce(a.published, a.first_seen) FROM memberships AS m "
    "JOIN articles AS a INDEXED BY ix_articles_id_published_first_seen ON a.id = m.article_id "
    "WHERE m.cluster_id IN :ids"
)


def coverage(engine: Engine, items: Sequence[ClusterItem]) -> dict[int, list[int]]:
    """Each story's coverage counts (``storage.coverage``): those stored with the story, else,
    for a story not refreshed since migration 0005 added them, counted from its members' times."""
    out = {item.id: list(item.coverage) for item in items if item.coverage is not None}
    missing = [item.id for item in items if item.coverage is None]
    out.update({cid: coverage_counts(t) for cid, t in coverage_times(engine, missing).items()})
    return out


def coverage_times(engine: Engine, cluster_ids: Sequence[int]) -> dict[int, list[datetime]]:
    """Each cluster's article times (published, else first seen), for sparklines."""
    if not cluster_ids:
        return {}
    query: Any = (
        select(M.cluster_id, func.coalesce(A.published, A.first_seen).label("t"))
        .join(A, A.id == M.article_id)
        .where(M.cluster_id.in_(list(cluster_ids)))
    )
    if engine.dialect.name == "sqlite":
        # the times come from the covering index (migration 0004): in the row they sit after
        # the text, and reading them there walks the text's overflow pages (45 -> 19 ms for a
        # page of stories of hundreds of articles). SQLite picks the row without statistics.
        query = text(COVERAGE_SQLITE).bindparams(
            bindparam("ids", list(cluster_ids), expanding=True)
        )
    out: dict[int, list[datetime]] = {cid: [] for cid in cluster_ids}
    with reading(engine) as conn:
        for cluster_id, moment in conn.execute(query):
            out[cluster_id].append(_utc(moment))
    return out


def _utc(value: Any) -> datetime:
    """``coalesce`` loses the column type on SQLite: parse and mark UTC by hand."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


MEMBER_COLUMNS = (
    A.id,
    A.external_id,
    A.outlet_id,
    A.url,
    A.title,
    A.published,
    A.published_source,
    A.first_seen,
    A.language,
    A.flags,
    M.copy_group,
    M.score,
    M.rule,
    M.why,
    M.duplicate_of,
)


def cluster_detail(engine: Engine, cluster_id: int) -> ClusterDetail:
    with reading(engine) as conn:
        row = conn.execute(
            select(C, StoryComparisonRow.comparison)
            .outerjoin(StoryComparisonRow)
            .where(C.id == cluster_id)
        ).first()
        if row is None:
            raise NotFoundError("no such story", resource=f"cluster {cluster_id}")
        members = conn.execute(
            select(*MEMBER_COLUMNS)
            .join(M, M.article_id == A.id)
            .where(M.cluster_id == cluster_id)
            .order_by(func.coalesce(A.published, A.first_seen), A.id)
        ).all()
    return ClusterDetail(
        cluster=_cluster_item(row),
        merged_into=row.merged_into,
        param_version=row.param_version,
        comparison=row.comparison,
        comparison_at=row.comparison_at,
        comparison_stale=bool(row.comparison_stale),
        articles=[dict(m._mapping) for m in members],
    )


def nearby_clusters(
    engine: Engine, item: ClusterItem, *, days: int = 3, limit: int = 12
) -> list[ClusterItem]:
    """Stories close in time to ``item``: merge candidates for an editor."""
    if item.first_published is None or item.last_updated is None:
        return []
    window = timedelta(days=days)
    with reading(engine) as conn:
        version = active_version(conn)
        rows = conn.execute(
            select(*ITEM_COLUMNS)
            .where(
                C.param_version == version,
                C.merged_into.is_(None),
                C.article_count > 0,
                C.id != item.id,
                C.last_updated >= item.first_published - window,
                C.first_published <= item.last_updated + window,
            )
            .order_by(C.last_updated.desc(), C.id.desc())
            .limit(limit)
        ).all()
    return [_cluster_item(row) for row in rows]


# -- articles -------------------------------------------------------------------------------

ARTICLE_COLUMNS = (
    A.id,
    A.external_id,
    A.outlet_id,
    A.url,
    A.title,
    A.published,
    A.published_source,
    A.first_seen,
    A.language,
    A.flags,
    M.cluster_id.label("story_cluster"),
    M.copy_group,
)


def article_conditions(
    dialect: str, f: ArticleFilters, conn: Connection | None = None
) -> list[Any]:
    conditions: list[Any] = []
    if f.since is not None:
        conditions.append(A.published >= f.since)
    if f.until is not None:
        conditions.append(A.published < f.until)
    if f.outlets:
        conditions.append(A.outlet_id.in_(list(f.outlets)))
    if f.terms:
        hits = _matching_articles(dialect, f.terms)
        few = _few(conn, hits) if conn is not None else None
        conditions.append(A.id.in_(few if few is not None else hits))
    if f.cluster is not None:
        conditions.append(M.cluster_id == f.cluster)
    return conditions


def with_membership(query: AnySelect, version: str | None) -> AnySelect:
    return query.outerjoin(M, and_(M.article_id == A.id, M.param_version == version))


def list_articles(
    engine: Engine, filters: ArticleFilters, *, after: int | None = None, limit: int = 50
) -> Page[dict[str, Any]]:
    """Articles, most recently stored first (by id)."""
    with reading(engine) as conn:
        version = active_version(conn)
        query = with_membership(select(*ARTICLE_COLUMNS), version)
        query = query.where(*article_conditions(engine.dialect.name, filters, conn))
        if after is not None:
            query = query.where(A.id < after)
        rows = conn.execute(query.order_by(A.id.desc()).limit(limit + 1)).all()
    items = [dict(row._mapping) for row in rows[:limit]]
    return Page(items, (items[-1]["id"],) if len(rows) > limit else None)


def article_detail(engine: Engine, article_id: int) -> dict[str, Any]:
    """An article with its text, provenance, membership and earlier headlines."""
    with reading(engine) as conn:
        version = active_version(conn)
        columns = (A, M.cluster_id, M.copy_group, M.score, M.rule, M.why)
        row = conn.execute(
            with_membership(select(*columns), version).where(A.id == article_id)
        ).first()
        if row is None:
            raise NotFoundError("no such article", resource=f"article {article_id}")
        revisions = conn.execute(
            select(
                ArticleRevisionRow.revision, ArticleRevisionRow.title, ArticleRevisionRow.seen_at
            )
            .where(ArticleRevisionRow.article_id == article_id)
            .order_by(ArticleRevisionRow.revision)
        ).all()
        outlet = conn.execute(select(OutletRow.name).where(OutletRow.id == row.outlet_id)).scalar()
    detail = dict(row._mapping)
    detail.update(outlet_name=outlet, revisions=[dict(r._mapping) for r in revisions])
    return detail
