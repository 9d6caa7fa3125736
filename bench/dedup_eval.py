"""Story clustering quality: the engine next to the TF-IDF average-linkage baseline.

    .venv/bin/python -m bench.dedup_eval [--engine 0.16,0.18,...] [--baseline 0.75,0.8,...]
                                         [--shuffles 3] [--json PATH]

On each dev set (BASIL, AllSides, MSVCode against gold1/2/3), dated (as given) and dense
(every article on one day, in file order; and in --shuffles seeded random orders), it
clusters with the engine at each story threshold and with the baseline at each distance cut,
and scores B-cubed and pairwise P/R/F1.

Threshold rule (the same for both methods, documented in docs/dedup.md): take the value with
the highest mean B-cubed F1 over the (set, mode) cells, MSVCode counting as the mean of its
three golds and the shuffled orders as one more mode (the baseline does not depend on order,
so it has none); the table then shows every cell at that value, and the baseline's best cut
for each cell on its own (an oracle, for reference).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aggregator.corpus import CorpusRecord
from aggregator.dedup.batch import cluster_corpus
from aggregator.dedup.metrics import Scores, score
from aggregator.dedup.params import DedupParams
from bench.dedup_baseline import cluster, distance_matrix
from bench.dedup_data import DevSet, dev_sets, param_overrides, same_day

Cell = tuple[str, str, str]  # (set, mode, gold)
MODES = ("dated", "dense")


def engine_scores(
    records: list[CorpusRecord], ds: DevSet, threshold: float, overrides: dict[str, Any]
) -> dict[str, Scores]:
    params = DedupParams.from_mapping({**overrides, "story_threshold": threshold})
    result = cluster_corpus(records, params)
    labels = result.story_of()
    return {name: score(labels, gold) for name, gold in ds.golds.items()}


def baseline_scores(
    records: list[CorpusRecord], ds: DevSet, cuts: list[float], dated: bool
) -> dict[float, dict[str, Scores]]:
    distances = distance_matrix(records, DedupParams().link_gap_hours if dated else None)
    out: dict[float, dict[str, Scores]] = {}
    for cut in cuts:
        labels = dict(zip([r.id for r in records], cluster(distances, cut), strict=True))
        out[cut] = {name: score(labels, gold) for name, gold in ds.golds.items()}
    return out


def mode_records(ds: DevSet, mode: str, seed: int | None = None) -> list[CorpusRecord]:
    if mode == "dated":
        return ds.records
    records = same_day(ds.records)
    if seed is not None:
        random.Random(seed).shuffle(records)
        records = [replace(r, line=i + 1) for i, r in enumerate(records)]
    return records


def rule_f1(cells: dict[Cell, Scores]) -> float:
    """The rule's figure: mean F1 over (set, mode) cells, golds averaged per set, the
    shuffled orders one more mode."""
    groups: dict[tuple[str, str], list[float]] = {}
    for (name, mode, _), s in cells.items():
        kind = "dense-shuffled" if mode.startswith("dense-shuffled") else mode
        groups.setdefault((name, kind), []).append(s.bcubed.f1)
    return statistics.mean(statistics.mean(v) for v in groups.values())


def choose(results: dict[float, dict[Cell, Scores]]) -> float:
    """The value with the best mean F1 over (set, mode) cells, golds averaged per set."""
    return max(sorted(results), key=lambda value: rule_f1(results[value]))


def run(
    engine_values: list[float], cuts: list[float], shuffles: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    engine: dict[float, dict[Cell, Scores]] = {v: {} for v in engine_values}
    base: dict[float, dict[Cell, Scores]] = {c: {} for c in cuts}
    timing: dict[str, float] = {}
    for ds in dev_sets():
        for mode in MODES:
            records = mode_records(ds, mode)
            for cut, per_gold in baseline_scores(records, ds, cuts, mode == "dated").items():
                base[cut].update({(ds.name, mode, g): s for g, s in per_gold.items()})
            for value in engine_values:
                started = time.perf_counter()
                per_gold = engine_scores(records, ds, value, overrides)
                timing[f"{ds.name}/{mode}"] = time.perf_counter() - started
                engine[value].update({(ds.name, mode, g): s for g, s in per_gold.items()})
        for seed in range(shuffles):
            records = mode_records(ds, "dense", seed)
            for value in engine_values:
                per_gold = engine_scores(records, ds, value, overrides)
                for g, s in per_gold.items():
                    engine[value][(ds.name, f"dense-shuffled-{seed}", g)] = s
    return {"engine": engine, "baseline": base, "timing": timing}


def table(outcome: dict[str, Any], shuffles: int) -> tuple[str, dict[str, Any]]:
    engine, base = outcome["engine"], outcome["baseline"]
    chosen, cut = choose(engine), choose(base)
    rows = [
        f"engine story_threshold {chosen} | baseline distance cut {cut} (both by the mean-F1 rule)",
        f"{'set':<10}{'mode':<8}{'gold':<7}{'engine B3 P/R/F1':<24}{'baseline B3 P/R/F1':<24}"
        f"{'oracle cut/F1':<15}{'shuffled':<9}{'pairwise F1 e/b'}",
    ]
    record: dict[str, Any] = {"engine_threshold": chosen, "baseline_cut": cut, "cells": []}
    for key, e in engine[chosen].items():
        name, mode, gold = key
        if mode not in MODES:
            continue
        b = base[cut][key]
        best = max(base, key=lambda c: base[c][key].bcubed.f1)
        shuffled = [
            engine[chosen][(name, f"dense-shuffled-{i}", gold)].bcubed.f1 for i in range(shuffles)
        ]
        mixed = f"{statistics.mean(shuffled):.3f}" if shuffled and mode == "dense" else "-"
        rows.append(
            f"{name:<10}{mode:<8}{gold:<7}{_prf(e):<24}{_prf(b):<24}"
            f"{best:<5}{base[best][key].bcubed.f1:<10.3f}{mixed:<9}"
            f"{e.pairwise.f1:.3f}/{b.pairwise.f1:.3f}"
        )
        record["cells"].append(
            {
                "set": name,
                "mode": mode,
                "gold": gold,
                "engine": _dict(e),
                "baseline": _dict(b),
                "baseline_oracle_cut": best,
                "baseline_oracle_f1": base[best][key].bcubed.f1,
                "engine_dense_shuffled_f1": shuffled if mode == "dense" else None,
            }
        )
    rows.append("")
    rows.append(_sweep("engine story_threshold", engine))
    rows.append(_sweep("baseline distance cut", base))
    return "\n".join(rows), record


def _sweep(label: str, results: dict[float, dict[Cell, Scores]]) -> str:
    lines = [f"mean B-cubed F1 per cell over the {label} grid:"]
    for value in sorted(results):
        cells = results[value]
        parts = [
            f"{n[:3]}/{m[:5]}/{g[-1]}:{s.bcubed.f1:.3f}"
            for (n, m, g), s in cells.items()
            if m in MODES
        ]
        lines.append(f"  {value:<6} rule {rule_f1(cells):.4f} " + " ".join(parts))
    return "\n".join(lines)


def _prf(s: Scores) -> str:
    b = s.bcubed
    return f"{b.precision:.3f}/{b.recall:.3f}/{b.f1:.3f}"


def _dict(s: Scores) -> dict[str, float]:
    return {
        "bcubed_p": s.bcubed.precision,
        "bcubed_r": s.bcubed.recall,
        "bcubed_f1": s.bcubed.f1,
        "pairwise_p": s.pairwise.precision,
        "pairwise_r": s.pairwise.recall,
        "pairwise_f1": s.pairwise.f1,
    }


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = DedupParams().story_threshold
    parser.add_argument("--engine", type=_floats, default=[default])
    parser.add_argument("--baseline", type=_floats, default=[0.7, 0.75, 0.8, 0.85, 0.9])
    parser.add_argument("--shuffles", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--param", action="append", default=[], help="KEY=JSON override")
    args = parser.parse_args(argv)
    overrides = param_overrides(args.param)
    started = time.perf_counter()
    outcome = run(args.engine, args.baseline, args.shuffles, overrides)
    text, record = table(outcome, args.shuffles)
    out(text)
    out(f"\nengine seconds per run: {json.dumps(outcome['timing'])}")
    out(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
