"""Start-up: stored articles put back into an engine in batches.

``DedupEngine.restore`` takes the stored articles in chunks of ``RESTORE_BATCH``: their
signatures are decoded together (``sigbatch.decode_many``), counted into the IDF together,
appended to the row store as columns, and their band keys go into the LSH indexes as whole
sealed segments. Only what is cheap stays per article: the clock, the outlet and language
codes and the cluster membership lists. The engine that comes out is the one that
``_restore_one`` article by article builds (same rows, index segments, IDF counts, clusters,
codes and next ids; tested), so it assigns the next articles exactly as before.

The clock is kept article by article: where an eviction sweep falls due, the articles before
it are stored first, so the sweep sees what it would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import TYPE_CHECKING, NoReturn

import numpy as np
import numpy.typing as npt

from aggregator.dedup.lsh import band_keys_many
from aggregator.dedup.rows import RowBatch
from aggregator.dedup.sigbatch import SignatureBatch, decode_many
from aggregator.dedup.signatures import ArticleSignature
from aggregator.errors import DedupError

if TYPE_CHECKING:
    from aggregator.dedup.clusters import Cluster
    from aggregator.dedup.engine import DedupEngine, StoredArticle

F64 = npt.NDArray[np.float64]
RESTORE_BATCH = 4096


def restore_all(
    engine: DedupEngine, stored: Iterable[StoredArticle], *, count_idf: bool = True
) -> int:
    """Restore ``stored`` (in consumption order) chunk by chunk; returns how many. With
    ``count_idf`` false the IDF is left alone (the caller carries it over)."""
    count = 0
    items = iter(stored)
    while chunk := list(islice(items, RESTORE_BATCH)):
        count += _restore_chunk(engine, chunk, count_idf)
    return count


def count_terms(engine: DedupEngine, payloads: Iterable[bytes]) -> int:
    """Count the articles of these signatures into the IDF, in order, as ``add`` did;
    returns how many. A refused signature raises ``DedupError``."""
    count = 0
    items = iter(payloads)
    while chunk := list(islice(items, RESTORE_BATCH)):
        sigs = decode_many(chunk, engine.params)
        if sigs.count < len(chunk):
            _refuse(engine, chunk[sigs.count])
        _count_idf(engine, sigs, 0, len(chunk))
        count += len(chunk)
    return count


def _count_idf(engine: DedupEngine, sigs: SignatureBatch, start: int, stop: int) -> None:
    """Count the batch's articles ``start`` .. ``stop`` into the IDF, in order."""
    spans = np.diff(sigs.term_starts[start : stop + 1])
    owners = np.repeat(np.arange(stop - start, dtype=np.int64), spans)
    terms = sigs.terms[sigs.term_starts[start] : sigs.term_starts[stop]]
    engine.idf.add_many(terms, owners, stop - start)


def _refuse(engine: DedupEngine, payload: bytes) -> NoReturn:
    """Raise the error ``from_bytes`` or ``check`` gives for a payload the batch refused."""
    ArticleSignature.from_bytes(payload).check(engine.params)
    raise DedupError("signature refused", code="bad_signature")  # pragma: no cover


def _restore_chunk(engine: DedupEngine, items: list[StoredArticle], count_idf: bool) -> int:
    sigs = decode_many([item.signature for item in items], engine.params)
    good = items[: sigs.count]
    raw = np.fromiter(
        (math.nan if i.time is None else i.time for i in good), dtype=np.float64, count=len(good)
    )
    times, clocks, sweeps = engine._plan_ticks(raw)
    start = 0
    for at in sweeps.tolist():  # the articles before a sweep are in place when it runs
        _put(engine, sigs, good[start:at], start, times[start:at], count_idf=count_idf)
        engine.clock = float(clocks[at - 1]) if at else engine.clock
        engine._tick(good[at].time)
        start = at
    _put(engine, sigs, good[start:], start, times[start:], count_idf=count_idf)
    if len(good):
        engine.clock = float(clocks[-1])
    if sigs.count < len(items):  # the first refused payload raises as it would alone
        _refuse(engine, items[sigs.count].signature)
    return len(items)


def _put(
    engine: DedupEngine,
    sigs: SignatureBatch,
    part: Sequence[StoredArticle],
    start: int,
    times: F64,
    *,
    count_idf: bool,
) -> None:
    """Store ``part``, the chunk's articles from ``start`` on; ``times`` are what their
    clock ticks returned."""
    stop = start + len(part)
    if stop == start:
        return
    languages, outlets = _codes(engine, part, sigs.languages[start:stop])
    if count_idf:
        _count_idf(engine, sigs, start, stop)
    clusters = _clusters(engine, part, languages)
    batch = _row_batch(part, sigs, start, times, languages=languages, outlets=outlets)
    first = engine.rows.append_many(batch)
    rows = np.arange(first, first + len(part), dtype=np.int64)
    p = engine.params
    story = band_keys_many(sigs.story[start:stop], p.story_bands, p.story_rows)
    engine.story_index.insert_many(rows, story)
    has_copy = sigs.has_copy[start:stop]
    copy = band_keys_many(sigs.copy[start:stop][has_copy], p.copy_bands, p.copy_rows)
    engine.copy_index.insert_many(rows[has_copy], copy)
    engine.book.attach_restored(clusters, rows.tolist(), batch.time.tolist(), outlets)
    top_group = int(batch.copy_group.max())
    engine.next_copy_group = max(engine.next_copy_group, top_group + 1)


def _codes(
    engine: DedupEngine, part: Sequence[StoredArticle], languages: list[str]
) -> tuple[list[int], list[int]]:
    """Language and outlet codes, given out in the order row-by-row restore gives them."""
    known = engine._codes
    language_codes: list[int] = []
    outlet_codes: list[int] = []
    for item, language in zip(part, languages, strict=True):
        code = known.get(language)
        language_codes.append(engine.code(language) if code is None else code)
        code = known.get(item.outlet)
        outlet_codes.append(engine.code(item.outlet) if code is None else code)
    return language_codes, outlet_codes


def _clusters(
    engine: DedupEngine, part: Sequence[StoredArticle], languages: list[int]
) -> list[Cluster]:
    """Each article's stored cluster, made when it is not there yet (in the first member's
    language)."""
    book = engine.book
    found: list[Cluster] = []
    for item, language in zip(part, languages, strict=True):
        cluster = book.get(item.story_cluster)
        if cluster is None:
            cluster = book.new(language, item.story_cluster)
        found.append(cluster)
    return found


def _row_batch(
    part: Sequence[StoredArticle],
    sigs: SignatureBatch,
    start: int,
    times: F64,
    *,
    languages: list[int],
    outlets: list[int],
) -> RowBatch:
    stop = start + len(part)
    return RowBatch(
        ids=[item.id for item in part],
        time=times,
        language=np.asarray(languages, dtype=np.int32),
        outlet=np.asarray(outlets, dtype=np.int32),
        cluster=np.fromiter((i.story_cluster for i in part), dtype=np.int32, count=len(part)),
        copy_group=np.fromiter((i.copy_group for i in part), dtype=np.int32, count=len(part)),
        shingles=sigs.shingles[start:stop],
        body_key=sigs.body_key[start:stop],
        has_copy=sigs.has_copy[start:stop],
        copy=(sigs.copy[start:stop] & np.uint32(0xFF)).astype(np.uint8),
        vec_ids=sigs.vec_ids[start:stop],
        vec_tf=sigs.vec_tf[start:stop],
        vec_len=sigs.vec_len[start:stop],
    )
