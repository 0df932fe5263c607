"""Webhooks delivered by real Celery workers to a real receiver that verifies signatures with standardwebhooks.

The module runs its own Redis server and workers (with beat, for the sweep), so that no other worker of the
session takes its deliveries.
"""
import json
import signal
import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from shared.models import Deployment, WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.services import catalog, jobs
from shared.services import webhooks as hooks
from tests.fixtures.celery_worker import start_worker
from tests.fixtures.jobs import wait_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


CALLBACK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.6,1",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_REQUEUE_AFTER_SECONDS": "1",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "WEBHOOK_CALLBACK_SECRET": CALLBACK_SECRET,
}
ALLOW_LOOPBACK = override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)


@pytest.fixture(scope="module")
def hook_worker(django_db_setup, django_db_blocker, marathon_sim_server, private_redis, isolated_celery,
                tmp_path_factory):
    handle = start_worker(str(tmp_path_factory.mktemp("hooks")), marathon_sim_server.url,
                          queues="deploy,webhooks,maintenance", beat=True, REDIS_URL=private_redis.url, **WEBHOOK_ENV)
    yield handle
    handle.stop()


@pytest.fixture
def receiver(hook_worker, webhook_receiver):
    return webhook_receiver


def subscribe(receiver, path, types=hooks.EVENT_TYPES, *answers):
    with ALLOW_LOOPBACK:
        subscription, secret = hooks.webhook_subscription_create(
            data={"url": receiver.url(path), "event_types": list(types)})
    receiver.expect(path, secret, *answers)
    return subscription


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body) if body is not None else None, content_type="application/json")


def wait_delivery(pk, statuses=("succeeded", "failed", "disabled"), timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get(pk=pk)
        if delivery.status in statuses:
            return delivery
        time.sleep(0.05)
    raise AssertionError(f"delivery {pk} is {delivery.status}: {list(delivery.attempts_log.values())}")


def test_every_event_type_arrives_signed(client, receiver, marathon_sim, make_app):
    subscribe(receiver, "/all")
    receiver.expect("/cb", CALLBACK_SECRET)
    app, config = make_app()

    with ALLOW_LOOPBACK:
        response = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy", {"callback_url": receiver.url("/cb")})
    deployed = wait_job(response.json()["id"])
    assert deployed.status == "succeeded", deployed.last_error

    marathon_sim.fail_next(1, 422, path_prefix="/v2/apps",
                           body={"message": "Object is not valid", "details": [{"path": "/cpus", "errors": ["x"]}]})
    _, other = make_app()
    assert wait_job(post(client, f"/api/v1/marathon-configs/{other.pk}/deploy").json()["id"]).status == "failed"

    with transaction.atomic():
        queued, _ = jobs.job_create(kind="deploy", config=other)
        jobs.job_request_cancel(queued)  # cancelled before any worker sees it

    deployment = Deployment.objects.get(marathon_app_id=deployed.marathon_app_id)
    with transaction.atomic():
        hooks.deployment_health_changed(deployment, "running", "unhealthy")
    with transaction.atomic():
        hooks.deployment_health_changed(deployment, "unhealthy", "running")

    created = catalog.app_create(name=f"hooked-{uuid.uuid4().hex[:6]}", docker_container={"image": "nginx"})
    catalog.app_update(created, data={"description": "new words"}, partial=True)
    catalog.app_delete(created)
    subscription = WebhookSubscription.objects.get()
    assert post(client, f"/api/v1/webhooks/{subscription.pk}/ping").status_code == 202

    expected = set(hooks.EVENT_TYPES) | {"webhook.ping"}
    requests = receiver.wait_for("/all", predicate=lambda r: r.payload is not None, count=len(expected) + 1)
    assert all(not r.verify_error for r in receiver.on("/all"))
    types = [r.payload["type"] for r in requests]
    assert set(types) == expected
    assert sorted(types).count("job.started") == 2  # the deploy that succeeded and the one that failed
    by_type = {r.payload["type"]: r for r in requests}
    assert by_type["job.succeeded"].payload["data"]["id"] == str(deployed.pk)
    assert by_type["job.succeeded"].payload["data"]["status"] == "succeeded"
    assert by_type["job.failed"].payload["data"]["last_error"]["code"] == "marathon_rejected"
    assert by_type["job.cancelled"].payload["data"]["id"] == str(queued.pk)
    assert by_type["deployment.unhealthy"].payload["data"]["marathon_app_id"] == deployed.marathon_app_id
    assert by_type["app.deleted"].payload["data"]["name"] == created.name
    for request in requests:
        assert set(request.payload) == {"type", "timestamp", "data"}
        assert wait_delivery(request.headers["webhook-id"]).status == "succeeded"

    callbacks = receiver.wait_for("/cb", count=2)
    assert [r.payload["type"] for r in callbacks] == ["job.started", "job.succeeded"]
    assert all(r.payload["data"]["id"] == str(deployed.pk) for r in callbacks)


def test_retries_after_a_500_and_a_timeout_then_success(receiver):
    subscription = subscribe(receiver, "/flaky", ["job.failed"], (500, 0), (200, 2.5), (200, 0))
    delivery = wait_delivery(hooks.webhook_ping(subscription).pk)
    assert delivery.status == "succeeded" and delivery.attempts == 3
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.status_code for a in attempts] == [500, None, 200]
    assert "timed out" in attempts[1].error and attempts[0].response_body == '{"ok": false}'
    requests = receiver.on("/flaky")
    assert len(requests) == 3 and {r.headers["webhook-id"] for r in requests} == {str(delivery.pk)}
    assert all(r.payload["type"] == "webhook.ping" for r in requests)
    assert WebhookSubscription.objects.get(pk=subscription.pk).failing_since is None


