"""Webhook services: the SSRF guard, events written in the causing transaction, signed delivery to a real
receiver, retries, 410, the five-day rule, claims and the sweep."""
import ipaddress
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from shared import url_guard
from shared.models import (
    Deployment,
    JobStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.services import catalog, jobs
from shared.services import webhooks as hooks
from shared.services.deployments import deployment_sync_from_app

pytestmark = pytest.mark.django_db

LOOPBACK_OK = override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True,
                                WEBHOOK_RETRY_SCHEDULE=[0, 5, 300], WEBHOOK_TIMEOUT_SECONDS=1)


def subscribe(url, types=hooks.EVENT_TYPES, **data):
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True):
        subscription, secret = hooks.webhook_subscription_create(
            data={"url": url, "event_types": list(types), **data})
    return subscription, secret


# --- The guard ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, words", [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://10.0.0.1/hook", "private"),
    ("https://192.168.1.10/", "private"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://localhost:8443/hook", "localhost resolves to"),
    ("https://[::1]/hook", "loopback"),
    ("https://[::ffff:127.0.0.1]/hook", "as ::ffff:7f00:1"),
    ("https://[::ffff:10.0.0.1]/hook", "private"),
    ("https://[::127.0.0.1]/hook", "loopback"),          # IPv4-compatible form
    ("https://[64:ff9b::a9fe:a9fe]/hook", "metadata"),   # NAT64 of 169.254.169.254
    ("https://[2002:7f00:1::]/hook", "loopback"),        # 6to4 of 127.0.0.1
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fc00::1]/", "unique-local"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://100.64.0.1/", "not a public address"),
    ("https://2130706433/", "loopback"),                  # 127.0.0.1 as one integer
    ("https://metadata.google.internal/", "metadata host"),
])
def test_the_guard_refuses_internal_addresses(url, words):
    with pytest.raises(url_guard.UnsafeURL) as caught:
        url_guard.check_url(url)
    assert words in caught.value.message


def test_the_guard_wants_https_unless_allowed_and_a_real_url():
    with pytest.raises(url_guard.UnsafeURL, match="https"):
        url_guard.check_url("http://93.184.215.14/hook")
    assert url_guard.check_url("http://93.184.215.14/hook", allow_http=True).port == 80
    for bad in ("ftp://93.184.215.14/", "https://", "not a url", "https://93.184.215.14:99999/", ""):
        with pytest.raises(url_guard.UnsafeURL):
            url_guard.check_url(bad)


def test_allowing_private_addresses_opens_loopback_but_never_metadata():
    checked = url_guard.check_url("http://localhost:8123/a?b=1", allow_private=True, allow_http=True)
    assert ipaddress.ip_address("127.0.0.1") in checked.addresses or ipaddress.ip_address("::1") in checked.addresses
    assert checked.path == "/a?b=1" and checked.host_header == "localhost:8123"
    url_guard.check_url("https://[::ffff:127.0.0.1]/", allow_private=True)
    for url in ("https://169.254.169.254/", "https://[fd00:ec2::254]/", "https://[::ffff:169.254.169.254]/"):
        with pytest.raises(url_guard.UnsafeURL, match="metadata"):
            url_guard.check_url(url, allow_private=True)


