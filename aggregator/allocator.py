"""glibc's allocator, set up for a long-running process of many threads.

Left at its defaults, glibc gives each new thread an arena of its own (up to 8 per core) and
raises its mmap threshold every time a large block is freed, so the next page-sized buffers
come from those arenas instead of from ``mmap``. In the service (fetch threads, scheduler
threads, one pool of database connections) the freed memory then stays scattered across the
arenas and the RSS climbs: an 8-minute soak grew 78 MB (39 KB an article) with the defaults
and 50 MB (25 KB an article) with two arenas and a fixed 128 KiB threshold, most of the rest
being the dedup index and SQLite's page caches (docs/reliability.md).

``tune(arenas, mmap_threshold_kb)`` calls ``mallopt`` once, at the start of a service process,
before its threads exist. It does nothing off glibc, nor when the operator set the
allocator through ``GLIBC_TUNABLES`` (theirs wins), nor for a value of 0 (glibc's default).

``freeze_start_up()`` does the same for Python's cyclic collector, once the process is
built: see its docstring.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import platform
from dataclasses import dataclass

from aggregator.log import event
from aggregator.settings import Settings

log = logging.getLogger("newsagg")

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8


@dataclass(frozen=True, slots=True)
class Tuning:
    """What ``tune`` set (``None``: left to glibc) and why not, when it set nothing."""

    arenas: int | None = None
    mmap_threshold_kb: int | None = None
    skipped: str | None = None


def tune(arenas: int, mmap_threshold_kb: int) -> Tuning:
    if platform.libc_ver()[0] != "glibc":
        return Tuning(skipped="not glibc")
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return Tuning(skipped="GLIBC_TUNABLES sets the allocator")
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return Tuning(skipped="no mallopt")
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    set_arenas = arenas if arenas and mallopt(M_ARENA_MAX, arenas) == 1 else None
    threshold = mmap_threshold_kb * 1024
    set_threshold = (
        mmap_threshold_kb if threshold and mallopt(M_MMAP_THRESHOLD, threshold) == 1 else None
    )
    return Tuning(set_arenas, set_threshold)


def tune_allocator(settings: Settings) -> Tuning:
    """``tune`` with the ``[service]`` settings, logged."""
    tuning = tune(settings.service.malloc_arenas, settings.service.malloc_mmap_threshold_kb)
    event(
        log,
        "allocator.tuned" if tuning.skipped is None else "allocator.default",
        arenas=tuning.arenas,
        mmap_threshold_kb=tuning.mmap_threshold_kb,
        reason=tuning.skipped,
    )
    return tuning


def freeze_start_up() -> int:
    """Take every object made so far out of the cyclic collector's reach (``gc.freeze``);
    call it once a process is built (modules imported, settings read, stages wired), before
    its work starts. Returns how many objects were frozen.

    Those objects (about 140,000 in ``newsagg run``: modules, classes, functions, the wiring)
    live as long as the process, yet each full collection walks them all again. Measured in
    one pass of ``bench.pipeline_e2e`` (1,810 articles into PostgreSQL): full collections
    cost the pipeline process 5.4-5.8 s of CPU a pass, nearly all in the comparison stage
    (which keeps many objects alive while it works), and 1.0-1.4 s with the start-up heap
    frozen. A frozen object is still freed when its last reference goes; only a cycle of
    them would never be collected, and what start-up makes is meant to last.
    """
    gc.collect()  # what is garbage already is not kept for ever
    gc.freeze()
    frozen = gc.get_freeze_count()
    event(log, "gc.frozen", objects=frozen)
    return frozen
