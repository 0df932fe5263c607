"""/metrics: Prometheus exposition of jobs (PostgreSQL), durations, retries, deliveries, queues and the watcher (Redis)."""
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from shared.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def rds(monkeypatch):
    """Metric keys of this test only, so workers or watchers of other tests cannot change what it reads."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = "maracker:test-metrics:"
    monkeypatch.setattr(metrics, "JOB_DURATION_KEY", prefix + "job_duration")
    monkeypatch.setattr(metrics, "JOB_RETRIES_KEY", prefix + "job_retries")
    monkeypatch.setattr(metrics, "WEBHOOK_DELIVERIES_KEY", prefix + "webhook_deliveries")
    monkeypatch.setattr(metrics, "WATCHER_HEALTH_KEY", prefix + "watcher")
    monkeypatch.setattr(metrics, "CELERY_QUEUES", ("ops-test-a", "ops-test-b"))
    keys = [prefix + k for k in ("job_duration", "job_retries", "webhook_deliveries", "watcher")]
    keys += ["ops-test-a", "ops-test-b", "ops-test-a\x06\x163"]
    client.delete(*keys)
    yield client
    client.delete(*keys)


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def make_job(kind, status):
    return Job.objects.create(kind=kind, status=status, deadline=timezone.now() + timedelta(minutes=5))


def test_jobs_by_kind_and_status_come_from_the_database(client, rds, django_assert_max_num_queries):
    for _ in range(3):
        make_job("deploy", "succeeded")
    make_job("deploy", "failed")
    make_job("scale", "queued")
    with django_assert_max_num_queries(2):  # one GROUP BY for jobs, one for webhook deliveries
        samples = scrape(client)
    assert value(samples, "maracker_jobs", kind="deploy", status="succeeded") == 3
    assert value(samples, "maracker_jobs", kind="deploy", status="failed") == 1
    assert value(samples, "maracker_jobs", kind="scale", status="queued") == 1
    assert value(samples, "maracker_jobs", kind="stop", status="running") == 0  # every series exists
    assert value(samples, "maracker_metrics_redis_up") == 1
    assert value(samples, "maracker_webhook_deliveries_by_status", status="pending") == 0


def test_job_durations_form_a_cumulative_histogram(client, rds):
    for seconds in (0.05, 0.3, 3, 3, 4000):
        metrics.observe_job_finished("deploy", "succeeded", seconds)
    metrics.observe_job_finished("deploy", "failed", 12)
    samples = scrape(client)
    bucket = lambda le, status="succeeded": value(samples, "maracker_job_duration_seconds_bucket",  # noqa: E731
                                                  kind="deploy", status=status, le=le)
    assert bucket("0.1") == 1 and bucket("0.5") == 2 and bucket("5.0") == 4 and bucket("1800.0") == 4
    assert bucket("+Inf") == 5
    assert value(samples, "maracker_job_duration_seconds_count", kind="deploy", status="succeeded") == 5
    assert value(samples, "maracker_job_duration_seconds_sum", kind="deploy",
                 status="succeeded") == pytest.approx(4006.35)
    assert bucket("10.0", "failed") == 0 and bucket("30.0", "failed") == 1


def test_retries_and_webhook_deliveries_are_counters(client, rds):
    metrics.observe_job_retry("deploy", "marathon_unavailable")
    metrics.observe_job_retry("deploy", "marathon_unavailable")
    metrics.observe_job_retry("stop", "timeout")
    metrics.observe_webhook_delivery("delivered")
    metrics.observe_webhook_delivery("failed")
    metrics.observe_webhook_delivery("delivered")
    samples = scrape(client)
    assert value(samples, "maracker_job_retries_total", kind="deploy", code="marathon_unavailable") == 2
    assert value(samples, "maracker_job_retries_total", kind="stop", code="timeout") == 1
    assert value(samples, "maracker_webhook_deliveries_total", outcome="delivered") == 2
    assert value(samples, "maracker_webhook_deliveries_total", outcome="failed") == 1


def test_queue_depth_counts_every_priority_list(client, rds):
    rds.rpush("ops-test-a", "m1", "m2")
    rds.rpush("ops-test-a\x06\x163", "m3")
    samples = scrape(client)
    assert value(samples, "maracker_queue_depth", queue="ops-test-a") == 3
    assert value(samples, "maracker_queue_depth", queue="ops-test-b") == 0


def test_watcher_health_becomes_gauges(client, rds):
    samples = scrape(client)
    assert value(samples, "maracker_watcher_reporting") == 0
    assert value(samples, "maracker_watcher_connected") == 0
    rds.set(metrics.WATCHER_HEALTH_KEY, json.dumps({
        "connected": True, "last_event_at": "2026-01-02T03:04:05+00:00", "lag_seconds": 0.25,
        "events_per_second": 12.5, "events_total": 1000,
    }))
    samples = scrape(client)
    assert value(samples, "maracker_watcher_reporting") == 1
    assert value(samples, "maracker_watcher_connected") == 1
    assert value(samples, "maracker_watcher_lag_seconds") == 0.25
    assert value(samples, "maracker_watcher_events_per_second") == 12.5
    assert value(samples, "maracker_watcher_events_total") == 1000
    assert value(samples, "maracker_watcher_last_event_timestamp_seconds") == 1767323045


def test_a_redis_outage_still_answers_with_the_database_figures(client, rds):
    make_job("deploy", "queued")
    metrics._clients.clear()
    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):
        samples = scrape(client)
        metrics.observe_job_finished("deploy", "succeeded", 1)  # recording never raises
        metrics.observe_job_retry("deploy")
    metrics._clients.clear()
    assert value(samples, "maracker_metrics_redis_up") == 0
    assert value(samples, "maracker_jobs", kind="deploy", status="queued") == 1
