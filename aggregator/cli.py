"""The ``newsagg`` command (also ``python -m aggregator``): the composition root.

Exit status: 0 on success, 1 on a handled failure (one line on stderr, no traceback),
2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aggregator.errors import NewsaggError
from aggregator.log import configure
from aggregator.settings import Settings, load_settings

log = logging.getLogger("newsagg")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsagg",
        description="Multi-source news aggregator: feeds, full text, copy groups, story clusters.",
    )
    parser.add_argument("--settings", help="settings file (default: $NEWSAGG_SETTINGS)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="the service: scheduler + web UI in one process")
    run.add_argument("--host", help="web UI address (default: [web] host)")
    run.add_argument("--port", type=int, help="web UI port (default: [web] port)")
    run.add_argument("--no-web", action="store_true", help="scheduler only")

    worker = sub.add_parser("worker", help="scheduler/worker without the web UI")
    worker.add_argument(
        "--metrics-port", type=int, help="serve this worker's Prometheus metrics on this port"
    )

    serve = sub.add_parser("serve", help="the web UI and API alone")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    poll = sub.add_parser("poll", help="one pass over due (or all) feeds, then exit")
    poll.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    poll.add_argument("--outlet", help="only this outlet's feeds")
    poll.add_argument("--all", action="store_true", help="every feed, due or not")
    poll.add_argument("--no-progress", action="store_true", help="no progress bar")

    sub.add_parser("migrate", help="upgrade the database schema to head")

    imp = sub.add_parser("import", help="ingest article JSONL through dedup and clustering")
    imp.add_argument("file", type=Path)
    imp.add_argument("--no-progress", action="store_true")

    cluster = sub.add_parser("cluster", help="cluster a JSONL corpus without the database")
    cluster.add_argument("file", type=Path)
    cluster.add_argument("--assignments", type=Path, required=True, help="output JSONL")
    cluster.add_argument(
        "--same-day", action="store_true", help="set every published date to one day (dense)"
    )

    sub.add_parser("recluster", help="rebuild story clusters under the current parameters")

    export = sub.add_parser("export", help="researcher exports with a manifest")
    export.add_argument("table", choices=["clusters", "articles", "comparisons", "memberships"])
    export.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="jsonl")
    export.add_argument("--out", type=Path, required=True, help="output file")
    export.add_argument("--since", help="ISO date or datetime (inclusive)")
    export.add_argument("--until", help="ISO date or datetime (exclusive)")
    export.add_argument("--outlet", action="append", help="only this outlet (repeatable)")

    outlets = sub.add_parser("outlets", help="outlet management")
    osub = outlets.add_subparsers(dest="outlets_command", required=True, metavar="ACTION")
    osub.add_parser("list", help="outlets and their feeds' health")
    add = osub.add_parser("add", help="add an outlet with its feeds")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--feed", action="append", required=True, dest="feeds")
    add.add_argument("--homepage", default="")
    add.add_argument("--country", default="")
    add.add_argument("--language", default="")
    add.add_argument("--label", action="append", default=[], help="key=value (repeatable)")
    imp_opml = osub.add_parser("import-opml", help="add the outlets of an OPML file")
    imp_opml.add_argument("file", type=Path)
    exp_opml = osub.add_parser("export-opml", help="write every outlet's feeds as OPML")
    exp_opml.add_argument("--out", type=Path, help="file (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.settings)
        configure(settings.log.format, settings.log.level)
        return dispatch(args, settings)
    except NewsaggError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"newsagg: error: {message}", file=sys.stderr)  # one line, whatever a driver said
        return 1
    except KeyboardInterrupt:
        print("newsagg: interrupted", file=sys.stderr)
        return 1


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    # imported here, not at the top: a worker process started from the ``newsagg`` script runs
    # the script again as its main module (multiprocessing's forkserver: the "__main__"
    # preload that would prevent it does not work before Python 3.13, gh-126631), and this
    # module's imports are then all it pays, not the whole application's (~0.7 s a worker)
    from aggregator import commands

    handlers = {
        "run": commands.run,
        "worker": commands.worker,
        "serve": commands.serve,
        "poll": commands.poll,
        "migrate": commands.migrate_cmd,
        "import": commands.import_cmd,
        "cluster": commands.cluster_cmd,
        "recluster": commands.recluster,
        "export": commands.export,
        "outlets": commands.outlets,
    }
    return handlers[args.command](args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
