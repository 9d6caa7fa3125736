"""Where the third-party test data lives (read-only, never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    """``../shared/data`` next to the checkout, or ``NEWSAGG_SHARED_DATA``, or /work/shared/data."""
    candidates = [os.environ.get("NEWSAGG_SHARED_DATA"), REPO.parent / "shared" / "data"]
    candidates.append("/work/shared/data")
    for candidate in candidates:
        if candidate and (Path(candidate) / "README.md").exists():
            return Path(candidate)
    return None


def require_shared_data() -> Path:
    """The shared data folder; skips the test when it is absent, except under CI=true."""
    found = shared_data_dir()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("../shared/data is missing, and CI=true requires it")
        pytest.skip("../shared/data is not present on this machine")
    return found
