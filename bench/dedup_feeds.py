"""Two parameter sets side by side on real, unlabelled feeds: what a change joins or splits.

    .venv/bin/python -m bench.dedup_feeds [--base KEY=JSON ...] --param KEY=JSON [--show 12]

e.g. ``--base merge_short_text='"arrival"' --param merge_short_text='"clusters"'``.

Reads every feed of ``../shared/data/feeds/news-2026-02`` (29 outlets, February 2026) with
the service's own parser and clusters the entries (title and summary as the feed gives them,
dated) twice: under the default parameters with the ``--base`` overrides, and with the
``--param`` overrides. It prints, for each run, the clusters, the clusters of two or more
entries and the largest sizes, then the clusters of either run that join entries the other
run keeps apart, with their headlines. There are no labels: the output is for reading, to see
that a change joins reports of one event and makes no giant cluster of unrelated news.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.corpus import CorpusRecord
from aggregator.dedup.batch import cluster_corpus
from aggregator.dedup.params import DedupParams
from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from bench.dedup_data import data_dir, param_overrides

FEEDS = Path("feeds") / "news-2026-02"
SEEN_AT = datetime(2026, 3, 1, tzinfo=UTC)  # after the feeds were saved: no future dates


def feed_records(root: Path) -> list[CorpusRecord]:
    """Every entry of every feed under ``root`` (a feed that does not parse is skipped)."""
    records: list[CorpusRecord] = []
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        try:
            feed = parse_feed(
                path.read_bytes(), headers={}, url=f"https://{path.name}.example/", now=SEEN_AT
            )
        except ParseError:
            continue
        for item in feed.items:
            line = len(records) + 1
            records.append(
                CorpusRecord(
                    f"{path.name}#{line}",
                    path.name,
                    item.title,
                    item.summary,
                    item.published,
                    line,
                    item.url,
                )
            )
    return records


def stories(records: list[CorpusRecord], overrides: dict[str, Any]) -> dict[str, int]:
    return cluster_corpus(records, DedupParams.from_mapping(overrides)).story_of()


def summary(label: str, labels: dict[str, int]) -> str:
    sizes = Counter(labels.values())
    largest = sorted(sizes.values(), reverse=True)[:5]
    multi = sum(1 for size in sizes.values() if size > 1)
    return f"{label}: {len(sizes)} clusters, {multi} of two or more, largest {largest}"


def joins(one: dict[str, int], other: dict[str, int]) -> list[list[str]]:
    """Clusters of ``one`` whose entries ``other`` puts in more than one cluster, largest
    first, as lists of entry ids."""
    members: dict[int, list[str]] = {}
    for entry, cluster in one.items():
        members.setdefault(cluster, []).append(entry)
    split = [ids for ids in members.values() if len({other[i] for i in ids}) > 1]
    return sorted(split, key=lambda ids: (-len(ids), ids[0]))


def report(
    records: list[CorpusRecord], base: dict[str, int], changed: dict[str, int], show: int
) -> list[str]:
    by_id = {r.id: r for r in records}
    lines = [summary("base", base), summary("changed", changed)]
    for label, one, other in (
        ("joined by the change", changed, base),
        ("kept apart by the change", base, changed),
    ):
        found = joins(one, other)
        lines.append(f"\n{len(found)} clusters {label}:")
        for ids in found[:show]:
            lines.append(f"  {len(ids)} entries in {len({other[i] for i in ids})} clusters:")
            lines.extend(f"    {by_id[i].outlet[:8]}  {by_id[i].title[:90]}" for i in ids[:8])
    return lines


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", action="append", default=[], help="KEY=JSON, both runs")
    parser.add_argument("--param", action="append", default=[], help="KEY=JSON, second run")
    parser.add_argument("--show", type=int, default=12)
    args = parser.parse_args(argv)
    base = param_overrides(args.base)
    records = feed_records(data_dir() / FEEDS)
    out(f"{len(records)} entries from {len({r.outlet for r in records})} feeds")
    first = stories(records, base)
    second = stories(records, {**base, **param_overrides(args.param)})
    for line in report(records, first, second, args.show):
        out(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
