"""When to poll a feed next. Pure: every function takes ``now`` and its randomness.

After a success the next check is the feed's interval, stretched by the feed's own hints (RSS
``<ttl>``, ``Cache-Control: max-age``), clamped to the configured bounds, with +-10 % jitter so
feeds of one host drift apart. After a failure it is an exponential backoff from the interval
with jitter and a cap; a server's Retry-After wins when it asks for longer (itself capped).
Nothing stops polling for good: a feed that keeps failing is tried at the cap, a feed that is
gone (410) is tried again weekly, and both are visible on the outlets page.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.settings import PollSettings
from aggregator.types import FeedState

GONE_RECHECK = timedelta(days=7)
JITTER = 0.1
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)

# Error codes after which the feed is polled again on the normal schedule rather than backed
# off: the server is fine, the content was not a feed we could use.
SOFT_ERRORS = frozenset({"not_a_feed", "empty_body", "parse_timeout", "parse_crashed"})


@dataclass(frozen=True, slots=True)
class Schedule:
    next_check_at: datetime
    error_count: int
    state: FeedState


def after_success(
    now: datetime,
    interval_minutes: int,
    settings: PollSettings,
    rng: random.Random,
    *,
    ttl_minutes: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Schedule:
    """The schedule after a fetch that worked (200 or 304)."""
    minutes = float(interval_minutes)
    if ttl_minutes:
        minutes = max(minutes, float(ttl_minutes))
    max_age = cache_max_age_s(headers or {})
    if max_age is not None:
        minutes = max(minutes, max_age / 60.0)
    minutes = clamp(minutes, settings.min_interval_minutes, settings.max_interval_minutes)
    return Schedule(now + _jittered(minutes, rng), 0, FeedState.ACTIVE)


def after_error(
    now: datetime,
    *,
    interval_minutes: int,
    error_count: int,
    code: str,
    settings: PollSettings,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> Schedule:
    """The schedule after a failed fetch; ``error_count`` is the count before this failure."""
    count = error_count + 1
    if code == "gone":
        return Schedule(now + GONE_RECHECK, count, FeedState.GONE)
    if code in SOFT_ERRORS:
        minutes = clamp(
            float(interval_minutes), settings.min_interval_minutes, settings.max_interval_minutes
        )
        return Schedule(now + _jittered(minutes, rng), count, FeedState.ACTIVE)
    minutes = backoff_minutes(interval_minutes, count, settings.max_backoff_minutes)
    minutes = minutes * rng.uniform(0.5, 1.0)  # "equal jitter": never less than half the step
    minutes = max(minutes, float(settings.min_interval_minutes))
    if retry_after_s is not None and retry_after_s > 0:
        asked = min(retry_after_s / 60.0, float(settings.max_retry_after_minutes))
        minutes = max(minutes, asked)
    return Schedule(now + timedelta(minutes=minutes), count, FeedState.ACTIVE)


def backoff_minutes(interval_minutes: int, failures: int, cap_minutes: int) -> float:
    """interval x 2^(failures-1), capped."""
    exponent = min(max(failures - 1, 0), 30)
    return float(min(interval_minutes * (2**exponent), cap_minutes))


def cache_max_age_s(headers: Mapping[str, str]) -> float | None:
    """``max-age`` of a Cache-Control header, if any (header names in any case)."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), None)
    if not value:
        return None
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


def needs_unconditional(
    last_unconditional_at: datetime | None, now: datetime, every_hours: float
) -> bool:
    """True when it is time to fetch without validators, whatever the server says."""
    if last_unconditional_at is None:
        return True
    return now - last_unconditional_at >= timedelta(hours=every_hours)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _jittered(minutes: float, rng: random.Random) -> timedelta:
    return timedelta(minutes=minutes * rng.uniform(1 - JITTER, 1 + JITTER))
