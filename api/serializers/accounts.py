"""Serializers of API tokens (the key appears only in the answer to their creation) and audit entries."""
from django.utils import timezone
from rest_framework import serializers

from shared.models import ApiToken, AuditEntry


class TokenRequestSerializer(serializers.Serializer):
    """The body of POST /api/v1/tokens (checked by the service; documentation only)."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    expires_days = serializers.IntegerField(required=False, min_value=0, max_value=3650,
                                            help_text="Days until it expires; 0: never. Default from settings.")


class TokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="token_key", read_only=True,
                                   help_text="The key's first characters: enough to recognise it, not to use it.")
    created_at = serializers.DateTimeField(source="created", read_only=True)
    expires_at = serializers.DateTimeField(source="expiry", read_only=True, allow_null=True)
    expired = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["prefix", "name", "created_at", "expires_at", "expired", "last_used_at", "links"]
        read_only_fields = fields

    def get_expired(self, token) -> bool:
        return token.expiry is not None and token.expiry <= timezone.now()

    def get_links(self, token) -> dict:
        return {"self": f"/api/v1/tokens/{token.token_key}"}


class TokenWithKeySerializer(TokenSerializer):
    key = serializers.SerializerMethodField(help_text="The token itself: shown in this answer only.")

    class Meta(TokenSerializer.Meta):
        fields = ["key", *TokenSerializer.Meta.fields]
        read_only_fields = fields

    def get_key(self, token) -> str:
        return self.context["key"]


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True, help_text="Username; empty: nobody signed in.")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "target_type", "target_id", "summary", "request_id"]
        read_only_fields = fields
