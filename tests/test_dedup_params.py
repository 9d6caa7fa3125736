"""The versioned dedup parameter set."""

from __future__ import annotations

import pytest

from aggregator.dedup.params import DedupParams
from aggregator.errors import DedupError


def test_defaults_are_valid_and_round_trip_through_a_dict() -> None:
    params = DedupParams()
    assert DedupParams.from_mapping(params.to_dict()) == params


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(DedupError) as caught:
        DedupParams.from_mapping({"num_perms": 64})
    assert "num_perms" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"story_threshold": "high"}, "story_threshold"),
        ({"seed": True}, "seed"),
        ({"copy_bands": 10}, "copy_bands"),
        ({"story_threshold": 1.5}, "story_threshold"),
        ({"min_tokens": 0}, "min_tokens"),
        ({"link_gap_hours": 500.0}, "link_gap_hours"),
        ({"idf_warm_up": -1}, "idf_warm_up"),
        ({"idf_step_max": 0}, "idf_step_max"),
        ({"default_language": "EN"}, "default_language"),
        ({"default_language": ""}, "default_language"),
        ({"merge_short_text": "bridge"}, "merge_short_text"),
    ],
)
def test_bad_values_name_their_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(DedupError) as caught:
        DedupParams.from_mapping(values)
    assert key in str(caught.value)


def test_an_int_is_taken_for_a_float() -> None:
    assert DedupParams.from_mapping({"window_hours": 240}).window_hours == 240.0


def test_version_is_stable_and_names_the_values() -> None:
    a, b = DedupParams(), DedupParams()
    assert a.version == b.version and a.version.startswith("dedup1-")
    assert len(a.fingerprint) == 12
    assert DedupParams(story_threshold=0.3).version != a.version
    assert DedupParams(extractor="trafilatura-2.0/newsagg-1").version != a.version
