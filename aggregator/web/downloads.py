"""Exports over HTTP: ``GET /api/exports/{table}.{format}`` streams the same bytes as
``newsagg export``, with the same filters; add ``.zip`` to get the file and its manifest (with
exact row counts) in one streamed archive. Names come from a fixed list: nothing from the
request ever becomes a path."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from aggregator.exports import MEDIA_TYPES, ExportJob, manifest, new_job, write_export
from aggregator.web import params
from aggregator.web.context import ctx, reader
from aggregator.web.errors import ApiError
from storage.exportrows import ExportFilters

router = APIRouter(prefix="/api/exports", tags=["exports"], dependencies=[Depends(reader)])
NAME_RE = re.compile(r"^(articles|clusters|memberships|comparisons)\.(csv|jsonl|parquet)(\.zip)?$")


class Chunks:
    """A write-only, unseekable byte sink drained after each batch."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _plain(job: ExportJob, engine: Any) -> Iterator[bytes]:
    sink = Chunks()
    for _ in write_export(job, engine, cast(BinaryIO, sink)):
        data = sink.drain()
        if data:
            yield data


def _zipped(job: ExportJob, engine: Any) -> Iterator[bytes]:
    sink = Chunks()
    with zipfile.ZipFile(cast(BinaryIO, sink), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(job.filename, "w", force_zip64=True) as entry:
            for _ in write_export(job, engine, cast(BinaryIO, entry)):
                data = sink.drain()
                if data:
                    yield data
        text = json.dumps(manifest(job, engine), indent=2, ensure_ascii=False, default=str)
        archive.writestr("manifest.json", text + "\n")
    yield sink.drain()


@router.get("/{name}", summary="Stream an export: {table}.{csv|jsonl|parquet}[.zip]")
def export(
    request: Request,
    name: str,
    since: Annotated[str | None, Query(max_length=100)] = None,
    until: Annotated[str | None, Query(max_length=100)] = None,
    outlet: Annotated[list[str] | None, Query()] = None,
) -> StreamingResponse:
    """Tables: articles, clusters, memberships, comparisons. No row cap; the response streams
    as rows are read. `.zip` adds `manifest.json` (parameter set, extractor versions, filters,
    row counts)."""
    match = NAME_RE.match(name)
    if match is None:
        raise ApiError(
            404, "not_found", "exports are /api/exports/{table}.{csv|jsonl|parquet}[.zip]"
        )
    table, fmt, zipped = match.group(1), match.group(2), bool(match.group(3))
    filters = ExportFilters(
        since=params.time_param(since, "since"),
        until=params.time_param(until, "until"),
        outlets=params.outlets_param(outlet),
    )
    context = ctx(request)
    job = new_job(context.engine, table, fmt, filters, context.clock())
    body = _zipped(job, context.engine) if zipped else _plain(job, context.engine)
    filename = job.filename + (".zip" if zipped else "")
    return StreamingResponse(
        body,
        media_type="application/zip" if zipped else MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
