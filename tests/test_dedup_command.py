"""run_cluster_command: the engine behind ``newsagg cluster FILE --assignments OUT``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.dedup.command import run_cluster_command
from aggregator.errors import DedupError, InputError
from tests.dedup_samples import BUDGET, FINAL, QUAKE_AP, QUAKE_OWN


def write(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


ROWS: list[object] = [
    {
        "id": "q1",
        "outlet": "ap",
        "title": "Earthquake hits Chile",
        "text": QUAKE_AP,
        "published": "2024-05-01",
        "story": "quake",
    },
    {
        "id": "q2",
        "outlet": "nyt",
        "title": "Chile lifts tsunami alert",
        "text": QUAKE_OWN,
        "published": "2024-05-01T12:00:00Z",
        "story": "quake",
    },
    {
        "id": "q3",
        "outlet": "cbs",
        "title": "CHILE QUAKE",
        "text": QUAKE_AP,
        "published": "2024-05-02",
        "story": "quake",
    },
    "{broken",
    {
        "id": "f1",
        "outlet": "ap",
        "title": "Madrid win the final",
        "text": FINAL,
        "published": "",
        "story": "final",
    },
    {
        "id": "b1",
        "outlet": "ap",
        "title": "Council passes budget",
        "text": BUDGET,
        "published": "2024-05-01",
        "story": "budget",
    },
]


def test_writes_one_line_per_article_and_reports_scores(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    report = run_cluster_command(source, out, {})
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["q1", "q2", "q3", "f1", "b1"]
    assert all(set(x) == {"id", "story_cluster", "copy_group"} for x in lines)
    by = {x["id"]: x for x in lines}
    assert by["q1"]["story_cluster"] == by["q2"]["story_cluster"] == by["q3"]["story_cluster"]
    assert by["q1"]["copy_group"] == by["q3"]["copy_group"] != by["q2"]["copy_group"]
    assert "in.jsonl:4" in report and "not JSON" in report
    assert "without 'published'" in report and "lines 5" in report
    assert "B-cubed   P 1.000  R 1.000  F1 1.000" in report
    assert "clustered 5 articles with dedup1-" in report


def test_same_day_and_parameters(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", ROWS)
    report = run_cluster_command(
        source, tmp_path / "o.jsonl", {"story_threshold": 0.9}, same_day=True
    )
    assert "every article on one day" in report
    with pytest.raises(DedupError, match="nope"):
        run_cluster_command(source, tmp_path / "o.jsonl", {"nope": 1})


def test_nothing_readable_is_an_input_error(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", ["junk", "[]"])
    with pytest.raises(InputError, match="no article"):
        run_cluster_command(source, tmp_path / "o.jsonl")
    with pytest.raises(InputError, match="cannot read"):
        run_cluster_command(tmp_path / "missing.jsonl", tmp_path / "o.jsonl")