def test_a_name_with_one_public_and_one_internal_address_is_refused():
    def resolver(host, port):
        return (ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.1.2.3"))

    with pytest.raises(url_guard.UnsafeURL, match="receiver.example resolves to 10.1.2.3"):
        url_guard.check_url("https://receiver.example/", resolver=resolver)
    public = url_guard.check_url("https://receiver.example/",
                                 resolver=lambda h, p: (ipaddress.ip_address("93.184.215.14"),))
    assert public.host == "receiver.example" and public.port == 443


# --- Subscriptions ------------------------------------------------------------------------------------

def test_a_subscription_gets_a_whsec_secret_and_rotation_replaces_it():
    subscription, secret = subscribe("http://127.0.0.1:9/hook", ["job.failed"])
    assert secret.startswith("whsec_") and subscription.secret == secret
    _, rotated = hooks.webhook_secret_rotate(subscription)
    assert rotated != secret and WebhookSubscription.objects.get(pk=subscription.pk).secret == rotated


def test_bad_subscription_fields_are_named():
    with pytest.raises(hooks.ValidationFailed) as caught:
        hooks.webhook_subscription_create(data={"url": "https://10.0.0.1/", "event_types": ["job.exploded"],
                                                "app": 999999, "active": "yes", "secret": "whsec_x"})
    assert set(caught.value.errors) == {"url", "event_types", "app", "active", "secret"}
    assert WebhookSubscription.objects.count() == 0


# --- Events are deliveries written in the causing transaction -------------------------------------------

def test_a_job_moving_writes_deliveries_in_its_transaction_and_a_rollback_writes_none(make_app):
    app, config = make_app()
    subscription, _ = subscribe("http://127.0.0.1:9/hook", ["job.started", "job.succeeded"])
    job, _ = jobs.job_create(kind="deploy", config=config, callback_url="http://127.0.0.1:9/callback")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            jobs.job_transition(job, JobStatus.QUEUED, JobStatus.RUNNING)
            assert WebhookDelivery.objects.count() == 2
            raise RuntimeError("the transition's transaction fails")
    assert WebhookDelivery.objects.count() == 0

    job.refresh_from_db()
    jobs.job_claim(job.pk)
    started = list(WebhookDelivery.objects.filter(event_type="job.started"))
    assert {d.subscription_id for d in started} == {subscription.pk, None}
    assert {d.url for d in started} == {"http://127.0.0.1:9/hook", "http://127.0.0.1:9/callback"}
    body = started[0].payload
    assert body["type"] == "job.started" and body["data"]["id"] == str(job.pk)
    assert body["data"]["status"] == "running" and body["timestamp"].endswith("Z")
    assert body["data"] == json.loads(json.dumps(body["data"]))  # the API's job shape, JSON-ready

    # A retry goes back to queued and starts again: no second job.started.
    job = jobs.job_transition(job, JobStatus.RUNNING, JobStatus.QUEUED)
    jobs.job_claim(job.pk)
    assert WebhookDelivery.objects.filter(event_type="job.started").count() == 2
    job.refresh_from_db()
    jobs.job_mark_succeeded(job)
    assert WebhookDelivery.objects.filter(event_type="job.succeeded").count() == 2


def test_event_types_app_filter_and_inactive_subscriptions_decide_who_gets_what(make_app):
    app, config = make_app()
    other, other_config = make_app()
    everything, _ = subscribe("http://127.0.0.1:9/all")
    only_app, _ = subscribe("http://127.0.0.1:9/app", ["job.cancelled"], app=app.pk)
    off, _ = subscribe("http://127.0.0.1:9/off", ["job.cancelled"], active=False)
    failed_only, _ = subscribe("http://127.0.0.1:9/failed", ["job.failed"])
    for cfg in (config, other_config):
        job, _ = jobs.job_create(kind="deploy", config=cfg)
        jobs.job_request_cancel(job)
    receivers = sorted(WebhookDelivery.objects.filter(event_type="job.cancelled").values_list("url", flat=True))
    assert receivers == ["http://127.0.0.1:9/all", "http://127.0.0.1:9/all", "http://127.0.0.1:9/app"]


def test_deployment_health_changes_send_unhealthy_and_recovered(make_app):
    app, config = make_app()
    subscribe("http://127.0.0.1:9/d", ["deployment.unhealthy", "deployment.recovered"])
    deployment = Deployment.objects.create(marathon_app_id="/maracker/x/1", app=app, config=config, status="running")
    info = SimpleNamespace(definition={"healthChecks": [{}]}, deployment_ids=[], instances=2, version="v",
                           tasks_staged=0, tasks_running=2, tasks_healthy=1, tasks_unhealthy=1, tasks=[],
                           last_task_failure="")
    deployment_sync_from_app(deployment.marathon_app_id, info)
    deployment_sync_from_app(deployment.marathon_app_id, info)  # still unhealthy: nothing new
    info.tasks_healthy, info.tasks_unhealthy = 2, 0
    deployment_sync_from_app(deployment.marathon_app_id, info)
    sent = list(WebhookDelivery.objects.order_by("created_at").values_list("event_type", "payload"))
    assert [t for t, _ in sent] == ["deployment.unhealthy", "deployment.recovered"]
    assert sent[0][1]["data"]["status"] == "unhealthy" and sent[1][1]["data"]["id"] == deployment.pk
    assert hooks.deployment_health_changed(deployment, "deploying", "running") == []


def test_catalog_writes_send_app_events():
    subscribe("http://127.0.0.1:9/apps", ["app.created", "app.updated", "app.deleted"])
    app = catalog.app_create(name="hooked", docker_container={"image": "nginx", "ports": [80]},
                             marathon_configs=[{"cpu": 0.1, "memory": 64}])
    catalog.app_update(app, data={"description": "changed"}, partial=True)
    pk = app.pk
    catalog.app_delete(app)
    sent = list(WebhookDelivery.objects.order_by("created_at").values_list("event_type", "payload"))
    assert [t for t, _ in sent] == ["app.created", "app.updated", "app.deleted"]
    assert sent[0][1]["data"]["docker_container"]["image"] == "nginx"
    assert sent[1][1]["data"]["description"] == "changed" and sent[2][1]["data"]["id"] == pk


def test_configuration_and_container_changes_are_app_updates_shaped_as_the_api_shows_apps():
    subscribe("http://127.0.0.1:9/apps", ["app.updated"])
    app = catalog.app_create(name="hooked", docker_container={"image": "nginx", "ports": [80]},
                             marathon_configs=[{"cpu": 0.1, "memory": 64}])
    config = app.marathon_configs.get()
    catalog.marathon_config_update(config, data={"memory": 128}, partial=True)
    catalog.marathon_config_update(config, data={"memory": 128}, partial=True)  # no change: no event
    catalog.container_update(app.docker_container, data={"ports": [8080]}, partial=True)
    added = catalog.marathon_config_create(app, data={"cpu": 0.5, "memory": 256})
    catalog.marathon_config_delete(added)
    sent = [payload["data"] for payload in WebhookDelivery.objects.order_by("created_at").values_list("payload",
                                                                                                     flat=True)]
    assert len(sent) == 4
    assert sent[0]["marathon_configs"][0]["memory"] == 128 and sent[0]["marathon_configs"][0]["deployment"] is None
    assert sent[1]["docker_container"]["ports"] == [8080]
    assert [len(data["marathon_configs"]) for data in sent[2:]] == [2, 1]


# --- Delivery ---------------------------------------------------------------------------------------------

def ping(receiver, path="/hook", *answers):
    subscription, secret = subscribe(receiver.url(path), ["job.failed"])
    receiver.expect(path, secret, *answers)
    return hooks.webhook_ping(subscription)


@LOOPBACK_OK
def test_a_delivery_is_signed_sent_once_and_recorded(webhook_receiver):
    delivery = ping(webhook_receiver)
    hooks.webhook_deliver(delivery.pk)
    hooks.webhook_deliver(delivery.pk)  # a duplicate message: nothing is sent again
    [request] = webhook_receiver.on("/hook")
    assert request.payload["type"] == "webhook.ping" and not request.verify_error
    assert request.headers["webhook-id"] == str(delivery.pk)
    assert request.headers["webhook-signature"].startswith("v1,")
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.next_attempt_at is None
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code == 200 and attempt.response_body == '{"ok": true}' and attempt.error == ""


@LOOPBACK_OK
def test_a_name_is_sent_its_host_header_while_the_connection_goes_to_the_checked_address(webhook_receiver):
    subscription, secret = subscribe(webhook_receiver.url("/named", host="localhost"), ["job.failed"])
    webhook_receiver.expect("/named", secret)
    hooks.webhook_deliver(hooks.webhook_ping(subscription).pk)
    [request] = webhook_receiver.on("/named")
    assert request.headers["host"] == f"localhost:{webhook_receiver.port}" and request.payload


@LOOPBACK_OK
def test_a_500_schedules_a_retry_then_the_schedule_runs_out(webhook_receiver):
    delivery = ping(webhook_receiver, "/hook", (500, 0))
    hooks.webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 3.5 < wait < 5.5  # 5 s with 10 % jitter
    hooks.webhook_deliver(delivery.pk)  # not due yet: left alone
    assert delivery.attempts == WebhookDelivery.objects.get(pk=delivery.pk).attempts
    assert WebhookSubscription.objects.get(pk=delivery.subscription_id).failing_since is not None
    for _ in range(2):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        hooks.webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3 and "gave up after 3" in delivery.last_error
    assert [a.status_code for a in delivery.attempts_log.all()] == [500, 500, 500]


@LOOPBACK_OK
def test_a_timeout_is_an_attempt_with_its_error(webhook_receiver):
    delivery = ping(webhook_receiver, "/slow", (200, 3))
    hooks.webhook_deliver(delivery.pk)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "timed out" in attempt.error
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


@LOOPBACK_OK
def test_410_disables_the_subscription_and_its_pending_deliveries(webhook_receiver):
    delivery = ping(webhook_receiver, "/gone", (410, 0))
    other = hooks.webhook_ping(delivery.subscription)
    hooks.webhook_deliver(delivery.pk)
    subscription = WebhookSubscription.objects.get(pk=delivery.subscription_id)
    assert not subscription.active and "410 Gone" in subscription.disabled_reason
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "disabled"
    assert WebhookDelivery.objects.get(pk=other.pk).status == "disabled"
    with pytest.raises(hooks.Conflict):
        hooks.webhook_ping(subscription)
    hooks.webhook_subscription_update(subscription, data={"active": True})
    subscription.refresh_from_db()
    assert subscription.active and subscription.disabled_reason == "" and subscription.failing_since is None


@LOOPBACK_OK
def test_failing_for_five_days_straight_disables_the_subscription(webhook_receiver):
    delivery = ping(webhook_receiver, "/down", (503, 0))
    WebhookSubscription.objects.filter(pk=delivery.subscription_id).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1))
    hooks.webhook_deliver(delivery.pk)
    subscription = WebhookSubscription.objects.get(pk=delivery.subscription_id)
    assert not subscription.active and "every delivery failed since" in subscription.disabled_reason
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "disabled"


