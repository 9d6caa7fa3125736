"""ExtractorPool: every core, a time limit per page, one bad page never stops the rest; and
the benchmark score of the whole extractor, computed the way the benchmark computes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import ExtractError
from aggregator.extract_pool import ExtractorPool, PageInput
from aggregator.settings import ExtractSettings
from aggregator.types import ExtractedPage, Flag
from bench.aeb_metric import score, score_outputs
from tests.support.extract_pages import Benchmark
from tests.support.extract_tasks import planted_faults

PUBLISHED_TRAFILATURA_F1 = 0.958


@pytest.fixture(scope="module")
def bench(shared_data: Path) -> Benchmark:
    return Benchmark.at(shared_data)


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(ExtractSettings(workers=2, timeout_s=20)) as shared:
        yield shared


def test_the_metric_reproduces_the_published_trafilatura_figure(bench: Benchmark) -> None:
    truth = {key: item["articleBody"] for key, item in bench.truth.items()}
    result = score_outputs(truth, bench.published("trafilatura"))
    assert (round(result.precision, 3), round(result.recall, 3)) == (0.938, 0.978)
    assert round(result.f1, 3) == PUBLISHED_TRAFILATURA_F1
    assert round(score_outputs(truth, bench.published("goose3")).f1, 3) == 0.896


def test_metric_conventions() -> None:
    same = score([("one two three four five", "one two three four five")])
    assert (same.precision, same.recall, same.f1) == (1.0, 1.0, 1.0)
    twice = score([("a b c d e", "a b c d e a b c d e")])  # 7 shingles, 2 right (sets: 2 of 5)
    assert twice.recall == 1.0 and twice.precision == pytest.approx(2 / 7)
    nothing = score([("a b c d e", ""), ("f g h i", "f g h i")])  # empty output: recall only
    assert nothing.precision == 1.0 and nothing.recall == 0.5


@pytest.mark.slow
def test_benchmark_f1_is_at_least_the_published_trafilatura_figure(
    bench: Benchmark, pool: ExtractorPool
) -> None:
    pages = (PageInput(key, bench.html(key), bench.url(key), "text/html") for key in bench.truth)
    outcomes = dict(pool.extract_many(pages))
    failures = {key: o for key, o in outcomes.items() if isinstance(o, ExtractError)}
    assert failures == {}
    texts = {key: o.text for key, o in outcomes.items() if isinstance(o, ExtractedPage)}
    truth = {key: item["articleBody"] for key, item in bench.truth.items()}
    result = score_outputs(truth, texts)
    assert result.pages == 181
    assert result.f1 >= PUBLISHED_TRAFILATURA_F1, result


def test_a_hung_a_crashed_and_a_failing_page_do_not_stop_the_others(bench: Benchmark) -> None:
    good = ["b37be353", "2c46804d", "042bb7b5", "ef2b3f26", "0ec95c72"]
    pages = [PageInput(p, bench.html(p), bench.url(p)) for p in good]
    for fault in ("hang", "crash", "raise"):
        pages.insert(
            2, PageInput(fault, b"<html><body><p>x</p></body></html>", f"https://x/{fault}")
        )
    settings = ExtractSettings(workers=2, timeout_s=3)
    start = time.monotonic()
    with ExtractorPool(settings, task=planted_faults) as faulty:
        outcomes = dict(faulty.extract_many(pages))
    assert time.monotonic() - start < 20
    assert sorted(outcomes) == sorted([*good, "hang", "crash", "raise"])
    assert all(isinstance(outcomes[p], ExtractedPage) for p in good)
    codes = {k: o.code for k, o in outcomes.items() if isinstance(o, ExtractError)}
    assert codes == {
        "hang": "extract_timeout",
        "crash": "extract_crashed",
        "raise": "extract_failed",
    }
    assert outcomes["hang"].resource == "https://x/hang"  # type: ignore[union-attr]


def test_extract_one_page_raises_the_named_error(bench: Benchmark) -> None:
    with ExtractorPool(ExtractSettings(workers=1, timeout_s=2), task=planted_faults) as faulty:
        page = faulty.extract(PageInput("ok", bench.html("b37be353"), bench.url("b37be353")))
        assert page.text.startswith("BERLIN")
        with pytest.raises(ExtractError) as caught:
            faulty.extract(PageInput("slow", b"<p>x</p>", "https://x/hang"))
    assert caught.value.code == "extract_timeout"


def test_pages_are_pulled_lazily_and_oversized_ones_are_cut_before_sending(
    bench: Benchmark,
) -> None:
    pulled: list[int] = []
    html = bench.html("b37be353")

    def pages() -> Iterator[PageInput[int]]:
        for number in range(12):
            pulled.append(number)
            yield PageInput(number, html + b" " * 300_000, bench.url("b37be353"))

    settings = ExtractSettings(workers=2, max_html_bytes=len(html) + 100)
    with ExtractorPool(settings, window=3) as small:
        stream = small.extract_many(pages())
        _, first = next(stream)
        assert len(pulled) == 3  # the window: the rest stays in the caller's iterator
        rest = list(stream)
    assert len(rest) == 11
    assert isinstance(first, ExtractedPage) and Flag.GIGANTIC in first.flags


def test_pool_uses_every_core_by_default() -> None:
    import os

    with ExtractorPool() as default:
        assert default.size == (os.cpu_count() or 1)
