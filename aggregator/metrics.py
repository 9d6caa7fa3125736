"""Prometheus metrics in a registry owned by one ``Metrics`` object (no module-level state).

The composition root makes one ``Metrics`` and hands it to the pipeline (which counts) and to
the web app (which serves ``/metrics``)::

    metrics = Metrics()
    metrics.fetch("feed", "ok")          # newsagg_fetches_total{kind, result}
    metrics.articles_stored(12)          # newsagg_articles_stored_total
    metrics.extraction_failed()          # newsagg_extraction_failures_total
    metrics.cluster_latency(0.004)       # newsagg_clustering_seconds (histogram)
    metrics.watch_queues(lambda: {"pages_pending": 3})   # newsagg_queue_depth{queue}, per scrape

Counters live in the process that increments them. Under ``newsagg run`` the web UI has a
process of its own (``aggregator.webprocess``): its ``Metrics(pipeline_from=...)`` shows the
service's pipeline counters, read from the service at each scrape, next to its own request
timings. With ``newsagg serve`` apart from the workers, ``/metrics`` shows the queue depths
(read from the database at scrape time) but not the workers' counters; scrape the workers'
own exporters for those.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from aggregator.log import event

log = logging.getLogger("newsagg.metrics")

FETCH_KINDS = frozenset({"feed", "page", "robots"})
LABEL_RE = re.compile(r"^[a-z0-9_]{1,40}$")
CLUSTER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 10.0)
Depths = Callable[[], Mapping[str, float]]
Exposition = Callable[[], bytes]


def _label(value: str) -> str:
    """A bounded label value: anything unexpected becomes ``other`` (no cardinality blow-up)."""
    value = value.strip().lower()
    return value if LABEL_RE.match(value) else "other"


class _QueueCollector(Collector):
    """Queue depths computed at scrape time by a callback (a database query)."""

    def __init__(self, depths: Depths) -> None:
        self._depths = depths

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "newsagg_queue_depth", "Work waiting in the database", labels=["queue"]
        )
        up = GaugeMetricFamily("newsagg_queue_depth_up", "1 when the queue depths could be read")
        try:
            values = dict(self._depths())
        except Exception as exc:  # a scrape must answer even when the database does not
            event(
                log, "metrics.queue_depth_failed", level=logging.WARNING, error=type(exc).__name__
            )
            up.add_metric([], 0.0)
            yield up
            return
        for name, value in sorted(values.items()):
            depth.add_metric([_label(name)], float(value))
        up.add_metric([], 1.0)
        yield depth
        yield up


class _Included(Collector):
    """Another registry's families, collected at each scrape of this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


class _Remote(Collector):
    """The families of another process's exposition, read at each scrape; when it cannot be
    read, ``newsagg_service_metrics_up`` says 0 and the scrape still answers."""

    def __init__(self, exposition: Exposition) -> None:
        self._exposition = exposition

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "newsagg_service_metrics_up", "1 when the service's pipeline counters could be read"
        )
        try:
            families = list(text_string_to_metric_families(self._exposition().decode("utf-8")))
        except Exception as exc:  # a scrape must answer even when the service does not
            event(log, "metrics.service_unread", level=logging.WARNING, error=type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        yield from families
        up.add_metric([], 1.0)
        yield up


class Metrics:
    """The named metrics of newsagg, registered in ``self.registry``.

    The pipeline's counters sit in a registry of their own (``render_pipeline``), included in
    ``self.registry``; a web process passes ``pipeline_from`` (the service's
    ``render_pipeline``, across a pipe) to show the service's counters instead of its own,
    which never move there.
    """

    def __init__(self, pipeline_from: Exposition | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._pipeline = CollectorRegistry(auto_describe=True)
        self._queues: _QueueCollector | None = None
        self._lock = threading.Lock()
        self._fetches = Counter(
            "newsagg_fetches",
            "Fetch attempts by kind (feed, page, robots) and result",
            ["kind", "result"],
            registry=self._pipeline,
        )
        self._stored = Counter(
            "newsagg_articles_stored", "New articles stored", registry=self._pipeline
        )
        self._extract_failed = Counter(
            "newsagg_extraction_failures", "Pages whose extraction failed", registry=self._pipeline
        )
        self._cluster = Histogram(
            "newsagg_clustering_seconds",
            "Time to assign one article to a story cluster",
            buckets=CLUSTER_BUCKETS,
            registry=self._pipeline,
        )
        pipeline = _Included(self._pipeline) if pipeline_from is None else _Remote(pipeline_from)
        self.registry.register(pipeline)
        self._http = Histogram(
            "newsagg_http_request_seconds",
            "Web and API response times by route",
            ["route", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    # -- what the pipeline calls --------------------------------------------------------------

    def fetch(self, kind: str, result: str) -> None:
        kind = kind if kind in FETCH_KINDS else "other"
        self._fetches.labels(kind=kind, result=_label(result)).inc()

    def articles_stored(self, n: int = 1) -> None:
        if n > 0:
            self._stored.inc(n)

    def extraction_failed(self, n: int = 1) -> None:
        if n > 0:
            self._extract_failed.inc(n)

    def cluster_latency(self, seconds: float) -> None:
        self._cluster.observe(max(0.0, seconds))

    # -- what the web app calls ---------------------------------------------------------------

    def watch_queues(self, depths: Depths) -> None:
        """Report ``depths()`` (queue name -> size) as gauges at every scrape (once)."""
        with self._lock:
            if self._queues is not None:
                return
            self._queues = _QueueCollector(depths)
            self.registry.register(self._queues)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._http.labels(route=route, method=method, status=str(status)).observe(seconds)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Expose this registry on ``http://host:port/metrics`` from a daemon thread (a
        worker without the web UI: ``newsagg worker --metrics-port``)."""
        start_http_server(port, addr=host, registry=self.registry)
        event(log, "metrics.serving", host=host, port=port)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def render_pipeline(self) -> bytes:
        """The exposition of the pipeline's counters alone (what a web process includes)."""
        return generate_latest(self._pipeline)
