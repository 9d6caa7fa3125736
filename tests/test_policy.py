"""When to poll next: pure decisions, checked against hand-computed schedules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import policy
from aggregator.settings import PollSettings
from aggregator.types import FeedState

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = PollSettings(min_interval_minutes=2, max_interval_minutes=1440, max_backoff_minutes=720)


def minutes_until(when: datetime) -> float:
    return (when - NOW).total_seconds() / 60


def test_success_uses_the_interval_with_ten_percent_jitter() -> None:
    waits = [
        minutes_until(policy.after_success(NOW, 15, SETTINGS, random.Random(i)).next_check_at)
        for i in range(200)
    ]
    assert 13.5 <= min(waits) < 14.5 and 15.5 < max(waits) <= 16.5


@pytest.mark.parametrize(
    ("ttl", "headers", "low", "high"),
    [
        (60, {}, 54, 66),  # RSS <ttl> longer than the interval wins
        (None, {"Cache-Control": "public, max-age=3600"}, 54, 66),
        (None, {"cache-control": "max-age=60"}, 13.5, 16.5),  # shorter hints never speed up
        (None, {"Cache-Control": "no-cache"}, 13.5, 16.5),
        (100000, {}, 1296, 1584),  # clamped to the maximum interval (1440)
    ],
)
def test_feed_hints_stretch_the_interval(
    ttl: int | None, headers: dict[str, str], low: float, high: float
) -> None:
    schedule = policy.after_success(
        NOW, 15, SETTINGS, random.Random(1), ttl_minutes=ttl, headers=headers
    )
    assert low <= minutes_until(schedule.next_check_at) <= high
    assert schedule.error_count == 0 and schedule.state is FeedState.ACTIVE


def test_errors_back_off_exponentially_up_to_the_cap() -> None:
    steps = [policy.backoff_minutes(15, n, 720) for n in range(1, 8)]
    assert steps == [15, 30, 60, 120, 240, 480, 720]


def test_backoff_has_jitter_between_half_and_full_step() -> None:
    waits = {
        round(
            minutes_until(
                policy.after_error(
                    NOW,
                    interval_minutes=15,
                    error_count=3,
                    code="server_error",
                    settings=SETTINGS,
                    rng=random.Random(i),
                ).next_check_at
            ),
            3,
        )
        for i in range(50)
    }
    assert len(waits) > 10
    assert all(60 <= w <= 120 for w in waits)  # 4th failure: 15 * 2^3 = 120


def test_retry_after_wins_when_longer_and_is_capped() -> None:
    asked = policy.after_error(
        NOW,
        interval_minutes=15,
        error_count=0,
        code="rate_limited",
        settings=SETTINGS,
        rng=random.Random(0),
        retry_after_s=7200,
    )
    assert minutes_until(asked.next_check_at) == pytest.approx(120)
    huge = policy.after_error(
        NOW,
        interval_minutes=15,
        error_count=0,
        code="rate_limited",
        settings=SETTINGS,
        rng=random.Random(0),
        retry_after_s=10**9,
    )
    assert minutes_until(huge.next_check_at) == pytest.approx(SETTINGS.max_retry_after_minutes)


def test_gone_is_marked_and_checked_again_weekly() -> None:
    schedule = policy.after_error(
        NOW,
        interval_minutes=15,
        error_count=0,
        code="gone",
        settings=SETTINGS,
        rng=random.Random(0),
    )
    assert schedule.state is FeedState.GONE
    assert schedule.next_check_at == NOW + timedelta(days=7)


def test_not_a_feed_keeps_the_normal_schedule_but_counts_the_error() -> None:
    schedule = policy.after_error(
        NOW,
        interval_minutes=15,
        error_count=2,
        code="not_a_feed",
        settings=SETTINGS,
        rng=random.Random(0),
    )
    assert schedule.error_count == 3
    assert 13.5 <= minutes_until(schedule.next_check_at) <= 16.5


@given(
    errors=st.integers(min_value=0, max_value=10_000),
    interval=st.integers(min_value=1, max_value=1440),
    seed=st.integers(),
)
def test_never_a_permanent_stop(errors: int, interval: int, seed: int) -> None:
    schedule = policy.after_error(
        NOW,
        interval_minutes=interval,
        error_count=errors,
        code="network",
        settings=SETTINGS,
        rng=random.Random(seed),
    )
    wait = minutes_until(schedule.next_check_at)
    assert SETTINGS.min_interval_minutes <= wait <= SETTINGS.max_backoff_minutes
    assert schedule.state is FeedState.ACTIVE


def test_unconditional_fetch_now_and_then() -> None:
    assert policy.needs_unconditional(None, NOW, 24)
    assert not policy.needs_unconditional(NOW - timedelta(hours=23), NOW, 24)
    assert policy.needs_unconditional(NOW - timedelta(hours=24), NOW, 24)
