"""RELIABILITY.md, Data safety, "SQLite locked by a reader": WAL, a busy timeout of at least
5 s, short transactions and foreign keys on for every connection. A real SQLite file, a real
pipeline pass, and other connections (plain ``sqlite3``, as a backup tool or a researcher's
notebook would open them) holding a long read transaction and, for 2 s, the write lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from aggregator.errors import StorageError
from aggregator.settings import DatabaseSettings
from storage.base import Repo
from storage.db import migrate
from storage.store import Store
from storage.writegate import WriteGate
from tests.support.faults import Item, article_page, rfc822, rss, story_text
from tests.support.httpserver import LocalServer
from tests.support.runtime import outlet, runtime

ARTICLES = 12


def site(server: LocalServer) -> list[dict[str, object]]:
    server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    when = rfc822(datetime.now(UTC))
    outlets = []
    for n in range(3):
        entries = []
        for i in range(ARTICLES // 3):
            slug = f"lock-{n}-{i}"
            url = server.route(f"/{slug}.html", article_page(slug, story_text(slug)))
            entries.append(Item(slug, url, slug, when, f"Summary {slug}"))
        outlets.append(outlet(f"o{n}", server.route(f"/o{n}.xml", rss(entries))))
    return outlets


def test_every_connection_has_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    migrate(sqlite_url)
    assert DatabaseSettings().busy_timeout_ms >= 5000
    with Store.open(sqlite_url) as store:
        connections = [store.engine.connect() for _ in range(4)]  # several pooled connections
        try:
            for conn in connections:
                raw = conn.connection.dbapi_connection
                assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                assert raw.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
                assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        finally:
            for conn in connections:
                conn.close()


def test_a_pass_completes_while_a_reader_holds_a_snapshot_and_a_writer_holds_the_lock(
    sqlite_url: str, http_server: LocalServer
) -> None:
    outlets = site(http_server)
    database = sqlite_url.removeprefix("sqlite:///")
    with runtime(sqlite_url, outlets) as rt:
        reader = sqlite3.connect(database, isolation_level=None)
        reader.execute("BEGIN")
        before = reader.execute("SELECT count(*) FROM articles").fetchone()[0]
        held = threading.Event()
        released = []

        def hold_write_lock() -> None:
            writer = sqlite3.connect(database, isolation_level=None, timeout=30)
            writer.execute("BEGIN IMMEDIATE")
            held.set()
            time.sleep(2.0)
            writer.execute("COMMIT")
            released.append(time.monotonic())
            writer.close()

        thread = threading.Thread(target=hold_write_lock)
        thread.start()
        assert held.wait(10)
        started = time.monotonic()
        report = rt.pipeline.run_once(include_not_due=True)
        finished = time.monotonic()
        thread.join()
        # the reader's snapshot did not move, and did not stop the writers
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == before == 0
        reader.execute("COMMIT")
        reader.close()
        assert [r.error_code for r in report.feeds] == [None, None, None]
        assert rt.store.articles.count() == ARTICLES
        assert rt.store.articles.count(state="pending") == 0
    assert released and released[0] - started > 1.5  # the pass really met the held lock
    assert finished >= released[0]  # and waited for it instead of failing


def test_a_process_s_writers_queue_instead_of_timing_out(sqlite_url: str) -> None:
    """Twelve threads taking the write lock back to back, each for 10 ms, with a busy timeout
    of 0.2 s: in SQLite's busy handler alone some of them lose every race and fail with
    ``database is locked``; queued in the process first, every write lands."""
    threads, writes, held_s = 12, 25, 0.01
    with Store.open(sqlite_url, busy_timeout_ms=200) as store:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (thread INTEGER, n INTEGER)")
        repo = Repo(store.engine)
        failures: list[str] = []

        def write(thread: int) -> None:
            for n in range(writes):
                try:
                    with repo.session() as session:
                        session.execute(
                            text("INSERT INTO scratch VALUES (:t, :n)"), {"t": thread, "n": n}
                        )
                        time.sleep(held_s)  # a transaction waiting for the GIL, say
                except StorageError as exc:
                    failures.append(str(exc))

        workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with store.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT count(*) FROM scratch").scalar()
    assert failures == []
    assert stored == threads * writes


def test_the_write_gate_is_first_come_first_served() -> None:
    gate = WriteGate()
    order: list[int] = []
    with gate.held():
        waiting = []
        for n in range(5):
            thread = threading.Thread(target=lambda n=n: _take(gate, order, n))
            thread.start()
            waiting.append(thread)
            time.sleep(0.05)  # each is queued before the next arrives
        with gate.held():  # the holder may come back in (re-entrant)
            pass
    for thread in waiting:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_stuck_behind_the_gate_gets_a_clear_error() -> None:
    gate = WriteGate(wait_s=0.2)
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with gate.held():
            held.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(StorageError, match="database busy"), gate.held():
            pass
    finally:
        done.set()
        holder.join()
    with gate.held():  # the queue is clean afterwards
        pass


def _take(gate: WriteGate, order: list[int], n: int) -> None:
    with gate.held():
        order.append(n)
