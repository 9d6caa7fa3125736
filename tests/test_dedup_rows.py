"""The row store's id -> row table against a plain dict (hash collisions included), and its
liveness flags against the set of rows killed."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedup.idtable import IdTable
from aggregator.dedup.rows import CHUNK, RowBatch, RowData, RowStore


class Clashing(str):
    """An id whose hash is forced: ids with the same ``bucket`` share all 64 hash bits (an
    id's bucket must follow from its text, as equal strings hash alike)."""

    bucket = 0

    def __new__(cls, text: str, bucket: int) -> Clashing:
        made = super().__new__(cls, text)
        made.bucket = bucket
        return made

    def __hash__(self) -> int:
        return self.bucket

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)


class Model:
    """The table under test, a dict beside it, and the row -> id list the table reads."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.table = IdTable(lambda row: self.ids[row])
        self.expected: dict[str, int] = {}

    def add(self, article_id: str) -> None:
        self.ids.append(article_id)
        self.table[article_id] = self.expected[article_id] = len(self.ids) - 1

    def check(self, probes: list[str]) -> None:
        assert len(self.table) == len(self.expected)
        assert dict(self.table.items()) == self.expected
        assert sorted(self.table.values()) == sorted(self.expected.values())
        for probe in probes:
            assert (probe in self.table) == (probe in self.expected)
            assert self.table.get(probe) == self.expected.get(probe)


def ident(n: int) -> str:
    return Clashing(f"a{n}", n % 7 - 3) if n % 3 == 0 else f"a{n}"


_OPS = st.lists(
    st.tuples(st.sampled_from(["add", "pop", "readd"]), st.integers(0, 400)), max_size=600
)


@settings(max_examples=60, deadline=None)
@given(_OPS)
def test_the_table_answers_as_a_dict_through_growth_removals_and_clashes(
    ops: list[tuple[str, int]],
) -> None:
    """Hash values 0 and 1 (the table's marks), negative ones and shared ones all work: every
    third id hashes to one of -3 .. 3 (the same id always to the same value)."""
    m = Model()
    for op, n in ops:
        article_id = ident(n)
        if op == "pop":
            assert m.table.pop(article_id) == m.expected.pop(article_id, None)
        elif op == "readd" or article_id not in m.expected:
            m.add(article_id)  # a known id again: the dict's last write wins, so does ours
    m.check([ident(n) for n in range(0, 402, 7)] + ["", "zz"])


def test_missing_ids_raise_key_error_and_pop_gives_the_default() -> None:
    m = Model()
    m.add("x")
    assert m.table["x"] == 0
    try:
        m.table["y"]
    except KeyError as err:
        assert err.args == ("y",)
    else:
        raise AssertionError("no KeyError")
    assert m.table.pop("y", -5) == -5 and 7 not in m.table


def test_the_table_stays_small_while_ids_come_and_go() -> None:
    """A window of 1,000 live ids over 20,000 arrivals: removed slots are reused or dropped,
    so the table does not grow with the ids that passed through it."""
    m = Model()
    for i in range(20_000):
        m.add(f"id{i}")
        if i >= 1_000:
            gone = f"id{i - 1_000}"
            assert m.table.pop(gone) == m.expected.pop(gone)
    m.check([f"id{i}" for i in range(0, 20_000, 97)])
    assert m.table.nbytes <= 12 * 2_048


def test_the_row_store_finds_rows_by_unicode_ids_and_forgets_killed_ones() -> None:
    rows = RowStore(copy_perm=4, terms=2)
    names = ["Δημοκρατία-1", "新闻-2", "", "plain-3", "emoji-🙂"]
    made = [rows.append(row_data(name)) for name in names]
    assert [rows.id(r) for r in made] == names
    assert [rows.row_of[name] for name in names] == made
    rows.kill(made[1])
    assert "新闻-2" not in rows.row_of and rows.row_of.get("plain-3") == made[3]


def row_data(article_id: str) -> RowData:
    none = np.zeros(0, dtype=np.uint32)
    return RowData(article_id, 0.0, 1, 1, 1, 0, 10, 0, none, none, np.zeros(0, np.float32))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 30_000), min_size=1, max_size=400),
    st.integers(1, 9),
    st.lists(st.tuples(st.integers(0, 31_000), st.integers(0, 5_000)), max_size=20),
)
def test_liveness_follows_the_kills_through_freed_chunks(
    kills: list[int], step: int, ranges: list[tuple[int, int]]
) -> None:
    """Every reading of liveness (one row, many rows, a range's gone share, the live rows,
    the rows older than a time) agrees with the set of rows killed, including rows of freed
    chunks, rows asked for twice and rows past the last; a chunk is freed once all its rows
    are gone, and not before."""
    rows = RowStore(copy_perm=4, terms=2)
    total = 30_001
    for i in range(0, total, 1_000):
        rows.append_many(row_batch([f"r{j}" for j in range(i, min(i + 1_000, total))]))
    dead: set[int] = set()
    for row in sorted(set(kills)) + list(range(0, 12_288, step)):  # the first chunks die
        rows.kill(row)
        dead.add(row)
        if row % 97 == 0:
            rows.free_dead_chunks()
    rows.free_dead_chunks()
    live = [r for r in range(total) if r not in dead]
    assert rows.live == len(live)
    assert rows.live_rows() == live
    assert rows.rows_older_than(math.inf) == live  # every row has time 0.0
    asked = np.array([*range(total + 50, -1, -1), *kills], dtype=np.int64)
    assert rows.alive_many(asked).tolist() == [int(r) < total and int(r) not in dead for r in asked]
    assert [rows.alive(int(r)) for r in asked] == rows.alive_many(asked).tolist()
    for first, length in ranges:
        last = first + length
        gone = sum(1 for r in range(first, last + 1) if r >= total or r in dead)
        assert rows.gone_share(first, last) == gone / (length + 1)
    wholly_dead = {
        row // CHUNK
        for row in range(0, total - CHUNK + 1, CHUNK)
        if all(r in dead for r in range(row, row + CHUNK))
    }
    assert set(rows._chunks) == set(range(total // CHUNK + 1)) - wholly_dead


def row_batch(ids: list[str]) -> RowBatch:
    n = len(ids)
    return RowBatch(
        ids,
        np.zeros(n),
        *(np.ones(n, dtype=np.int32) for _ in range(5)),
        np.zeros(n, dtype=np.uint32),
        np.zeros(n, dtype=bool),
        np.zeros((n, 4), dtype=np.uint8),
        np.zeros((n, 2), dtype=np.uint32),
        np.zeros((n, 2), dtype=np.float16),
        np.zeros(n, dtype=np.uint8),
    )
