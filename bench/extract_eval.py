"""Extraction quality and speed on the article-extraction benchmark (181 real pages).

    .venv/bin/python -m bench.extract_eval [--data DIR] [--json PATH] [--repeat N]

Prints, side by side, the benchmark's 4-word-shingle precision/recall/F1 for our
``extract_page`` and for the 13 extractors whose outputs the benchmark publishes (their
``output/*.json``, scored with the same code), then pages per second: ``extract_page`` on one
core (in this process) and on every core (``ExtractorPool``), next to trafilatura alone
(``trafilatura.extract`` on the decoded string, text only, as the benchmark ran it) on one core
and on every core. Timings take the best of ``--repeat`` passes; CPU time is shown for the
one-core runs because other processes on a shared machine inflate wall time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.aeb_metric import Scores, score_outputs

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCHMARK = Path("extraction") / "article-extraction-benchmark"


def trafilatura_alone(html: bytes) -> int:
    """The baseline: trafilatura's own entry point on the page, text only."""
    import trafilatura

    return len(trafilatura.extract(html.decode("utf-8"), include_comments=False) or "")


def load(root: Path) -> tuple[dict[str, str], dict[str, str], dict[str, bytes]]:
    """Ground-truth bodies, their URLs and the raw page bytes, by page id."""
    with (root / "ground-truth.json").open(encoding="utf-8") as handle:
        truth = json.load(handle)
    pages = {key: gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()) for key in truth}
    bodies = {key: item["articleBody"] for key, item in truth.items()}
    return bodies, {key: item["url"] for key, item in truth.items()}, pages


def published(root: Path, truth: dict[str, str]) -> dict[str, Scores]:
    """Scores of every published output file, by extractor name."""
    results = {}
    for path in sorted((root / "output").glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
        outputs = data["output"] if isinstance(data.get("output"), dict) else data
        bodies = {key: item.get("articleBody") for key, item in outputs.items()}
        results[path.stem] = score_outputs(truth, bodies)
    return results


def best_of(repeat: int, run: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the fastest of ``repeat`` runs."""
    timings = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(timings)


def ours_in_process(urls: dict[str, str], pages: dict[str, bytes]) -> dict[str, str]:
    from aggregator.extract import extract_page

    return {
        key: extract_page(html, url=urls[key], content_type="text/html").text
        for key, html in pages.items()
    }


def ours_pooled(pool: Any, urls: dict[str, str], pages: dict[str, bytes]) -> dict[str, str]:
    from aggregator.errors import ExtractError
    from aggregator.extract_pool import PageInput

    inputs = (PageInput(key, html, urls[key], "text/html") for key, html in pages.items())
    texts = {}
    for key, outcome in pool.extract_many(inputs):
        if isinstance(outcome, ExtractError):
            raise SystemExit(f"{key}: {outcome}")
        texts[key] = outcome.text
    return texts


def baseline_pooled(pool: Any, pages: Iterable[bytes], timeout: float) -> None:
    futures = [pool.submit(trafilatura_alone, html, timeout=timeout) for html in pages]
    for future in futures:
        future.result()


def speeds(
    urls: dict[str, str], pages: dict[str, bytes], repeat: int
) -> dict[str, dict[str, float]]:
    from aggregator.extract_pool import ExtractorPool
    from aggregator.settings import ExtractSettings
    from aggregator.workpool import WorkPool

    count = len(pages)
    rows: dict[str, dict[str, float]] = {}

    def row(name: str, wall: float, cpu: float | None) -> None:
        rows[name] = {"pages_per_s": count / wall, "ms_per_page": 1000 * wall / count}
        if cpu is not None:
            rows[name]["cpu_ms_per_page"] = 1000 * cpu / count

    ours_in_process(urls, dict(list(pages.items())[:5]))  # imports and caches warm
    row("extract_page, 1 core", *best_of(repeat, lambda: ours_in_process(urls, pages)))
    wall, cpu = best_of(repeat, lambda: [trafilatura_alone(html) for html in pages.values()])
    row("trafilatura alone, 1 core", wall, cpu)
    settings = ExtractSettings(workers=0)
    with ExtractorPool(settings) as pool:
        ours_pooled(pool, urls, dict(list(pages.items())[: 2 * pool.size]))
        wall, _ = best_of(repeat, lambda: ours_pooled(pool, urls, pages))
        row(f"extract_page, ExtractorPool, {pool.size} cores", wall, None)
    with WorkPool(0, name="baseline") as pool:
        baseline_pooled(pool, list(pages.values())[: 2 * pool.size], settings.timeout_s)
        wall, _ = best_of(repeat, lambda: baseline_pooled(pool, pages.values(), settings.timeout_s))
        row(f"trafilatura alone, WorkPool, {pool.size} cores", wall, None)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("NEWSAGG_SHARED_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    root = args.data / BENCHMARK
    truth, urls, pages = load(root)

    from aggregator.extract import extractor_name

    scores = {f"ours ({extractor_name()})": score_outputs(truth, ours_in_process(urls, pages))}
    scores.update(published(root, truth))
    print(f"{'extractor':<44} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, result in sorted(scores.items(), key=lambda item: -item[1].f1):
        print(f"{name:<44} {result.precision:>9.3f} {result.recall:>7.3f} {result.f1:>6.3f}")
    loadavg = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nload average before the timings: {loadavg} ({os.cpu_count()} CPUs)")
    rates = speeds(urls, pages, args.repeat)
    title = f"speed ({len(pages)} pages)"
    print(f"{title:<44} {'pages/s':>9} {'ms/page':>7} {'CPU ms':>6}")
    for name, rate in rates.items():
        cpu = f"{rate['cpu_ms_per_page']:>6.1f}" if "cpu_ms_per_page" in rate else f"{'':>6}"
        print(f"{name:<44} {rate['pages_per_s']:>9.1f} {rate['ms_per_page']:>7.1f} {cpu}")
    if args.json:
        report = {
            "scores": {name: asdict(result) for name, result in scores.items()},
            "speed": rates,
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "load_average_before_timings": loadavg,
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
