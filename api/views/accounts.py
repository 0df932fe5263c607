"""Account routes: the signed-in user's API tokens (create, list, revoke) and the audit log for admins."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import AuditAccess, IsSignedIn
from api.serializers.accounts import (
    AuditEntrySerializer,
    TokenRequestSerializer,
    TokenSerializer,
    TokenWithKeySerializer,
)
from shared.errors import ValidationFailed
from shared.selectors.audit import audit_list
from shared.services.tokens import token_create, token_list, token_revoke

TAGS = ["accounts"]


def _problem(description):
    from api.serializers.problems import ProblemSerializer

    return OpenApiResponse(ProblemSerializer, description=description)


class TokenListView(ListAPIView):
    serializer_class = TokenSerializer
    permission_classes = [IsSignedIn]
    pagination_class = None

    def get_queryset(self):
        return token_list(self.request.user)

    @extend_schema(tags=TAGS, summary="List your API tokens", responses={200: TokenSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=TAGS, summary="Create an API token", request=TokenRequestSerializer,
                   responses={201: TokenWithKeySerializer, 400: _problem("Invalid name or expires_days.")},
                   description="The answer's `key` is the token; it is stored hashed and never shown again. "
                               "Send it as `Authorization: Token <key>` (or `Bearer <key>`).")
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise ValidationFailed("The body must be a JSON object.", errors={"body": ["Must be a JSON object."]})
        token, key = token_create(request.user, name=data.get("name", ""), expires_days=data.get("expires_days"))
        return Response(TokenWithKeySerializer(token, context={"key": key}).data, status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/tokens/{token.token_key}", "Cache-Control": "no-store"})


class TokenDetailView(APIView):
    permission_classes = [IsSignedIn]

    @extend_schema(tags=TAGS, summary="Revoke an API token", parameters=[
        OpenApiParameter("prefix", str, OpenApiParameter.PATH, description="The token's prefix.")],
        responses={204: None, 404: _problem("You have no token with this prefix.")})
    def delete(self, request, prefix):
        token_revoke(request.user, prefix)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListView(ListAPIView):
    serializer_class = AuditEntrySerializer
    permission_classes = [AuditAccess]

    def get_queryset(self):
        params = self.request.query_params
        return audit_list(actor=params.get("actor"), action=params.get("action"),
                          target_type=params.get("target_type"), target_id=params.get("target_id"),
                          since=params.get("since"), until=params.get("until"))

    @extend_schema(tags=TAGS, summary="The audit log (admins)", parameters=[
        OpenApiParameter("actor", str, description="Username."),
        OpenApiParameter("action", str, description="Comma-separated, e.g. app.created,job.deploy."),
        OpenApiParameter("target_type", str, description="app, config, container, job or token."),
        OpenApiParameter("target_id", str),
        OpenApiParameter("since", str, description="ISO 8601 date-time, inclusive."),
        OpenApiParameter("until", str, description="ISO 8601 date-time, exclusive."),
    ], responses={200: AuditEntrySerializer(many=True), 400: _problem("Invalid filter.")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
