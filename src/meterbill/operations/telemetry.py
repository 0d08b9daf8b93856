"""The Prometheus metrics every process records, and their exposition.

A process that shares the port with others (`meterbill serve --workers N`) writes its
values to files in PROMETHEUS_MULTIPROC_DIR, and whichever process answers a scrape sums
them all (prometheus_client's multiprocess mode). The directory must be set before
prometheus_client is first imported: `serve` sets it in the supervisor, before the
server processes start (serving.py). Without it, a process exposes its own values.

Labels have bounded values only: a route is its template, never the path as requested.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# A `_created` series beside every counter doubles the scrape for nothing we use.
disable_created_metrics()
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Ingestion answers in about a millisecond; reports and billing pages take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    "meterbill_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "meterbill_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_INGESTED = Counter("meterbill_events_ingested", "Events stored by the ingestion API.")
EVENTS_REFUSED = Counter(
    "meterbill_events_refused",
    "Events the ingestion API refused, by reason (invalid, duplicate, malformed, error).",
    ["reason"],
)
GROUP_REQUESTS = Histogram(
    "meterbill_group_commit_requests",
    "Ingestion requests sharing one group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_EVENTS = Histogram(
    "meterbill_group_commit_events",
    "Events inserted by one group commit.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
CLOCK_JOB_SECONDS = Histogram(
    "meterbill_clock_job_duration_seconds",
    "Time one job of the clock took in a tick.",
    ["job"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
CLOCK_TICKS = Counter("meterbill_clock_ticks", "Ticks of the clock run to the end.")
CLOCK_FAILURES = Counter(
    "meterbill_clock_failures", "Units of work a tick could not do, by job.", ["job"]
)
CLOCK_LAST_TICK = Gauge(
    "meterbill_clock_last_tick_timestamp_seconds",
    "When the latest tick ended (Unix time); its age tells a stalled clock.",
    multiprocess_mode="max",
)
WEBHOOK_DELIVERIES = Counter(
    "meterbill_webhook_deliveries",
    "Webhook delivery attempts, by outcome (succeeded, retrying, failed).",
    ["outcome"],
)
POOL_IN_USE = Gauge(
    "meterbill_db_pool_connections_in_use",
    "Database connections checked out of the process's pools.",
    multiprocess_mode="livesum",
)
POOL_OPEN = Gauge(
    "meterbill_db_pool_connections_open",
    "Database connections the process's pools hold open.",
    multiprocess_mode="livesum",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Backlog(Collector):
    """Work waiting for the background processes, read from the database at scrape time
    (every process sees the same queues, so any one of them can tell)."""

    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "meterbill_clock_backlog",
            "Work due and not yet done, by queue (webhooks, documents, failed_invoices).",
            labels=["queue"],
        )
        try:
            counts = self.read()
        except Exception:
            counts = {}
        for queue, count in counts.items():
            family.add_metric([queue], count)
        yield family


def registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """Every metric: this process's, or all processes' in multiprocess mode, plus `extra`
    collectors."""
    scraped = CollectorRegistry()
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.MultiProcessCollector(scraped)
    else:
        scraped.register(_Everything())
    for collector in extra:
        scraped.register(collector)
    return scraped


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    return generate_latest(registry(extra))


def serve_metrics(port: int, host: str, extra: Iterable[Collector] = ()) -> None:
    """/metrics on its own port, from a thread (`meterbill worker` serves no API)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry(extra))


def process_exited(pid: int) -> None:
    """Drop a dead server process's live gauges (its counters stay in the sums)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


class _Everything(Collector):
    """The default registry's metrics (with the process and platform collectors)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def observe_group(requests: int, events: int) -> None:
    GROUP_REQUESTS.observe(requests)
    GROUP_EVENTS.observe(events)


def record_tick(failures: Iterable[object]) -> None:
    """A tick of the clock ran to its end, with these failed units."""
    CLOCK_TICKS.inc()
    CLOCK_LAST_TICK.set(time.time())
    for failure in failures:
        CLOCK_FAILURES.labels(getattr(failure, "job", "unknown")).inc()
