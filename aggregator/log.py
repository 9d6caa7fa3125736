"""Structured logs: one event per line, ``key=value`` or JSON, with bound context.

``bind(outlet="rt", feed=12)`` adds fields to every line logged in the current context (a
thread, a job); ``event(logger, "feed.polled", new=3)`` logs one event. Values are quoted when
they contain spaces, and newlines are escaped so one event is one line whatever a server sent.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "newsagg_log_context", default=MappingProxyType({})
)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every event logged inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"newsagg_fields": {**_CONTEXT.get(), **fields}})


def _quote(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if not text or any(ch in text for ch in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        parts = [f"{key}={_quote(value)}" for key, value in fields.items() if value is not None]
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, ensure_ascii=False)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": record.getMessage(),
    }
    extra = getattr(record, "newsagg_fields", None)
    if extra is None:
        extra = dict(_CONTEXT.get())
    base.update(extra)
    if record.exc_info and record.exc_info[0] is not None:
        base["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
    return base


def configure(fmt: str = "kv", level: str = "INFO") -> None:
    """Send newsagg's events to stderr in the chosen format; quiet chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = (
        "httpx",
        "httpcore",
        "apscheduler",
        "trafilatura",
        "htmldate",
        "uvicorn.access",
        "alembic",
    )
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
