"""The editors' pages: stories, one story with its comparison, outlets, articles, audit log,
and the API reference. Server-rendered, no script; every value is escaped by Jinja2."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aggregator.web import params
from aggregator.web.compareview import Refs, build_parts
from aggregator.web.context import ctx, reader, render
from aggregator.web.views import bars_markup, public_outlets, sparkline, why_lines
from storage import opsqueries, queries

router = APIRouter(dependencies=[Depends(reader)], include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=params.MAX_ID)]
Text = Annotated[str | None, Query(max_length=1000)]
Many = Annotated[list[str] | None, Query()]
MAX_BADGES = 12


def shown_outlets(item: queries.ClusterItem, filters: queries.ClusterFilters) -> list[str]:
    """The outlet badges of a story in a list: at most ``MAX_BADGES``, those the filter asks
    for first (a story of hundreds of outlets drew hundreds of badges: 7,500 on a page)."""
    wanted = set(filters.outlets)
    first = [o for o in item.outlets if o in wanted]
    return (first + [o for o in item.outlets if o not in wanted])[:MAX_BADGES]


def _label_choices(outlets: list[dict[str, Any]]) -> list[str]:
    found = {f"{k}:{v}" for o in outlets for k, v in o["labels"].items() if len(str(v)) <= 60}
    return sorted(c for c in found if not c.startswith(("source:", "note:")))


@router.get("/", response_class=HTMLResponse)
def stories(
    request: Request,
    *,
    since: Text = None,
    until: Text = None,
    outlet: Many = None,
    label: Text = None,
    language: Text = None,
    min_outlets: Text = None,
    q: Text = None,
    sort: Text = None,
    cursor: Text = None,
) -> Response:
    context = ctx(request)
    engine = context.engine
    filters = params.cluster_filters(
        engine,
        since=since,
        until=until,
        outlet=outlet,
        label=label,
        language=language,
        min_outlets=params.int_text(min_outlets, "min_outlets", 0, 100_000),
        q=q,
    )
    kind = "clusters:" + params.sort_param(sort, queries.CLUSTER_SORTS)
    after = params.decode_cursor(kind, filters, cursor)
    page = queries.list_clusters(
        engine, filters, sort=kind.split(":")[1], after=after, limit=context.settings.web.page_size
    )
    counts = queries.coverage(engine, page.items)
    form = {
        "since": since or "",
        "until": until or "",
        "outlet": list(filters.outlets),
        "label": label or "",
        "language": language or "",
        "min_outlets": min_outlets or "",
        "q": q or "",
        "sort": kind.split(":")[1],
    }
    next_cursor = params.encode_cursor(kind, filters, page.next_key)
    query = [(k, v) for k, v in form.items() if v and k != "outlet"]
    query += [("outlet", o) for o in form["outlet"]]
    outlets = opsqueries.outlet_choices(engine)
    return render(
        request,
        "stories.html",
        items=[
            (item, bars_markup(sparkline(counts.get(item.id, []))), shown_outlets(item, filters))
            for item in page.items
        ],
        names={o["id"]: o["name"] for o in outlets},
        outlets=outlets,
        labels=_label_choices(outlets),
        form=form,
        next_url=f"/?{urlencode([*query, ('cursor', next_cursor)])}" if next_cursor else None,
        first_url=f"/?{urlencode(query)}" if cursor else None,
        export_query=urlencode([(k, v) for k, v in query if k in ("since", "until", "outlet")]),
    )


@router.get("/clusters/{cluster_id}", response_class=HTMLResponse)
def story(request: Request, cluster_id: Id, split: Text = None, merged: Text = None) -> Response:
    engine = ctx(request).engine
    detail = queries.cluster_detail(engine, cluster_id)
    if detail.merged_into is not None:
        return RedirectResponse(f"/clusters/{detail.merged_into}", status_code=303)
    names = opsqueries.outlet_names(engine)
    by_ref: dict[str, dict[str, Any]] = {}
    for article in detail.articles:
        by_ref[str(article["id"])] = article
        if article["external_id"]:
            by_ref.setdefault(str(article["external_id"]), article)
    articles = [
        {**a, "why_lines": why_lines(a["why"], a["score"], a["rule"])} for a in detail.articles
    ]
    return render(
        request,
        "story.html",
        detail=detail,
        cluster=detail.cluster,
        articles=articles,
        names=names,
        parts=build_parts(detail.comparison, Refs(by_ref, names)),
        nearby=queries.nearby_clusters(engine, detail.cluster),
        audit=opsqueries.audit_entries(engine, cluster_id=cluster_id, limit=20, scan=5000),
        notice_split=params.int_text(split, "split", 1),
        notice_merged=bool(merged),
    )


@router.get("/outlets", response_class=HTMLResponse)
def outlets(request: Request) -> Response:
    context = ctx(request)
    rows = public_outlets(opsqueries.outlets_health(context.engine, context.clock()))
    return render(request, "outlets.html", outlets=rows, now=context.clock())


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: Id) -> Response:
    engine = ctx(request).engine
    detail = queries.article_detail(engine, article_id)
    why = why_lines(detail["why"], detail["score"], detail["rule"]) if detail["cluster_id"] else []
    return render(request, "article.html", a=detail, why=why)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request) -> Response:
    entries = opsqueries.audit_entries(ctx(request).engine, limit=200)
    return render(request, "audit.html", entries=entries)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> Response:
    """The API reference, rendered from the OpenAPI document (no CDN, no script)."""
    spec = request.app.openapi()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "where": p.get("in"),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                }
            )
    return render(request, "docs.html", operations=operations, version=spec["info"]["version"])
