"""glibc's allocator tuned for a long-running, many-threaded service (no-ops elsewhere).

By default glibc gives threads up to eight arenas per core and raises its mmap threshold each
time a large block is freed, so the page bodies and feed documents that fetch threads
allocate and free (100 KB to a few MB each) end up carved out of per-thread heaps, which
fragment and are seldom returned to the system: the process's RSS climbs for many minutes
before it levels off, far above what it holds. Two arenas, a fixed mmap threshold (large
blocks are mapped and unmapped, never kept), and a periodic ``malloc_trim`` keep RSS close to
what is in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 (glibc, not musl: both symbols must be there)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune() -> bool:
    """Two arenas and a fixed mmap threshold from now on; True when glibc took them."""
    libc = _libc()
    if libc is None:
        return False
    arenas = libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    threshold = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(arenas and threshold)


def trim() -> bool:
    """Give the free memory of every arena back to the system; True if some was."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