@LOOPBACK_OK
def test_success_ends_a_failure_streak(webhook_receiver):
    delivery = ping(webhook_receiver)
    WebhookSubscription.objects.filter(pk=delivery.subscription_id).update(failing_since=timezone.now())
    hooks.webhook_deliver(delivery.pk)
    assert WebhookSubscription.objects.get(pk=delivery.subscription_id).failing_since is None


@LOOPBACK_OK
def test_the_guard_runs_again_at_delivery_time(webhook_receiver):
    delivery = ping(webhook_receiver)
    with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
        hooks.webhook_deliver(delivery.pk)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error.startswith("refused: ") and "loopback" in attempt.error
    assert webhook_receiver.on("/hook") == []


@LOOPBACK_OK
def test_callbacks_are_signed_with_the_callback_secret(webhook_receiver, make_app):
    app, config = make_app()
    job, _ = jobs.job_create(kind="deploy", config=config, callback_url=webhook_receiver.url("/cb"))
    webhook_receiver.expect("/cb", hooks.callback_secret())
    jobs.job_claim(job.pk)
    [delivery] = WebhookDelivery.objects.filter(job=job)
    hooks.webhook_deliver(delivery.pk)
    [request] = webhook_receiver.on("/cb")
    assert request.payload["type"] == "job.started" and request.payload["data"]["id"] == str(job.pk)
    with override_settings(WEBHOOK_CALLBACK_SECRET="whsec_" + "A" * 44):
        assert hooks.callback_secret() == "whsec_" + "A" * 44


