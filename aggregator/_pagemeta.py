"""What a page says about itself: JSON-LD, Open Graph and ``<meta>`` (private to extract).

Read once from the parsed tree: the declared types (``NewsArticle``, ``CollectionPage``,
og:type ``article`` ...), whether the page says it is free to read (``isAccessibleForFree``),
the declared language and a full publication timestamp when the markup has one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.html

_MAX_JSONLD_CHARS = 500_000
_MAX_JSON_NODES = 2_000
_LANG_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$")
_NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "xx"})
_OLD_CODES = {"iw": "he", "in": "id", "ji": "yi"}
_DATE_META = frozenset({"article:published_time", "datepublished", "og:article:published_time"})
_LANG_META = frozenset({"content-language", "language", "dc.language", "og:locale"})
_TYPE_META = frozenset({"og:type"})


@dataclass(frozen=True, slots=True)
class PageSignals:
    """Declarations found in the page's markup; every field may be empty."""

    types: frozenset[str]  # schema.org @type values and og:type, lower case
    free: bool | None  # isAccessibleForFree: False when any declaration says false
    language: str | None  # ISO 639 primary subtag as declared
    published: datetime | None  # an aware timestamp from JSON-LD or article:published_time


def read_signals(tree: lxml.html.HtmlElement) -> PageSignals:
    """Collect the page's declarations from ``<html lang>``, ``<meta>`` and JSON-LD."""
    types: set[str] = set()
    free: bool | None = None
    languages: list[str | None] = [tree.get("lang"), tree.get("xml:lang")]
    dates: list[str] = []
    for key, value in _meta_pairs(tree):
        if key in _TYPE_META:
            types.add(value.lower())
        elif key in _LANG_META:
            languages.append(value)
        elif key in _DATE_META:
            dates.append(value)
    json_languages: list[str | None] = []
    for node in _jsonld_nodes(tree):
        types.update(t.lower() for t in _strings(node.get("@type")))
        declared = _as_bool(node.get("isAccessibleForFree"))
        if declared is not None:
            free = declared if free is None else free and declared
        json_languages.append(_language_field(node.get("inLanguage")))
        dates.extend(_strings(node.get("datePublished")))
    return PageSignals(
        types=frozenset(types),
        free=free,
        language=_first_language([*languages, *json_languages]),
        published=_first_aware(dates),
    )


def normalize_language(value: str | None) -> str | None:
    """``en-US`` -> ``en``; None for anything that is not a language tag."""
    if not value:
        return None
    found = _LANG_TAG.match(value.strip().lower())
    if not found or found.group(1) in _NOT_A_LANGUAGE:
        return None
    code = found.group(1)
    return _OLD_CODES.get(code, code)


def _meta_pairs(tree: lxml.html.HtmlElement) -> Iterator[tuple[str, str]]:
    for meta in tree.iter("meta"):
        key = (
            (
                meta.get("property")
                or meta.get("name")
                or meta.get("itemprop")
                or meta.get("http-equiv")
                or ""
            )
            .strip()
            .lower()
        )
        value = (meta.get("content") or "").strip()
        if key and value:
            yield key, value


def _jsonld_nodes(tree: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object inside the page's JSON-LD scripts, nested ones included."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        text = script.text or ""
        if not text.strip() or len(text) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        yield from _walk(data)


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    stack, seen = [data], 0
    while stack and seen < _MAX_JSON_NODES:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def _language_field(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    return value if isinstance(value, str) else None


def _first_language(values: list[str | None]) -> str | None:
    for value in values:
        code = normalize_language(value)
        if code:
            return code
    return None


def _first_aware(values: list[str]) -> datetime | None:
    for value in values:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            return parsed
    return None
