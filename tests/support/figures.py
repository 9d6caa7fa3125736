"""Figures for docs/reliability.md, counted while the adversarial tests run.

Faults are tallied by ``tests.support.faults`` as they are served; other counts (fuzz inputs
by target, kill cycles ...) go through ``count``. With ``NEWSAGG_FIGURES=path.json`` in the
environment the totals are written there at the end of the session by the plugin
``tests.support.figureplugin`` (``make fuzz`` and the commands in docs/reliability.md do this).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from pathlib import Path

from tests.support.faults import TALLY

FIGURES: defaultdict[str, Counter[str]] = defaultdict(Counter)
_LOCK = threading.Lock()


def count(section: str, key: str, n: int = 1) -> None:
    with _LOCK:
        FIGURES[section][key] += n


def snapshot() -> dict[str, dict[str, int]]:
    with _LOCK:
        out = {section: dict(sorted(c.items())) for section, c in FIGURES.items()}
    out["faults"] = dict(sorted(TALLY.items()))
    return out


def write(path: str | Path) -> None:
    """Merge this session's figures into ``path`` (sums per key)."""
    target = Path(path)
    merged: dict[str, dict[str, int]] = {}
    if target.exists():
        merged = json.loads(target.read_text(encoding="utf-8"))
    for section, values in snapshot().items():
        into = merged.setdefault(section, {})
        for key, n in values.items():
            into[key] = into.get(key, 0) + n
    target.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
