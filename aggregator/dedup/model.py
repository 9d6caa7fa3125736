"""What the engine answers: an Assignment per article, with why it went where it went."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any


class Rule(enum.StrEnum):
    """The rule that admitted an article to its cluster (or made the cluster change)."""

    COPY = "copy"  # near-duplicate text of a member (copy group)
    CENTROID = "centroid"  # average-linkage TF-IDF score against the cluster
    NEW_STORY = "new_story"  # nothing close enough: a new cluster
    EDITOR = "editor"  # an editor's correction
    DUPLICATE = "duplicate"  # same outlet, same text: folded into the earlier article
    UNCLUSTERED = "unclustered"  # flagged input (empty, too short, boilerplate): alone
    MERGE = "merge"  # a bridging article proved two clusters are one story
    MOVE = "move"  # a member fits a newer cluster better than its own


class Outcome(enum.StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    UNCLUSTERED = "unclustered"


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


@dataclass(frozen=True, slots=True)
class Why:
    """Evidence for one decision: score against the rule's threshold, the terms that made
    the score, the time gap to the cluster, and the closest member (or copy partner)."""

    rule: Rule
    score: float = 0.0
    threshold: float = 0.0
    shared_terms: tuple[str, ...] = ()
    time_gap_hours: float | None = None
    partner: str | None = None
    cluster: int | None = None
    candidates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": str(self.rule),
            "score": _round(self.score),
            "threshold": _round(self.threshold),
            "shared_terms": list(self.shared_terms),
            "time_gap_hours": _round(self.time_gap_hours, 2),
            "partner": self.partner,
            "cluster": self.cluster,
            "candidates": self.candidates,
        }


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A change to earlier assignments: clusters merged, members moved or split off."""

    kind: Rule  # MERGE, MOVE or EDITOR
    article_ids: tuple[str, ...]
    from_cluster: int
    to_cluster: int
    score: float = 0.0
    bridge: str | None = None  # the article whose arrival proved a merge or move
    copy_group: int | None = None  # set when the articles also changed copy group

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy_group": self.copy_group,
            "kind": str(self.kind),
            "article_ids": list(self.article_ids),
            "from_cluster": self.from_cluster,
            "to_cluster": self.to_cluster,
            "score": _round(self.score),
            "bridge": self.bridge,
        }


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one article went. ``events`` lists changes to other articles' clusters that
    this arrival caused; the caller applies them to whatever it stored before."""

    article_id: str
    outcome: Outcome
    story_cluster: int
    copy_group: int
    why: Why
    near_miss: Why | None = None
    flags: frozenset[str] = frozenset()
    language: str = ""
    duplicate_of: str | None = None
    events: tuple[ClusterEvent, ...] = ()
    signature: bytes | None = field(default=None, repr=False)

    def why_dict(self) -> dict[str, Any]:
        """The explanation as stored with a membership (JSON-ready)."""
        out = self.why.to_dict()
        out["near_miss"] = self.near_miss.to_dict() if self.near_miss else None
        out["flags"] = sorted(self.flags)
        out["language"] = self.language
        out["duplicate_of"] = self.duplicate_of
        return out


@dataclass(frozen=True, slots=True)
class Placement:
    """An article's current cluster and copy group (after later merges and moves)."""

    article_id: str
    story_cluster: int
    copy_group: int
