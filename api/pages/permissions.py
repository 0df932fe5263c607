"""Who may do what on the pages: the roles and ownership rules of shared/permissions.py, applied to pages.

Browsing is open to everyone while PUBLIC_CATALOG is true (otherwise every page needs a signed-in user); every
page that changes something (deploy, stop, restart, scale, cancel, edit, import) needs a signed-in user, and then
the same right as the API route doing it. The pages show jobs and deployments as the catalog shows them: no
callback URLs or tokens.
"""
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied

from shared import permissions as rules
from shared.models import Job

# Views that change things: anonymous visitors are sent to the login page first.
change_required = login_required
# Views that show things: open while the catalog is public, else behind the login page.
read_required = user_passes_test(rules.can_read_catalog)


def can_change(user, obj=None):
    """Whether `user` may change `obj` (an app, configuration or job; None: create something new)."""
    if obj is None:
        return rules.can_create_app(user)
    if isinstance(obj, Job):
        return rules.can_cancel_job(user, obj)
    return rules.can_edit_app(user, rules.app_of(obj))


def ensure_can_change(user, obj=None):
    """403 unless `can_change`."""
    if not can_change(user, obj):
        raise PermissionDenied("You may not change this.")
