"""Scale: per-article assignment time and peak memory at 10k, 100k (and 1M) articles.

    .venv/bin/python -m bench.dedup_scale [--sizes 10000,100000] [--hold 1000000]
                                          [--naive 1000] [--lsh 10000,100000] [--baseline 10000]
                                          [--allocator service|glibc]
    .venv/bin/python -m bench.dedup_scale --child engine N [--window-hours H --link-gap-hours G]

Each measurement runs in a fresh process so its peak RSS is its own, with glibc's allocator
set up as the service sets it up (``--allocator service``, the default since 2026-12-01;
``--allocator glibc`` leaves glibc's defaults, as every run before). Times are CPU time of
that process (``time.process_time``), so other work on a shared machine does not inflate
them; wall time is given where it differs. The stream is
bench/dedup_synth.py at about 143k articles a day (1M = one week, the window).

- engine: ``DedupEngine.add`` over the stream; ms per article per tenth of the stream and
  per 50,000 (is it flat as the index grows, and past the week's window?), the means over
  the stream's first 10k/100k/300k/1M (one run gives every size), p50/p99, peak RSS, numpy
  bytes of the index; each progress line also gives the RSS at that moment and the index's
  numpy bytes, clusters and live rows;
- hold: an index holding N articles (put back through ``restore`` from signatures made by
  ``add`` on a 20k stream, re-used under new ids and times): peak RSS and index bytes;
- hold_past: N articles restored over the whole week, then a day more of the stream added,
  every sweep evicting as much as arrived (the index past its first week, in less time);
- naive: the copy MinHash with datasketch's per-shingle ``update()`` (SHA-1 of each shingle)
  next to ours (pre-hashed shingles, one ``update_batch``), per article;
- lsh: datasketch ``MinHashLSH`` holding N LeanMinHash (the copy and story indexes), RSS growth;
- baseline: TF-IDF + average-linkage agglomerative on N articles (O(n^2) memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import time
from array import array
from typing import Any

import numpy as np

from aggregator.allocator import tune
from aggregator.dedup.engine import DedupEngine, StoredArticle
from aggregator.dedup.features import analyse
from aggregator.dedup.params import DedupParams
from aggregator.dedup.signatures import MinHasher
from aggregator.settings import ServiceSettings
from bench.dedup_synth import sentence_pool, stream

PER_DAY = 1_000_000 / 7
PROGRESS = 50_000  # a progress line on stderr every this many articles
FIRST = (10_000, 100_000, 300_000, 1_000_000)  # an engine run also reports its first n's mean


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    """The process's resident set now (Linux; NaN elsewhere): the peak is a high-water mark
    of transients, this tells them from memory that stays."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            resident = int(handle.read().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return resident * resource.getpagesize() / 2**20


