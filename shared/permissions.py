"""Who may do what: the roles (viewer, deployer, admin) and the ownership rules, the one place they live.

Roles are Django groups named `viewer`, `deployer` and `admin`; a staff user or superuser is an admin too.
A signed-in active user in none of these groups is a viewer: everyone signed in may read.

- viewer: reads the catalog, jobs, deployments and their own API tokens.
- deployer: also creates apps (becoming their owner) and changes, deletes, deploys, stops, restarts, scales
  and refreshes the apps they own or that one of their groups owns; cancels those apps' jobs.
- admin: everything, users, webhook subscriptions and the audit log included.

The catalog is readable without signing in when PUBLIC_CATALOG is true (the default); jobs and deployments
never are (a job carries its callback URL and parameters).
"""
from django.conf import settings

VIEWER = "viewer"
DEPLOYER = "deployer"
ADMIN = "admin"
ROLES = (VIEWER, DEPLOYER, ADMIN)
_RANK = {None: 0, VIEWER: 1, DEPLOYER: 2, ADMIN: 3}


def is_signed_in(user):
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def _groups(user):
    """{group id: name} of the user, read once per user object (one query per request at most)."""
    cached = getattr(user, "_maracker_groups", None)
    if cached is None:
        cached = dict(user.groups.values_list("pk", "name"))
        user._maracker_groups = cached
    return cached


def role_of(user):
    """The user's highest role, or None when not signed in."""
    if not is_signed_in(user):
        return None
    if user.is_superuser or user.is_staff:
        return ADMIN
    names = set(_groups(user).values())
    for role in (ADMIN, DEPLOYER):
        if role in names:
            return role
    return VIEWER


def has_role(user, role):
    """Whether the user's role is `role` or above."""
    return _RANK[role_of(user)] >= _RANK[role]


def is_admin(user):
    return role_of(user) == ADMIN


def owns_app(user, app):
    """The user owns the app, or one of the user's groups does."""
    if app is None or not is_signed_in(user):
        return False
    if app.owner_id is not None and app.owner_id == user.pk:
        return True
    return app.group_id is not None and app.group_id in _groups(user)


def can_read_catalog(user):
    return settings.PUBLIC_CATALOG or is_signed_in(user)


def can_read_jobs(user):
    """Jobs, their timelines and deployments: every signed-in user, never anonymous visitors."""
    return is_signed_in(user)


def can_create_app(user):
    return has_role(user, DEPLOYER)


def can_edit_app(user, app):
    """Change or delete the app, its container and configurations, or refresh it from its image."""
    return is_admin(user) or (has_role(user, DEPLOYER) and owns_app(user, app))


def can_deploy(user, app):
    """Deploy, stop, restart or scale one of the app's configurations."""
    return is_admin(user) or (has_role(user, DEPLOYER) and owns_app(user, app))


def can_cancel_job(user, job):
    """Cancel a job: who may deploy its app, or (for a job without an app) who asked for it."""
    if is_admin(user):
        return True
    if not has_role(user, DEPLOYER):
        return False
    if job.app_id is not None:
        return owns_app(user, job.app)
    return job.requested_by_id is not None and job.requested_by_id == user.pk


def can_manage_webhooks(user):
    """Subscriptions receive every app's events unless filtered: admins only."""
    return is_admin(user)


def can_read_audit(user):
    return is_admin(user)


def app_of(obj):
    """The app an object belongs to: an app, a configuration, a container, a job or a deployment."""
    from shared.models import App

    if obj is None or isinstance(obj, App):
        return obj
    return getattr(obj, "app", None)
