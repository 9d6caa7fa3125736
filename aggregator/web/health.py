"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from aggregator.errors import NewsaggError
from aggregator.web.context import ctx, reader

router = APIRouter(tags=["operations"])
SCHEDULER_MAX_AGE_S = 600


@router.get("/healthz", summary="The process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable, schema at head, scheduler alive")
def readyz(request: Request) -> JSONResponse:
    context = ctx(request)
    database = bool(context.store.ping())
    try:
        migrations = database and bool(context.store.at_head())
    except NewsaggError:
        migrations = False
    service = context.service
    scheduler = service is None or bool(service.alive(max_age_s=SCHEDULER_MAX_AGE_S))
    checks = {"database": database, "migrations": migrations, "scheduler": scheduler}
    status = 200 if all(checks.values()) else 503
    return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)


@router.get("/metrics", summary="Prometheus text format", dependencies=[Depends(reader)])
def metrics(request: Request) -> Response:
    body, content_type = ctx(request).metrics.render()
    return Response(body, media_type=content_type)
