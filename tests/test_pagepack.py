"""Stored pages: packed with zstd, read back from zstd or from the gzip of earlier versions,
never past a size limit."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.pagepack import ZSTD_MAGIC, PackError, pack, unpack
from tests.support.newsite import benchmark_pages
from tests.support.paths import shared_data_dir


@given(st.binary(max_size=5000))
def test_round_trip(html: bytes) -> None:
    assert unpack(pack(html), limit=len(html)) == html


def test_real_pages_shrink_and_come_back() -> None:
    shared = shared_data_dir()
    if shared is None:
        pytest.skip("../shared/data is absent")
    pages = [p.html for p in benchmark_pages(shared)[:40]]
    packed = [pack(html) for html in pages]
    assert all(p.startswith(ZSTD_MAGIC) for p in packed)
    assert sum(map(len, packed)) < 0.35 * sum(map(len, pages))
    assert [unpack(p, limit=10**7) for p in packed] == pages


def test_pages_stored_as_gzip_by_earlier_versions_are_read() -> None:
    html = b"<html><body><p>Stored before the switch to zstd.</p></body></html>" * 50
    assert unpack(gzip.compress(html, compresslevel=3), limit=len(html)) == html


@pytest.mark.parametrize("packer", [pack, gzip.compress])
def test_a_page_over_the_limit_is_refused_without_inflating_it_all(packer: object) -> None:
    bomb = packer(b"\0" * 50_000_000)  # type: ignore[operator]
    assert len(bomb) < 100_000
    with pytest.raises(PackError, match="over 1000000 bytes"):
        unpack(bomb, limit=1_000_000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html>plain</html>",
        ZSTD_MAGIC + b"garbage" * 10,
        gzip.compress(b"x" * 5000, mtime=0)[:30],
    ],
    ids=["empty", "not packed", "damaged zstd", "cut gzip"],
)
def test_anything_else_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(PackError):
        unpack(data, limit=10**6)
