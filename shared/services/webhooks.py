"""Webhooks: subscriptions, events written as deliveries in the transaction that causes them, and delivery.

The outbox: an event is a `WebhookDelivery` row per receiver, inserted in the same transaction as the job
transition, deployment change or catalog write behind it, and a task message published once it commits.
The row, not the broker, is the truth: `next_attempt_at` says when it is due, a worker claims it by moving
`next_attempt_at` forward by a lease (a conditional UPDATE), and the periodic sweep publishes due deliveries
whose message may be lost (a flushed Redis, a worker killed mid-request). A succeeded delivery is never
claimed again, so a duplicate message does nothing.

Per-request callbacks (`callback_url` on job-creating requests) have no subscription: they are signed with
WEBHOOK_CALLBACK_SECRET (or a secret derived from SECRET_KEY when unset), see `callback_secret()`.
"""
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import uuid
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from shared import url_guard, webhook_sender
from shared.errors import Conflict, ValidationFailed
from shared.metrics import observe_webhook_delivery
from shared.models import (
    App,
    DeploymentStatus,
    JobStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from shared.presenters import deployment_data, job_data, present_app
from shared.selectors.catalog import app_get
from shared.services.queue import enqueue_task, send_now
from shared.statements import execute

logger = logging.getLogger(__name__)

TASK_DELIVER = "maracker.webhooks.deliver"

JOB_EVENTS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
}
EVENT_TYPES = (
    "job.started", "job.succeeded", "job.failed", "job.cancelled",
    "deployment.unhealthy", "deployment.recovered",
    "app.created", "app.updated", "app.deleted",
)
PING = "webhook.ping"
CALLBACK_EVENTS = frozenset({"job.started", "job.succeeded", "job.failed", "job.cancelled"})
SWEEP_BATCH = 500
NO_ANSWER = "no outcome recorded: the worker stopped during the request"


# --- Secrets ------------------------------------------------------------------------------------------

