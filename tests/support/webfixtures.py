"""Fixtures of the web tests: the BASIL database (filled once per session, copied per test) and
the app served by a real uvicorn on 127.0.0.1. Load with ``pytest_plugins`` in a test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.webdata import Filled, copy_sqlite, fill_imported, filled, pg_database
from tests.support.webkit import Site, basil_path, serve


@pytest.fixture(scope="session")
def basil_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Filled]:
    """BASIL (180 articles, 60 stories) in a SQLite file, filled once per session."""
    source = basil_path()
    path = tmp_path_factory.mktemp("basil") / "template.db"
    return path, filled(f"sqlite:///{path}", source)


@pytest.fixture
def basil_url(basil_template: tuple[Path, Filled], tmp_path: Path) -> str:
    """A private copy of the BASIL database for one test."""
    return copy_sqlite(basil_template[0], tmp_path / "web.db")


@pytest.fixture
def site(basil_url: str, basil_template: tuple[Path, Filled]) -> Iterator[Site]:
    """The app on a private copy of BASIL, editing on, reading open."""
    with serve(basil_url, basil_template[1]) as running_site:
        yield running_site


@pytest.fixture(scope="module")
def shared_site(
    basil_template: tuple[Path, Filled], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One app per test module for tests that only read."""
    url = copy_sqlite(basil_template[0], tmp_path_factory.mktemp("shared") / "web.db")
    with serve(url, basil_template[1]) as running_site:
        yield running_site


@pytest.fixture(scope="module")
def pg_site(pg_server_url: str) -> Iterator[Site]:
    """One app per test module on BASIL (12 stories) in a PostgreSQL database of its own."""
    with pg_database(pg_server_url) as url:
        data = filled(url, basil_path(), stories=12)
        with serve(url, data) as running_site:
            yield running_site


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_site(request: pytest.FixtureRequest) -> Site:
    """``shared_site``, then ``pg_site``: a read-only test on both databases."""
    name = "shared_site" if request.param == "sqlite" else "pg_site"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def imported_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Filled]:
    """BASIL through ``newsagg import`` (real dedup, clustering and comparison), once."""
    path = tmp_path_factory.mktemp("imported") / "template.db"
    return path, fill_imported(f"sqlite:///{path}", basil_path())


@pytest.fixture
def imported_site(imported_template: tuple[Path, Filled], tmp_path: Path) -> Iterator[Site]:
    url = copy_sqlite(imported_template[0], tmp_path / "imported.db")
    with serve(url, imported_template[1]) as running_site:
        yield running_site
