"""Do the term and distinctive-word tables surface BASIL's annotated lexical bias?

For every article of ``clustering/basil-dev.jsonl`` (60 stories x Fox, NYT, HuffPost), the
story's three articles are compared with ``compare_cluster``. The article's *selected words*
are its outlet's distinctive words (top k by z-score) plus the words of its lexicon term
matches. The *annotated words* are the content words (no stop words, numbers or one-letter
words) of its lexical-bias spans in ``basil-dev-annotations/`` (the file's ``uuid`` is the
article id), kept when they occur in the article's text. Share = annotated words among the
selected ones / annotated words, pooled over all articles.

Baseline: for each article, as many distinct content words of the article as were selected,
drawn at random (seeded), averaged over ``--repeats`` draws. A second baseline draws them
from the article's content words that are not names (the distinctive-word list keeps names
apart), to show how much of the gain is only leaving names out.

Usage: .venv/bin/python -m bench.compare_bias [--top 10 20 50] [--repeats 200] [--seed 7]
       [--prior cluster|background|both] [--without GROUP_ID ...]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.compare import CompareArticle, CompareOptions, compare_cluster, load_lexicons
from aggregator.compare.analysis import analyse
from aggregator.compare.names import cluster_vocabulary
from aggregator.compare.text import is_content_word, words

REPO = Path(__file__).resolve().parents[1]
SEEN = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Tally:
    hits: int = 0
    total: int = 0
    baseline: float = 0.0
    baseline_no_names: float = 0.0
    selected: int = 0
    articles: int = 0
    above: int = 0  # articles where the selection beats its own random expectation

    def add(self, hits: int, total: int, expected: tuple[float, float], selected: int) -> None:
        self.hits += hits
        self.total += total
        self.baseline += expected[0]
        self.baseline_no_names += expected[1]
        self.selected += selected
        self.articles += 1
        self.above += hits > expected[0]

    def row(self) -> dict[str, float]:
        share = self.hits / self.total if self.total else 0.0
        base = self.baseline / self.total if self.total else 0.0
        return {
            "share": round(share, 4),
            "baseline": round(base, 4),
            "baseline_no_names": round(self.baseline_no_names / max(1, self.total), 4),
            "lift": round(share / base, 2) if base else 0.0,
            "words_selected_per_article": round(self.selected / max(1, self.articles), 1),
            "articles_above_baseline": round(self.above / max(1, self.articles), 3),
        }


def shared_data() -> Path:
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if (candidate / "README.md").exists():
            return candidate
    sys.exit("../shared/data not found")


def load(
    data: Path,
) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, str], set[str]]]:
    """Stories, and the annotated words per (story, article id): two articles of different
    stories share the id "empty", so the id alone is not a key."""
    rows = [
        json.loads(line) for line in (data / "clustering/basil-dev.jsonl").open(encoding="utf-8")
    ]
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        stories[row["story"]].append(row)
    annotated: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted((data / "clustering/basil-dev-annotations").glob("*_ann.json")):
        ann = json.loads(path.read_text(encoding="utf-8"))
        key = (path.name.split("_", 1)[0], ann["uuid"])  # <story uuid>_<n>_ann.json
        for span in ann["phrase-level-annotations"]:
            if span["bias"] == "lex":
                annotated[key].update(w for w in words(span["txt"]) if is_content_word(w))
    return stories, annotated


def articles_of(rows: list[dict[str, Any]]) -> list[CompareArticle]:
    return [
        CompareArticle(r["id"], r["outlet"].lower(), r["title"], r["text"], first_seen=SEEN)
        for r in rows
    ]


def term_words(comparison: dict[str, Any], outlet: str) -> set[str]:
    found: set[str] = set()
    for group in comparison["terms"]["groups"]:
        for form in group["outlets"][outlet]["forms"]:
            found.update(form.split())
    return found


def random_hits(
    pools: tuple[list[str], list[str]], target: set[str], k: int, rng: random.Random, repeats: int
) -> tuple[float, float]:
    """Expected annotated words among ``k`` random words of each pool."""
    expected = []
    for vocab in pools:
        n = min(k, len(vocab))
        hits = sum(len(target.intersection(rng.sample(vocab, n))) for _ in range(repeats))
        expected.append(hits / repeats if vocab else 0.0)
    return expected[0], expected[1]


def background_without(stories: dict[str, list[dict[str, Any]]], story: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for sid, rows in stories.items():
        if sid != story:
            for row in rows:
                counts.update(words(row["text"]))
    return counts


def evaluate(
    stories: dict[str, list[dict[str, Any]]],
    annotated: dict[tuple[str, str], set[str]],
    tops: Iterable[int],
    prior: str,
    *,
    args: argparse.Namespace,
) -> dict[str, dict[str, float]]:
    repeats, seed = args.repeats, args.seed
    lexicons = load_lexicons(REPO / "config" / "lexicons.toml")
    lexicons = replace(
        lexicons, groups=tuple(g for g in lexicons.groups if g.id not in args.without)
    )
    tops = list(tops)
    tallies: dict[str, Tally] = defaultdict(Tally)
    rng = random.Random(seed)
    for story, rows in sorted(stories.items()):
        background = background_without(stories, story) if prior == "background" else None
        options = CompareOptions(top_words=max(tops))
        articles = articles_of(rows)
        comparison = compare_cluster(articles, (), lexicons, background=background, options=options)
        names = cluster_vocabulary([analyse(a) for a in articles]).names
        for row in rows:
            outlet = row["outlet"].lower()
            vocab = sorted({w for w in words(row["text"]) if is_content_word(w)})
            pools = (vocab, [w for w in vocab if w not in names])
            target = annotated.get((story, row["id"]), set()) & set(vocab)
            if not target:
                continue
            ranked = [
                w["word"] for w in comparison["terms"]["distinctive"]["outlets"].get(outlet, [])
            ]
            terms = term_words(comparison, outlet) & set(vocab)
            for top in tops:
                selections = {
                    f"distinctive top {top}": set(ranked[:top]),
                    f"distinctive top {top} + terms": set(ranked[:top]) | terms,
                }
                for name, chosen in selections.items():
                    expected = random_hits(pools, target, len(chosen), rng, repeats)
                    tallies[name].add(len(target & chosen), len(target), expected, len(chosen))
            expected = random_hits(pools, target, len(terms), rng, repeats)
            tallies["terms only"].add(len(target & terms), len(target), expected, len(terms))
    return {name: tally.row() for name, tally in sorted(tallies.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prior", choices=["cluster", "background", "both"], default="both")
    parser.add_argument("--without", nargs="*", default=[], help="lexicon group ids to leave out")
    args = parser.parse_args()
    stories, annotated = load(shared_data())
    spans = sum(len(v) for v in annotated.values())
    print(
        f"{len(stories)} stories, {spans} annotated lexical-bias words in {len(annotated)} articles"
    )
    priors = ["cluster", "background"] if args.prior == "both" else [args.prior]
    for prior in priors:
        print(f"\nprior: {prior}")
        results = evaluate(stories, annotated, args.top, prior, args=args)
        print(
            f"{'selection':30} {'share':>6} {'random':>6} {'lift':>5} {'rnd-nm':>6} "
            f"{'words/art':>9} {'art>rnd':>7}"
        )
        for name, row in results.items():
            print(
                f"{name:30} {row['share']:6.3f} {row['baseline']:6.3f} {row['lift']:5.2f} "
                f"{row['baseline_no_names']:6.3f} {row['words_selected_per_article']:9.1f} "
                f"{row['articles_above_baseline']:7.3f}"
            )


if __name__ == "__main__":
    main()
