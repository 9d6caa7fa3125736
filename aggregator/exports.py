"""Researcher exports: CSV (spreadsheet-safe), JSON Lines and Parquet, streamed, never capped.

Four tables: ``articles`` (id, outlet, url, title, text, published, story_cluster, copy_group,
...), ``clusters``, ``memberships`` (why each article is in its story) and ``comparisons`` (one
row per (cluster, outlet), ``row_kind="outlet"``, and one per (cluster, outlet, term),
``row_kind="term"``). Every export carries a manifest: parameter set and its parameters,
extractor versions, time of export, filters, row counts. ``newsagg export`` writes the file
(atomically) and ``<file>.manifest.json`` next to it; the web app streams the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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

Row = Sequence[Any]
T = TypeVar("T")


def _iso(value: datetime) -> str:
    text = value.isoformat()
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A JSON value: datetimes as ISO 8601 UTC, everything else as is."""
    return _iso(value) if isinstance(value, datetime) else value


def _json_text(value: Any) -> Any:
    """Lists and dicts as JSON text (``json.dumps(..., ensure_ascii=False, sort_keys=True)``),
    anything else as is."""
    if value.__class__ is list and all(item.__class__ is str for item in value):
        return _strings_json(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _strings_json(value: list[str]) -> str:
    """``json.dumps`` of a list of strings, the same text, in C: inside an encoded string
    every quote is escaped, so ``","`` occurs only between items, where json.dumps writes
    ``", "``."""
    if not value:
        return "[]"
    try:
        return orjson.dumps(value).replace(b'","', b'", "').decode()
    except orjson.JSONEncodeError:  # lone surrogates, which json.dumps passes through
        return json.dumps(value, ensure_ascii=False)


def _formula_safe(value: Any) -> Any:
    value = _json_text(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's leading quote)."""
    return _iso(value) if isinstance(value, datetime) else _formula_safe(value)


FORMULA_CHARS = frozenset(FORMULA_START)
CSV_TYPES = {TIME: STR, STRINGS: STR}


def _guarded(values: list[Any]) -> list[Any]:
    """Text cells a spreadsheet would run as a formula, prefixed with a quote."""
    return [
        ("'" + v if v[:1] in FORMULA_CHARS else v) if v.__class__ is str else _formula_safe(v)
        for v in values
    ]


def _column(values: list[Any], kind: pa.DataType, fmt: str) -> list[Any]:
    """One column's cells in the form the format wants (CSV times: ``_iso_array``)."""
    if fmt == "csv" and kind == STRINGS:
        return [None if v is None else _json_text(v) for v in values]
    if fmt == "csv" and kind == STR:
        return _guarded(values)
    if kind == STR:
        return [_json_text(v) for v in values]
    return values


def _table(rows: list[Row], columns: list[tuple[str, pa.DataType]], fmt: str) -> pa.Table:
    """A batch of rows as an Arrow table, built column by column (fast: no per-row dicts)."""
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    schema = _schema(columns, fmt)
    arrays = [
        _iso_array(values)
        if fmt == "csv" and kind == TIME
        else pa.array(_column(list(values), kind, fmt), type=field.type)
        for values, (_, kind), field in zip(transposed, columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


ISO_PARTS = r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.000000)?(\.\d+)?$"


def _iso_array(values: Sequence[datetime | None]) -> pa.Array:
    """``_iso`` of a column of UTC datetimes, in Arrow (no Python call per cell). The
    microseconds since the epoch are read as a naive timestamp, whose text cast is a third
    of the cost of a time-zone-aware ``strftime``."""
    stamps = pa.array(values, type=pa.timestamp("us", tz="UTC"))
    text = pc.cast(stamps.view(pa.int64()).view(pa.timestamp("us")), pa.string())
    return pc.replace_substring_regex(text, ISO_PARTS, r"\1T\2\3Z")


def _schema(columns: list[tuple[str, pa.DataType]], fmt: str) -> pa.Schema:
    if fmt == "csv":
        return pa.schema([(name, CSV_TYPES.get(kind, kind)) for name, kind in columns])
    return pa.schema(columns)


def _fit(row: dict[str, Any], names: list[str]) -> Row:
    """A comparison row with exactly the export's columns, anything unexpected folded into
    ``extra`` as JSON."""
    known = set(names)
    unknown = {k: v for k, v in row.items() if k not in known}
    extra = (
        json.dumps(unknown, ensure_ascii=False, sort_keys=True, default=str) if unknown else None
    )
    return [extra if name == "extra" else row.get(name) for name in names]


# -- rows ---------------------------------------------------------------------------------


def _flatten(job: ExportJob, batch: list[Row]) -> list[dict[str, Any]]:
    """Comparison JSON -> one row per (cluster, outlet) and per (cluster, outlet, term)."""
    rows: list[dict[str, Any]] = []
    wanted = set(job.filters.outlets)
    for cluster_id, comparison in batch:
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


def rows_of(job: ExportJob, engine: Any) -> Iterator[list[Row]]:
    """The export's rows in batches, as sequences in column order; counts them in
    ``job.rows``."""
    names = [name for name, _ in job.columns]
    batch_size = 50 if job.table == "comparisons" else 5000
    for batch in export_batches(engine, job.table, job.filters, batch=batch_size):
        if job.table != "comparisons":
            job.rows["total"] = job.rows.get("total", 0) + len(batch)
            yield batch
            continue
        flat = _flatten(job, batch)
        for row in flat:
            job.rows[row["row_kind"]] = job.rows.get(row["row_kind"], 0) + 1
        if flat:
            yield [_fit(row, names) for row in flat]


def prefetched(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``batches`` produced in a thread of their own, up to ``depth`` ahead, so reading the
    database overlaps with formatting. The producer owns the iterator (and its connection)
    from start to end; stopping early stops and closes it."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        box.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            box.put(("done", None))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(("error", exc))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="export-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.1)
        worker.join()


# -- writers ------------------------------------------------------------------------------

Writer = Callable[[list[Row] | None], None]
_UTC_Z = orjson.OPT_UTC_Z


def csv_writer(out: BinaryIO, job: ExportJob) -> Writer:
    """CSV through Arrow's writer: strings quoted, empty cells for nulls, a header line."""
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    writer = pacsv.CSVWriter(out, _schema(job.columns, "csv"), write_options=options)

    def write(rows: list[Row] | None) -> None:
        if rows is None:
            writer.close()
        elif rows:
            writer.write_table(_table(rows, job.columns, "csv"))

    return write


def jsonl_writer(out: BinaryIO, job: ExportJob) -> Writer:
    names = [name for name, _ in job.columns]

    def write(rows: list[Row] | None) -> None:
        if not rows:
            return
        # Storage hands out UTC datetimes only (storage.models.UTCDateTime), which orjson
        # writes as _iso does ("...Z"), in C.
        lines = [
            orjson.dumps(dict(zip(names, row, strict=True)), default=str, option=_UTC_Z)
            for row in rows
        ]
        out.write(b"\n".join(lines) + b"\n")

    return write


def parquet_writer(out: BinaryIO, job: ExportJob) -> Writer:
    writer = pq.ParquetWriter(out, _schema(job.columns, "parquet"), compression="zstd")

    def write(rows: list[Row] | None) -> None:
        if rows is None:
            writer.close()
        elif rows:
            writer.write_table(_table(rows, job.columns, "parquet"))

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
    yield  # the CSV header, even for an empty export
    for rows in prefetched(rows_of(job, engine)):
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
