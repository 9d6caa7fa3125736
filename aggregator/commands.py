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

from aggregator.errors import ConfigError, InputError
from aggregator.log import event
from aggregator.metrics import Metrics
from aggregator.outlets import read_opml, write_opml
from aggregator.pipeline import PassReport, Progress
from aggregator.settings import Settings
from aggregator.types import OutletConfig
from aggregator.wiring import build_runtime, open_store, sync_outlets, utc_now
from storage.db import current_revision, is_sqlite, migrate

log = logging.getLogger("newsagg")


# -- service ------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _service(settings, web=not args.no_web, host=args.host, port=args.port)


def worker(args: argparse.Namespace, settings: Settings) -> int:
    return _service(settings, web=False, host=None, port=None, kind="worker")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.web.server import serve_web

    store = _ready_store(settings)
    try:
        serve_web(settings, store, service=None, host=args.host, port=args.port)
    finally:
        store.close()
    return 0


def _service(
    settings: Settings, *, web: bool, host: str | None, port: int | None, kind: str = "run"
) -> int:
    from aggregator.service import Service

    store = _ready_store(settings)
    report = sync_outlets(store, settings)
    event(log, "outlets.synced", added=report.outlets_added, feeds_added=report.feeds_added)
    from aggregator.clustering import build_cluster_stage

    metrics = Metrics()
    clusterer = build_cluster_stage(settings, store, clock=utc_now, observe=metrics.cluster_latency)
    runtime = build_runtime(settings, store, kind=kind, clusterer=clusterer, metrics=metrics)
    poll = settings.poll
    service = Service(
        {
            "tick": (
                lambda: runtime.pipeline.tick(
                    max_feeds=poll.feeds_per_tick, max_pages=poll.feeds_per_tick * 4
                ),
                poll.tick_seconds,
            )
        }
    )
    service.start()
    try:
        if web:
            from aggregator.web.server import serve_web

            serve_web(
                settings,
                store,
                service=service,
                host=host,
                port=port,
                metrics=metrics,
                on_correction=clusterer.apply_corrections,
            )
        else:
            _wait_for_signal()
    finally:
        service.stop(wait=True)
        runtime.close()
    return 0


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

    clusterer = build_cluster_stage(settings, store, clock=utc_now)
    runtime = build_runtime(settings, store, kind="poll", clusterer=clusterer)
    try:
        with _progress(not args.no_progress) as progress:
            report = runtime.pipeline.run_once(
                include_not_due=args.all, outlet_id=args.outlet, progress=progress
            )
    finally:
        runtime.close()
    _print_pass(report)
    return 0


def _print_pass(report: PassReport) -> None:
    pages = report.pages
    print(
        f"feeds polled: {len(report.feeds)}, failed: {len(report.failed_feeds)}, "
        f"new articles: {report.new_articles}, pages: {pages.claimed} "
        f"(extracted {pages.extracted}, summary only {pages.summary_only}, "
        f"retry later {pages.deferred}), clustered: {report.clustered}"
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
