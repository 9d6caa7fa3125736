"""Editor corrections as data keyed by article ids, so they outlive any re-clustering.

Each correction compiles to constraints: articles that must share a cluster ("must link")
and articles that must not ("cannot link"). The engine applies a correction when it is made,
re-applies stored ones after a rebuild, and never lets an automatic join, move or merge break
a constraint.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aggregator.errors import DedupError


class CorrectionKind(enum.StrEnum):
    MERGE = "merge"  # the clusters of these articles are one story
    SPLIT = "split"  # these articles are a story of their own
    MOVE = "move"  # this article belongs with ``target``


@dataclass(frozen=True, slots=True)
class Correction:
    """``away_from`` lists the articles a split or moved article must not be clustered
    with again: its cluster-mates at the time of the correction (filled in by the engine)."""

    kind: CorrectionKind
    article_ids: tuple[str, ...]
    target: str | None = None
    away_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.article_ids:
            raise DedupError("a correction names at least one article", resource="correction")
        if self.kind is CorrectionKind.MOVE and (self.target is None or len(self.article_ids) != 1):
            raise DedupError("a move names one article and a target", resource="correction")
        if self.kind is CorrectionKind.MERGE and len(self.article_ids) < 2:
            raise DedupError("a merge names at least two articles", resource="correction")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "article_ids": list(self.article_ids),
            "target": self.target,
            "away_from": list(self.away_from),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        try:
            return cls(
                kind=CorrectionKind(data["kind"]),
                article_ids=tuple(str(a) for a in data["article_ids"]),
                target=None if data.get("target") is None else str(data["target"]),
                away_from=tuple(str(a) for a in data.get("away_from", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DedupError(
                f"bad correction {dict(data)!r}: {exc}", resource="correction"
            ) from exc

    def linked(self) -> tuple[str, ...]:
        """The articles this correction puts together."""
        if self.kind is CorrectionKind.MOVE and self.target is not None:
            return (*self.article_ids, self.target)
        return self.article_ids


class Constraints:
    """Must-link and cannot-link relations between article ids."""

    def __init__(self) -> None:
        self.must: dict[str, set[str]] = {}
        self.cannot: dict[str, set[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.must or self.cannot)

    def record(self, correction: Correction) -> None:
        linked = correction.linked()
        for a in linked:
            self.must.setdefault(a, set()).update(b for b in linked if b != a)
            for b in linked:
                self.cannot.get(a, set()).discard(b)
        for a in correction.article_ids:
            for b in correction.away_from:
                if b in linked:
                    continue
                self.cannot.setdefault(a, set()).add(b)
                self.cannot.setdefault(b, set()).add(a)
                self.must.get(a, set()).discard(b)
                self.must.get(b, set()).discard(a)

    def allows(self, left: Iterable[str], right: Iterable[str]) -> bool:
        """True unless some article on the left must not join some on the right."""
        if not self.cannot:
            return True
        right_set = set(right)
        return not any(self.cannot.get(a, set()) & right_set for a in left)

    def pinned(self, article_id: str) -> bool:
        return article_id in self.must or article_id in self.cannot

    def partners(self, article_id: str) -> set[str]:
        return self.must.get(article_id, set())
