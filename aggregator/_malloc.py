"""glibc's allocator tuned for a long-running, many-threaded service (no-ops elsewhere).

By default glibc gives threads up to eight arenas per core and raises its mmap threshold each
time a large block is freed, so the page bodies and feed documents that fetch threads
allocate and free (100 KB to a few MB each) end up carved out of per-thread heaps, which
fragment and are seldom returned to the system. Two arenas and a periodic ``malloc_trim``
(which hands the free pages inside every arena back) keep RSS closer to what is in use. The
mmap threshold is left dynamic: fixed at 128 KiB, numpy's temporary arrays in the dedup
engine were mapped and faulted in afresh each time (23 % slower clustering).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h
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
    """At most two arenas from now on; True when glibc took it."""
    libc = _libc()
    return bool(libc.mallopt(M_ARENA_MAX, ARENA_MAX)) if libc is not None else False


def trim() -> bool:
    """Give the free memory of every arena back to the system; True if some was."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
