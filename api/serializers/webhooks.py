"""Serializers of webhook subscriptions, deliveries and attempts (request bodies are checked by the service)."""
from rest_framework import serializers

from shared.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.services.webhooks import EVENT_TYPES


class WebhookRequestSerializer(serializers.Serializer):
    """The body of POST /api/v1/webhooks and PUT/PATCH /api/v1/webhooks/{id} (documentation only)."""

    url = serializers.CharField(max_length=2048, help_text="https URL of the receiver (public address).")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)
    app = serializers.IntegerField(required=False, allow_null=True, help_text="Only this app's events.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    active = serializers.BooleanField(required=False, default=True)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    app = serializers.IntegerField(source="app_ref", allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "event_types", "app", "description", "active", "disabled_reason", "failing_since",
                  "created_at", "updated_at", "links"]
        read_only_fields = fields

    def get_links(self, subscription) -> dict:
        base = f"/api/v1/webhooks/{subscription.pk}"
        return {"self": base, "deliveries": f"{base}/deliveries", "ping": f"{base}/ping",
                "rotate_secret": f"{base}/rotate-secret"}


class WebhookSubscriptionWithSecretSerializer(WebhookSubscriptionSerializer):
    secret = serializers.SerializerMethodField(help_text="Shown once: on creation and on rotation.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, subscription) -> str:
        return self.context["secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "at", "status_code", "duration_ms", "response_body", "error"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    subscription = serializers.IntegerField(source="subscription_id", allow_null=True, read_only=True)
    job = serializers.UUIDField(source="job_id", allow_null=True, read_only=True)
    redelivery_of = serializers.UUIDField(source="redelivery_of_id", allow_null=True, read_only=True)
    attempt_log = WebhookAttemptSerializer(source="attempts_log", many=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = ["id", "subscription", "job", "redelivery_of", "url", "event_type", "payload", "status",
                  "attempts", "next_attempt_at", "last_status_code", "last_error", "created_at", "updated_at",
                  "attempt_log", "links"]
        read_only_fields = fields

    def get_links(self, delivery) -> dict:
        return {"self": f"/api/v1/webhook-deliveries/{delivery.pk}",
                "redeliver": f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"}