def test_the_schedule_runs_out_and_the_delivery_fails(receiver):
    subscription = subscribe(receiver, "/down", ["job.failed"], (503, 0))
    delivery = wait_delivery(hooks.webhook_ping(subscription).pk)
    assert delivery.status == "failed" and delivery.attempts == 4 and delivery.last_status_code == 503
    assert len(receiver.on("/down")) == 4


def test_redelivery_sends_the_same_body_under_a_new_id(client, receiver):
    subscription = subscribe(receiver, "/again", ["job.failed"])
    first = wait_delivery(hooks.webhook_ping(subscription).pk)
    response = post(client, f"/api/v1/webhook-deliveries/{first.pk}/redeliver")
    assert response.status_code == 202
    second = wait_delivery(response.json()["id"])
    assert second.status == "succeeded"
    one, two = receiver.wait_for("/again", count=2)
    assert one.headers["webhook-id"] == str(first.pk) and two.headers["webhook-id"] == str(second.pk)
    assert one.body == two.body


def test_410_gone_disables_the_subscription(client, receiver):
    subscription = subscribe(receiver, "/gone", ["job.failed"], (410, 0))
    delivery = wait_delivery(hooks.webhook_ping(subscription).pk)
    assert delivery.status == "disabled" and delivery.attempts == 1
    subscription.refresh_from_db()
    assert not subscription.active and "410 Gone" in subscription.disabled_reason
    body = client.get(f"/api/v1/webhooks/{subscription.pk}").json()
    assert body["active"] is False and "410" in body["disabled_reason"]
    assert post(client, f"/api/v1/webhooks/{subscription.pk}/ping").status_code == 409


def test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep(receiver):
    subscription = subscribe(receiver, "/lost", ["job.failed"])
    now = timezone.now()
    lost = WebhookDelivery.objects.create(subscription=subscription, url=subscription.url, event_type="webhook.ping",
                                          payload={"type": "webhook.ping", "timestamp": "x", "data": {}},
                                          next_attempt_at=now, enqueued_for=now)  # no message published
    assert wait_delivery(lost.pk).status == "succeeded"


def test_a_worker_killed_during_a_delivery_loses_nothing(receiver, private_redis, isolated_celery, marathon_sim_server,
                                                         tmp_path):
    """SIGKILL while the receiver holds the request: the lease runs out, the sweep publishes it again, and
    another worker completes it."""
    subscription = subscribe(receiver, "/hang", ["job.failed"], (200, 60), (200, 0))
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, url=subscription.url, event_type="webhook.ping",
        payload={"type": "webhook.ping", "timestamp": now.isoformat(), "data": {"n": 1}},
        next_attempt_at=now, enqueued_for=now + timedelta(hours=1),  # the sweep keeps off until claimed
    )
    victim = start_worker(str(tmp_path), marathon_sim_server.url, queues="webhooks-victim",
                          REDIS_URL=private_redis.url, **{**WEBHOOK_ENV, "WEBHOOK_TIMEOUT_SECONDS": "30",
                                                      "WEBHOOK_LEASE_SECONDS": "61"})
    try:
        isolated_celery.send_task(hooks.TASK_DELIVER, args=[str(delivery.pk)], queue="webhooks-victim")
        receiver.wait_for("/hang", count=1)
        victim.stop(sig=signal.SIGKILL)  # the whole worker, while the receiver holds the request
        assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"
        # Rather than wait out the victim's 61 s lease, move it to now as if that time had passed.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    finally:
        victim.stop(sig=signal.SIGKILL)
    done = wait_delivery(delivery.pk)
    assert done.status == "succeeded" and done.attempts == 2
    first, second = WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
    assert first.error == hooks.NO_ANSWER and first.status_code is None and second.status_code == 200
    requests = receiver.wait_for("/hang", count=2)
    assert {r.headers["webhook-id"] for r in requests} == {str(delivery.pk)}
