"""Researcher exports: CSV (spreadsheet-safe), JSON Lines and Parquet, streamed, never capped.

Four tables: ``articles`` (id, outlet, url, title, text, published, story_cluster, copy_group,
...), ``clusters``, ``memberships`` (why each article is in its story) and ``comparisons`` (one
row per (cluster, outlet), ``row_kind="outlet"``, and one per (cluster, outlet, term),
``row_kind="term"``). Every export carries a manifest: parameter set and its parameters,
extractor versions, time of export, filters, row counts. ``newsagg export`` writes the file
(atomically) and ``<file>.manifest.json`` next to it; the web app streams the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from aggregator.compare import comparison_rows
from aggregator.errors import InputError
from storage.exportrows import EXPORT_TABLES, ExportFilters, export_batches, export_context
from storage.opsqueries import outlet_label_keys

FORMATS = ("csv", "jsonl", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STR, INT, FLOAT, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
TIME, STRINGS = pa.timestamp("us", tz="UTC"), pa.list_(pa.string())
COLUMNS: dict[str, list[tuple[str, pa.DataType]]] = {
    "articles": [("id", STR), ("article_id", INT), ("outlet", STR), ("url", STR), ("title", STR),
                 ("text", STR), ("published", TIME), ("published_source", STR),
                 ("first_seen", TIME), ("language", STR), ("author", STR), ("flags", STRINGS),
                 ("extractor", STR), ("story_cluster", INT), ("copy_group", STR)],
    "clusters": [("id", INT), ("param_version", STR), ("title", STR), ("language", STR),
                 ("first_published", TIME), ("last_updated", TIME), ("article_count", INT),
                 ("outlet_count", INT), ("outlets", STRINGS), ("comparison_at", TIME)],
    "memberships": [("id", STR), ("article_id", INT), ("outlet", STR), ("story_cluster", INT),
                    ("copy_group", STR), ("duplicate_of", INT), ("score", FLOAT), ("rule", STR),
                    ("why", STR), ("assigned_at", TIME), ("param_version", STR)],
    "comparisons": [("row_kind", STR), ("cluster_id", INT), ("comparison_version", STR),
                    ("outlet", STR), ("outlet_name", STR), ("country", STR), ("articles", INT),
                    ("words", INT), ("non_english_articles", INT), ("first_article", STR),
                    ("first_published", STR), ("time_source", STR), ("time_precision", STR),
                    ("delay_s", INT), ("rank", INT), ("is_first_reporter", BOOL),
                    ("first_reporter_confidence", STR), ("wire_share_max", FLOAT),
                    ("wire_share_mean", FLOAT), ("copy_group", STR), ("cosine_mean", FLOAT),
                    ("sentences_shared", INT), ("sentences_unique", INT),
                    ("unique_share", FLOAT), ("quotes", INT), ("quotes_shared", INT),
                    ("quotes_alone", INT), ("quotes_attributed", INT), ("short_quotes", INT),
                    ("top_speaker", STR), ("headline", STR), ("headline_changed_words", INT),
                    ("headline_similarity", FLOAT), ("headline_revisions", INT),
                    ("names_missing", INT), ("names_only_here", INT), ("numbers_missing", INT),
                    ("numbers_only_here", INT), ("casualty_figures", STR),
                    ("distinctive_words", STR), ("distinctive_names", STR), ("term_kind", STR),
                    ("term_group", STR),
                    ("term", STR), ("term_count", INT), ("term_per_1000", FLOAT),
                    ("term_z", FLOAT), ("term_rank", INT), ("extra", STR)],
}  # fmt: skip
TERM_FIELDS = {"kind": "term_kind", "group": "term_group", "count": "term_count",
               "per_1000": "term_per_1000", "z": "term_z", "rank": "term_rank"}  # fmt: skip


@dataclass
class ExportJob:
    """One export: what to write, and what the manifest will say about it."""

    table: str
    fmt: str
    filters: ExportFilters
    now: datetime
    label_keys: list[str] = field(default_factory=list)  # comparisons: label_<key> columns
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    compare_versions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.table not in EXPORT_TABLES:
            raise InputError(f"unknown table {self.table!r}", resource="export")
        if self.fmt not in FORMATS:
            raise InputError(f"unknown format {self.fmt!r}", resource="export")

    @property
    def columns(self) -> list[tuple[str, pa.DataType]]:
        labels = [(f"label_{key}", STR) for key in self.label_keys]
        return COLUMNS[self.table] + labels

    @property
    def filename(self) -> str:
        return f"{self.table}.{self.fmt}"


# -- values -------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A JSON value: datetimes as ISO 8601 UTC, everything else as is."""
    return _iso(value) if isinstance(value, datetime) else value


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's leading quote)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _fit(row: dict[str, Any], columns: list[tuple[str, pa.DataType]]) -> dict[str, Any]:
    """The row with exactly the export's columns: JSON text where a string is expected,
    anything unexpected folded into ``extra``."""
    out: dict[str, Any] = {}
    for name, kind in columns:
        value = row.get(name)
        if kind == STR and isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        out[name] = value
    unknown = {k: v for k, v in row.items() if k not in out}
    if unknown and "extra" in out:
        out["extra"] = json.dumps(unknown, ensure_ascii=False, sort_keys=True, default=str)
    return out


# -- rows ---------------------------------------------------------------------------------


