"""The metrics API the pipeline calls, and what Prometheus reads."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aggregator.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_counters_histogram_and_queue_depths() -> None:
    metrics = Metrics()
    metrics.fetch("feed", "ok")
    metrics.fetch("feed", "ok")
    metrics.fetch("page", "timeout")
    metrics.articles_stored(5)
    metrics.articles_stored(0)
    metrics.extraction_failed()
    metrics.cluster_latency(0.003)
    metrics.cluster_latency(-1)
    depths = {"pages_pending": 7, "articles_ready": 2}
    metrics.watch_queues(lambda: depths)
    metrics.watch_queues(lambda: {"other": 1})  # the first callback stays
    found = samples(metrics)
    assert found[("newsagg_fetches_total", (("kind", "feed"), ("result", "ok")))] == 2
    assert found[("newsagg_fetches_total", (("kind", "page"), ("result", "timeout")))] == 1
    assert found[("newsagg_articles_stored_total", ())] == 5
    assert found[("newsagg_extraction_failures_total", ())] == 1
    assert found[("newsagg_clustering_seconds_count", ())] == 2
    assert found[("newsagg_clustering_seconds_bucket", (("le", "0.005"),))] == 2
    assert found[("newsagg_queue_depth", (("queue", "pages_pending"),))] == 7
    depths["pages_pending"] = 9  # read again at every scrape
    assert samples(metrics)[("newsagg_queue_depth", (("queue", "pages_pending"),))] == 9


def test_label_values_stay_bounded_and_registries_separate() -> None:
    first, second = Metrics(), Metrics()
    first.fetch("<script>", "Connection reset by peer: 10.0.0.1")
    found = samples(first)
    assert found[("newsagg_fetches_total", (("kind", "other"), ("result", "other")))] == 1
    assert not any(name == "newsagg_fetches_total" for name, _ in samples(second))


def test_a_failing_queue_query_does_not_break_the_scrape() -> None:
    metrics = Metrics()

    def broken() -> dict[str, int]:
        raise RuntimeError("database down")

    metrics.watch_queues(broken)
    found = samples(metrics)
    assert found[("newsagg_queue_depth_up", ())] == 0
    assert not any(name == "newsagg_queue_depth" for name, _ in found)