def run_engine(size: int, params: DedupParams | None = None) -> dict[str, Any]:
    pool = sentence_pool()
    base = peak_mb()
    engine = DedupEngine(params or DedupParams())
    times = array("d")  # 8 bytes an article, not a 32-byte float object: at 1M, 24 MB less
    wall = time.perf_counter()
    for doc in stream(pool, size, 0, PER_DAY):
        started = time.process_time()
        engine.add(doc)
        times.append(time.process_time() - started)
        if len(times) % PROGRESS == 0:
            _progress(engine, times, PROGRESS)
    engine.story_index.flush()
    engine.copy_index.flush()
    tenth = max(1, size // 10)
    slices = [1000 * statistics.mean(times[i : i + tenth]) for i in range(0, size, tenth)]
    runs = [1000 * statistics.mean(times[i : i + PROGRESS]) for i in range(0, size, PROGRESS)]
    peak = peak_mb()  # before the sort below
    ordered = np.sort(np.frombuffer(times, dtype=np.float64))
    return {
        "size": size,
        "cpu_s": sum(times),
        "wall_s_with_generation": time.perf_counter() - wall,
        "ms_per_article": 1000 * sum(times) / size,
        "ms_per_tenth": [round(s, 3) for s in slices],
        f"ms_per_{PROGRESS}": [round(s, 3) for s in runs],
        "ms_mean_of_first": {n: 1000 * statistics.mean(times[:n]) for n in FIRST if n <= size},
        "p50_ms": 1000 * float(ordered[size // 2]),
        "p99_ms": 1000 * float(ordered[int(size * 0.99)]),
        "peak_rss_mb": peak,
        "rss_now_mb": current_mb(),
        "rss_before_mb": base,
        "index_numpy_mb": engine.index_bytes() / 2**20,
        "live_rows": engine.rows.live,
        "clusters": len(engine.book.clusters),
    }


HOLD_SPAN = 6.5 * 86400  # the restored articles' times: 6.5 days, inside the week's window
HOLD_START = 1.8e9
THEN_ADD = 20_000  # hold_add: new articles assigned after the restore
PAST_ADD = 150_000  # hold_past: about a day of the stream, a seventh of the week turned over
PAST_PROGRESS = 10_000


def _held(size: int, span: float = HOLD_SPAN) -> tuple[DedupEngine, float, float, tuple[Any, ...]]:
    """An engine holding ``size`` restored articles; the RSS peak before it, restore seconds,
    and what was there before it (the caller keeps it alive to the end, so the growth it
    reports is the engine's own, not partly memory freed by those and used again). Their
    times spread over ``span`` seconds from ``HOLD_START``."""
    pool = sentence_pool()
    maker = DedupEngine(DedupParams())
    sigs = [(d.outlet, maker.add(d).signature) for d in stream(pool, 20_000, 1, PER_DAY)]
    usable = [(o, s) for o, s in sigs if s is not None]
    base = peak_mb()
    engine = DedupEngine(DedupParams())
    started = time.perf_counter()

    def items() -> Any:
        for i in range(size):
            outlet, sig = usable[i % len(usable)]
            when = HOLD_START + span * i / size
            yield StoredArticle(f"h{i}", outlet, when, sig, 1 + i // 3, 1 + i)

    engine.restore(items())
    return engine, base, time.perf_counter() - started, (pool, maker, sigs)


def run_hold(size: int) -> dict[str, Any]:
    engine, base, restore_s, _before = _held(size)  # held (alive) to the end of the run
    engine.story_index.flush()
    engine.copy_index.flush()
    return {
        "size": size,
        "restore_s": restore_s,
        "peak_rss_mb": peak_mb(),
        "rss_before_mb": base,
        "index_numpy_mb": engine.index_bytes() / 2**20,
        "live_rows": engine.rows.live,
    }


def run_hold_add(size: int) -> dict[str, Any]:
    """``size`` articles restored, then ``THEN_ADD`` new ones assigned with ``add`` (times
    after the restored ones, inside the window): the memory of an engine at that size while
    it works (cluster sums, outlet sets, row vectors, open LSH rows), not only what it holds."""
    held = _held(size)
    return {"size": size, **_add_after(held, HOLD_SPAN, THEN_ADD, progress=0)}


def run_hold_past(size: int) -> dict[str, Any]:
    """``size`` articles restored over the whole window (a week: the window is full), then
    ``PAST_ADD`` new ones assigned with ``add`` after them: every sweep evicts as many as
    arrived since the last, so the index stays at ``size`` live rows while its oldest
    segments are compacted and dropped and new ones merged. The memory of an engine past
    its first week, in a fraction of the time a stream from nothing takes to get there."""
    week = DedupParams().window_hours * 3600.0
    held = _held(size, week)
    restored_peak = peak_mb()
    added = _add_after(held, week, PAST_ADD, progress=PAST_PROGRESS)
    return {"size": size, "restored_peak_rss_mb": restored_peak, **added}


def _add_after(
    held: tuple[DedupEngine, float, float, tuple[Any, ...]], span: float, count: int, progress: int
) -> dict[str, Any]:
    """``count`` articles of a new stream assigned to ``_held``'s engine with ``add``, their
    times after the restored ones' ``span``; a progress line every ``progress`` (0: none)."""
    engine, base, restore_s, before = held
    shift = HOLD_START + span - 1_700_000_000.0  # the stream starts at 1.7e9
    times = array("d")
    for doc in stream(before[0], count, 2, PER_DAY):
        moved = dataclasses.replace(doc, id=f"n{doc.id}", time=(doc.time or 0.0) + shift)
        started = time.process_time()
        engine.add(moved)
        times.append(time.process_time() - started)
        if progress and len(times) % progress == 0:
            _progress(engine, times, progress)
    return {
        "added": count,
        "restore_s": restore_s,
        "ms_per_added_article": 1000 * sum(times) / len(times),
        "peak_rss_mb": peak_mb(),
        "rss_now_mb": current_mb(),
        "rss_before_mb": base,
        "index_numpy_mb": engine.index_bytes() / 2**20,
        "live_rows": engine.rows.live,
        "clusters": len(engine.book.clusters),
    }


def _progress(engine: DedupEngine, times: array[float], every: int) -> None:
    recent = 1000 * statistics.mean(times[-every:])
    print(
        f"{len(times)} articles, last {every}: {recent:.2f} ms each, "
        f"peak RSS {peak_mb():.0f} MB, RSS now {current_mb():.0f} MB, "
        f"index arrays {engine.index_bytes() / 2**20:.0f} MB, "
        f"{engine.rows.live} live rows, {len(engine.book.clusters)} clusters",
        file=sys.stderr,
        flush=True,
    )


def run_naive(size: int) -> dict[str, Any]:
    from datasketch import MinHash

    params = DedupParams()
    docs = list(stream(sentence_pool(), size, 2, PER_DAY))
    words = [analyse(d, params) for d in docs]
    hasher = MinHasher(params.copy_num_perm, params.seed)
    started = time.process_time()
    for feats in words:
        hasher.signature(feats.shingles)
    ours = time.process_time() - started
    texts = [d.text.lower().split() for d in docs]
    started = time.process_time()
    for tokens in texts:
        sketch = MinHash(num_perm=params.copy_num_perm, seed=params.seed)
        for i in range(max(1, len(tokens) - params.shingle_size + 1)):
            sketch.update(" ".join(tokens[i : i + params.shingle_size]).encode("utf-8"))
    naive = time.process_time() - started
    return {"size": size, "ours_ms": 1000 * ours / size, "naive_update_ms": 1000 * naive / size}


def run_lsh(size: int) -> dict[str, Any]:
    from datasketch import LeanMinHash, MinHashLSH

    params = DedupParams()
    rng = np.random.default_rng(0)
    copy = MinHashLSH(num_perm=params.copy_num_perm, params=(params.copy_bands, params.copy_rows))
    story = MinHashLSH(
        num_perm=params.story_num_perm, params=(params.story_bands, params.story_rows)
    )
    base = peak_mb()
    started = time.perf_counter()
    for i in range(size):
        for index, perm in ((copy, params.copy_num_perm), (story, params.story_num_perm)):
            values = rng.integers(0, 2**32, perm, dtype=np.uint64).astype(np.uint32)
            index.insert(f"article-{i}", LeanMinHash(seed=1, hashvalues=values, scheme="affine32"))
    return {
        "size": size,
        "insert_s": time.perf_counter() - started,
        "rss_growth_mb": peak_mb() - base,
        "bytes_per_article": (peak_mb() - base) * 2**20 / size,
    }


def run_baseline(size: int) -> dict[str, Any]:
    from aggregator.corpus import CorpusRecord
    from bench.dedup_baseline import cluster, distance_matrix

    docs = list(stream(sentence_pool(), size, 3, PER_DAY))
    records = [CorpusRecord(d.id, d.outlet, d.title, d.text, None, i) for i, d in enumerate(docs)]
    base = peak_mb()
    started = time.process_time()
    labels = cluster(distance_matrix(records, None), 0.8)
    elapsed = time.process_time() - started
    return {
        "size": size,
        "total_s": elapsed,
        "ms_per_article": 1000 * elapsed / size,
        "peak_rss_mb": peak_mb(),
        "rss_before_mb": base,
        "clusters": len(set(labels)),
    }


RUNNERS = {
    "engine": run_engine,
    "hold": run_hold,
    "naive": run_naive,
    "lsh": run_lsh,
    "baseline": run_baseline,
    "hold_add": run_hold_add,
    "hold_past": run_hold_past,
}


def use_allocator(name: str) -> dict[str, Any]:
    """Set glibc's allocator up for this process. ``service``: as ``newsagg run`` and
    ``newsagg worker`` set it up (the ``[service]`` defaults: two arenas, a fixed mmap
    threshold), the process the engine lives in; ``glibc``: glibc's own defaults left alone
    (the figures in docs/dedup.md before 2026-12-01)."""
    if name == "glibc":
        return {"allocator": "glibc"}
    defaults = ServiceSettings()
    tuning = tune(defaults.malloc_arenas, defaults.malloc_mmap_threshold_kb)
    return {"allocator": "service", **dataclasses.asdict(tuning)}


def in_child(kind: str, size: int, allocator: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.dedup_scale", "--child", kind, str(size)]
    command += ["--allocator", allocator]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _child(kind: str, size: str, allocator_name: str, changes: dict[str, float]) -> int:
    """One measurement in this process. ``changes`` (``--window-hours``/``--link-gap-hours``,
    engine only) shrink the window so a stream gets past it sooner: the index's steady state
    at a fraction of a week's articles (2026-12-02: 48 and 24 hours, 400,000 articles)."""
    allocator = use_allocator(allocator_name)  # before the run allocates
    if changes:
        params = dataclasses.replace(DedupParams(), **changes)
        result = {**run_engine(int(size), params), **changes}
    else:
        result = RUNNERS[kind](int(size))
    print(json.dumps({**result, **allocator}))
    return 0


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dedup engine at scale")
    parser.add_argument("--sizes", type=_ints, default=[10_000, 100_000])
    parser.add_argument("--hold", type=_ints, default=[1_000_000])
    parser.add_argument("--naive", type=_ints, default=[1000])
    parser.add_argument("--lsh", type=_ints, default=[10_000, 100_000])
    parser.add_argument("--baseline", type=_ints, default=[10_000])
    parser.add_argument("--child", nargs=2, default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--allocator", choices=["service", "glibc"], default="service")
    parser.add_argument("--window-hours", type=float, default=None)
    parser.add_argument("--link-gap-hours", type=float, default=None)
    args = parser.parse_args(argv)
    changes = {"window_hours": args.window_hours, "link_gap_hours": args.link_gap_hours}
    changes = {key: value for key, value in changes.items() if value is not None}
    if changes and (not args.child or args.child[0] != "engine"):
        parser.error("--window-hours and --link-gap-hours apply to --child engine only")
    if args.child:
        return _child(*args.child, args.allocator, changes)
    results: list[dict[str, Any]] = []
    plan = [("naive", n) for n in args.naive] + [("lsh", n) for n in args.lsh]
    plan += [("baseline", n) for n in args.baseline] + [("engine", n) for n in args.sizes]
    plan += [("hold", n) for n in args.hold]
    for kind, size in plan:
        result = {"kind": kind, **in_child(kind, size, args.allocator)}
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