def _flatten(job: ExportJob, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comparison JSON -> one row per (cluster, outlet) and per (cluster, outlet, term)."""
    rows: list[dict[str, Any]] = []
    wanted = set(job.filters.outlets)
    for item in batch:
        cluster_id, comparison = item["cluster_id"], item["comparison"]
        try:
            outlet_rows, term_rows = comparison_rows(cluster_id, comparison)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            job.skipped.append({"cluster_id": cluster_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        job.compare_versions.add(str(comparison.get("version")))
        terms = [{TERM_FIELDS.get(k, k): v for k, v in row.items()} for row in term_rows]
        for kind, part in (("outlet", outlet_rows), ("term", terms)):
            for row in part:
                if not wanted or row.get("outlet") in wanted:
                    rows.append({"row_kind": kind, **row})
    return rows


def rows_of(job: ExportJob, engine: Any) -> Iterator[list[dict[str, Any]]]:
    """The export's rows in batches, fitted to its columns; counts them in ``job.rows``."""
    batch_size = 50 if job.table == "comparisons" else 2000
    for batch in export_batches(engine, job.table, job.filters, batch=batch_size):
        rows = _flatten(job, batch) if job.table == "comparisons" else batch
        for row in rows:
            kind = row.get("row_kind", "total") if job.table == "comparisons" else "total"
            job.rows[kind] = job.rows.get(kind, 0) + 1
        if rows:
            yield [_fit(row, job.columns) for row in rows]


# -- writers ------------------------------------------------------------------------------

Writer = Callable[[list[dict[str, Any]] | None], None]


def csv_writer(out: BinaryIO, job: ExportJob) -> Writer:
    names = [name for name, _ in job.columns]
    header: list[bool] = [False]

    def write(rows: list[dict[str, Any]] | None) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        if not header[0]:
            writer.writerow(names)
            header[0] = True
        for row in rows or ():
            writer.writerow([safe_cell(row.get(name)) for name in names])
        out.write(text.getvalue().encode("utf-8"))

    return write


def jsonl_writer(out: BinaryIO, job: ExportJob) -> Writer:
    def write(rows: list[dict[str, Any]] | None) -> None:
        lines = (
            json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False)
            for row in rows or ()
        )
        out.write("".join(line + "\n" for line in lines).encode("utf-8"))

    return write


def parquet_writer(out: BinaryIO, job: ExportJob) -> Writer:
    schema = pa.schema(job.columns)
    writer = pq.ParquetWriter(out, schema, compression="zstd")

    def write(rows: list[dict[str, Any]] | None) -> None:
        if rows is None:
            writer.close()
        elif rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))

    return write


WRITERS: dict[str, Callable[[BinaryIO, ExportJob], Writer]] = {
    "csv": csv_writer,
    "jsonl": jsonl_writer,
    "parquet": parquet_writer,
}


def write_export(job: ExportJob, engine: Any, out: BinaryIO) -> Iterator[None]:
    """Write the export to ``out`` batch by batch, yielding after each (so a caller can
    forward the bytes as they come); ``write(None)`` finishes the file."""
    write = WRITERS[job.fmt](out, job)
    if job.fmt == "csv":
        write([])  # the header, even for an empty export
    for rows in rows_of(job, engine):
        write(rows)
        yield
    write(None)
    yield


# -- manifest -----------------------------------------------------------------------------


def new_job(engine: Any, table: str, fmt: str, filters: ExportFilters, now: datetime) -> ExportJob:
    job = ExportJob(table, fmt, filters, now)
    if table == "comparisons":
        job.label_keys = outlet_label_keys(engine)
    return job


def manifest(job: ExportJob, engine: Any) -> dict[str, Any]:
    context = export_context(engine, job.filters)
    return {
        "table": job.table,
        "format": job.fmt,
        "file": job.filename,
        "exported_at": _iso(job.now),
        "filters": {
            "since": _plain(job.filters.since),
            "until": _plain(job.filters.until),
            "outlets": list(job.filters.outlets),
        },
        "param_version": context["param_version"],
        "params": context["params"],
        "extractors": context["extractors"],
        "compare_versions": sorted(job.compare_versions),
        "rows": dict(job.rows) or {"total": 0},
        "skipped_clusters": job.skipped,
        "columns": [name for name, _ in job.columns],
    }


# -- the command --------------------------------------------------------------------------


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or datetime; naive values are UTC, dates are midnight UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"not an ISO 8601 date or datetime: {value[:40]!r}", resource=name
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def filters_from(
    since: str | None, until: str | None, outlets: Iterable[str] | None
) -> ExportFilters:
    return ExportFilters(
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        outlets=tuple(dict.fromkeys(o.strip() for o in outlets or () if o.strip())),
    )


def export_command(store: Any, settings: Any, args: Any) -> str:
    """``newsagg export``: write the file atomically, then its manifest next to it."""
    filters = filters_from(args.since, args.until, args.outlet)
    job = new_job(store.engine, args.table, args.format, filters, datetime.now(UTC))
    out = Path(args.out)
    if out.is_dir():
        raise InputError("is a directory; give a file name", resource=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            for _ in write_export(job, store.engine, handle):
                pass
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    manifest_path = out.with_name(out.name + ".manifest.json")
    text = json.dumps(manifest(job, store.engine), indent=2, ensure_ascii=False, default=str)
    manifest_path.write_text(text + "\n", encoding="utf-8")
    counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(job.rows.items())) or "0 rows"
    return f"wrote {out} ({counts}); manifest {manifest_path}"
