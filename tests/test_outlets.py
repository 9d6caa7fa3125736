"""The outlets file and OPML."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.errors import ConfigError, InputError
from aggregator.outlets import load_outlets, parse_outlets, read_opml, write_opml
from tests.support.paths import REPO


def test_shipped_outlets_file_is_valid_and_broad() -> None:
    outlets = load_outlets(REPO / "config" / "outlets.toml")
    ids = {o.id for o in outlets}
    assert {"latimes", "cbsnews", "rt"} <= ids
    assert len(outlets) >= 18
    assert len({o.country for o in outlets}) >= 6
    for outlet in outlets:
        assert outlet.feeds, outlet.id
        assert outlet.labels.get("source", "").startswith("https://en.wikipedia.org/"), outlet.id
        assert "ownership" in outlet.labels, outlet.id
    state = {o.id for o in outlets if "state" in o.labels.get("state_affiliation", "")}
    assert {"rt", "tass", "xinhua"} <= state


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "x", "name": "X"}, "missing key"),
        ({"id": "Bad Id", "name": "X", "feeds": []}, "slug"),
        ({"id": "x", "name": "X", "feeds": ["ftp://a/b"]}, "not an http"),
        ({"id": "x", "name": "X", "feeds": [], "colour": "red"}, "unknown key"),
        ({"id": "x", "name": "X", "feeds": [], "labels": {"a": 1}}, "labels"),
        ({"id": "x", "name": "X", "feeds": [], "interval_minutes": 0}, "interval_minutes"),
    ],
)
def test_bad_outlet_entries_name_the_problem(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_outlets({"outlet": [entry]})
    assert "outlet" in str(info.value)


def test_duplicate_ids_are_refused() -> None:
    entry = {"id": "x", "name": "X", "feeds": []}
    with pytest.raises(ConfigError, match="duplicate"):
        parse_outlets({"outlet": [entry, entry]})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_outlets(tmp_path / "nope.toml")


def test_opml_round_trip() -> None:
    outlets = load_outlets(REPO / "config" / "outlets.toml")
    back = read_opml(write_opml(outlets))
    assert sorted(f for o in back for f in o.feeds) == sorted(f for o in outlets for f in o.feeds)
    names = {o.name for o in back}
    assert "Los Angeles Times" in names


def test_opml_with_entities_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
        b'<opml><body><outline xmlUrl="https://a.example/&lol;"/></body></opml>'
    )
    with pytest.raises(InputError, match="DOCTYPE"):
        read_opml(bomb)


def test_opml_garbage_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not valid OPML"):
        read_opml(b"<opml><body><outline")