def secret_generate():
    """A new signing secret: `whsec_` + base64 of 32 random bytes (the Standard Webhooks form)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def callback_secret():
    """The secret signing per-request callbacks: WEBHOOK_CALLBACK_SECRET, or one derived from SECRET_KEY."""
    if settings.WEBHOOK_CALLBACK_SECRET:
        return settings.WEBHOOK_CALLBACK_SECRET
    derived = hmac.new(settings.SECRET_KEY.encode(), b"maracker.webhooks.callback", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(derived).decode()


# --- Subscriptions -----------------------------------------------------------------------------------

def url_check(url, field="url"):
    """The SSRF guard for a URL a client gives; a 400 problem naming the field when refused."""
    try:
        return url_guard.check_url_from_settings(url)
    except url_guard.UnsafeURL as exc:
        raise ValidationFailed(exc.message, code=exc.code, errors={field: [exc.message]}) from None


def _clean(data, errors, *, partial):
    cleaned = {}
    if "url" in data or not partial:
        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            errors["url"] = ["This field is required." if url in (None, "") else "Must be a string."]
        elif len(url) > 2048:
            errors["url"] = ["At most 2048 characters."]
        else:
            try:
                url_guard.check_url_from_settings(url.strip())
                cleaned["url"] = url.strip()
            except url_guard.UnsafeURL as exc:
                errors["url"] = [exc.message]
    if "event_types" in data or not partial:
        types = data.get("event_types")
        if not isinstance(types, list) or not types:
            errors["event_types"] = ["A non-empty list of event types is required; one or more of "
                                     + ", ".join(EVENT_TYPES) + "."]
        else:
            bad = [t for t in types if not isinstance(t, str) or t not in EVENT_TYPES]
            if bad:
                errors["event_types"] = [f"Unknown event type {', '.join(map(repr, bad))}; one of "
                                         + ", ".join(EVENT_TYPES) + "."]
            else:
                cleaned["event_types"] = [t for t in EVENT_TYPES if t in types]
    if "app" in data:
        app = data["app"]
        if app is None:
            cleaned["app_ref"] = None
        elif isinstance(app, bool) or not isinstance(app, int):
            errors["app"] = ["Must be an app id (an integer) or null."]
        elif not App.objects.filter(pk=app).exists():
            errors["app"] = [f"No app has the id {app}."]
        else:
            cleaned["app_ref"] = app
    if "description" in data:
        description = data["description"]
        if description is None:
            description = ""
        if not isinstance(description, str) or len(description) > 255:
            errors["description"] = ["Must be a string of at most 255 characters."]
        else:
            cleaned["description"] = description
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = ["Must be true or false."]
        else:
            cleaned["active"] = data["active"]
    unknown = sorted(set(data) - {"url", "event_types", "app", "description", "active"})
    for key in unknown:
        errors[key] = ["Unknown field." if key != "secret" else "The secret is generated; rotate it instead."]
    return cleaned


def webhook_subscription_create(*, data, created_by=None):
    """Create a subscription from request-shaped data; returns (subscription, secret). The secret is only
    shown here and on rotation."""
    errors = {}
    cleaned = _clean(data, errors, partial=False)
    if errors:
        raise ValidationFailed("The subscription has invalid fields.", errors=errors)
    secret = secret_generate()
    subscription = WebhookSubscription.objects.create(secret=secret, created_by=created_by, **cleaned)
    return subscription, secret


def webhook_subscription_update(subscription, *, data, partial=True):
    """Change a subscription; turning it active again clears why it was disabled and its failure streak."""
    errors = {}
    cleaned = _clean(data, errors, partial=partial)
    if errors:
        raise ValidationFailed("The subscription has invalid fields.", errors=errors)
    if not partial:
        cleaned.setdefault("app_ref", None)
        cleaned.setdefault("description", "")
        cleaned.setdefault("active", True)
    if cleaned.get("active") and not subscription.active:
        cleaned.update(disabled_reason="", failing_since=None)
    with transaction.atomic():
        for field, value in cleaned.items():
            setattr(subscription, field, value)
        subscription.save()
    return subscription


def webhook_subscription_delete(subscription):
    """Delete a subscription with its deliveries and their attempts."""
    with transaction.atomic():
        subscription.delete()


def webhook_secret_rotate(subscription):
    """A new secret, effective at once (pending deliveries are signed with it); returned once."""
    secret = secret_generate()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(secret=secret, updated_at=timezone.now())
    subscription.refresh_from_db()
    return subscription, secret


# --- Events: outbox rows, written inside the caller's transaction ----------------------------------------

def _iso(value):
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@lru_cache(maxsize=None)
def _subscribers_sql():
    # Asked on every job transition and catalog write: one statement compiled once from the model's columns
    # rather than a queryset compiled per call (the compilation cost more than the query).
    meta = WebhookSubscription._meta
    column = lambda name: connection.ops.quote_name(meta.get_field(name).column)  # noqa: E731
    return (f"SELECT {column('id')}, {column('url')} FROM {connection.ops.quote_name(meta.db_table)} "
            f"WHERE {column('active')} AND {column('event_types')} @> %s::jsonb "
            f"AND ({column('app_ref')} IS NULL OR {column('app_ref')} = %s) ORDER BY {column('id')}")


def webhook_subscribers(event_type, app_id=None):
    """[(id, url)] of the active subscriptions that receive `event_type` of app `app_id`.

    `app_id` None (an app not created yet, or an event of no app): the subscriptions to every app only.
    """
    with connection.cursor() as cursor:
        execute(cursor, _subscribers_sql(), [json.dumps([event_type]), app_id])
        return cursor.fetchall()


def _schedule(deliveries):
    """Publish each new delivery's task once the transaction commits."""
    for delivery in deliveries:
        enqueue_task(TASK_DELIVER, str(delivery.pk))


def event_emit(event_type, data, *, app_id=None, job=None, callback_url="", subscribers=None):
    """Record the deliveries of one event: one per matching active subscription, plus the job's callback.

    Call it inside the transaction of the change it reports, so both commit or neither does. `subscribers`:
    what `webhook_subscribers` answered for this event, when the caller asked before its transaction.
    """
    now = timezone.now()
    payload = {"type": event_type, "timestamp": _iso(now), "data": None}
    if subscribers is None:
        subscribers = webhook_subscribers(event_type, app_id)
    rows = [
        WebhookDelivery(subscription_id=pk, url=url, event_type=event_type, payload=payload, job=job,
                        next_attempt_at=now, enqueued_for=now)
        for pk, url in subscribers
    ]
    if callback_url and event_type in CALLBACK_EVENTS and not _callback_gone(job, callback_url):
        rows.append(WebhookDelivery(url=callback_url, event_type=event_type, payload=payload, job=job,
                                    next_attempt_at=now, enqueued_for=now))
    if not rows:
        return []
    # `data` may be a function: it is built only when someone is to receive it.
    payload["data"] = data() if callable(data) else data
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    _schedule(deliveries)
    return deliveries


def _callback_gone(job, url):
    """A callback receiver that answered 410 Gone for this job gets no further events of it."""
    return job is not None and WebhookDelivery.objects.filter(
        job=job, subscription__isnull=True, url=url, status=WebhookDeliveryStatus.DISABLED
    ).exists()


def job_transitioned(job, source, target):
    """job.started on a job's first start, job.succeeded/failed/cancelled when it ends (in its transaction)."""
    if target == JobStatus.RUNNING and source == JobStatus.QUEUED and job.attempts <= 1:
        event_type = "job.started"
    else:
        event_type = JOB_EVENTS.get(target)
    if event_type is None:
        return []
    return event_emit(event_type, job_data(job), app_id=job.app_id, job=job, callback_url=job.callback_url)


