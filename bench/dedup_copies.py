"""Copy groups on reprints made from real articles (see bench/dedup_reprints.py).

    .venv/bin/python -m bench.dedup_copies [--seeds 3] [--share 0.5]

For BASIL and AllSides, half of the articles get one to three edited reprints by other
outlets; everything is clustered on one day in random order. Pairwise precision and recall
of copy groups against the reprint families (originals without reprints stand alone), and a
check that every copy group lies inside one story cluster.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from aggregator.dedup.batch import cluster_corpus
from aggregator.dedup.metrics import PRF, pairwise
from aggregator.dedup.params import DedupParams
from bench.dedup_data import dev_sets, param_overrides, same_day
from bench.dedup_reprints import with_reprints


def nested(stories: dict[str, int], groups: dict[str, int]) -> bool:
    seen: dict[int, set[int]] = defaultdict(set)
    for article, group in groups.items():
        seen[group].add(stories[article])
    return all(len(s) == 1 for s in seen.values())


def evaluate(name: str, seed: int, share: float, params: DedupParams) -> tuple[PRF, bool, int]:
    source = next(ds for ds in dev_sets() if ds.name == name)
    records, gold = with_reprints(same_day(source.records), seed, share)
    result = cluster_corpus(records, params)
    groups = result.copy_of()
    return pairwise(groups, gold), nested(result.story_of(), groups), len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="copy-group precision and recall on reprints")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--param", action="append", default=[], help="KEY=JSON override")
    args = parser.parse_args(argv)
    params = DedupParams.from_mapping(param_overrides(args.param))
    print(f"params {params.version}")
    for name in ("basil", "allsides"):
        for seed in range(args.seeds):
            prf, ok, n = evaluate(name, seed, args.share, params)
            print(f"{name:<9} seed {seed}: {n} articles  copy pairs {prf}  nested: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
