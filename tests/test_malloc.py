"""The allocator tuning of a long-running service (glibc only; elsewhere both are no-ops)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator import _malloc

pytestmark = pytest.mark.skipif(_malloc._libc() is None, reason="glibc only")

MB = 1024 * 1024


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) / 1024


def test_tune_is_taken_by_glibc() -> None:
    assert _malloc.tune() is True


def test_trim_returns_freed_memory_held_below_a_live_block() -> None:
    """Freed blocks under a block still in use are not returned by free() itself (only the
    top of a heap is); malloc_trim gives their pages back."""
    blocks = [b"x" * (64 * 1024) for _ in range(3200)]  # 200 MB below the threshold
    pin = b"y" * (64 * 1024)  # allocated last: the top of the heap stays in use
    del blocks
    before = rss_mb()
    assert _malloc.trim() is True
    after = rss_mb()
    assert before - after > 100, (before, after)
    assert pin[:1] == b"y"
