"""What each ``newsagg`` command does; ``cli.py`` parses arguments and dispatches here."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aggregator.allocator import freeze_start_up, tune_allocator
from aggregator.errors import ConfigError, InputError
from aggregator.log import event
from aggregator.metrics import Metrics
from aggregator.outlets import read_opml, write_opml
from aggregator.pipeline import PassReport, Progress
from aggregator.settings import Settings
from aggregator.types import OutletConfig
from aggregator.wiring import build_runtime, open_store, sync_outlets, utc_now
from storage.db import current_revision, is_sqlite, migrate
from storage.locks import SingletonLock, holder_pid

log = logging.getLogger("newsagg")


# -- service ------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _service(settings, web=not args.no_web, host=args.host, port=args.port)


def worker(args: argparse.Namespace, settings: Settings) -> int:
    return _service(
        settings, web=False, host=None, port=None, kind="worker", metrics_port=args.metrics_port
    )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.web.server import serve_web

    tune_allocator(settings)
    store = _ready_store(settings)
    try:
        serve_web(settings, store, service=None, host=args.host, port=args.port)
    finally:
        store.close()
    return 0


def _service(
    settings: Settings,
    *,
    web: bool,
    host: str | None,
    port: int | None,
    kind: str = "run",
    metrics_port: int | None = None,
) -> int:
    from aggregator.clustering import build_cluster_stage
    from aggregator.jobs import Jobs
    from aggregator.service import Service

    tune_allocator(settings)
    store = _ready_store(settings)
    process_lock = _one_process_on_sqlite(store, settings)
    report = sync_outlets(store, settings)
    event(log, "outlets.synced", added=report.outlets_added, feeds_added=report.feeds_added)
    metrics = Metrics()
    singleton = SingletonLock(store.engine, "singleton")
    clusterer = build_cluster_stage(
        settings, store, clock=utc_now, observe=metrics.cluster_latency, job_lock=singleton
    )
    runtime = build_runtime(settings, store, kind=kind, clusterer=clusterer, metrics=metrics)
    jobs = Jobs(
        settings, store, runtime.pipeline, runtime.owner, kind, utc_now, singleton, utc_now()
    )
    service = Service(jobs.table(), nice=settings.service.nice)
    if metrics_port:
        metrics.serve(metrics_port)
    freeze_start_up()
    service.start()
    web_process = None
    try:
        if web:
            from aggregator.webprocess import WebProcess

            web_process = WebProcess(
                settings,
                host=host,
                port=port,
                service=service,
                metrics=metrics,
                on_correction=clusterer.apply_corrections,
            )
            web_process.start()
        _wait_for_signal()
    finally:
        jobs.stopping.set()  # a running comparison job ends after its current story
        if web_process is not None:
            web_process.stop()
        service.stop(wait=True)
        store.workers.forget(runtime.owner)
        singleton.release()
        if process_lock is not None:
            process_lock.release()
        runtime.close()
    return 0


def _one_process_on_sqlite(store: Any, settings: Settings) -> SingletonLock | None:
    """SQLite serves one long-running process; a second one gets a clear error."""
    if not is_sqlite(settings.database.url):
        return None
    lock = SingletonLock(store.engine, "service")
    if not lock.acquire():
        pid = holder_pid(store.engine, "service")
        store.close()
        raise ConfigError(
            f"another newsagg run/worker (pid {pid or '?'}) is using this SQLite database; "
            "SQLite serves one process: point several workers at PostgreSQL",
            resource="database",
        )
    return lock


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        event(log, "service.signal", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(3600):
        pass


def _ready_store(settings: Settings) -> Any:
    """The store, migrated if it is the default SQLite file; PostgreSQL must be at head
    (its migrations run once, as a separate step)."""
    if is_sqlite(settings.database.url):
        migrate(settings.database.url)
        return open_store(settings)
    store = open_store(settings)
    if not store.at_head():
        revision = current_revision(store.engine)
        store.close()
        raise ConfigError(
            f"database schema is at {revision or 'nothing'}, not head: run `newsagg migrate`",
            resource="database",
        )
    return store


# -- one-shot commands --------------------------------------------------------------------


def poll(args: argparse.Namespace, settings: Settings) -> int:
    store = _ready_store(settings)
    sync_outlets(store, settings)
    from aggregator.clustering import build_cluster_stage

    singleton = SingletonLock(store.engine, "singleton")
    clusterer = build_cluster_stage(settings, store, clock=utc_now, job_lock=singleton)
    runtime = build_runtime(settings, store, kind="poll", clusterer=clusterer)
    freeze_start_up()
    try:
        with _progress(not args.no_progress) as progress:
            report = runtime.pipeline.run_once(
                include_not_due=args.all, outlet_id=args.outlet, progress=progress
            )
    finally:
        singleton.release()
        runtime.close()
    _print_pass(report)
    return 0


def _print_pass(report: PassReport) -> None:
    pages = report.pages
    print(
        f"feeds polled: {len(report.feeds)}, failed: {len(report.failed_feeds)}, "
        f"new articles: {report.new_articles}, pages: {pages.claimed} "
        f"(extracted {pages.extracted}, summary only {pages.summary_only}, "
        f"retry later {pages.deferred}), clustered: {report.clustered}, "
        f"comparisons: {report.compared}"
    )
    for failed in report.failed_feeds:
        print(f"  outlet {failed.outlet_id!r}: {failed.error_code}: {failed.error}")


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, count: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(desc=stage, unit=" items", file=sys.stderr, leave=False)
        bars[stage].update(count)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def migrate_cmd(args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings.database.url)
    store = open_store(settings)
    try:
        print(f"database migrated to {current_revision(store.engine)}")
    finally:
        store.close()
    return 0


def import_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.importer import import_file

    store = _ready_store(settings)
    try:
        report = import_file(args.file, store, settings, progress=not args.no_progress)
    finally:
        store.close()
    print(report)
    return 0


def cluster_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.dedup.command import run_cluster_command

    text = run_cluster_command(args.file, args.assignments, settings.dedup, same_day=args.same_day)
    print(text)
    return 0


def recluster(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.clustering import recluster_all

    store = _ready_store(settings)
    try:
        print(recluster_all(settings, store, clock=utc_now))
    finally:
        store.close()
    return 0


def export(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.exports import export_command

    store = _ready_store(settings)
    try:
        print(export_command(store, settings, args))
    finally:
        store.close()
    return 0


# -- outlets ------------------------------------------------------------------------------


def outlets(args: argparse.Namespace, settings: Settings) -> int:
    store = _ready_store(settings)
    try:
        action: Callable[[argparse.Namespace, Settings, Any], int] = {
            "list": _outlets_list,
            "add": _outlets_add,
            "import-opml": _outlets_import,
            "export-opml": _outlets_export,
        }[args.outlets_command]
        return action(args, settings, store)
    finally:
        store.close()


def _outlets_list(args: argparse.Namespace, settings: Settings, store: Any) -> int:
    feeds_by_outlet: dict[str, list[Any]] = {}
    for feed in store.feeds.feeds():
        feeds_by_outlet.setdefault(feed.outlet_id, []).append(feed)
    for outlet in store.feeds.outlets():
        print(f"{outlet.id}\t{outlet.name}\t{outlet.country}\t{outlet.language}")
        for feed in feeds_by_outlet.get(outlet.id, []):
            health = f"errors={feed.error_count}"
            if feed.last_error_code:
                health += f" last_error={feed.last_error_code}"
            print(f"  {feed.state.value}\t{feed.url}\t{health}")
    return 0


def _outlets_add(args: argparse.Namespace, settings: Settings, store: Any) -> int:
    labels: dict[str, str] = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"label {item!r} is not key=value", resource="--label")
        labels[key] = value
    from aggregator.outlets import parse_outlets

    (outlet,) = parse_outlets(
        {
            "outlet": [
                {
                    "id": args.id,
                    "name": args.name,
                    "feeds": args.feeds,
                    "homepage": args.homepage,
                    "country": args.country,
                    "language": args.language,
                    "labels": labels,
                }
            ]
        },
        where="outlets add",
    )
    _add(store, settings, [outlet])
    return 0


def _outlets_import(args: argparse.Namespace, settings: Settings, store: Any) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", resource=str(path)) from exc
    _add(store, settings, read_opml(data, where=str(path)))
    return 0


def _add(store: Any, settings: Settings, configs: list[OutletConfig]) -> None:
    report = store.feeds.sync_outlets(
        configs, default_interval=settings.poll.default_interval_minutes, now=utc_now()
    )
    print(
        f"outlets added: {report.outlets_added}, updated: {report.outlets_updated}, "
        f"feeds added: {report.feeds_added}"
    )


def _outlets_export(args: argparse.Namespace, settings: Settings, store: Any) -> int:
    data = write_opml(store.feeds.outlet_configs())
    if args.out:
        args.out.write_bytes(data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0
