"""Clusterer start-up: rebuilding the index from a week of stored signatures.

    .venv/bin/python -m bench.cluster_startup [--articles 350000] [--db PATH] [--json PATH]

Builds (once; ``--db`` keeps the file for later runs) a SQLite database holding a week of
``--articles`` synthetic articles (``bench/dedup_synth.py``: real dev-set sentences, stories
covered by several outlets, reprints) as the service stores them: articles, signatures,
memberships and clusters, all made by the real engine. Building runs the engine over the
stream in two processes (each on half the outlets), which takes minutes. Then it times what a
restarting clusterer does (``Clusterer._rebuild``: read the window's signatures in their
consumption order and restore them into a fresh engine), in a fresh process (so peak RSS is
the restart's own). Target: under 30 seconds for 350k.

Then the same restart with an IDF table stored as the service stores it (``idf_snapshots``:
the table after all but the last ``--idf-tail`` articles, which the restart counts from their
signatures), so the cost of carrying the IDF over is visible next to the plain restart.

Then, in another fresh process, where the time goes: reading the rows as the service does
(``restore_rows``, one streamed statement; it read keyset pages before: 102 s at 350k) and
``DedupEngine.restore`` alone over rows held in memory (CPU seconds). ``--row-by-row`` also
times the article-by-article restore the batched one replaced.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DAY = 86400.0


def build_half(args: tuple[int, int, int, str]) -> str:
    """Run the engine over one half of the stream; write rows to a JSON-lines temp file."""
    half, count, per_day, folder = args
    from aggregator.dedup.engine import DedupEngine
    from aggregator.dedup.params import DedupParams
    from bench.dedup_synth import sentence_pool, stream

    engine = DedupEngine(DedupParams())
    out = Path(folder) / f"half{half}.jsonl"
    offset = half * 10_000_000  # cluster and copy-group ids of the two halves never meet
    with out.open("w", encoding="utf-8") as handle:
        for n, doc in enumerate(stream(sentence_pool(), count, seed=half, per_day=per_day)):
            result = engine.add(doc)
            if result.signature is None:
                continue
            row = {
                "seq": 2 * n + half,
                "outlet": f"h{half}-{doc.outlet}",
                "time": doc.time,
                "sig": result.signature.hex(),
                "cluster": result.story_cluster + offset,
                "group": result.copy_group + offset,
            }
            handle.write(json.dumps(row) + "\n")
    return str(out)


def build(db: Path, articles: int) -> None:
    from storage.db import migrate

    url = f"sqlite:///{db}"
    migrate(url)
    per_day = articles / 7 / 2
    with tempfile.TemporaryDirectory() as folder:
        jobs = [(half, articles // 2, int(per_day), folder) for half in (0, 1)]
        with multiprocessing.get_context("forkserver").Pool(2) as pool:
            files = pool.map(build_half, jobs)
        rows = [json.loads(line) for f in files for line in Path(f).read_text("utf-8").splitlines()]
    rows.sort(key=lambda r: r["seq"])
    load(url, rows)


def load(url: str, rows: list[dict[str, Any]]) -> None:
    """Bulk insert the rows the way the service would have stored them."""
    import sqlite3

    from aggregator.clustering import dedup_params
    from aggregator.settings import Settings

    version = dedup_params(Settings()).version
    path = url.removeprefix("sqlite:///")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO param_sets (version, params, active, created_at) VALUES (?, '{}', 1, ?)",
            (version, now),
        )
        outlets = sorted({r["outlet"] for r in rows})
        conn.executemany(
            "INSERT INTO outlets (id, name, homepage, country, language, labels, created_at, "
            "updated_at) VALUES (?, ?, '', '', 'en', '{}', ?, ?)",
            [(o, o, now, now) for o in outlets],
        )
        clusters = sorted({r["cluster"] for r in rows})
        conn.executemany(
            "INSERT INTO story_clusters (id, param_version, key, title, article_count, "
            "outlet_count, outlets, comparison_stale, created_at, updated_at) "
            "VALUES (?, ?, ?, '', 0, 0, '[]', 0, ?, ?)",
            [(c, version, str(c), now, now) for c in clusters],
        )
        conn.executemany(
            "INSERT INTO articles (id, outlet_id, canonical_url, url, entry_key, title, summary, "
            "text, published, published_source, first_seen, updated_at, content_hash, item_hash,"
            " revision, flags, state, attempts, cluster_seq) VALUES (?, ?, ?, ?, ?, '', '', '', "
            "?, 'feed', ?, ?, '', '', 1, '[]', 'clustered', 1, ?)",
            [_article(n, r) for n, r in enumerate(rows, start=1)],
        )
        conn.executemany(
            "INSERT INTO signatures (article_id, param_version, payload, sort_time) "
            "VALUES (?, ?, ?, ?)",
            [(n, version, bytes.fromhex(r["sig"]), _when(r)) for n, r in enumerate(rows, 1)],
        )
        conn.executemany(
            "INSERT INTO memberships (article_id, param_version, cluster_id, copy_group, score,"
            " rule, why, assigned_at) VALUES (?, ?, ?, ?, 0, 'centroid', '{}', ?)",
            [(n, version, r["cluster"], str(r["group"]), now) for n, r in enumerate(rows, 1)],
        )


def _when(row: dict[str, Any]) -> str:
    return datetime.fromtimestamp(row["time"], UTC).replace(tzinfo=None).isoformat(sep=" ")


def _article(n: int, row: dict[str, Any]) -> tuple[Any, ...]:
    when = _when(row)
    url = f"https://{row['outlet']}.example/{n}"
    return (n, row["outlet"], url, url, str(n), when, when, when, n)


def restart(db: Path) -> dict[str, Any]:
    from aggregator.clustering import build_cluster_stage
    from aggregator.settings import Settings
    from storage.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        clusterer = build_cluster_stage(Settings(), store, clock=lambda: datetime.now(UTC))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu = time.perf_counter(), time.process_time()
        engine = clusterer._engine()  # what the first run() after a start does
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {
            "restored_articles": len(engine.placements()),
            "idf_articles": engine.idf.seen,
            "seconds": round(seconds, 2),
            "cpu_s": round(cpu, 2),
            "index_mb": round(engine.index_bytes() / 2**20, 1),
            "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def store_idf_table(db: Path, tail: int) -> int:
    """Store the IDF table after all but the last ``tail`` articles (by ``cluster_seq``), as
    the clusterer would have; returns how many articles it counted."""
    import sqlite3

    from aggregator.clustering import dedup_params
    from aggregator.dedup.engine import DedupEngine
    from aggregator.dedup.restore import count_terms
    from aggregator.settings import Settings

    params = dedup_params(Settings())
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT a.cluster_seq, s.payload FROM signatures s JOIN articles a ON a.id = "
            "s.article_id WHERE s.param_version = ? ORDER BY a.cluster_seq",
            (params.version,),
        ).fetchall()
        counted = rows[: max(0, len(rows) - tail)]
        engine = DedupEngine(params)
        count_terms(engine, [bytes(payload) for _, payload in counted])
        last = counted[-1][0] if counted else 0
        conn.execute("DELETE FROM idf_snapshots")
        conn.execute(
            "INSERT INTO idf_snapshots (param_version, cluster_seq, articles, payload, saved_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (params.version, last, engine.idf.seen, engine.idf.to_bytes(), _when({"time": 0})),
        )
    return len(counted)


def drop_idf_table(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM idf_snapshots")


def breakdown(db: Path, row_by_row: bool) -> dict[str, Any]:
    """Reading and restoring timed apart (rows held in memory in between)."""
    from aggregator.clustering import Clusterer, build_cluster_stage
    from aggregator.dedup.engine import DedupEngine
    from aggregator.settings import Settings
    from storage.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        clusterer = build_cluster_stage(Settings(), store, clock=lambda: datetime.now(UTC))
        version, repo = clusterer.version, store.assignments
        window = timedelta(hours=clusterer.params.window_hours)
        since = (repo.newest_time(version) or datetime.now(UTC)) - window
        out: dict[str, Any] = {}
        with _timed(out, "read_service"):
            items = list(Clusterer._stored(repo.restore_rows(version, since)))
        with _timed(out, "restore_batched"):
            DedupEngine(clusterer.params).restore(items)
        if row_by_row:
            engine = DedupEngine(clusterer.params)
            with _timed(out, "restore_row_by_row"):
                for item in items:
                    engine._restore_one(item)
        return out


@contextmanager
def _timed(out: dict[str, Any], name: str) -> Iterator[None]:
    started, cpu = time.perf_counter(), time.process_time()
    yield
    out[f"{name}_s"] = round(time.perf_counter() - started, 2)
    out[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)


def _in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``function(*args)`` in a fresh process (its own peak RSS), return its result."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(function, args)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=350_000)
    parser.add_argument("--db", type=Path, help="keep (or reuse) the built database here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-breakdown", action="store_true", help="time the restart only")
    parser.add_argument("--row-by-row", action="store_true", help="time the old restore too")
    parser.add_argument(
        "--idf-tail", type=int, default=2000, help="articles counted after the stored IDF table"
    )
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp()) / "startup.db"
    built = None
    if not db.exists():
        started = time.perf_counter()
        build(db, args.articles)
        built = round(time.perf_counter() - started, 1)
    drop_idf_table(db)
    result = {"articles": args.articles, "build_s": built, **_in_child(restart, db)}
    counted = store_idf_table(db, args.idf_tail)
    result["with_idf_table"] = {"counted_in_table": counted, **_in_child(restart, db)}
    drop_idf_table(db)
    result["target_s"] = 30
    result["load_avg"] = round(os.getloadavg()[0], 2)
    if not args.no_breakdown:
        result["breakdown"] = _in_child(breakdown, db, args.row_by_row)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
