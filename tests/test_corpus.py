"""The article JSONL reader: good lines become records, bad lines become numbered errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.corpus import CorpusReader, parse_published, read_corpus
from aggregator.errors import InputError


def line(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "a",
        "outlet": "cbs",
        "title": "T",
        "text": "x",
        "published": "2024-05-01",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def read(*lines: str | bytes) -> tuple[list[object], CorpusReader]:
    reader = CorpusReader(list(lines), resource="in.jsonl")
    return list(reader), reader


def test_good_line_becomes_a_record() -> None:
    records, reader = read(line(url="https://x/1", story="s1", language="en"))
    assert not reader.errors
    (record,) = records
    assert record.id == "a" and record.outlet == "cbs" and record.story == "s1"  # type: ignore[attr-defined]
    assert record.published == datetime(2024, 5, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    assert record.language == "en" and record.line == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (line(id=..., url=...), "no 'id' and no 'url'"),
        (line(outlet=...), "no 'outlet'"),
        (line(title=3), "'title' must be a string"),
        (line(published="yesterday"), "not an ISO 8601 date"),
        (line(story=[1]), "'story' must be a string or an integer"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_bad_line_is_reported_with_its_number_and_skipped(text: str | bytes, message: str) -> None:
    records, reader = read(line(id="first"), text, line(id="third"))
    assert [r.id for r in records] == ["first", "third"]  # type: ignore[attr-defined]
    (error,) = reader.errors
    assert isinstance(error, InputError)
    assert error.line == 2 and message in str(error) and "in.jsonl:2" in str(error)


def test_id_defaults_to_url_and_blank_lines_are_skipped() -> None:
    records, reader = read("", line(id=..., url="https://x/y"), "   ")
    assert [r.id for r in records] == ["https://x/y"]  # type: ignore[attr-defined]
    assert not reader.errors


def test_empty_published_is_unknown_not_an_error() -> None:
    records, reader = read(line(published=""), line(id="b", published=...))
    assert [r.published for r in records] == [None, None]  # type: ignore[attr-defined]
    assert reader.unknown_time == [1, 2] and not reader.errors


def test_repeated_id_is_renamed_and_reported() -> None:
    records, reader = read(line(), line(text="other"))
    assert [r.id for r in records] == ["a", "a#2"]  # type: ignore[attr-defined]
    assert reader.renamed == [(2, "a", "a#2")]


def test_byte_order_mark_on_the_first_line_is_ignored() -> None:
    records, reader = read("\ufeff" + line())
    assert len(records) == 1 and not reader.errors


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:30:00Z", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
    ],
)
def test_published_dates_and_datetimes_become_utc(value: str, expected: datetime) -> None:
    parsed = parse_published(value)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is not None and parsed.tzinfo != timezone(timedelta(hours=2))


def test_read_corpus_reads_a_file_and_names_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(line() + "\n" + "oops\n", encoding="utf-8")
    records, reader = read_corpus(path)
    assert len(records) == 1 and reader.errors[0].line == 2
    with pytest.raises(InputError, match="cannot read"):
        read_corpus(tmp_path / "missing.jsonl")
