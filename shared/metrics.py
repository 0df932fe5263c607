"""Prometheus metrics: recorders any process calls (worker, web, watcher) and the collector /metrics serves.

Why Redis and not prometheus_client's multiprocess mode: the observations that matter (a job finishing, a retry,
a webhook delivery) happen in Celery prefork children and in the watcher, while /metrics is served by gunicorn
workers, possibly on another host or container. Multiprocess mode needs one shared PROMETHEUS_MULTIPROC_DIR on a
single machine and a clean-up protocol for dead pids; that breaks as soon as web and worker run in different
containers (compose, several hosts). Redis is already shared by every process, so each observation is one
pipelined HINCRBY into a hash, and the collector turns the hashes into counters and a histogram at scrape time.
Counts only grow (until someone flushes Redis), which is what Prometheus counters expect; a flush looks like a
counter reset, which rate() handles. Jobs by kind and status and webhook deliveries by status are read from
PostgreSQL at scrape time (one GROUP BY query per table), so they are always the truth. Recording never raises:
a Redis outage loses an observation, never a job transition.
"""
import json
import logging
import math
from datetime import datetime

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from django.conf import settings
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)

PREFIX = "maracker:metrics:"
JOB_DURATION_KEY = PREFIX + "job_duration"
JOB_RETRIES_KEY = PREFIX + "job_retries"
WEBHOOK_DELIVERIES_KEY = PREFIX + "webhook_deliveries"
WATCHER_HEALTH_KEY = "maracker:watcher:health"
CELERY_QUEUES = ("deploy", "metadata", "webhooks", "maintenance")
# Celery's Redis transport keeps priority levels 3, 6 and 9 in lists named queue + "\x06\x16" + level.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
# Seconds from a job's start to its end: Marathon deployments take seconds to minutes.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, math.inf)

_clients = {}


def _redis():
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        # redis-py's pool notices a fork and reconnects, so one client per process is safe with prefork.
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5,
                                      retry=Retry(NoBackoff(), 0))  # a scrape must not wait through retries
        _clients[url] = client
    return client


def _field(*parts):
    return "|".join(str(part).replace("|", "_") for part in parts)


def _bucket_index(seconds):
    for index, bound in enumerate(DURATION_BUCKETS):
        if seconds <= bound:
            return index
    return len(DURATION_BUCKETS) - 1


def observe_job_finished(kind, status, seconds):
    """Record a job's duration when it reaches a terminal status (succeeded, failed, cancelled)."""
    try:
        seconds = max(float(seconds), 0.0)
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby(JOB_DURATION_KEY, _field(kind, status, "b", _bucket_index(seconds)), 1)
        pipe.hincrby(JOB_DURATION_KEY, _field(kind, status, "count"), 1)
        pipe.hincrbyfloat(JOB_DURATION_KEY, _field(kind, status, "sum"), seconds)
        pipe.execute()
    except Exception as exc:  # never let metrics break a job transition
        logger.warning("metrics: could not record a job duration: %s", exc.__class__.__name__)


def observe_job_retry(kind, code="error"):
    """Record that an attempt failed with a retryable error and the job was queued again."""
    _increment(JOB_RETRIES_KEY, _field(kind, code or "error"))


def observe_webhook_delivery(outcome):
    """Record one webhook delivery attempt by outcome (e.g. delivered, retried, failed, gave_up)."""
    _increment(WEBHOOK_DELIVERIES_KEY, _field(outcome or "unknown"))


def _increment(key, field):
    try:
        _redis().hincrby(key, field, 1)
    except Exception as exc:  # never let metrics break the work being measured
        logger.warning("metrics: could not increment %s: %s", key, exc.__class__.__name__)


# --- Reading, at scrape time ----------------------------------------------------------------------


def _decoded_hash(client, key):
    return {k.decode(): v.decode() for k, v in client.hgetall(key).items()}


def _job_counts():
    from shared.models import Job, JobKind, JobStatus

    counts = {(kind, status): 0 for kind in JobKind.values for status in JobStatus.values}
    for row in Job.objects.order_by().values("kind", "status").annotate(n=Count("pk")):
        counts[(row["kind"], row["status"])] = row["n"]
    return counts


def _webhook_delivery_counts():
    from shared.models import WebhookDelivery, WebhookDeliveryStatus

    counts = dict.fromkeys(WebhookDeliveryStatus.values, 0)
    for row in WebhookDelivery.objects.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts


