"""Django admin: users and groups (roles) come with Django; API tokens and the audit log are shown read-only."""
from django.contrib import admin

from shared.models import ApiToken, AuditEntry


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be looked at and revoked (deleted) here; they are created through the API or create_token."""

    list_display = ("token_key", "name", "user", "created", "expiry", "last_used_at")
    search_fields = ("token_key", "name", "user__username")
    fields = ("token_key", "name", "user", "created", "expiry", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target_type", "target_id", "summary")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "summary", "request_id")
    readonly_fields = ("at", "actor", "actor_name", "action", "target_type", "target_id", "summary", "request_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