def test_redelivery_is_a_new_delivery_with_the_same_body():
    subscription, _ = subscribe("http://127.0.0.1:9/hook", ["job.failed"])
    first = hooks.webhook_ping(subscription)
    WebhookDelivery.objects.filter(pk=first.pk).update(status="succeeded")
    copy = hooks.webhook_redeliver(first)
    assert copy.pk != first.pk and copy.redelivery_of_id == first.pk
    assert copy.payload == first.payload and copy.status == "pending"


def test_one_claim_wins_and_a_lapsed_lease_lets_the_sweep_send_again():
    subscription, _ = subscribe("http://127.0.0.1:9/hook", ["job.failed"])
    delivery = hooks.webhook_ping(subscription)
    assert hooks.delivery_claim(delivery.pk) is not None
    assert hooks.delivery_claim(delivery.pk) is None  # in flight elsewhere
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("webhooks")
    assert hooks.webhook_sweep() == 0  # the lease has not run out
    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)
    assert hooks.webhook_sweep(now=later) == 1
    assert hooks.webhook_sweep(now=later) == 0  # just published: not again before WEBHOOK_REQUEUE_AFTER_SECONDS
    assert client.llen("webhooks") == 1
    client.delete("webhooks")


def test_the_sweep_leaves_a_delivery_alone_while_its_message_may_still_come():
    subscription, _ = subscribe("http://127.0.0.1:9/hook", ["job.failed"])
    delivery = hooks.webhook_ping(subscription)
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("webhooks")
    assert hooks.webhook_sweep() == 0
    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS + 1)
    assert hooks.webhook_sweep(now=later) == 1
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="succeeded")
    assert hooks.webhook_sweep(now=later + timedelta(hours=1)) == 0
    client.delete("webhooks")


def test_retry_delays_follow_the_standard_webhooks_schedule_with_jitter():
    with override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
                           WEBHOOK_RETRY_JITTER=0.1):
        delays = [hooks.retry_delay(n) for n in range(1, 9)]
    assert delays[-1] is None
    for delay, nominal in zip(delays, [5, 300, 1800, 7200, 18000, 36000, 36000]):
        assert nominal * 0.9 <= delay <= nominal * 1.1
