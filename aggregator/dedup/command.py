"""``newsagg cluster FILE --assignments OUT``: cluster a JSONL corpus, write one line per
article, and report (with B-cubed and pairwise scores when the file has gold labels)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aggregator.corpus import CorpusReader, CorpusRecord, read_corpus
from aggregator.dedup.batch import CorpusResult, cluster_corpus
from aggregator.dedup.metrics import format_scores, score
from aggregator.dedup.model import Outcome
from aggregator.dedup.params import DedupParams
from aggregator.errors import InputError

MAX_ERRORS_SHOWN = 20


def run_cluster_command(
    in_path: str | Path,
    out_path: str | Path,
    params: DedupParams | Mapping[str, Any] | None = None,
    same_day: bool = False,
) -> str:
    """Cluster ``in_path`` and write ``{"id", "story_cluster", "copy_group"}`` lines to
    ``out_path``; returns the report to print. Raises InputError when the file cannot be
    read or holds no good line, DedupError for bad parameters."""
    chosen = params if isinstance(params, DedupParams) else DedupParams.from_mapping(params or {})
    records, reader = read_corpus(in_path)
    if not records:
        raise InputError("no article could be read", resource=str(in_path))
    started = time.perf_counter()
    result = cluster_corpus(records, chosen, same_day=same_day)
    elapsed = time.perf_counter() - started
    write_assignments(out_path, result)
    lines = [summary(records, result, chosen, elapsed, same_day)]
    lines.extend(_input_notes(reader, str(in_path)))
    gold = {r.id: r.story for r in records if r.story is not None}
    if gold:
        labelled = {r.id: p.story_cluster for r, p in zip(records, result.placements, strict=True)}
        predicted = {k: labelled[k] for k in gold}
        lines.append(format_scores(score(predicted, gold)))
        if len(gold) < len(records):
            lines.append(
                f"  ({len(records) - len(gold)} articles without a 'story' label left out)"
            )
    return "\n".join(lines)


def write_assignments(out_path: str | Path, result: CorpusResult) -> None:
    target = Path(out_path)
    try:
        with target.open("w", encoding="utf-8") as out:
            for p in result.placements:
                row = {
                    "id": p.article_id,
                    "story_cluster": p.story_cluster,
                    "copy_group": p.copy_group,
                }
                out.write(json.dumps(row) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", resource=str(target)) from exc


def summary(
    records: list[CorpusRecord],
    result: CorpusResult,
    params: DedupParams,
    elapsed: float,
    same_day: bool,
) -> str:
    outcomes = Counter(a.outcome for a in result.assignments.values())
    flags = Counter(f for a in result.assignments.values() for f in a.flags)
    stories = Counter(p.story_cluster for p in result.placements)
    groups = Counter(p.copy_group for p in result.placements)
    merges = sum(1 for e in result.events if e.kind == "merge")
    moves = sum(1 for e in result.events if e.kind == "move")
    per_article = 1000 * elapsed / max(1, len(records))
    lines = [
        f"clustered {len(records)} articles with {params.version}"
        + (" (every article on one day)" if same_day else "")
        + f" in {elapsed:.2f} s ({per_article:.2f} ms per article)",
        f"  story clusters: {len(stories)} "
        f"({sum(1 for n in stories.values() if n > 1)} with 2+ articles)",
        f"  copy groups with 2+ articles: {sum(1 for n in groups.values() if n > 1)}",
        f"  same-outlet duplicates folded: {outcomes[Outcome.DUPLICATE]}; "
        f"left alone (flagged input): {outcomes[Outcome.UNCLUSTERED]}",
        f"  later merges: {merges}; moves: {moves}",
    ]
    if flags:
        lines.append("  flags: " + ", ".join(f"{k} {v}" for k, v in sorted(flags.items())))
    return "\n".join(lines)


def _input_notes(reader: CorpusReader, resource: str) -> list[str]:
    errors, unknown = reader.errors, reader.unknown_time
    notes = [
        f"  {resource}:{line}: id {old!r} used before: renamed {new!r}"
        for line, old, new in reader.renamed
    ]
    if errors:
        notes.append(f"  skipped {len(errors)} bad line(s):")
        notes.extend(f"    {err}" for err in errors[:MAX_ERRORS_SHOWN])
        if len(errors) > MAX_ERRORS_SHOWN:
            notes.append(f"    ... and {len(errors) - MAX_ERRORS_SHOWN} more")
    if unknown:
        shown = ", ".join(str(n) for n in unknown[:MAX_ERRORS_SHOWN])
        more = " ..." if len(unknown) > MAX_ERRORS_SHOWN else ""
        notes.append(
            f"  {len(unknown)} article(s) without 'published' (time unknown, clustered "
            f"last): {resource} lines {shown}{more}"
        )
    return notes
