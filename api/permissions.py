"""DRF permission classes for each kind of route; the rules themselves live in shared/permissions.py.

DRF answers a refused anonymous request 401 (with `WWW-Authenticate`) and a refused signed-in one 403,
both as problems (api/errors.py).
"""
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from shared import permissions as rules


class IsSignedIn(BasePermission):
    """The default: any signed-in, active user (a viewer or above)."""

    message = "Sign in, or send an API token (Authorization: Token <key>)."

    def has_permission(self, request, view):
        return rules.is_signed_in(request.user)


class CatalogAccess(BasePermission):
    """Apps, configurations, containers: reads per PUBLIC_CATALOG; creating needs a deployer; changes an owner."""

    message = "Changing this app needs the deployer role and ownership of the app (or its group), or admin."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return rules.can_read_catalog(request.user)
        return rules.can_create_app(request.user)  # deployer or admin; ownership is checked on the object

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return rules.can_read_catalog(request.user)
        return rules.can_edit_app(request.user, rules.app_of(obj))


class DeployAccess(BasePermission):
    """Job-creating routes on a configuration or app: a deployer who owns the app, or an admin."""

    message = "Deploying, stopping, restarting or scaling this app needs the deployer role and ownership, or admin."

    def has_permission(self, request, view):
        return rules.has_role(request.user, rules.DEPLOYER)

    def has_object_permission(self, request, view, obj):
        return rules.can_deploy(request.user, rules.app_of(obj))


class AppCreateAccess(BasePermission):
    """Image lookups and imports (which create an app): deployers and admins."""

    message = "Creating apps needs the deployer role."

    def has_permission(self, request, view):
        return rules.can_create_app(request.user)


class JobAccess(BasePermission):
    """Jobs and deployments: read by every signed-in user; cancelling as deploying the job's app."""

    message = "Cancelling this job needs the right to deploy its app."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return rules.can_read_jobs(request.user)
        return rules.has_role(request.user, rules.DEPLOYER)

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return rules.can_read_jobs(request.user)
        return rules.can_cancel_job(request.user, obj)


class WebhookAccess(BasePermission):
    message = "Webhook subscriptions are managed by admins."

    def has_permission(self, request, view):
        return rules.can_manage_webhooks(request.user)


class AuditAccess(BasePermission):
    message = "The audit log is for admins."

    def has_permission(self, request, view):
        return rules.can_read_audit(request.user)


def check_object(request, view, obj):
    """Run the view's object permissions on `obj` (views that fetch objects through selectors call this)."""
    view.check_object_permissions(request, obj)
    return obj


def ensure(request, allowed, message):
    """401 for an anonymous request, 403 for a signed-in one, unless `allowed`."""
    if allowed:
        return
    if not rules.is_signed_in(request.user):
        raise exceptions.NotAuthenticated()
    raise exceptions.PermissionDenied(message)
