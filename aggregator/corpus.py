"""Reading article JSON Lines (the input of ``newsagg import`` and ``newsagg cluster``).

One JSON object per line: ``id`` (defaults to ``url``), ``outlet``, ``title``, ``text``,
``published`` (ISO 8601 date or datetime), optional ``url``, ``story`` (a gold label) and
``language``. A bad line is reported with its line number (an ``InputError``) and skipped;
nothing else is lost. An empty ``published`` is not an error: the record's time is unknown,
and the reader notes it. A string holding a lone surrogate escape (``"\\ud800"``: valid JSON,
but no text) makes its line bad; stored, it would fail the database's encoder.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from aggregator.errors import InputError
from aggregator.types import utc

MAX_LINE_BYTES = 50_000_000
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can escape them; no text can hold them


@dataclass(frozen=True, slots=True)
class CorpusRecord:
    id: str
    outlet: str
    title: str
    text: str
    published: datetime | None  # aware UTC; None when the line gave none
    line: int
    url: str | None = None
    story: str | None = None
    language: str | None = None


@dataclass
class CorpusReader:
    """Iterate the good records of ``lines``; ``errors`` collects the bad lines,
    ``unknown_time`` the line numbers of records without a ``published`` value, and
    ``renamed`` the records whose id an earlier line already used (they get ``id#line``)."""

    lines: Iterable[bytes | str]
    resource: str = "<input>"
    errors: list[InputError] = field(default_factory=list)
    unknown_time: list[int] = field(default_factory=list)
    renamed: list[tuple[int, str, str]] = field(default_factory=list)  # (line, id, new id)
    _seen: set[str] = field(default_factory=set, init=False, repr=False)

    def __iter__(self) -> Iterator[CorpusRecord]:
        for number, raw in enumerate(self.lines, start=1):
            try:
                record = self._parse(raw, number)
            except InputError as exc:
                self.errors.append(exc)
                continue
            if record is not None:
                yield record

    def _parse(self, raw: bytes | str, number: int) -> CorpusRecord | None:
        text = _decode(raw, number, self.resource).strip()
        if number == 1:
            text = text.lstrip("\ufeff")
        if not text:
            return None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise self._error(f"not JSON: {exc}", number) from exc
        if not isinstance(data, dict):
            raise self._error("not a JSON object", number)
        record = self._record(data, number)
        if record.id in self._seen:
            renamed = f"{record.id}#{number}"
            self.renamed.append((number, record.id, renamed))
            record = dataclasses.replace(record, id=renamed)
        self._seen.add(record.id)
        if record.published is None:
            self.unknown_time.append(number)
        return record

    def _record(self, data: dict[str, Any], number: int) -> CorpusRecord:
        url = self._optional(data, "url", number)
        ident = self._optional(data, "id", number) or url
        if not ident:
            raise self._error("no 'id' and no 'url'", number)
        outlet = self._optional(data, "outlet", number)
        if not outlet:
            raise self._error("no 'outlet'", number)
        published = self._optional(data, "published", number)
        return CorpusRecord(
            id=ident,
            outlet=outlet,
            title=self._optional(data, "title", number) or "",
            text=self._optional(data, "text", number) or "",
            published=self._date(published, number),
            line=number,
            url=url,
            story=self._label(data.get("story"), number),
            language=self._optional(data, "language", number),
        )

    def _optional(self, data: dict[str, Any], key: str, number: int) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._error(f"'{key}' must be a string, not {type(value).__name__}", number)
        if _SURROGATE.search(value):
            raise self._error(f"'{key}' is not valid Unicode (a lone surrogate escape)", number)
        return value

    def _label(self, value: Any, number: int) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self._error("'story' must be a string or an integer", number)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise self._error("'story' is not valid Unicode (a lone surrogate escape)", number)
        return str(value)

    def _date(self, value: str | None, number: int) -> datetime | None:
        if value is None or not value.strip():
            return None
        try:
            return parse_published(value)
        except ValueError as exc:
            raise self._error(
                f"'published' is not an ISO 8601 date: {value[:40]!r}", number
            ) from exc

    def _error(self, message: str, number: int) -> InputError:
        return InputError(message, line=number, resource=self.resource)


def parse_published(value: str) -> datetime:
    """An ISO 8601 date or datetime as aware UTC (a date is midnight UTC; naive is UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    return utc(datetime.fromisoformat(text))


def _decode(raw: bytes | str, number: int, resource: str) -> str:
    if isinstance(raw, str):
        return raw
    if len(raw) > MAX_LINE_BYTES:
        raise InputError(f"line longer than {MAX_LINE_BYTES} bytes", line=number, resource=resource)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8: {exc.reason}", line=number, resource=resource) from exc


def read_corpus(path: str | Path) -> tuple[list[CorpusRecord], CorpusReader]:
    """All good records of a JSONL file, and the reader (with its errors)."""
    where = Path(path)
    try:
        with where.open("rb") as handle:
            reader = CorpusReader(handle, resource=str(where))
            records = list(reader)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", resource=str(where)) from exc
    return records, reader
