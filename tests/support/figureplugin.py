"""The pytest plugin that writes ``tests.support.figures`` to ``$NEWSAGG_FIGURES`` at the end
of a session; test modules that count load it with ``pytest_plugins``."""

from __future__ import annotations

import os

import pytest

from tests.support import figures


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("NEWSAGG_FIGURES")
    if path:
        figures.write(path)
