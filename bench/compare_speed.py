"""Time ``compare_cluster`` on 20-article clusters built from real dev-set texts.

Each cluster is built around one BASIL story (``clustering/basil-dev.jsonl``): its three
articles (Fox, NYT, HuffPost), two wire-style reprints of each (new first paragraph, last one
cut, a few hours later, under other outlet ids: copy groups and near-identical sentences to
align) and 11 articles of other stories under further outlet ids, so 20 articles from 20
outlets (two dev articles share the id "empty": the others' ids are made unique). One cluster
per story (60), each timed ``--runs`` times after a warm-up, with the shipped lexicons; the
median of each cluster's runs is its time.

Usage: .venv/bin/python -m bench.compare_speed [--runs 3] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.compare import CompareArticle, compare_cluster, load_lexicons

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SIZE = 20
REPRINTS = 2


def shared_data() -> Path:
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if (candidate / "README.md").exists():
            return candidate
    sys.exit("../shared/data not found")


def article(
    row: dict[str, Any], outlet: str, at: datetime, *, id_: str | None = None
) -> CompareArticle:
    return CompareArticle(
        id=id_ or row["id"],
        outlet_id=outlet,
        title=row["title"],
        text=row["text"],
        url=row["url"],
        published=at,
        published_source="feed",
        first_seen=at,
    )


def reprint(row: dict[str, Any], n: int, at: datetime) -> CompareArticle:
    """A wire-style reprint: a new first paragraph, the original's last one cut."""
    paragraphs = row["text"].split("\n\n")
    text = "\n\n".join([f"WASHINGTON (Wire {n}) — A report.", *paragraphs[1:-1]])
    return replace(article(row, f"wire{n}", at, id_=f"{row['id']}-r{n}"), text=text)


def build_clusters(rows: list[dict[str, Any]], seed: int) -> list[list[CompareArticle]]:
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        stories[row["story"]].append(row)
    rng = random.Random(seed)
    clusters = []
    for story, members in sorted(stories.items()):
        t0 = datetime(2026, 2, 17, 8, tzinfo=UTC)
        cluster = [
            article(r, r["outlet"].lower(), t0 + timedelta(minutes=20 * i))
            for i, r in enumerate(members)
        ]
        for i, row in enumerate(members):
            for k in range(REPRINTS):
                cluster.append(reprint(row, REPRINTS * i + k, t0 + timedelta(hours=2 + k)))
        others = [r for r in rows if r["story"] != story]
        for j, row in enumerate(rng.sample(others, CLUSTER_SIZE - len(cluster))):
            at = t0 + timedelta(hours=3, minutes=j)
            cluster.append(article(row, f"other{j}", at, id_=f"{row['story']}/{row['id']}"))
        clusters.append(cluster)
    return clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    data = shared_data()
    rows = [
        json.loads(line) for line in (data / "clustering/basil-dev.jsonl").open(encoding="utf-8")
    ]
    lexicons = load_lexicons(REPO / "config" / "lexicons.toml")
    clusters = build_clusters(rows, args.seed)
    compare_cluster(clusters[0], (), lexicons)  # warm-up
    times = []
    for cluster in clusters:
        runs = []
        for _ in range(args.runs):
            start = time.perf_counter()
            compare_cluster(cluster, (), lexicons)
            runs.append(time.perf_counter() - start)
        times.append(statistics.median(runs))
    words = [sum(len(a.text.split()) for a in c) for c in clusters]
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    median_words = statistics.median(words)
    print(f"{len(clusters)} clusters of {CLUSTER_SIZE} articles, median {median_words:.0f} words")
    median_ms, p95_ms, max_ms = statistics.median(times) * 1000, p95 * 1000, times[-1] * 1000
    print(f"compare_cluster: median {median_ms:.0f} ms, p95 {p95_ms:.0f} ms, max {max_ms:.0f} ms")


if __name__ == "__main__":
    main()
