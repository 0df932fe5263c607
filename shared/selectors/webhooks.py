"""Reads of webhook subscriptions, their deliveries and attempts."""
import uuid

from django.db.models import Prefetch

from shared.errors import NotFound
from shared.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


def webhook_subscription_list():
    return WebhookSubscription.objects.order_by("id")


def webhook_subscription_get(subscription_id):
    try:
        pk = int(str(subscription_id))
    except ValueError:
        raise NotFound(f"No webhook subscription has the id {subscription_id!r}.") from None
    subscription = WebhookSubscription.objects.filter(pk=pk).first()
    if subscription is None:
        raise NotFound(f"No webhook subscription has the id {subscription_id}.")
    return subscription


def webhook_delivery_list(subscription, *, status=None):
    """A subscription's deliveries, newest first, each with its attempts."""
    queryset = (
        WebhookDelivery.objects.filter(subscription=subscription)
        .prefetch_related(Prefetch("attempts_log", queryset=WebhookAttempt.objects.order_by("number", "id")))
        .order_by("-created_at", "-pk")
    )
    if status:
        queryset = queryset.filter(status__in=status.split(","))
    return queryset


def webhook_delivery_get(delivery_id):
    try:
        pk = uuid.UUID(str(delivery_id))
    except ValueError:
        raise NotFound(f"No webhook delivery has the id {delivery_id!r}.") from None
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=pk).first()
    if delivery is None:
        raise NotFound(f"No webhook delivery has the id {delivery_id}.")
    return delivery
