"""Scenario 7: a webhook receiver down (connections refused) for a while, then up: each delivery lands once."""
import threading
import time
from collections import Counter
from http.server import ThreadingHTTPServer

import pytest
from django.test import override_settings

from shared.models import WebhookDelivery
from shared.services import jobs
from shared.services import webhooks as hooks
from tests.fixtures.catalog import create_app
from tests.fixtures.processes import free_port
from tests.fixtures.webhook_receiver import Receiver, _handler
from tests.reliability.conftest import rel_watcher, rel_worker, report, size, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

JOBS = size(10, 50)
DOWN_SECONDS = size(5, 60)
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_ALLOW_HTTP": "true",
    # Short Standard-Webhooks-like schedules that outlast the outage.
    "WEBHOOK_RETRY_SCHEDULE": size("0,1,2,2,3,3,4,4", "0,5,10,15,20,30,30,30"),
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_REQUEUE_AFTER_SECONDS": "1",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
}


def test_deliveries_to_a_receiver_down_for_a_while_each_succeed_exactly_once(
    marathon_sim, private_redis, isolated_celery, tmp_path
):
    sim = marathon_sim
    port = free_port()  # nothing listens there yet: every attempt is refused
    receiver = Receiver(port=port)
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True):
        subscription, secret = hooks.webhook_subscription_create(
            data={"url": receiver.url("/hook"), "event_types": ["job.started", "job.succeeded", "job.failed"]})
    receiver.expect("/hook", secret)
    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    worker = rel_worker(tmp_path, sim.url, private_redis.url, beat=True, concurrency=2, **WEBHOOK_ENV)
    server = None
    try:
        down_at = time.monotonic()
        job_ids = [jobs.job_create(kind="deploy", config=create_app()[1])[0].pk for _ in range(JOBS)]
        wait_terminal(job_ids, timeout=60)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        refused_attempts = sum(d.attempts for d in WebhookDelivery.objects.all())
        assert not WebhookDelivery.objects.filter(status="succeeded").exists()

        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        up_at = time.monotonic()
        deadline = up_at + size(60, 240)
        expected = 2 * JOBS  # job.started and job.succeeded per job
        while time.monotonic() < deadline:
            if WebhookDelivery.objects.filter(status="succeeded").count() >= expected and \
                    not WebhookDelivery.objects.exclude(status="succeeded").exists():
                break
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would arrive now
        deliveries = list(WebhookDelivery.objects.all())
        assert len(deliveries) == expected
        assert Counter(d.status for d in deliveries) == {"succeeded": expected}
        verified = [r for r in receiver.on("/hook") if r.payload is not None and r.answered == 200]
        assert not [r.verify_error for r in receiver.on("/hook") if r.verify_error]
        per_id = Counter(r.headers["webhook-id"] for r in verified)
        assert len(per_id) == expected and set(per_id.values()) == {1}, per_id.most_common(3)
        types = Counter(r.payload["type"] for r in verified)
        assert types == {"job.started": JOBS, "job.succeeded": JOBS}
        report("webhook receiver down", {
            "deliveries": expected, "down_s": round(up_at - down_at, 1), "refused_attempts": refused_attempts,
            "succeeded": len(deliveries), "received_once_per_id": len(per_id),
            "all_delivered_s_after_up": round(time.monotonic() - up_at - 1, 1),
        })
    finally:
        receiver.release.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        worker.stop()
        watcher.stop()
