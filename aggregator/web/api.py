"""The read-only JSON API (INTERFACES.md): clusters, articles, outlets, audit log.

Every list answers ``{"items": [...], "next": cursor-or-null}``; ``next`` is null exactly when
no row follows. Times are ISO 8601 UTC strings ending in ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from aggregator.web import params
from aggregator.web.context import ctx, reader
from aggregator.web.views import public_outlets
from storage import opsqueries, queries

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(reader)])
Id = Annotated[int, Path(ge=1, le=params.MAX_ID, description="a numeric id")]
Text = Annotated[str | None, Query(max_length=1000)]
Outlets = Annotated[list[str] | None, Query(description="outlet id (repeatable: any of them)")]
Limit = Annotated[int | None, Query(description="page size (default 50, at most 500)")]
Cursor = Annotated[str | None, Query(max_length=1000, description="`next` of the previous page")]


def iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def plain(row: dict[str, Any]) -> dict[str, Any]:
    return {key: iso(value) for key, value in row.items()}


def cluster_json(item: queries.ClusterItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "first_published": iso(item.first_published),
        "last_updated": iso(item.last_updated),
        "article_count": item.article_count,
        "outlet_count": item.outlet_count,
        "outlets": list(item.outlets),
        "language": item.language,
    }


def _limit(request: Request, limit: int | None) -> int:
    web = ctx(request).settings.web
    return params.limit_param(limit, web.page_size, web.max_page_size)


@router.get("/clusters", summary="Story clusters, newest or largest first")
def list_clusters(
    request: Request,
    *,
    since: Text = None,
    until: Text = None,
    outlet: Outlets = None,
    label: Text = None,
    language: Text = None,
    min_outlets: int | None = None,
    q: Text = None,
    sort: Annotated[str | None, Query(description="latest (default) or largest")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Filters: `since`/`until` (ISO date or datetime, UTC), `outlet` (repeatable),
    `label` (`key:value`), `language`, `min_outlets`, `q` (full-text words, all required)."""
    engine = ctx(request).engine
    filters = params.cluster_filters(
        engine,
        since=since,
        until=until,
        outlet=outlet,
        label=label,
        language=language,
        min_outlets=min_outlets,
        q=q,
    )
    kind = "clusters:" + params.sort_param(sort, queries.CLUSTER_SORTS)
    after = params.decode_cursor(kind, filters, cursor)
    page = queries.list_clusters(
        engine, filters, sort=kind.split(":")[1], after=after, limit=_limit(request, limit)
    )
    return {
        "items": [cluster_json(item) for item in page.items],
        "next": params.encode_cursor(kind, filters, page.next_key),
    }


@router.get("/clusters/{cluster_id}", summary="One story: its articles and their comparison")
def get_cluster(request: Request, cluster_id: Id) -> dict[str, Any]:
    detail = queries.cluster_detail(ctx(request).engine, cluster_id)
    articles = [
        {
            "id": a["id"],
            "external_id": a["external_id"],
            "outlet": a["outlet_id"],
            "url": a["url"],
            "title": a["title"],
            "published": iso(a["published"]),
            "published_source": a["published_source"],
            "first_seen": iso(a["first_seen"]),
            "copy_group": a["copy_group"],
            "score": a["score"],
            "rule": a["rule"],
            "why": a["why"],
            "flags": a["flags"],
        }
        for a in detail.articles
    ]
    return {
        **cluster_json(detail.cluster),
        "merged_into": detail.merged_into,
        "param_version": detail.param_version,
        "comparison_at": iso(detail.comparison_at),
        "comparison_stale": detail.comparison_stale,
        "articles": articles,
        "comparison": detail.comparison,
    }


@router.get("/articles", summary="Articles, most recently stored first")
def list_articles(
    request: Request,
    *,
    since: Text = None,
    until: Text = None,
    outlet: Outlets = None,
    q: Text = None,
    cluster: int | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """`since`/`until` filter the published time; `cluster` keeps one story's articles."""
    filters = params.article_filters(since=since, until=until, outlet=outlet, q=q, cluster=cluster)
    after = params.decode_cursor("articles", filters, cursor)
    page = queries.list_articles(
        ctx(request).engine,
        filters,
        after=after[0] if after else None,
        limit=_limit(request, limit),
    )
    items = [{**plain(row), "outlet": row["outlet_id"]} for row in page.items]
    for item in items:
        del item["outlet_id"]
    return {"items": items, "next": params.encode_cursor("articles", filters, page.next_key)}


@router.get("/articles/{article_id}", summary="One article: text, provenance, revisions")
def get_article(request: Request, article_id: Id) -> dict[str, Any]:
    detail = queries.article_detail(ctx(request).engine, article_id)
    detail["revisions"] = [plain(r) for r in detail["revisions"]]
    detail["outlet"] = detail.pop("outlet_id")
    detail["story_cluster"] = detail.pop("cluster_id")
    for private in ("lease_owner", "lease_until", "attempts", "item_hash"):
        detail.pop(private, None)
    return plain(detail)


@router.get("/outlets", summary="Outlets with their feeds' health; broken first")
def list_outlets(request: Request, limit: Limit = None, cursor: Cursor = None) -> dict[str, Any]:
    """Ordered by health, so the cursor is a position in that order."""
    context = ctx(request)
    start = params.decode_cursor("outlets", None, cursor)
    offset = start[0] if start else 0
    size = _limit(request, limit)
    rows = public_outlets(opsqueries.outlets_health(context.engine, context.clock()))
    page = rows[offset : offset + size]
    more = (offset + size,) if offset + size < len(rows) else None
    items = [{**plain(o), "feeds": [plain(f) for f in o["feeds"]]} for o in page]
    return {"items": items, "next": params.encode_cursor("outlets", None, more)}


@router.get("/audit", summary="Editor corrections, newest first")
def list_audit(
    request: Request, cluster: int | None = None, limit: Limit = None, cursor: Cursor = None
) -> dict[str, Any]:
    """With `cluster`, only the corrections that concern that story."""
    cluster_id = params.int_param(cluster, "cluster", 1)
    after = params.decode_cursor("audit", cluster_id, cursor)
    size = _limit(request, limit)
    entries = opsqueries.audit_entries(
        ctx(request).engine,
        cluster_id=cluster_id,
        before=after[0] if after else None,
        limit=size + 1,
    )
    more = (entries[size - 1]["id"],) if len(entries) > size else None
    items = [plain(e) for e in entries[:size]]
    return {"items": items, "next": params.encode_cursor("audit", cluster_id, more)}
