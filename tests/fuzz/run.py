"""The long fuzz run: the properties of ``tests.fuzz.targets`` for as long as you like.

    python -m tests.fuzz.run --minutes 30                 # every target, round robin
    python -m tests.fuzz.run --minutes 10 --target feeds  # one target
    make fuzz FUZZ_MINUTES=30

Hypothesis draws the inputs (mutated real feeds, pages, links and JSONL lines from
../shared/data; requests to a BASIL-filled web app); failing examples are shrunk, printed,
and kept in .hypothesis/ so that the next run (and ``make test``) replays them first.

With ``--engine atheris`` (``pip install atheris``; optional, not a dependency) one target runs
under libFuzzer's coverage-guided loop instead, through hypothesis' ``fuzz_one_input``: the
same strategies and properties, with inputs steered toward new code paths.

Counts of inputs tried per target, and any failure, are printed and written as JSON to
``--figures`` (for docs/reliability.md). Exit status 1 if any property failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.fuzz import targets
from tests.support import figures
from tests.support.paths import REPO

BATCH = {"feeds": 300, "pages": 20, "urls": 2000, "variants": 2000, "corpus": 300, "api": 200}
DATABASE = DirectoryBasedExampleDatabase(str(REPO / ".hypothesis" / "examples"))


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=DATABASE,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def build(name: str, examples: int, client: Any = None) -> Callable[[], None]:
    """The hypothesis test of one target, ready to run (or to hand to atheris)."""
    if name == "feeds":

        @_settings(examples)
        @given(feed=targets.FEEDS, content_type=targets.FEED_TYPES)
        def feeds(feed: tuple[str, bytes], content_type: str) -> None:
            targets.check_feed(feed[0], feed[1], content_type)

        return feeds
    if name == "pages":

        @_settings(examples)
        @given(page=targets.PAGES, content_type=targets.PAGE_TYPES)
        def pages(page: tuple[str, bytes], content_type: str | None) -> None:
            targets.check_page(page[0], page[1], content_type)

        return pages
    if name == "urls":

        @_settings(examples)
        @given(url=st.one_of(targets.URLS, st.text(max_size=120)), base=st.none() | targets.URLS)
        def urls(url: str, base: str | None) -> None:
            targets.check_url(url[:60], url, base)

        return urls
    if name == "variants":

        @_settings(examples)
        @given(pair=targets.url_variants())
        def variants(pair: tuple[str, str]) -> None:
            targets.check_url_variant(*pair)

        return variants
    if name == "corpus":

        @_settings(examples)
        @given(lines=st.lists(targets.corpus_line(), min_size=1, max_size=8))
        def corpus(lines: list[bytes]) -> None:
            targets.check_corpus(f"{len(lines)} lines", lines)

        return corpus
    if name == "api":

        @_settings(examples)
        @given(request=targets.api_requests())
        def api(request: tuple[str, dict[str, str]]) -> None:
            targets.check_api(client.get, *request)

        return api
    raise SystemExit(f"unknown target {name!r}; choose from {sorted(BATCH)}")


@contextlib.contextmanager
def web_client(needed: bool) -> Iterator[Any]:
    """A BASIL-filled app under uvicorn on 127.0.0.1 (SQLite in a temporary folder)."""
    if not needed:
        yield None
        return
    from tests.support.webdata import filled
    from tests.support.webkit import basil_path, serve

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'fuzz.db'}"
        with serve(url, filled(url, basil_path())) as site:
            yield site.client


def run_hypothesis(names: list[str], seconds: float) -> list[str]:
    failures: list[str] = []
    stop = time.monotonic() + seconds
    with web_client("api" in names) as client:
        tests = {name: build(name, BATCH[name], client) for name in names}
        while time.monotonic() < stop and tests:
            for name in list(tests):
                if time.monotonic() >= stop:
                    break
                try:
                    tests[name]()
                except Exception:  # a property failed: report it, keep fuzzing the others
                    failures.append(f"{name}:\n{traceback.format_exc()}")
                    figures.count("fuzz-failures", name)
                    del tests[name]
                    print(failures[-1], file=sys.stderr)
    return failures


def run_atheris(name: str, seconds: float) -> None:
    import atheris  # optional: pip install atheris

    with web_client(name == "api") as client:
        test = build(name, 1, client)
        argv = [sys.argv[0], f"-max_total_time={int(seconds)}", "-rss_limit_mb=4096"]
        atheris.instrument_all()
        atheris.Setup(argv, test.hypothesis.fuzz_one_input)  # type: ignore[attr-defined]
        atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--target", action="append", choices=sorted(BATCH))
    parser.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    parser.add_argument("--figures", type=Path, default=REPO / "tests" / "artifacts" / "fuzz.json")
    args = parser.parse_args(argv)
    names = args.target or list(BATCH)
    targets.loaded()  # read the seeds before the clock starts
    started = time.monotonic()
    failures: list[str] = []
    if args.engine == "atheris":
        if len(names) != 1:
            parser.error("--engine atheris runs one --target")
        run_atheris(names[0], args.minutes * 60)
    else:
        failures = run_hypothesis(names, args.minutes * 60)
    found = figures.snapshot()
    report = {
        "minutes": round((time.monotonic() - started) / 60, 1),
        "engine": args.engine,
        "inputs": found.get("fuzz", {}),
        "failures": found.get("fuzz-failures", {}),
    }
    args.figures.parent.mkdir(parents=True, exist_ok=True)
    args.figures.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