def _duration_histogram(raw):
    series = {}
    for field, value in raw.items():
        parts = field.split("|")
        if len(parts) == 4 and parts[2] == "b":
            series.setdefault((parts[0], parts[1]), {}).setdefault("buckets", {})[int(parts[3])] = int(value)
        elif len(parts) == 3 and parts[2] in ("sum", "count"):
            series.setdefault((parts[0], parts[1]), {})[parts[2]] = float(value)
    family = HistogramMetricFamily(
        "maracker_job_duration_seconds", "Time from a job's first attempt to its terminal status.",
        labels=["kind", "status"],
    )
    for (kind, status), data in sorted(series.items()):
        cumulative, buckets = 0, []
        for index, bound in enumerate(DURATION_BUCKETS):
            cumulative += data.get("buckets", {}).get(index, 0)
            buckets.append(("+Inf" if math.isinf(bound) else repr(bound), cumulative))
        family.add_metric([kind, status], buckets, data.get("sum", 0.0))
    return family


def _timestamp(value):
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class MarackerCollector:
    """Builds every Maracker metric on each scrape from PostgreSQL and Redis."""

    def collect(self):
        jobs = GaugeMetricFamily("maracker_jobs", "Jobs by kind and status, from the database.",
                                 labels=["kind", "status"])
        for (kind, status), n in sorted(_job_counts().items()):
            jobs.add_metric([kind, status], n)
        yield jobs
        deliveries_now = GaugeMetricFamily("maracker_webhook_deliveries_by_status",
                                           "Webhook deliveries by current status, from the database.",
                                           labels=["status"])
        for status, n in sorted(_webhook_delivery_counts().items()):
            deliveries_now.add_metric([status], n)
        yield deliveries_now

        up = GaugeMetricFamily("maracker_metrics_redis_up", "1 when Redis answered this scrape.")
        try:
            client = _redis()
            pipe = client.pipeline(transaction=False)
            for queue in CELERY_QUEUES:
                for step in _PRIORITY_STEPS:
                    pipe.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}")
            lengths = pipe.execute()
            unacked = client.hlen("unacked")
            durations = _decoded_hash(client, JOB_DURATION_KEY)
            retries = _decoded_hash(client, JOB_RETRIES_KEY)
            deliveries = _decoded_hash(client, WEBHOOK_DELIVERIES_KEY)
            watcher_raw = client.get(WATCHER_HEALTH_KEY)
        except Exception as exc:  # answer what the database knows; say Redis is down
            logger.warning("metrics: Redis unavailable during scrape: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        depth = GaugeMetricFamily("maracker_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        per_queue = len(_PRIORITY_STEPS)
        for index, queue in enumerate(CELERY_QUEUES):
            depth.add_metric([queue], sum(lengths[index * per_queue:(index + 1) * per_queue]))
        yield depth
        reserved = GaugeMetricFamily("maracker_queue_unacked",
                                     "Messages delivered to workers and not yet acknowledged (running or scheduled).")
        reserved.add_metric([], unacked)
        yield reserved

        yield _duration_histogram(durations)

        retry_family = CounterMetricFamily("maracker_job_retries", "Attempts that failed retryably and were queued again.",
                                           labels=["kind", "code"])
        for field, value in sorted(retries.items()):
            kind, _, code = field.partition("|")
            retry_family.add_metric([kind, code], float(value))
        yield retry_family

        webhook_family = CounterMetricFamily("maracker_webhook_deliveries", "Webhook delivery attempts by outcome.",
                                             labels=["outcome"])
        for outcome, value in sorted(deliveries.items()):
            webhook_family.add_metric([outcome], float(value))
        yield webhook_family

        yield from _watcher_metrics(watcher_raw)


def _watcher_metrics(raw):
    try:
        health = json.loads(raw) if raw else None
    except ValueError:
        health = None
    known = GaugeMetricFamily("maracker_watcher_reporting", "1 when a watcher reported its health recently.")
    known.add_metric([], 1 if health else 0)
    yield known
    connected = GaugeMetricFamily("maracker_watcher_connected", "1 when the watcher follows Marathon's event stream.")
    connected.add_metric([], 1 if health and health.get("connected") else 0)
    yield connected
    if not health:
        return
    if health.get("lag_seconds") is not None:
        lag = GaugeMetricFamily("maracker_watcher_lag_seconds", "Now minus the timestamp of the last event handled.")
        lag.add_metric([], float(health["lag_seconds"]))
        yield lag
    if health.get("events_per_second") is not None:
        rate = GaugeMetricFamily("maracker_watcher_events_per_second", "Events handled per second, recently.")
        rate.add_metric([], float(health["events_per_second"]))
        yield rate
    last = _timestamp(health.get("last_event_at"))
    if last is not None:
        family = GaugeMetricFamily("maracker_watcher_last_event_timestamp_seconds",
                                   "When the watcher last received an event (Unix time).")
        family.add_metric([], last)
        yield family
    if health.get("events_total") is not None:
        total = CounterMetricFamily("maracker_watcher_events", "Events handled since the watcher started.")
        total.add_metric([], float(health["events_total"]))
        yield total
