"""Operations: singleton locks handed over when the holder dies, retention, backup and
restore, one process per SQLite database."""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.types import ArticleDraft, DateSource, OutletConfig, PageOutcome
from storage.db import migrate
from storage.locks import SingletonLock
from storage.store import Store
from tests.support.paths import REPO

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
HOLD = """
import sys, time
from storage.db import make_engine
from storage.locks import SingletonLock
lock = SingletonLock(make_engine(sys.argv[1]), "singleton")
print("held" if lock.acquire() else "refused", flush=True)
time.sleep(60)
"""


def hold_in_child(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_singleton_is_handed_over_when_its_holder_dies(db_url: str) -> None:
    migrate(db_url)
    child = hold_in_child(db_url)
    with Store.open(db_url) as store:
        mine = SingletonLock(store.engine, "singleton")
        try:
            assert not mine.acquire()  # the other process holds it
            child.kill()
            child.communicate(timeout=10)
            assert mine.acquire()  # its death released it (connection dropped / flock gone)
            assert mine.generation == 1
            assert mine.acquire() and mine.generation == 1  # still the same holding
        finally:
            mine.release()


def test_two_locks_of_one_name_exclude_each_other_in_one_process(db_url: str) -> None:
    migrate(db_url)
    with Store.open(db_url) as one, Store.open(db_url) as two:
        first, second = SingletonLock(one.engine, "x"), SingletonLock(two.engine, "x")
        other = SingletonLock(two.engine, "y")
        try:
            assert first.acquire()
            assert not second.acquire()
            assert other.acquire()  # another name is another lock
            first.release()
            assert second.acquire()
        finally:
            for lock in (first, second, other):
                lock.release()


def _article(store: Store, key: str) -> int:
    store.feeds.sync_outlets(
        [OutletConfig("o", "O", "", "", "", ("https://o.example/feed",))],
        default_interval=15,
        now=NOW,
    )
    (new,) = store.articles.insert_drafts(
        [
            ArticleDraft(
                outlet_id="o",
                canonical_url=f"https://o.example/{key}",
                url=f"https://o.example/{key}",
                entry_key=key,
                title=key,
                text="",
                summary="s",
                published=NOW,
                published_source=DateSource.FEED,
                first_seen=NOW,
                content_hash="c",
                pending=True,
            )
        ],
        NOW,
    ).new_ids
    return new


def test_retention_drops_old_html_and_keeps_text(db_url: str) -> None:
    migrate(db_url)
    with Store.open(db_url) as store:
        old, fresh = _article(store, "old"), _article(store, "fresh")
        html = gzip.compress(b"<html><p>x</p></html>")
        store.articles.finish_page(
            PageOutcome(old, "Old text.", frozenset(), html_packed=html), NOW - timedelta(days=40)
        )
        store.articles.finish_page(
            PageOutcome(fresh, "New text.", frozenset(), html_packed=html), NOW
        )
        assert store.workers.drop_html(NOW - timedelta(days=30)) == 1
        assert store.articles.html(old) is None and store.articles.html(fresh) == html
        assert store.articles.get(old).text == "Old text."


def test_sqlite_backup_with_vacuum_into_restores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate(url)
    with Store.open(url) as store:
        _article(store, "a")
        _article(store, "b")
    backup = tmp_path / "backup.db"
    with sqlite3.connect(tmp_path / "live.db") as conn:  # the documented command
        conn.execute("VACUUM INTO ?", (str(backup),))
    restored = tmp_path / "restored.db"
    shutil.copy(backup, restored)
    with Store.open(f"sqlite:///{restored}") as store:
        assert store.at_head()
        assert store.articles.count() == 2
        assert {a.title for a in store.articles.get_many([1, 2])} == {"a", "b"}


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_restores(pg_url: str, pg_server_url: str) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed")
    migrate(pg_url)
    with Store.open(pg_url) as store:
        _article(store, "a")
        _article(store, "b")
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(["pg_dump", "--format=custom", plain], capture_output=True, check=True)
    import psycopg

    target = plain.rsplit("/", 1)[0] + "/" + plain.rsplit("/", 1)[1] + "_restored"
    admin = pg_server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target.rsplit("/", 1)[1]}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={target}"], input=dump.stdout, check=True
        )
        with Store.open(target.replace("postgresql://", "postgresql+psycopg://")) as store:
            assert store.at_head()
            assert store.articles.count() == 2
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_a_second_worker_on_one_sqlite_database_gets_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newsagg.db'}"
    migrate(url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")},
        "NEWSAGG_DATABASE_URL": url,
        "NEWSAGG_OUTLETS": str(tmp_path / "outlets.toml"),
        "NEWSAGG_SETTINGS": str(REPO / "config" / "settings.toml"),
        "NEWSAGG_LEXICONS": str(REPO / "config" / "lexicons.toml"),
        "PYTHONPATH": str(REPO),
    }
    (tmp_path / "outlets.toml").write_text("", encoding="utf-8")
    first = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "worker"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock_file = Path(f"{tmp_path / 'newsagg.db'}.service.lock")
        for _ in range(100):
            if lock_file.exists() and lock_file.read_text().strip():
                break
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "aggregator", "worker"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        first.terminate()
        first.communicate(timeout=30)
    assert second.returncode == 1
    assert "SQLite serves one process" in second.stderr
    assert f"pid {first.pid}" in second.stderr
