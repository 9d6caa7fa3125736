"""The dedup parameter set: frozen, validated, versioned by a hash of its values.

Stored results name the parameter set that made them (``DedupParams.version``), so a
researcher can reproduce a snapshot; ``newsagg recluster`` rebuilds under a new set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NoReturn

from aggregator.errors import DedupError

SCHEMA = 1  # bump when the meaning of a field changes, not only its value
_LANGUAGE_KEY = re.compile(r"[a-z]{2,8}")
MERGE_SHORT_TEXT = ("clusters", "arrival")


@dataclass(frozen=True, slots=True)
class DedupParams:
    """Every knob of the dedup engine. Defaults are the documented choice (docs/dedup.md)."""

    seed: int = 1
    extractor: str = ""  # extractor name and version that produced the texts
    # copy groups: MinHash over word shingles of the body
    shingle_size: int = 5
    copy_num_perm: int = 128
    copy_bands: int = 32  # LSH bands x rows must equal copy_num_perm
    copy_rows: int = 4
    copy_jaccard: float = 0.4  # estimated Jaccard that proves a copy
    copy_containment: float = 0.65  # or: the smaller text lies this much inside the larger
    copy_min_ratio: float = 0.2  # ... when it is at least this fraction of the larger's size
    copy_min_shingles: int = 8  # shorter bodies get no copy signature
    duplicate_jaccard: float = 0.95  # same outlet and this similar: one article, not two
    # story clusters: MinHash over salient terms for candidates, TF-IDF for the score
    story_num_perm: int = 32
    story_bands: int = 32
    story_rows: int = 1
    title_weight: int = 3
    lead_terms: int = 40  # content terms of the lead that enter the story signature
    vector_terms: int = 64  # top TF-IDF terms kept per article
    story_threshold: float = 0.15  # average-linkage cosine needed to join or merge
    gap_penalty_per_day: float = 0.02  # added to the threshold per day of time gap
    same_outlet_penalty: float = 0.1  # added when the cluster already has the outlet
    short_text_factor: float = 1.0  # z: short texts need z * (1/sqrt(n) - 1/sqrt(terms)) more
    # a merge's short-text term: "clusters" (their members' mean length, less as they grow)
    # or "arrival" (that of the article bridging them; before 2026-11-30)
    merge_short_text: str = "clusters"
    max_candidates: int = 48  # candidate articles kept per query (most band hits first)
    max_bucket: int = 1000  # LSH buckets larger than this are skipped as uninformative
    move_members: bool = True  # a new article may pull a better-fitting member over
    # time
    window_hours: float = 168.0  # the index keeps this much time; older articles are evicted
    link_gap_hours: float = 72.0  # the largest time gap across which articles link
    idf_buckets_log2: int = 21
    idf_warm_up: int = 100  # the IDF takes a step after each of the first articles
    idf_step_max: int = 2000  # then each tenth of growth, at most this many articles apart
    # bad input
    min_tokens: int = 5  # fewer content tokens: too short to cluster
    max_tokens: int = 20_000  # more: gigantic, only the first max_tokens are read
    boilerplate_share: float = 0.5
    # language: of a Latin-script text that declares none and is too short to tell
    default_language: str = "en"

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DedupParams:
        """Defaults overridden by ``values``; an unknown key or a bad value raises DedupError."""
        known = {f.name: f for f in fields(cls)}
        for key in values:
            if key not in known:
                raise DedupError(f"unknown dedup parameter {key!r}", resource=f"dedup.{key}")
        converted = {key: _convert(key, value, known[key].type) for key, value in values.items()}
        return cls(**converted)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def fingerprint(self) -> str:
        """12 hex digits of a SHA-256 of the canonical JSON of the values."""
        blob = json.dumps({"schema": SCHEMA, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]

    @property
    def version(self) -> str:
        """The name stored results carry, e.g. ``dedup1-3f2a9c0b1d4e``."""
        return f"dedup{SCHEMA}-{self.fingerprint}"


def _convert(key: str, value: Any, hint: Any) -> Any:
    kind = {"int": int, "float": float, "str": str, "bool": bool}[str(hint)]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind is not bool:
        raise DedupError(f"expected {kind.__name__}, got {value!r}", resource=f"dedup.{key}")
    if not isinstance(value, kind):
        raise DedupError(f"expected {kind.__name__}, got {value!r}", resource=f"dedup.{key}")
    return value


def _fail(key: str, message: str) -> NoReturn:
    raise DedupError(message, resource=f"dedup.{key}")


def _check(p: DedupParams) -> None:
    if p.copy_bands * p.copy_rows != p.copy_num_perm:
        _fail("copy_bands", "copy_bands x copy_rows must equal copy_num_perm")
    if p.story_bands * p.story_rows != p.story_num_perm:
        _fail("story_bands", "story_bands x story_rows must equal story_num_perm")
    for key in ("copy_jaccard", "copy_containment", "copy_min_ratio", "duplicate_jaccard"):
        if not 0.0 < getattr(p, key) <= 1.0:
            _fail(key, "must lie in (0, 1]")
    if not 0.0 <= p.story_threshold <= 1.0:
        _fail("story_threshold", "must lie in [0, 1]")
    positive = ("shingle_size", "copy_num_perm", "story_num_perm", "vector_terms", "title_weight")
    for key in (
        *positive,
        "max_candidates",
        "max_bucket",
        "min_tokens",
        "max_tokens",
        "idf_step_max",
    ):
        if getattr(p, key) < 1:
            _fail(key, "must be at least 1")
    if p.idf_warm_up < 0:
        _fail("idf_warm_up", "must be at least 0")
    _check_ranges(p)


def _check_ranges(p: DedupParams) -> None:
    if not 0 <= p.seed < 2**32:
        _fail("seed", "must lie in [0, 2**32)")
    if p.window_hours <= 0 or p.link_gap_hours <= 0:
        _fail("window_hours", "time spans must be positive")
    if p.link_gap_hours > p.window_hours:
        _fail("link_gap_hours", "cannot exceed window_hours")
    if not 10 <= p.idf_buckets_log2 <= 26:
        _fail("idf_buckets_log2", "must lie in [10, 26]")
    if p.merge_short_text not in MERGE_SHORT_TEXT:
        _fail("merge_short_text", f"must be one of {', '.join(MERGE_SHORT_TEXT)}")
    if not _LANGUAGE_KEY.fullmatch(p.default_language):
        _fail("default_language", "must be a lower-case language code such as 'en'")
