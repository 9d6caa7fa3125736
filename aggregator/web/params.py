"""Query parameters in, validated filters out; opaque cursors for keyset pagination.

Everything a client sends is checked here before it reaches a query: lengths, control
characters, number ranges, dates, search words. A cursor is base64url JSON holding the last
row's sort key and a fingerprint of the query it belongs to; any other cursor is a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from aggregator.errors import InputError
from aggregator.exports import parse_time
from aggregator.web.errors import ApiError
from storage.opsqueries import outlet_ids_with_label
from storage.queries import ArticleFilters, ClusterFilters, search_terms

MAX_ID = 2**63 - 1
MAX_TEXT = 200
MAX_OUTLETS = 50
MAX_QUERY = 500


def bad(name: str, message: str) -> ApiError:
    return ApiError(400, "bad_request", f"{name}: {message}")


def text_param(value: str | None, name: str, max_len: int = MAX_TEXT) -> str | None:
    """A short free-text parameter: no control characters, bounded length; '' is None."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > max_len:
        raise bad(name, f"at most {max_len} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise bad(name, "control characters are not allowed")
    return value or None


def outlets_param(values: list[str] | None) -> tuple[str, ...]:
    given = [v for v in (text_param(v, "outlet") for v in values or ()) if v]
    if len(given) > MAX_OUTLETS:
        raise bad("outlet", f"at most {MAX_OUTLETS} outlets")
    return tuple(dict.fromkeys(given))


def time_param(value: str | None, name: str) -> datetime | None:
    text = text_param(value, name, 64)
    try:
        return parse_time(text, name)
    except InputError as exc:
        raise bad(name, exc.message) from None


def int_param(value: int | None, name: str, low: int = 0, high: int = MAX_ID) -> int | None:
    if value is not None and not low <= value <= high:
        raise bad(name, f"must be between {low} and {high}")
    return value


def int_text(value: str | None, name: str, low: int = 0, high: int = MAX_ID) -> int | None:
    """An integer from an HTML form field ('' means not given)."""
    text = text_param(value, name, 24)
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        raise bad(name, "not a whole number") from None
    return int_param(number, name, low, high)


def limit_param(value: int | None, default: int, maximum: int) -> int:
    return int_param(value, "limit", 1, maximum) or default


def terms_param(q: str | None) -> tuple[str, ...]:
    text = text_param(q, "q", MAX_QUERY)
    if text is None:
        return ()
    try:
        return search_terms(text)
    except InputError as exc:
        raise ApiError(400, "bad_search", f"q: {exc.message}") from None


def label_outlets(engine: Any, label: str | None) -> tuple[str, ...] | None:
    """``key:value`` (or ``key=value``, or a bare value under any key) -> outlets with it."""
    text = text_param(label, "label")
    if text is None:
        return None
    for sep in (":", "="):
        key, found, value = text.partition(sep)
        if found and key.strip() and value.strip():
            return outlet_ids_with_label(engine, key.strip(), value.strip())
    return outlet_ids_with_label(engine, None, text)


def cluster_filters(
    engine: Any,
    *,
    since: str | None,
    until: str | None,
    outlet: list[str] | None,
    label: str | None,
    language: str | None,
    min_outlets: int | None,
    q: str | None,
) -> ClusterFilters:
    return ClusterFilters(
        since=time_param(since, "since"),
        until=time_param(until, "until"),
        outlets=outlets_param(outlet),
        labelled=label_outlets(engine, label),
        language=text_param(language, "language", 16),
        min_outlets=int_param(min_outlets, "min_outlets", 0, 100_000),
        terms=terms_param(q),
    )


def article_filters(
    *,
    since: str | None,
    until: str | None,
    outlet: list[str] | None,
    q: str | None,
    cluster: int | None,
) -> ArticleFilters:
    return ArticleFilters(
        since=time_param(since, "since"),
        until=time_param(until, "until"),
        outlets=outlets_param(outlet),
        terms=terms_param(q),
        cluster=int_param(cluster, "cluster", 1),
    )


def sort_param(value: str | None, choices: tuple[str, ...]) -> str:
    if value is None or value == "":
        return choices[0]
    if value not in choices:
        raise bad("sort", f"one of {', '.join(choices)}")
    return value


# -- cursors --------------------------------------------------------------------------------


def fingerprint(kind: str, filters: Any) -> str:
    return hashlib.sha256(f"{kind}|{filters!r}".encode()).hexdigest()[:12]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(kind: str, filters: Any, key: tuple[Any, ...] | None) -> str | None:
    if key is None:
        return None
    body = {"k": [_jsonable(v) for v in key], "f": fingerprint(kind, filters)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Shapes of a cursor's key per list: "t" a time, "i" an id or count.
SHAPES = {
    "clusters:latest": "ti",
    "clusters:largest": "iii",
    "articles": "i",
    "outlets": "i",
    "audit": "i",
}


def decode_cursor(kind: str, filters: Any, cursor: str | None) -> tuple[Any, ...] | None:
    if cursor is None or cursor == "":
        return None
    invalid = ApiError(400, "bad_cursor", "cursor: not a cursor of this list; start again")
    if len(cursor) > 400:
        raise invalid
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = body["k"]
        if body["f"] != fingerprint(kind, filters) or len(values) != len(SHAPES[kind]):
            raise invalid
        return tuple(_key_value(v, shape) for v, shape in zip(values, SHAPES[kind], strict=True))
    except (ValueError, KeyError, TypeError, binascii.Error, InputError):
        raise invalid from None


def _key_value(value: Any, shape: str) -> Any:
    if shape == "t":
        parsed = parse_time(value, "cursor") if isinstance(value, str) else None
        if parsed is None:
            raise ValueError("not a time")
        return parsed
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value
