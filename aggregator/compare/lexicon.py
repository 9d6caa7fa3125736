"""Variant groups of ``config/lexicons.toml``: different words for the same thing.

File format::

    version = 1
    [groups.islamic_state]
    label = "Islamic State / IS / ISIS / ISIL / Daesh"
    note = "why the choice matters"                      # optional
    variants = [
      { name = "Islamic State", patterns = ["Islamic State"] },
      { name = "IS", patterns = ["IS"], case_sensitive = true },
    ]

A pattern is one or more words separated by spaces; it matches the same words in the text, in
order. A word ending in ``*`` matches any word starting with the rest (at least 3 letters):
``terrorist*`` matches "terrorist" and "terrorists". Matching ignores case unless the variant
says ``case_sensitive = true``. Loaded once, validated with messages that name the key, frozen.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from aggregator.compare.text import WORD_RE
from aggregator.errors import ConfigError

GROUP_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MIN_PREFIX = 3
GROUP_KEYS = frozenset({"label", "note", "variants"})
VARIANT_KEYS = frozenset({"name", "patterns", "case_sensitive"})


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    patterns: tuple[str, ...]
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class LexiconGroup:
    id: str
    label: str
    variants: tuple[Variant, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Lexicons:
    """All variant groups; ``digest`` identifies the content in stored comparisons."""

    groups: tuple[LexiconGroup, ...]
    version: int = 1
    source: str = ""

    @property
    def digest(self) -> str:
        content = [
            [g.id, g.label, [[v.name, list(v.patterns), v.case_sensitive] for v in g.variants]]
            for g in self.groups
        ]
        blob = json.dumps([self.version, content], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_lexicons(path: str | Path) -> Lexicons:
    """Read and validate a lexicon file; raises ConfigError naming the file and the key."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("lexicon file not found", code="missing_file", resource=source) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read lexicons: {exc}", resource=source) from exc
    return parse_lexicons(data, source=source)


def parse_lexicons(data: Mapping[str, Any], source: str = "lexicons") -> Lexicons:
    """Validate already-parsed TOML data (a mapping) into Lexicons."""
    _no_unknown_keys(data, frozenset({"version", "groups"}), "", source)
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _fail(source, "version", "must be a positive integer")
    groups = data.get("groups")
    if not isinstance(groups, Mapping) or not groups:
        _fail(source, "groups", "must be a table of variant groups")
    parsed = tuple(_group(gid, body, source) for gid, body in groups.items())
    return Lexicons(groups=parsed, version=version, source=source)


def _group(gid: str, body: Any, source: str) -> LexiconGroup:
    key = f"groups.{gid}"
    if not GROUP_ID_RE.match(gid):
        _fail(source, key, "group ids are lower-case letters, digits and underscores")
    if not isinstance(body, Mapping):
        _fail(source, key, "must be a table")
    _no_unknown_keys(body, GROUP_KEYS, key, source)
    label = _text(body.get("label"), f"{key}.label", source)
    note = body.get("note", "")
    if not isinstance(note, str):
        _fail(source, f"{key}.note", "must be a string")
    raw = body.get("variants")
    if not isinstance(raw, list) or len(raw) < 2:
        _fail(source, f"{key}.variants", "must be a list of at least two variants")
    variants = tuple(_variant(v, f"{key}.variants[{i}]", source) for i, v in enumerate(raw))
    _no_duplicates(variants, key, source)
    return LexiconGroup(id=gid, label=label, variants=variants, note=note)


def _variant(body: Any, key: str, source: str) -> Variant:
    if not isinstance(body, Mapping):
        _fail(source, key, "must be a table with name and patterns")
    _no_unknown_keys(body, VARIANT_KEYS, key, source)
    name = _text(body.get("name"), f"{key}.name", source)
    patterns = body.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        _fail(source, f"{key}.patterns", "must be a non-empty list of strings")
    for i, pattern in enumerate(patterns):
        _check_pattern(pattern, f"{key}.patterns[{i}]", source)
    case_sensitive = body.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        _fail(source, f"{key}.case_sensitive", "must be true or false")
    return Variant(name=name, patterns=tuple(patterns), case_sensitive=case_sensitive)


def _check_pattern(pattern: Any, key: str, source: str) -> None:
    if not isinstance(pattern, str) or not pattern.split():
        _fail(source, key, "must be a non-empty string")
    for word in pattern.split():
        stem = word[:-1] if word.endswith("*") else word
        if WORD_RE.fullmatch(stem) is None:
            _fail(source, key, f"{word!r} is not a single word (letters, digits, inner - ' .)")
        if word.endswith("*") and len(stem) < MIN_PREFIX:
            _fail(source, key, f"{word!r}: a prefix needs at least {MIN_PREFIX} characters")


def _no_duplicates(variants: tuple[Variant, ...], key: str, source: str) -> None:
    names: set[str] = set()
    patterns: set[tuple[str, bool]] = set()
    for i, variant in enumerate(variants):
        if variant.name in names:
            _fail(source, f"{key}.variants[{i}].name", f"duplicate variant {variant.name!r}")
        names.add(variant.name)
        for pattern in variant.patterns:
            norm = (pattern if variant.case_sensitive else pattern.lower(), variant.case_sensitive)
            if norm in patterns:
                _fail(source, f"{key}.variants[{i}].patterns", f"duplicate pattern {pattern!r}")
            patterns.add(norm)


def _text(value: Any, key: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(source, key, "must be a non-empty string")
    return value.strip()


def _no_unknown_keys(body: Mapping[str, Any], allowed: frozenset[str], key: str, src: str) -> None:
    for name in body:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            _fail(src, where, f"unknown key (expected one of {', '.join(sorted(allowed))})")


def _fail(source: str, key: str, message: str) -> NoReturn:
    raise ConfigError(f"{key}: {message}", code="bad_lexicon", resource=source)