def deployment_health_changed(deployment, old_status, new_status):
    """deployment.unhealthy when a deployment turns unhealthy, deployment.recovered when an unhealthy one
    runs healthy again. Call it inside the transaction that writes the new status; other moves send nothing.
    """
    if new_status == old_status:
        return []
    if new_status == DeploymentStatus.UNHEALTHY:
        event_type = "deployment.unhealthy"
    elif old_status == DeploymentStatus.UNHEALTHY and new_status == DeploymentStatus.RUNNING:
        event_type = "deployment.recovered"
    else:
        return []
    return event_emit(event_type, deployment_data(deployment), app_id=deployment.app_id)


def app_changed(app, event, *, subscribers=None):
    """app.created, app.updated or app.deleted (`event` is "created", "updated", "deleted" or the full type).

    Call it inside the catalog write's transaction; for a deletion, before the row is deleted.
    """
    event_type = event if event.startswith("app.") else f"app.{event}"
    if event_type not in ("app.created", "app.updated", "app.deleted"):
        raise ValueError(f"unknown app event {event!r}")
    # Read afresh: the caller's object may carry relations cached before its own write.
    return event_emit(event_type, lambda: present_app(app_get(app.pk)), app_id=app.pk,
                      subscribers=subscribers)


def webhook_ping(subscription):
    """Send a webhook.ping to a subscription, whatever event types it chose."""
    if not subscription.active:
        raise Conflict("The subscription is disabled; activate it first.", code="webhook_disabled",
                       errors={"active": [subscription.disabled_reason or "The subscription is not active."]})
    now = timezone.now()
    payload = {"type": PING, "timestamp": _iso(now),
               "data": {"subscription": subscription.pk, "url": subscription.url,
                        "message": "Maracker says hello: this endpoint receives its webhooks."}}
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(subscription=subscription, url=subscription.url, event_type=PING,
                                                  payload=payload, next_attempt_at=now, enqueued_for=now)
        _schedule([delivery])
    return delivery


def webhook_redeliver(delivery):
    """Send a delivery's event again as a new delivery (a new webhook-id, the same body), whatever its status."""
    subscription = delivery.subscription
    if subscription is not None and not subscription.active:
        raise Conflict("The subscription is disabled; activate it first.", code="webhook_disabled",
                       errors={"active": [subscription.disabled_reason or "The subscription is not active."]})
    now = timezone.now()
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            subscription=subscription, job_id=delivery.job_id, redelivery_of=delivery,
            url=subscription.url if subscription is not None else delivery.url,
            event_type=delivery.event_type, payload=delivery.payload, next_attempt_at=now, enqueued_for=now,
        )
        _schedule([copy])
    return copy


# --- Delivery -------------------------------------------------------------------------------------------

def retry_delay(attempt):
    """Seconds to wait before attempt number `attempt + 1` (after `attempt` failed ones), with jitter; None
    when the schedule is exhausted."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempt >= len(schedule):
        return None
    delay = schedule[attempt]
    jitter = settings.WEBHOOK_RETRY_JITTER
    return max(0.0, delay * random.uniform(1 - jitter, 1 + jitter))


def delivery_claim(delivery_id, now=None):
    """Take a due pending delivery for one attempt (a lease on next_attempt_at); None when not ours to send."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)),
        pk=delivery_id, status=WebhookDeliveryStatus.PENDING,
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease, enqueued_for=None, updated_at=now)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)


