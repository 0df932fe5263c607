"""Webhook routes: subscriptions (CRUD, secret rotation, ping), their deliveries with attempts, redelivery."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import WebhookAccess
from api.serializers.webhooks import (
    WebhookDeliverySerializer,
    WebhookRequestSerializer,
    WebhookSubscriptionSerializer,
    WebhookSubscriptionWithSecretSerializer,
)
from shared.errors import ValidationFailed
from shared.models import WebhookDeliveryStatus
from shared.selectors.webhooks import (
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_subscription_get,
    webhook_subscription_list,
)
from shared.services.webhooks import (
    webhook_ping,
    webhook_redeliver,
    webhook_secret_rotate,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)

TAGS = ["webhooks"]


def _problem(description):
    from api.serializers.problems import ProblemSerializer

    return OpenApiResponse(ProblemSerializer, description=description)


def _body(request):
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", errors={"body": ["Must be a JSON object."]})
    return data


def _user(request):
    user = getattr(request, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _with_secret(subscription, secret):
    return WebhookSubscriptionWithSecretSerializer(subscription, context={"secret": secret}).data


class WebhookListView(ListAPIView):
    permission_classes = [WebhookAccess]
    serializer_class = WebhookSubscriptionSerializer

    def get_queryset(self):
        return webhook_subscription_list()

    @extend_schema(tags=TAGS, responses={200: WebhookSubscriptionSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=TAGS, request=WebhookRequestSerializer,
                   responses={201: WebhookSubscriptionWithSecretSerializer,
                              400: _problem("Invalid field, or a URL the server may not call.")},
                   description="The answer carries the signing secret; it is not shown again.")
    def post(self, request):
        subscription, secret = webhook_subscription_create(data=_body(request), created_by=_user(request))
        return Response(_with_secret(subscription, secret), status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/webhooks/{subscription.pk}"})


class WebhookDetailView(APIView):
    permission_classes = [WebhookAccess]
    @extend_schema(tags=TAGS, responses={200: WebhookSubscriptionSerializer, 404: _problem("Unknown subscription.")})
    def get(self, request, pk):
        return Response(WebhookSubscriptionSerializer(webhook_subscription_get(pk)).data)

    @extend_schema(tags=TAGS, request=WebhookRequestSerializer,
                   responses={200: WebhookSubscriptionSerializer, 400: _problem("Invalid field.")})
    def put(self, request, pk):
        subscription = webhook_subscription_update(webhook_subscription_get(pk), data=_body(request), partial=False)
        return Response(WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(tags=TAGS, request=WebhookRequestSerializer,
                   responses={200: WebhookSubscriptionSerializer, 400: _problem("Invalid field.")},
                   description="`active: true` re-enables a disabled subscription and clears its failure streak.")
    def patch(self, request, pk):
        subscription = webhook_subscription_update(webhook_subscription_get(pk), data=_body(request), partial=True)
        return Response(WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(tags=TAGS, responses={204: None, 404: _problem("Unknown subscription.")})
    def delete(self, request, pk):
        webhook_subscription_delete(webhook_subscription_get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(APIView):
    permission_classes = [WebhookAccess]
    @extend_schema(tags=TAGS, request=None, responses={200: WebhookSubscriptionWithSecretSerializer},
                   description="A new secret, effective at once; shown in this answer only.")
    def post(self, request, pk):
        subscription, secret = webhook_secret_rotate(webhook_subscription_get(pk))
        return Response(_with_secret(subscription, secret))


class WebhookPingView(APIView):
    permission_classes = [WebhookAccess]
    @extend_schema(tags=TAGS, request=None,
                   responses={202: WebhookDeliverySerializer, 409: _problem("The subscription is disabled.")},
                   description="Sends a `webhook.ping` event; follow the delivery for the receiver's answer.")
    def post(self, request, pk):
        delivery = webhook_ping(webhook_subscription_get(pk))
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/webhook-deliveries/{delivery.pk}"})


class WebhookDeliveryListView(ListAPIView):
    permission_classes = [WebhookAccess]
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        statuses = self.request.query_params.get("status")
        if statuses:
            bad = [s for s in statuses.split(",") if s not in WebhookDeliveryStatus.values]
            if bad:
                raise ValidationFailed("Unknown delivery status.", errors={
                    "status": [f"Unknown status {', '.join(bad)}; one of {', '.join(WebhookDeliveryStatus.values)}."]
                })
        return webhook_delivery_list(webhook_subscription_get(self.kwargs["pk"]), status=statuses)

    @extend_schema(tags=TAGS, parameters=[OpenApiParameter("status", str)],
                   responses={200: WebhookDeliverySerializer(many=True), 404: _problem("Unknown subscription.")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WebhookDeliveryDetailView(APIView):
    permission_classes = [WebhookAccess]
    @extend_schema(tags=TAGS, responses={200: WebhookDeliverySerializer, 404: _problem("Unknown delivery.")})
    def get(self, request, pk):
        return Response(WebhookDeliverySerializer(webhook_delivery_get(pk)).data)


class WebhookRedeliverView(APIView):
    permission_classes = [WebhookAccess]
    @extend_schema(tags=TAGS, request=None,
                   responses={202: WebhookDeliverySerializer, 404: _problem("Unknown delivery."),
                              409: _problem("The subscription is disabled.")},
                   description="Sends the delivery's event again as a new delivery (new webhook-id, same body).")
    def post(self, request, pk):
        delivery = webhook_redeliver(webhook_delivery_get(pk))
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/webhook-deliveries/{delivery.pk}"})