def webhook_deliver(delivery_id):
    """One attempt at a delivery. Safe to run twice or concurrently: only the claimant sends."""
    try:
        delivery_id = uuid.UUID(str(delivery_id))
    except ValueError:
        return None
    with transaction.atomic():  # one commit for the claim and the attempt row
        delivery = delivery_claim(delivery_id)
        if delivery is None:
            return None
        subscription = delivery.subscription
        if subscription is not None and not subscription.active:
            _finish(delivery, WebhookDeliveryStatus.DISABLED, error=f"subscription disabled: "
                    f"{subscription.disabled_reason or 'not active'}")
            return delivery
        # Written before the request: a worker killed during it leaves this row saying so.
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts, error=NO_ANSWER)
    secret = subscription.secret if subscription is not None else callback_secret()
    body = webhook_sender.encode_body(delivery.payload)
    try:
        # Checked again now, against the addresses the request will connect to (DNS may have changed).
        checked = url_guard.check_url_from_settings(delivery.url)
    except url_guard.UnsafeURL as exc:
        result = webhook_sender.SendResult(None, 0, error=f"refused: {exc.message}")
    else:
        headers = webhook_sender.signed_headers(secret, str(delivery.pk), body)
        result = webhook_sender.send(checked, body, headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    return delivery_record(delivery, result, attempt=attempt)


def delivery_record(delivery, result, *, attempt=None, now=None):
    """Write the attempt and what follows from it, in one transaction: success, a retry, failure, or a
    disabled subscription."""
    now = now or timezone.now()
    with transaction.atomic():
        _record(delivery, result, attempt, now)
    return delivery


def _record(delivery, result, attempt, now):
    outcome = {"status_code": result.status_code, "duration_ms": result.duration_ms,
               "response_body": result.body[:webhook_sender.RESPONSE_KEEP_BYTES], "error": result.error[:2000]}
    if attempt is None:
        WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts, **outcome)
    else:
        WebhookAttempt.objects.filter(pk=attempt.pk).update(**outcome)
    subscription = delivery.subscription
    if result.ok:
        _count("delivered")
        _finish(delivery, WebhookDeliveryStatus.SUCCEEDED, status_code=result.status_code, now=now)
        if subscription is not None and subscription.failing_since is not None:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(failing_since=None, updated_at=now)
        return
    error = result.error or f"answered {result.status_code}"
    if result.status_code == 410:
        reason = f"The receiver answered 410 Gone at {_iso(now)}."
        _count("disabled")
        _finish(delivery, WebhookDeliveryStatus.DISABLED, status_code=410, error=reason, now=now)
        if subscription is not None:
            subscription_disable(subscription, reason, now=now)
        return
    if subscription is not None:
        WebhookSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=True).update(
            failing_since=now, updated_at=now)
        subscription.refresh_from_db(fields=["failing_since", "active"])
        limit = timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
        if subscription.failing_since and now - subscription.failing_since >= limit:
            reason = (f"Disabled at {_iso(now)}: every delivery failed since {_iso(subscription.failing_since)} "
                      f"(over {limit.days} days); last error: {error[:200]}")
            _count("disabled")
            _finish(delivery, WebhookDeliveryStatus.DISABLED, status_code=result.status_code, error=reason, now=now)
            subscription_disable(subscription, reason, now=now)
            return
    delay = retry_delay(delivery.attempts)
    if delay is None:
        _count("gave_up")
        _finish(delivery, WebhookDeliveryStatus.FAILED, status_code=result.status_code,
                error=f"{error} (gave up after {delivery.attempts} attempts)", now=now)
        return
    _count("retried")
    due = now + timedelta(seconds=delay)
    countdown = delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS
    moved = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDeliveryStatus.PENDING, attempts=delivery.attempts,
    ).update(next_attempt_at=due, enqueued_for=due if countdown else None, last_status_code=result.status_code,
             last_error=error[:2000], updated_at=now)
    if moved and countdown:
        enqueue_task(TASK_DELIVER, str(delivery.pk), countdown=delay)


def _count(outcome):
    """Count an attempt's outcome on /metrics once the delivery's row is committed."""
    transaction.on_commit(lambda: observe_webhook_delivery(outcome))


def _finish(delivery, status, *, status_code=None, error="", now=None):
    """End a delivery, unless another worker took it over after this one's lease ran out."""
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDeliveryStatus.PENDING, attempts=delivery.attempts,
    ).update(status=status, next_attempt_at=None, enqueued_for=None, last_status_code=status_code,
             last_error=error[:2000], updated_at=now)


def subscription_disable(subscription, reason, now=None):
    """Turn a subscription off with the reason, and its pending deliveries with it."""
    now = now or timezone.now()
    with transaction.atomic():  # a savepoint when called from a delivery's transaction
        WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False, disabled_reason=reason,
                                                                      updated_at=now)
        WebhookDelivery.objects.filter(subscription_id=subscription.pk, status=WebhookDeliveryStatus.PENDING).update(
            status=WebhookDeliveryStatus.DISABLED, next_attempt_at=None, enqueued_for=None,
            last_error="subscription disabled: " + reason[:1900], updated_at=now)
    logger.warning("webhook subscription %s disabled: %s", subscription.pk, reason)


def webhook_sweep(now=None):
    """Publish due pending deliveries whose message may be lost (never published, flushed, or its worker
    died mid-request and its lease ran out). Returns how many were published."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    due = Q(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(enqueued_for__isnull=True) | Q(enqueued_for__lt=stale)
    )
    ids = list(WebhookDelivery.objects.filter(due).order_by("next_attempt_at")
               .values_list("pk", flat=True)[:SWEEP_BATCH])
    published = 0
    for pk in ids:
        if WebhookDelivery.objects.filter(due, pk=pk).update(enqueued_for=now):
            if send_now(TASK_DELIVER, str(pk)):
                published += 1
    if published:
        logger.info("webhook sweep: published %d due deliveries", published)
    return published

